import type { InstructionView, RowView } from '../admin/rows.js';
import { ADMIN_DEFAULTS } from '../admin/defaults.js';
import { clip, table, time } from './format.js';

/** `--max-bytes` of tail and show: the row bodies one read may bring. */
export const MAX_BYTES_OPTION = {
  type: 'string',
  value: 'N',
  description:
    `read at most N bytes of row bodies (default ${ADMIN_DEFAULTS.maxReadBytes}, 32 MiB): older rows past it are left out, ` +
    'and a row larger than N alone is shown as [its size, over the limit]',
} as const;

/** An instruction's ids or payloads, in one short cell. */
export function instructionSummary(i: InstructionView, width = 60): string {
  if (i.ids) {
    const more = i.count - i.ids.length;
    return clip(
      i.ids.map((id) => (typeof id === 'string' ? JSON.stringify(id) : String(id))).join(', ') + (more > 0 ? ` … (+${more} more)` : ''),
      width,
    );
  }
  if (i.payloads) {
    const text = i.payloads.map((p) => JSON.stringify(p)).join(', ');
    return clip(`${i.count} payload${i.count === 1 ? '' : 's'}: ${text}${i.truncated ? ', …' : ''}`, width);
  }
  return '-';
}

/** One line per instruction, the row's columns on its first line only. */
export function rowCells(row: RowView, extra: (row: RowView) => string[] = () => []): string[][] {
  const head = [String(row.id), time(row.at), clip(row.originated, 28), ...extra(row)];
  const blank = head.map(() => '');
  if (row.oversizeBytes !== undefined) return [[...head, '(not read)', '', clip(row.malformed ?? '', 60)]];
  if (!row.instructions) return [[...head, '(malformed)', '', clip(row.malformed ?? '', 60)]];
  if (row.instructions.length === 0) return [[...head, '(empty)', '', '']];
  return row.instructions.map((i, n) => [...(n === 0 ? head : blank), i.refresher, i.kind, instructionSummary(i)]);
}

export function rowsTable(rows: readonly RowView[], extraHeaders: string[] = [], extra?: (row: RowView) => string[]): string {
  return table(
    ['ROW', 'TIME (UTC)', 'ORIGIN', ...extraHeaders, 'REFRESHER', 'KIND', 'IDS / PAYLOADS'],
    rows.flatMap((r) => rowCells(r, extra)),
  );
}

/** A row as one streaming line, for `tail --follow`: fixed-width columns, no table to align. */
export function rowLine(row: RowView): string {
  const head = `${String(row.id).padStart(8)}  ${time(row.at)}  ${clip(row.originated, 28).padEnd(28)}`;
  if (!row.instructions) return `${head}  ${row.oversizeBytes !== undefined ? '(not read)' : '(malformed)'} ${row.malformed ?? ''}`;
  return row.instructions
    .map((i, n) => `${n === 0 ? head : ' '.repeat(head.length)}  ${i.refresher} ${i.kind} ${instructionSummary(i, 80)}`)
    .join('\n');
}
