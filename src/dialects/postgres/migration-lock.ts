import type { Knex } from 'knex';

/**
 * A transaction-scoped advisory lock around the whole migration run: taken with
 * pg_try_advisory_xact_lock in a transaction kept open on a connection set aside (the migrations
 * use other pool connections, so the pool needs at least two), and released by its commit or
 * rollback, or by PostgreSQL when that session goes. Never a session lock: behind a
 * transaction-mode pooler the unlock would run on another server session, and the lock would stay
 * with an idle pooled session for good. A process that finds the lock taken does not wait inside
 * a transaction (that would hold a pooled server session while waiting): it fails with knex's
 * MigrationLocked, and migrate() looks again after a backoff, up to its lockTimeout.
 */
export async function withMigrationLock<T>(knex: Knex, name: string, work: () => Promise<T>): Promise<T> {
  const trx = await knex.transaction();
  try {
    const { rows } = (await trx
      .raw('select pg_try_advisory_xact_lock(hashtext(?)) as locked', [`distcache:${name}`])
      .timeout(30_000, { cancel: true })) as {
      rows: Array<{ locked: boolean }>;
    };
    if (!rows[0]?.locked)
      throw Object.assign(new Error(`another process holds the distcache migration lock on ${name}`), { name: 'MigrationLocked' });
    return await work();
  } finally {
    await trx.rollback().catch(() => undefined);
  }
}
