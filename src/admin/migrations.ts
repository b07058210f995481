import { dialectFor } from '../dialects/dialect.js';
import { migrate, type MigrateResult } from '../migrations/migrate.js';
import { MIGRATIONS } from '../migrations/list.js';
import type { AdminContext } from './context.js';
import { AdminError } from './errors.js';

export interface SchemaState {
  /** Migrations recorded in `<prefix>distcache_migrations`, in order. */
  applied: string[];
  /** Migrations this build has that are not applied yet. */
  pending: string[];
}

/** Which migrations are applied. Read-only: a missing migrations table means none (knex's own `list()` would create it). */
export async function schemaState(ctx: AdminContext): Promise<SchemaState> {
  let applied: string[] = [];
  if (await ctx.knex.schema.hasTable(ctx.tables.migrations)) {
    const rows = await ctx.store.bounded(ctx.knex(ctx.tables.migrations).select('name').orderBy('id'));
    applied = rows.map((r: Record<string, unknown>) => String(r.name));
  }
  const done = new Set(applied);
  return { applied, pending: MIGRATIONS.map((m) => m.name).filter((name) => !done.has(name)) };
}

export interface MigrationStatement {
  migration: string;
  sql: string;
  bindings: unknown[];
}

export interface MigrationPlan {
  pending: string[];
  statements: MigrationStatement[];
}

/**
 * The SQL `migrate` would run, without changing anything: the pending migrations run inside one
 * transaction that is always rolled back, and every statement is captured from knex's `query`
 * events. That needs transactional DDL (SQLite, PostgreSQL). MySQL commits before and after every
 * DDL statement, so a dry run there would really apply the migration: it is refused.
 *
 * Not shown: knex's own bookkeeping (creating `<prefix>distcache_migrations` and its `_lock`
 * table when missing, and one insert per applied migration).
 */
export async function planMigrations(ctx: AdminContext): Promise<MigrationPlan> {
  const dialect = dialectFor(ctx.knex);
  if (!dialect.transactionalDdl) {
    throw new AdminError(
      'E_UNSUPPORTED',
      `a dry run needs DDL that can be rolled back, and ${dialect.name} commits every DDL statement at once; read the ` +
        `migrations in the package (dist/migrations/) or run \`distcache migrate\` against a scratch database first`,
    );
  }
  const { pending } = await schemaState(ctx);
  const statements: MigrationStatement[] = [];
  if (pending.length === 0) return { pending, statements };
  const trx = await ctx.knex.transaction();
  let current = '';
  const listener = (q: { sql?: string; bindings?: unknown[]; __knexTxId?: string }) => {
    // Only statements of a transaction: this process runs nothing else while the plan is made.
    if (q.__knexTxId === undefined) return;
    const sql = String(q.sql ?? '').trim();
    if (!sql || /^(BEGIN|ROLLBACK|COMMIT)\b/i.test(sql)) return;
    statements.push({ migration: current, sql, bindings: q.bindings ?? [] });
  };
  ctx.knex.on('query', listener);
  try {
    const context = { tables: ctx.tables, dialect };
    for (const name of pending) {
      const migration = MIGRATIONS.find((m) => m.name === name)!;
      current = name;
      await migration.up(trx, context);
    }
  } finally {
    ctx.knex.off('query', listener);
    await trx.rollback().catch(() => undefined);
  }
  return { pending, statements };
}

/** Applies the pending migrations (the library's `migrate()`: idempotent, safe from many processes). */
export async function applyMigrations(ctx: AdminContext, options: { functionOwner?: string }): Promise<MigrateResult> {
  return migrate(ctx.knex, { tablePrefix: ctx.tables.prefix, ...options });
}
