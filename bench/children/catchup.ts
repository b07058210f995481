/**
 * Catch-up (#4) or idle polls (#5), in a process of their own so memory is measured cleanly.
 * - catchup: the parent has written a backlog behind the cursor of identity 'catchup'. First a
 *   raw paged SELECT of the same rows (the baseline), then one `cache.sync()` that applies it all,
 *   reporting progress every second so the parent can stop a catch-up that will not finish in time.
 * - idle: the cursor of identity 'idle' is at the head of a large table; polls that find nothing,
 *   interleaved with a `select 1` through the same knex pool and one on a bare driver connection,
 *   the floors this machine allows at that moment with and without knex, and with the poll's own
 *   statement on that bare connection: what the database and the driver cost, without distcache.
 */
import { childArgs } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { bareConnection, knexFor, type Target } from '../lib/db.js';
import { percentile, sleep } from '../lib/stats.js';

interface Args {
  mode: 'catchup' | 'idle';
  target: Target;
  pageSize: number;
  idlePolls: number;
  /** Rounds of poll and select 1 before any is timed (idle mode). */
  warmup?: number;
}

export type CatchupOut =
  | { type: 'raw'; ms: number; rows: number }
  | { type: 'progress'; rows: number; ms: number; rssGrowth: number }
  /** The sync has ended; `done` follows once the raw SELECT has run again. The parent's deadline is on this. */
  | { type: 'synced'; syncMs: number }
  | {
      type: 'done';
      syncMs: number;
      rows: number;
      instructions: number;
      coldBoot: string | null;
      refresherCalls: number;
      idsApplied: number;
      rssGrowth: number;
      heapGrowth: number;
      queries: number;
      /** Of syncMs, the time between each statement's sending and its answer (knex's query and query-response events). */
      dbMs: number;
      /** The raw paged SELECT again, after the catch-up. */
      rawAfterMs: number;
    }
  | {
      type: 'idle';
      polls: number;
      queries: number;
      p50: number;
      p99: number;
      max: number;
      select1: { p50: number; p99: number };
      driver: { p50: number; p99: number };
      /** The poll's own statement (its SQL and bindings as sent), prepared on the bare driver connection. */
      statement: { p50: number; p99: number } | null;
    };

const args = childArgs<Args>();
const send = (message: CatchupOut) => process.send!(message);
const knex = knexFor(args.target, 2);
let refresherCalls = 0;
let idsApplied = 0;
let rowsApplied = 0;
const cache = benchCache(knex, args.target.prefix, args.mode, {
  pageSize: args.pageSize,
  maxPendingInstructions: 1_000_000_000,
  refreshers: [
    {
      id: 'bench',
      refreshAll() {},
      refresh(ids) {
        refresherCalls += 1;
        idsApplied += ids.length;
        // Sampled here too: with better-sqlite3 a catch-up never yields to timers.
        sampleMemory();
      },
    },
  ],
});
cache.on('instruction:applied', (e) => (rowsApplied += new Set(e.rowIds).size));
let queries = 0;
let dbMs = 0;
const sentAt = new Map<unknown, number>();
knex.on('query', (q: { __knexQueryUid?: unknown }) => {
  queries++;
  sentAt.set(q.__knexQueryUid, performance.now());
});
knex.on('query-response', (_r: unknown, q: { __knexQueryUid?: unknown }) => {
  const at = sentAt.get(q.__knexQueryUid);
  if (at !== undefined) dbMs += performance.now() - at;
  sentAt.delete(q.__knexQueryUid);
});
let rssPeak = 0;
let heapPeak = 0;
function sampleMemory(): void {
  const m = process.memoryUsage();
  rssPeak = Math.max(rssPeak, m.rss);
  heapPeak = Math.max(heapPeak, m.heapUsed);
}
const table = `${args.target.prefix}cache_instruction`;

/**
 * The baseline: a hand-written catch-up, keyset pages of the same size, nothing done with the rows.
 * It runs before and after the catch-up, so drift of the machine during the run shows in both.
 */
async function rawScan(): Promise<{ ms: number; rows: number }> {
  const t = performance.now();
  let after = 0;
  let rows = 0;
  // On MariaDB the plain form is planned as a lookup on `cluster` alone, so each page would scan
  // from the start of the log; a careful hand-written catch-up names the (cluster, id) index, as
  // distcache names its (cluster, seq) one. Without the hint the baseline is several times slower.
  const source = args.target.db === 'mysql' ? knex.raw('?? force index (??)', [table, `${table}_cluster_id`]) : knex.raw('??', [table]);
  for (;;) {
    const page: Array<Record<string, unknown>> = await knex
      .from(source)
      .select('id', 'utc_stamp', 'json_instruction', 'originated', 'origin_instance', 'instruction_count')
      .where('cluster', 'default')
      .where('id', '>', after)
      .orderBy('id')
      .limit(args.pageSize);
    rows += page.length;
    if (page.length < args.pageSize) break;
    after = Number(page[page.length - 1]!.id);
  }
  return { ms: performance.now() - t, rows };
}

if (args.mode === 'catchup') {
  await knex(table).count({ n: '*' }); // warm the cache for both
  send({ type: 'raw', ...(await rawScan()) });

  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  await sleep(50);
  const before = process.memoryUsage();
  rssPeak = before.rss;
  heapPeak = before.heapUsed;
  const sampler = setInterval(sampleMemory, 5);
  const t = performance.now();
  const progress = setInterval(
    () => send({ type: 'progress', rows: rowsApplied, ms: performance.now() - t, rssGrowth: rssPeak - before.rss }),
    1000,
  );
  queries = 0;
  dbMs = 0;
  const result = await cache.sync();
  const syncDbMs = dbMs;
  const syncMs = performance.now() - t;
  const syncQueries = queries;
  clearInterval(sampler);
  clearInterval(progress);
  sampleMemory();
  send({ type: 'synced', syncMs });
  const rawAfter = await rawScan();
  send({
    type: 'done',
    syncMs,
    rows: result.rows,
    instructions: result.instructions,
    coldBoot: result.coldBoot,
    refresherCalls,
    idsApplied,
    rssGrowth: Math.max(0, rssPeak - before.rss),
    heapGrowth: Math.max(0, heapPeak - before.heapUsed),
    queries: syncQueries,
    dbMs: syncDbMs,
    rawAfterMs: rawAfter.ms,
  });
} else {
  // A server polls for as long as it runs: the figure is its steady state, so everything timed is
  // warmed up (optimized by the JIT, statements prepared, pool settled) before anything is timed.
  // After 1,000 rounds the next 3,000 still had a noisy tail in about two runs of three, for
  // all alike (the JIT still at work); after 5,000, in none of several. A quick run warms up less.
  const driver = await bareConnection(args.target);
  // The statement an idle poll sends, as it sends it: a settled poll's first query (its page; the
  // first poll also reads the cursor).
  let statement: { sql: string; bindings: unknown[] } | undefined;
  const capture = (q: { sql: string; bindings?: unknown[] }) => (statement ??= { sql: q.sql, bindings: q.bindings ?? [] });
  const warmup = Math.max(10, args.warmup ?? 5000);
  for (let i = 0; i < warmup; i++) {
    if (i === 5) knex.on('query', capture);
    await cache.sync();
    if (i === 5) knex.off('query', capture);
    await knex.raw('select 1');
    await driver.select1();
    if (statement) await driver.run(statement.sql, statement.bindings);
  }
  const polls: number[] = [];
  const bare: number[] = [];
  const onDriver: number[] = [];
  const alone: number[] = [];
  queries = 0;
  let bareQueries = 0;
  for (let i = 0; i < args.idlePolls; i++) {
    let t = performance.now();
    await cache.sync();
    polls.push(performance.now() - t);
    t = performance.now();
    await knex.raw('select 1');
    bare.push(performance.now() - t);
    bareQueries += 1;
    t = performance.now();
    await driver.select1();
    onDriver.push(performance.now() - t);
    if (statement) {
      t = performance.now();
      await driver.run(statement.sql, statement.bindings);
      alone.push(performance.now() - t);
    }
  }
  await driver.close();
  send({
    type: 'idle',
    polls: polls.length,
    queries: queries - bareQueries,
    p50: percentile(polls, 50),
    p99: percentile(polls, 99),
    max: Math.max(...polls),
    select1: { p50: percentile(bare, 50), p99: percentile(bare, 99) },
    driver: { p50: percentile(onDriver, 50), p99: percentile(onDriver, 99) },
    statement: alone.length > 0 ? { p50: percentile(alone, 50), p99: percentile(alone, 99) } : null,
  });
}
await knex.destroy();
process.disconnect();
