import { integerOption, stringOption } from '../args.js';
import { ADMIN_DEFAULTS } from '../../admin/defaults.js';
import type { Command } from '../command.js';
import { clip, plural, table, time } from '../format.js';

export const failuresCommand: Command<{ server: string | undefined; limit: number }> = {
  name: 'failures',
  summary: 'recorded failures: instructions that could not be applied, and what was done about them',
  usage: 'failures [--server ID] [--limit N]',
  examples: ['distcache failures', 'distcache failures --server web-2 --json'],
  options: {
    server: { type: 'string', value: 'ID', description: "only this server's failures" },
    limit: { type: 'string', value: 'N', description: `the newest N (default ${ADMIN_DEFAULTS.failuresLimit})` },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => ({
    server: stringOption(values, 'server'),
    limit: integerOption(values, 'limit', ADMIN_DEFAULTS.failuresLimit, 1, 'failures'),
  }),
  access: () => 'read',
  async run({ admin, out }, { server, limit }) {
    const report = await admin.failures({ server, limit });
    if (out.json) return out.document(report);
    if (report.failures.length === 0) return out.line(report.server ? `no failures recorded for ${report.server}` : 'no failures recorded');
    out.line(
      table(
        ['ID', 'TIME (UTC)', 'SERVER', 'ROW', 'REFRESHER', 'KIND', 'ACTION', 'ERROR'],
        report.failures.map((f) => [
          String(f.id),
          time(f.at),
          f.server,
          f.rowId === null ? '-' : String(f.rowId),
          f.refresher ?? '-',
          f.kind ?? '-',
          f.action,
          clip(f.error, 70),
        ]),
      ),
    );
    out.line(`${plural(report.failures.length, 'failure')} shown of ${report.total} in cluster '${report.cluster}'`);
  },
};
