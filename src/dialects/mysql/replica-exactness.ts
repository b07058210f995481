import type { Knex } from 'knex';
import { rawRows } from '../../store/columns.js';

/**
 * Whether a MySQL/MariaDB replica can be read exactly, from its own settings.
 *
 * A position is the commit-ordered `seq` (migrations/001): on the primary, a row with seq N is
 * committed only after every row below N. A replica keeps that only if it commits the primary's
 * transactions in the primary's binlog order; then what it shows at any moment is a prefix of
 * the primary's commit history, and `seq > position` there cannot skip a row that appears later.
 *
 * - MariaDB: the SQL thread alone (`slave_parallel_threads = 0`) or `slave_parallel_mode = none`
 *   applies serially. Every other mode (minimal, conservative, optimistic, aggressive) is
 *   "in-order" parallel replication: transactions run in parallel, but commit in the primary's
 *   order, within one replication domain. Transactions of different GTID domains
 *   (`gtid_domain_id`) are applied out of order by parallel workers, so a replica whose
 *   `gtid_slave_pos` shows more than one domain is refused while it applies in parallel.
 * - MySQL: `replica_parallel_workers` (`slave_parallel_workers` before 8.0.26) above 1 commits
 *   out of order unless `replica_preserve_commit_order = ON` (the default from 8.0.27).
 *
 * System variables can be read by any user, so a read-only account is enough for this check.
 */

/** The variables the check reads (unknown names are simply absent on a given server). */
const VARIABLES = [
  'slave_parallel_threads',
  'slave_parallel_mode',
  'gtid_slave_pos',
  'replica_parallel_workers',
  'slave_parallel_workers',
  'replica_preserve_commit_order',
  'slave_preserve_commit_order',
] as const;

export type ReplicaVariables = Partial<Record<(typeof VARIABLES)[number], string>>;

/** Why reads from a replica with these settings could skip rows, with the fix; null when they are exact. */
export function inexactReason(v: ReplicaVariables): string | null {
  if (v.slave_parallel_mode !== undefined) {
    const threads = Number(v.slave_parallel_threads ?? 0);
    const mode = v.slave_parallel_mode.toLowerCase();
    if (threads === 0 || mode === 'none') return null;
    const domains = gtidDomains(v.gtid_slave_pos ?? '');
    if (domains.length <= 1) return null;
    return (
      `slave_parallel_threads = ${threads} with slave_parallel_mode = ${mode} applies transactions of different GTID domains ` +
      `out of order, and gtid_slave_pos shows domains ${domains.join(', ')}. Fix: write every distcache table from one ` +
      'gtid_domain_id on the primary and clear the other domains from gtid_slave_pos, or apply serially on this replica ' +
      '(STOP SLAVE; SET GLOBAL slave_parallel_threads = 0; START SLAVE)'
    );
  }
  const workersName = v.replica_parallel_workers !== undefined ? 'replica_parallel_workers' : 'slave_parallel_workers';
  const workers = Number(v.replica_parallel_workers ?? v.slave_parallel_workers ?? 0);
  const preserveName = v.replica_preserve_commit_order !== undefined ? 'replica_preserve_commit_order' : 'slave_preserve_commit_order';
  const preserve = String(v.replica_preserve_commit_order ?? v.slave_preserve_commit_order ?? 'OFF').toUpperCase();
  if (workers <= 1 || preserve === 'ON' || preserve === '1') return null;
  return (
    `${workersName} = ${workers} with ${preserveName} = OFF commits the primary's transactions out of order. ` +
    `Fix: STOP REPLICA SQL_THREAD; SET GLOBAL ${preserveName} = ON; START REPLICA SQL_THREAD (or ${workersName} = 1)`
  );
}

/** The domain ids of a MariaDB GTID position list (`0-1-42,1-1-7`), distinct and sorted. */
function gtidDomains(position: string): number[] {
  const ids = position
    .split(',')
    .map((gtid) => gtid.trim())
    .filter(Boolean)
    .map((gtid) => Number(gtid.split('-')[0]));
  return [...new Set(ids)].sort((a, b) => a - b);
}

/** The replica's replication settings, from its global variables. */
export async function readReplicaVariables(knex: Knex, bounded: <T>(query: Knex.Raw<T>) => Promise<unknown>): Promise<ReplicaVariables> {
  const list = VARIABLES.map(() => '?').join(', ');
  const rows = rawRows(await bounded(knex.raw(`show global variables where variable_name in (${list})`, [...VARIABLES])));
  const found: Record<string, string> = {};
  for (const row of rows) found[String(row.Variable_name ?? row.variable_name).toLowerCase()] = String(row.Value ?? row.value);
  return found as ReplicaVariables;
}

/**
 * Whether the replica's SQL (applier) thread runs, from SHOW REPLICA STATUS (SHOW SLAVE STATUS on
 * servers that lack it). Needs REPLICATION CLIENT (MySQL) or SLAVE MONITOR (MariaDB): without it,
 * or on a server that replicates from nothing, undefined, and the tick's age is the only sign.
 */
export async function applierStopped(knex: Knex, bounded: <T>(query: Knex.Raw<T>) => Promise<unknown>): Promise<string | undefined> {
  let rows: Array<Record<string, unknown>>;
  try {
    rows = rawRows(await bounded(knex.raw('show replica status')));
  } catch (err) {
    if (!isSyntaxError(err)) return privilegeOrThrow(err);
    try {
      rows = rawRows(await bounded(knex.raw('show slave status')));
    } catch (again) {
      return privilegeOrThrow(again);
    }
  }
  const status = rows[0];
  if (!status) return undefined;
  const running = status.Replica_SQL_Running ?? status.Slave_SQL_Running;
  if (running === undefined || String(running) === 'Yes') return undefined;
  const error = String(status.Last_SQL_Error ?? '').trim();
  return (
    `its replication SQL thread is not running (SQL_Running = ${String(running)}${error ? `: ${error.slice(0, 300)}` : ''}), so it ` +
    'applies nothing from the primary. Fix: START REPLICA SQL_THREAD (START SLAVE SQL_THREAD on older servers)'
  );
}

// ER_PARSE_ERROR: a server without SHOW REPLICA STATUS.
function isSyntaxError(err: unknown): boolean {
  return (err as { errno?: number })?.errno === 1064;
}

// ER_SPECIFIC_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_DBACCESS_DENIED_ERROR: not ours to see.
function privilegeOrThrow(err: unknown): undefined {
  const errno = (err as { errno?: number })?.errno;
  if (errno === 1227 || errno === 1142 || errno === 1044) return undefined;
  throw err;
}
