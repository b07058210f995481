import { integerOption, stringOption } from '../args.js';
import { ADMIN_DEFAULTS } from '../../admin/defaults.js';
import type { Command } from '../command.js';
import { count, plural, seconds, table } from '../format.js';
import { MAX_BYTES_OPTION, rowsTable } from '../rows-format.js';

export const pendingCommand: Command<{ server: string | undefined; limit: number; maxBytes: number }> = {
  name: 'pending',
  summary: "the instructions a server has not applied yet, decoded; without --server, every server's backlog",
  usage: 'pending [--server ID] [--limit N] [--max-bytes N]',
  examples: ['distcache pending', 'distcache pending --server web-2 --limit 20'],
  options: {
    server: { type: 'string', value: 'ID', description: 'list what this server has not applied, in the order it applies it' },
    limit: { type: 'string', value: 'N', description: `list at most N rows (default ${ADMIN_DEFAULTS.pendingLimit})` },
    'max-bytes': MAX_BYTES_OPTION,
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => ({
    server: stringOption(values, 'server'),
    limit: integerOption(values, 'limit', ADMIN_DEFAULTS.pendingLimit, 1, 'pending'),
    maxBytes: integerOption(values, 'max-bytes', ADMIN_DEFAULTS.maxReadBytes, 1024, 'pending'),
  }),
  access: () => 'read',
  async run({ admin, out }, { server, limit, maxBytes }) {
    if (server === undefined) {
      const overview = await admin.pendingCounts();
      if (out.json) return out.document(overview);
      if (overview.servers.length === 0) return out.line(`no servers in cluster '${overview.cluster}'`);
      out.line(
        table(
          ['SERVER', 'ACTIVE', 'ROWS', 'INSTRUCTIONS', 'LAG', 'NOTE'],
          overview.servers.map((s) => [
            s.identity,
            s.active ? 'yes' : 'no',
            count(s.pendingRows),
            count(s.pendingInstructions),
            seconds(s.lagSeconds),
            s.pendingRows === null ? 'no cursor yet' : s.coldBootRequested ? 'cold-boots at its next poll' : '',
          ]),
        ),
      );
      return;
    }
    const report = await admin.pending(server, { limit, maxBytes });
    if (out.json) return out.document(report);
    if (report.position === null) {
      return out.line(`server ${server} has no cursor yet: at its first poll it cold-boots (or, with an empty log, starts at the head)`);
    }
    out.line(
      `server ${server} · cursor ${report.position} · ${plural(report.pendingRows ?? 0, 'row')} ` +
        `(${plural(report.pendingInstructions ?? 0, 'instruction')}) pending · lag ${seconds(report.lagSeconds)}`,
    );
    if (report.coldBootRequested) out.line('it cold-boots at its next poll instead of applying these one by one');
    if (report.rows.length === 0) return;
    out.line();
    const own = new Set(report.rows.filter((r) => r.appliedAtWrite).map((r) => r.id));
    // Only when it matters: rows the server wrote itself were applied at write time, and its poller skips them.
    out.line(own.size === 0 ? rowsTable(report.rows) : rowsTable(report.rows, ['OWN'], (r) => [own.has(r.id) ? 'yes' : '']));
    if (own.size > 0) out.line('OWN: written by this server, which applied it at write time; its poller skips it');
    if (report.leftOut > 0) {
      out.line(`${plural(report.leftOut, 'later row')} left out: the earlier ones fill --max-bytes ${maxBytes}`);
    } else if (report.truncated) {
      out.line(`… ${count((report.pendingRows ?? 0) - report.rows.length)} more rows; raise --limit to list them`);
    }
  },
};
