import type { Knex } from 'knex';
import { describeError } from '../../errors.js';
import { rawRows } from '../../store/columns.js';
import type { ReplicaSet } from '../replica-set.js';

/**
 * Runs a read-only `work` (a pending count, the log summary, the clock) on the first replica whose
 * tick is no older than maxReplicaLag, checked just before by one primary-key read there; undefined
 * when none qualifies, and the caller reads the primary.
 *
 * Why this is sound for those reads, and not for pages: they are estimates. A replica whose tick is
 * T ms old has replayed every commit of the primary up to T ms ago (the tick is committed after
 * them, and WAL replays in order), so a count there misses at most the last maxReplicaLag of writes.
 * A lagging replica is passed over rather than understating the very lag that health() reports.
 * Ages measured there use the replica's clock against the primary's stamps, as the tick's age does:
 * the hosts' clocks are assumed in step (NTP).
 */
export async function onFreshReplica<T>(
  replicas: ReplicaSet,
  tick: string,
  cluster: string,
  timeoutMs: number,
  work: (knex: Knex, bounded: <Q extends Knex.Raw | Knex.QueryBuilder>(query: Q) => Promise<Awaited<Q>>) => Promise<T>,
): Promise<{ value: T } | undefined> {
  for (const replica of replicas.candidates()) {
    const bounded = <Q extends Knex.Raw | Knex.QueryBuilder>(query: Q) => replica.bounded(query, timeoutMs) as Promise<Awaited<Q>>;
    try {
      const [row] = rawRows(
        await bounded(
          replica.knex.raw(`select extract(epoch from (now() - stamp)) * 1000 as age from ${tick} where cluster = ?`, [cluster]),
        ),
      );
      const age = row?.age == null ? null : Number(row.age);
      if (!replica.answered(age, true)) continue;
      return { value: await work(replica.knex, bounded) };
    } catch (err) {
      replica.failed(describeError(err));
    }
  }
  return undefined;
}
