import type { Command } from '../command.js';
import { UsageError } from '../failure.js';
import { time } from '../format.js';

export const showCommand: Command<{ rowId: number }> = {
  name: 'show',
  summary: 'one row, decoded in full',
  usage: 'show ROW_ID',
  examples: ['distcache show 1042', 'distcache show 1042 --json | jq .instructions'],
  options: {},
  positionals: { min: 1, max: 1, names: 'ROW_ID' },
  parse(_values, positionals) {
    const raw = positionals[0]!;
    if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw)))
      throw new UsageError(`ROW_ID must be a row id such as 1042, not ${JSON.stringify(raw)}`, 'show');
    return { rowId: Number(raw) };
  },
  access: () => 'read',
  async run({ admin, out }, { rowId }) {
    const row = await admin.show(rowId);
    if (out.json) return out.document(row);
    out.line(
      `row ${row.id} · ${time(row.at)} UTC · originated ${row.originated} · instance ${row.originInstance ?? '-'} · ` +
        `weight ${row.instructionCount}`,
    );
    if (!row.instructions) out.line(`malformed: ${row.malformed}`);
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
