import { DEFAULTS } from '../../options.js';
import type { ServerView } from '../../admin/servers.js';
import { durationOption } from '../args.js';
import type { Command } from '../command.js';
import { ago, clip, count, plural, seconds, table, time } from '../format.js';

export const statusCommand: Command<{ retention: number; all: boolean }> = {
  name: 'status',
  summary: 'every server (role, heartbeat, cursor, pending, lag, last error), the publisher, the log, the failures',
  usage: 'status [--retention DURATION] [--all]',
  examples: ['distcache status', 'distcache status --cluster production --json | jq .publisher'],
  options: {
    retention: { type: 'string', value: 'DURATION', description: "the servers' retention, for 'rows past retention' (default 2d)" },
    all: { type: 'boolean', description: 'also list servers that stopped cleanly (hidden by default)' },
  },
  positionals: { min: 0, max: 0, names: '' },
  parse: (values) => ({ retention: durationOption(values, 'retention', DEFAULTS.retention, 'status'), all: values.all === true }),
  access: () => 'read',
  async run({ admin, out, settings }, { retention, all }) {
    const report = await admin.status({ retention, all });
    if (out.json) {
      return out.document({
        database: { dialect: report.dialect, source: settings.connection.source, display: settings.connection.display },
        ...report,
      });
    }
    out.line(`cluster ${report.cluster} · prefix '${report.tablePrefix}' · ${report.dialect} ${settings.connection.display}`);
    if (report.schema.pending.length > 0)
      out.line(
        `schema: ${plural(report.schema.pending.length, 'migration')} pending (${report.schema.pending.join(', ')}): run ` +
          `\`distcache migrate\``,
      );
    if (report.unreadable.length > 0) out.line(`not shown until the pending migrations run: ${report.unreadable.join(', ')}`);
    const p = report.publisher;
    const now = Date.parse(report.now);
    out.line(
      p
        ? `scheduling publisher: ${p.identity} (lease ` +
            `renewed ${ago(p.renewedAt ? (now - Date.parse(p.renewedAt)) / 1000 : null)}, expires ` +
            `in ${seconds(p.expiresAt ? Math.max(0, (Date.parse(p.expiresAt) - now) / 1000) : null)})`
        : 'scheduling publisher: none (no server holds the lease; the next heartbeat of an elected server takes it)',
    );
    out.line();
    if (report.servers.length === 0) out.line('no servers have registered in this cluster');
    else out.line(serversTable(report.servers));
    if (report.hiddenStopped > 0) out.line(stoppedNote(report.hiddenStopped));
    const regions = regionsTable(report.servers);
    if (regions) {
      out.line();
      out.line(regions);
    }
    const log = report.log;
    out.line();
    out.line(
      log.rows === 0
        ? 'log: empty'
        : `log: ${plural(log.rows, 'row')} (${plural(log.instructions, 'instruction')}), ids ${log.minId}..${log.maxId}, ` +
            `oldest ${time(log.oldest)}, newest ${time(log.newest)}; ${count(log.pastRetention)} past retention ` +
            `(${seconds(log.retentionSeconds)})`,
    );
    out.line(
      `failures: ${plural(report.failures.count, 'recorded failure')}${report.failures.count > 0 ? ' (see `distcache failures`)' : ''}`,
    );
    const h = report.history;
    if (h.foreignRows > 0 || h.otherDatabase.length > 0) {
      out.line(
        `database changed: ${plural(h.foreignRows, 'row')} of another transaction history; ` +
          `cursors of another database: ${h.otherDatabase.join(', ') || 'none'}. Each server cold-boots at its next poll (see ` +
          `docs/operations.md).`,
      );
    }
  },
};

/** The line under a server table that hid servers which stopped cleanly. */
export function stoppedNote(hidden: number): string {
  return `(${plural(hidden, 'server')} that stopped cleanly not shown; --all lists them)`;
}

export function serversTable(servers: readonly ServerView[]): string {
  return table(
    ['SERVER', 'ROLE', 'ACTIVE', 'HEARTBEAT', 'CURSOR', 'PENDING', 'LAG', 'LAST ERROR'],
    servers.map((s) => [
      s.identity + (s.publisher ? ' *' : ''),
      s.registered ? (s.role ?? '-') : '(unregistered)',
      s.active ? 'yes' : 'no',
      ago(s.heartbeatAgeSeconds),
      s.cursor ? clip(s.cursor.position, 24) + (s.cursor.coldBootRequested ? ' (cold boot)' : '') : '-',
      count(s.pendingInstructions),
      seconds(s.lagSeconds),
      s.lastError ? clip(s.lastError, 60) : '-',
    ]),
  );
}

/** The cache regions each server published with its last heartbeat; undefined when none did. */
export function regionsTable(servers: readonly ServerView[]): string | undefined {
  const rows = servers.flatMap((s) =>
    (s.regions ?? []).map((r) => [
      s.identity,
      r.region,
      ...[r.size, r.hits, r.misses, r.loads, r.loadErrors, r.loadsDiscarded, r.servedFromGrace, r.evictions].map(count),
    ]),
  );
  if (rows.length === 0) return undefined;
  return table(['SERVER', 'REGION', 'SIZE', 'HITS', 'MISSES', 'LOADS', 'LOAD ERRORS', 'DISCARDED', 'FROM GRACE', 'EVICTIONS'], rows);
}
