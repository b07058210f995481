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
  log: LogView;
  failures: { count: number };
  /** Whether the cursors belong to the database read now; see docs/operations.md. */
  history: HistoryView;
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
export async function status(ctx: AdminContext, options: { retention: number }): Promise<StatusReport> {
  const schema = await schemaState(ctx);
  const [{ now, publisher, servers }, summary, failures, databaseIdentity, foreignRows] = await Promise.all([
    listServers(ctx),
    ctx.store.logSummary(options.retention),
    ctx.store.countFailures(),
    ctx.store.databaseIdentity(),
    ctx.store.foreignRows(false),
  ]);
  const readElsewhere = (recorded: string | null | undefined) => databaseIdentity !== null && recorded != null && recorded !== databaseIdentity;
  const otherDatabase = servers.filter((s) => readElsewhere(s.cursor?.databaseIdentity));
  return {
    cluster: ctx.cluster,
    tablePrefix: ctx.tables.prefix,
    dialect: ctx.store.capabilities.dialect,
    now: now.toISOString(),
    schema,
    publisher,
    servers,
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
  };
}
