import { durationOption, integerOption } from '../args.js';
import { ADMIN_DEFAULTS } from '../../admin/defaults.js';
import type { Command } from '../command.js';
import { MAX_BYTES_OPTION, rowLine, rowsTable } from '../rows-format.js';

export const tailCommand: Command<{ follow: boolean; limit: number; interval: number; maxBytes: number }> = {
  name: 'tail',
  summary: 'the newest instructions; with --follow, every new one as it commits',
  usage: 'tail [--limit N] [--max-bytes N] [--follow [--interval DURATION]]',
  description:
    "--follow reads with the servers' exact reader from the head, keeping its position in memory (never stored), so rows that " +
    'commit out of order are not missed. With --json, tail prints one document; tail --follow --json prints one JSON object per ' +
    'line (JSON Lines), since it never ends. Stop it with Ctrl-C.',
  examples: ['distcache tail --limit 50', 'distcache tail --follow', 'distcache tail --follow --json | jq -c .instructions'],
  options: {
    limit: {
      type: 'string',
      value: 'N',
      description: `show the newest N rows first (default ${ADMIN_DEFAULTS.tailLimit}; 0 with --follow shows only new ones)`,
    },
    follow: { type: 'boolean', short: 'f', description: 'keep printing rows as they commit, until Ctrl-C' },
    interval: {
      type: 'string',
      value: 'DURATION',
      description: `with --follow, how often to look for new rows (default ${ADMIN_DEFAULTS.followInterval / 1000}s)`,
    },
    'max-bytes': MAX_BYTES_OPTION,
  },
  positionals: { min: 0, max: 0, names: '' },
  parse(values) {
    const follow = values.follow === true;
    return {
      follow,
      limit: integerOption(values, 'limit', ADMIN_DEFAULTS.tailLimit, follow ? 0 : 1, 'tail'),
      interval: durationOption(values, 'interval', ADMIN_DEFAULTS.followInterval, 'tail'),
      maxBytes: integerOption(values, 'max-bytes', ADMIN_DEFAULTS.maxReadBytes, 1024, 'tail'),
    };
  },
  access: () => 'read',
  async run({ admin, out, interrupts }, { follow, limit, interval, maxBytes }) {
    let leftOut = 0;
    const onLeftOut = (n: number) => void (leftOut = n);
    const note = () => `${leftOut} older row${leftOut === 1 ? '' : 's'} left out: the newer ones fill --max-bytes ${maxBytes}`;
    if (!follow) {
      const rows = await admin.tail({ limit, maxBytes, onLeftOut });
      if (out.json) return out.document({ cluster: admin.cluster, rows, leftOut });
      if (rows.length === 0) return out.line(`the log of cluster '${admin.cluster}' is empty`);
      if (leftOut > 0) out.line(note());
      return out.line(rowsTable(rows));
    }
    const rows = admin.follow({
      limit,
      interval,
      maxBytes,
      onLeftOut: (n) => (onLeftOut(n), out.json ? undefined : out.line(note())),
      signal: interrupts(),
      onBacklog: (n) => out.progress(`catching up: ${n.toLocaleString('en-US')} rows read…`),
      onCaughtUp: () => out.clearProgress(),
    });
    for await (const row of rows) {
      out.clearProgress();
      if (out.json) out.jsonLine(row);
      else out.line(rowLine(row));
    }
  },
};
