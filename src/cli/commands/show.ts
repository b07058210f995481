import { ADMIN_DEFAULTS } from '../../admin/defaults.js';
import { integerOption } from '../args.js';
import type { Command } from '../command.js';
import { MAX_BYTES_OPTION } from '../rows-format.js';
import { UsageError } from '../failure.js';
import { time } from '../format.js';

export const showCommand: Command<{ rowId: number; maxBytes: number }> = {
  name: 'show',
  summary: 'one row, decoded in full',
  usage: 'show ROW_ID [--max-bytes N]',
  examples: ['distcache show 1042', 'distcache show 1042 --json | jq .instructions'],
  options: { 'max-bytes': MAX_BYTES_OPTION },
  positionals: { min: 1, max: 1, names: 'ROW_ID' },
  parse(values, positionals) {
    const raw = positionals[0]!;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw)))
      throw new UsageError(`ROW_ID must be a row id such as 1042, not ${JSON.stringify(raw)}`, 'show');
    return { rowId: Number(raw), maxBytes: integerOption(values, 'max-bytes', ADMIN_DEFAULTS.maxReadBytes, 1024, 'show') };
  },
  access: () => 'read',
  async run({ admin, out }, { rowId, maxBytes }) {
    const row = await admin.show(rowId, { maxBytes });
    if (out.json) return out.document(row);
    out.line(
      `row ${row.id} · ${time(row.at)} UTC · originated ${row.originated} · instance ${row.originInstance ?? '-'} · ` +
        `weight ${row.instructionCount}`,
    );
    if (row.oversizeBytes !== undefined) out.line(`not read: ${row.oversizeBytes} bytes, over --max-bytes`);
    else if (!row.instructions) out.line(`malformed: ${row.malformed}`);
    else
      row.instructions.forEach((i, n) => {
        const what = i.ids
          ? `${i.count} id${i.count === 1 ? '' : 's'}: ${i.ids.map((id) => JSON.stringify(id)).join(', ')}`
          : i.payloads
            ? `${i.count} payload${i.count === 1 ? '' : 's'}:`
            : '';
        out.line(`  ${n + 1}. ${i.refresher} ${i.kind}${what ? ` ${what}` : ''}`);
        for (const p of i.payloads ?? []) out.line(`     ${JSON.stringify(p)}`);
      });
    out.line(`json: ${row.json}`);
  },
};
