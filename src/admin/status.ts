import { DistcacheError, fromDatabaseError } from '../errors.js';
import { iso, type AdminContext } from './context.js';
import type { PublisherView } from './lease.js';
import { schemaState, type SchemaState } from './migrations.js';
import { listServers, type ServerView } from './servers.js';

export interface LogView {
  rows: number;
  instructions: number;
  minId: number | null;
  maxId: number | null;
  oldest: string | null;
  newest: string | null;
  /** Rows older than `retentionSeconds`: what the next prune may delete. */
  pastRetention: number;
  retentionSeconds: number;
}

export interface StatusReport {
  cluster: string;
  tablePrefix: string;
  dialect: 'postgres' | 'sqlite' | 'mysql';
  /** The database clock when the report was made. */
  now: string;
  schema: SchemaState;
  /** The scheduling publisher: the holder of the unexpired lease; null when nobody holds it. */
  publisher: PublisherView | null;
  servers: ServerView[];
  /** Servers that stopped cleanly, left out of `servers` unless `all` was asked for. */
  hiddenStopped: number;
  log: LogView;
  failures: { count: number };
  /** Whether the cursors belong to the database read now; see docs/operations.md. */
  history: HistoryView;
  /**
   * Sections shown empty because they need a pending migration's tables or columns ('servers',
   * 'log', 'failures', 'history'); empty once the schema is current.
   */
  unreadable: string[];
}

export interface HistoryView {
  /** The database read now (PostgreSQL: system identifier:timeline); null where there is none (SQLite, MySQL). */
  databaseIdentity: string | null;
  /** Rows of another transaction history (a dump of a busier cluster); the next poll of any server re-stamps them and cold-boots. */
  foreignRows: number;
  /** Servers whose cursor was read from another database or timeline: each cold-boots at its next poll. */
  otherDatabase: string[];
}

/** Everything an operator looks at first. Read-only. */
export async function status(ctx: AdminContext, options: { retention: number; all?: boolean }): Promise<StatusReport> {
  const schema = await schemaState(ctx);
  const unreadable: string[] = [];
  // Between a package upgrade and `distcache migrate`, status is what tells the operator that
  // migrations are pending: a section that needs them is shown empty and named, not a failure of
  // the whole report. With nothing migrated at all (a wrong --prefix) it fails as before.
  const partial = schema.pending.length > 0 && schema.applied.length > 0;
  const section = async <T>(name: string, read: () => Promise<T>, empty: () => T | Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (!partial || !needsMigration(err)) throw err;
      if (!unreadable.includes(name)) unreadable.push(name);
      return empty();
    }
  };
  const emptySummary = { rows: 0, instructions: 0, minId: null, maxId: null, oldest: null, newest: null, pastRetention: 0 };
  const [{ now, publisher, servers, hiddenStopped }, summary, failures, databaseIdentity, foreignRows, cursors] = await Promise.all([
    section(
      'servers',
      () => listServers(ctx, { all: options.all }),
      async () => ({ now: await ctx.store.now(), publisher: null, servers: [], hiddenStopped: 0 }),
    ),
    section(
      'log',
      () => ctx.store.logSummary(options.retention),
      () => emptySummary,
    ),
    section(
      'failures',
      () => ctx.store.countFailures(),
      () => 0,
    ),
    ctx.store.databaseIdentity(),
    section(
      'history',
      () => ctx.store.foreignRows(false),
      () => 0,
    ),
    // Every cursor, stopped servers' included (the server list may hide those): a stopped server's
    // cursor from another database still makes it cold-boot when it starts.
    // Read with the servers (the same cursor columns), so a schema too old for one is too old for both.
    section(
      'servers',
      () => ctx.store.listCursors(),
      () => [],
    ),
  ]);
  const readElsewhere = (recorded: string | null | undefined) =>
    databaseIdentity !== null && recorded != null && recorded !== databaseIdentity;
  const otherDatabase = cursors.filter((c) => readElsewhere(c.databaseIdentity));
  return {
    cluster: ctx.cluster,
    tablePrefix: ctx.tables.prefix,
    dialect: ctx.store.capabilities.dialect,
    now: now.toISOString(),
    schema,
    publisher,
    servers,
    hiddenStopped,
    log: {
      rows: summary.rows,
      instructions: summary.instructions,
      minId: summary.minId,
      maxId: summary.maxId,
      oldest: iso(summary.oldest),
      newest: iso(summary.newest),
      pastRetention: summary.pastRetention,
      retentionSeconds: options.retention / 1000,
    },
    failures: { count: failures },
    history: { databaseIdentity, foreignRows, otherDatabase: otherDatabase.map((s) => s.identity) },
    unreadable: unreadable.sort(),
  };
}

/** A table or column that a pending migration creates is missing (SQLite says 'no such column'). */
function needsMigration(err: unknown): boolean {
  const typed = fromDatabaseError(err);
  return (typed instanceof DistcacheError && typed.code === 'E_NOT_MIGRATED') || /no such column/i.test(String((err as Error)?.message));
}
