import type { Knex } from 'knex';
import { errors } from '../../errors.js';

/**
 * GET_LOCK is held by one session, so the lock lives on a connection kept aside for the whole run;
 * the migrations themselves use other pool connections (the pool needs at least two).
 */
export async function withMigrationLock<T>(knex: Knex, name: string, work: () => Promise<T>): Promise<T> {
  const connection = await knex.client.acquireConnection();
  try {
    // MySQL lock names are at most 64 characters.
    const lockName = `distcache:${name}`.slice(0, 64);
    const result = await knex.raw('select get_lock(?, ?) as got', [lockName, 120]).connection(connection);
    const got = (result as unknown as [Array<{ got: unknown }>])[0]?.[0]?.got;
    if (Number(got) !== 1)
      throw new errors.MigrationFailedError(
        `could not take the migration lock '${lockName}' within 120 s; another migration run may be stuck`,
      );
    try {
      return await work();
    } finally {
      await knex.raw('select release_lock(?)', [lockName]).connection(connection);
    }
  } finally {
    await knex.client.releaseConnection(connection);
  }
}
