import { toDate } from '../store/columns.js';
import type { AdminContext } from './context.js';

/** Instructions written per minute over a recent window, as the dashboard's chart shows them. */
export interface ActivityView {
  /** The database clock when read. */
  now: string;
  /** Width of each bucket, in seconds (60). */
  bucketSeconds: number;
  /** Oldest first; each bucket starts at `start` (ISO-8601, database clock). */
  buckets: Array<{ start: string; rows: number; instructions: number }>;
  /**
   * The window held more than `rowLimit` rows: only the newest `rowLimit` were counted, so buckets
   * before `countedFrom` are not complete. Null when every row of the window was counted.
   */
  countedFrom: string | null;
  rowLimit: number;
}

/** Rows read at most for one chart: a write spike must not make the page the slow query. */
export const ACTIVITY_ROW_LIMIT = 10_000;

/**
 * Per-minute counts over the last `minutes`, from `utc_stamp`, in two index-bound reads on a log
 * of any size: the first row of the window by the `utc_stamp` index (one probe), then the rows from
 * that id on by the `(cluster, id)` index, newest first, at most `rowLimit`. Counting is done
 * here, not in SQL, so no dialect's date functions are needed. Read-only.
 */
export async function activity(ctx: AdminContext, options: { minutes: number; rowLimit?: number }): Promise<ActivityView> {
  const rowLimit = options.rowLimit ?? ACTIVITY_ROW_LIMIT;
  const windowMs = options.minutes * 60_000;
  const { knex, store, tables, cluster } = ctx;
  const [now, first] = await Promise.all([
    store.now(),
    // Across clusters on purpose: the stamp index has no cluster column, and an id is only a lower bound here.
    store.bounded(knex(tables.instruction).select('id').where('utc_stamp', '>=', store.clockSql(windowMs)).orderBy('utc_stamp').first()),
  ]);
  const raws: Array<{ utc_stamp: unknown; instruction_count: unknown }> =
    first === undefined
      ? []
      : await store.bounded(
          knex(tables.instruction)
            .select('utc_stamp', 'instruction_count')
            .where('cluster', cluster)
            .andWhere('id', '>=', first.id)
            .orderBy('id', 'desc')
            .limit(rowLimit),
        );
  const end = Math.floor(now.getTime() / 60_000) * 60_000 + 60_000;
  const start = end - (options.minutes + 1) * 60_000;
  const buckets = Array.from({ length: options.minutes + 1 }, (_, i) => ({
    start: new Date(start + i * 60_000).toISOString(),
    rows: 0,
    instructions: 0,
  }));
  let oldest: number | null = null;
  for (const raw of raws) {
    const at = toDate(raw.utc_stamp)?.getTime();
    if (at === undefined) continue;
    oldest = oldest === null ? at : Math.min(oldest, at);
    const bucket = buckets[Math.floor((at - start) / 60_000)];
    if (!bucket) continue;
    bucket.rows += 1;
    bucket.instructions += Number(raw.instruction_count ?? 0);
  }
  const full = raws.length >= rowLimit;
  return {
    now: now.toISOString(),
    bucketSeconds: 60,
    buckets,
    countedFrom: full && oldest !== null ? new Date(oldest).toISOString() : null,
    rowLimit,
  };
}
