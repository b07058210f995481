import { setTimeout as delay } from 'node:timers/promises';
import { DEFAULTS } from '../../src/options.js';
import { Child } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, type Db, type Target } from '../lib/db.js';
import { analyze, settle, writeBacklog } from '../lib/backlog.js';
import { runFor, runUntil } from '../lib/measure.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { quietMachine } from '../lib/machine.js';
import { count, mb, ms, percentile, ratio } from '../lib/stats.js';
import { attachWake } from '../lib/wake.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import type { CatchupOut } from '../children/catchup.js';

/**
 * On one table per database: #4 catch-up of a large backlog (in a child process, for a clean
 * memory figure), #5 idle polls once it has caught up, a coalescing check (10,000 refreshes of
 * one id), then #6 a prune of the whole (backdated) backlog while writers run.
 */
export async function backlog(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const db of ['postgres', 'mysql', 'sqlite'] as const) {
    if (s.dbs.has(db)) figures.push(...(await one(s, db)));
  }
  return figures;
}

async function one(s: Settings, db: Db): Promise<Figure[]> {
  // The same 1,000,000 rows everywhere (MariaDB writes its backlog slower, a trigger per row).
  const rows = s.quick ? 10_000 : 1_000_000;
  const label = DB_LABEL[db];
  const target = await freshTarget(db);
  const knex = knexFor(target, 8);
  const tables = tableNames(target.prefix);
  const store = dialectFor(knex).createStore({ knex, tables, cluster: 'default', queryTimeout: 3_600_000 });
  const figures: Figure[] = [];
  try {
    await store.resetCursor('catchup', await store.head());
    s.log(`#4 catch-up: ${label}, writing a backlog of ${count(rows)} rows`);
    const t = performance.now();
    await writeBacklog(knex, db, tables.instruction, rows);
    await analyze(knex, db, [tables.instruction, tables.cursor]);
    const writeS = (performance.now() - t) / 1000;
    s.log(`#4 catch-up: ${label}, backlog written in ${writeS.toFixed(1)} s; raw paged SELECT, then catching up`);
    if (s.wants(4)) figures.push(await catchUp(s, db, target, rows, writeS));
    if (s.wants(5)) figures.push(await idlePolls(s, db, knex, target, store, rows));
    if (s.wants(5)) figures.push(await idleAfterBursts(s, db, knex, target));
    if (s.wants(4)) figures.push(await coalescing(s, db, knex, target.prefix, store));
    if (s.wants(6)) figures.push(await prune(s, db, knex, target.prefix));
  } finally {
    await knex.destroy();
    await dropTarget(target);
  }
  return figures;
}

/** #5: polls that find nothing, in a child process, once the database has settled. */
async function idlePolls(
  s: Settings,
  db: Db,
  knex: import('knex').Knex,
  target: Target,
  store: import('../../src/store/store.js').InstructionStore,
  rows: number,
): Promise<Figure> {
  const label = DB_LABEL[db];
  await store.resetCursor('idle', await store.head());
  s.log(`#5 idle polls: ${label} (after the database settles)`);
  // A quick run (CI's smoke test, on a shared machine) waits for the database and a quiet machine only briefly.
  await settle(knex, db, pick(s, 60_000, 5_000));
  const quietWaitS = pick(s, 60, 3);
  const busy = await quietMachine(0.1, quietWaitS * 1000);
  const idle = new Child<never, CatchupOut>('catchup', {
    mode: 'idle',
    target,
    pageSize: 100,
    idlePolls: pick(s, 3000, 500),
    warmup: pick(s, 5000, 500),
  });
  const r = await idle.when((m): m is Extract<CatchupOut, { type: 'idle' }> => m.type === 'idle');
  await idle.exited;
  const met = r.queries / r.polls <= 1 && r.p50 <= 2 * r.select1.p50;
  const alone = r.statement;
  return {
    id: 5,
    what: `idle poll on a ${count(rows)}-row analyzed table (cursor at the head)`,
    db: label,
    result:
      `${ratio(r.queries / r.polls)} queries per poll; p50 ${ms(r.p50)}, ` + `p99 ${ms(r.p99)}, max ${ms(r.max)} (${count(r.polls)} polls)`,
    baseline:
      `\`select 1\` interleaved, through the same knex pool: p50 ${ms(r.select1.p50)}, p99 ${ms(r.select1.p99)}; on a bare driver ` +
      `connection: p50 ${ms(r.driver.p50)}, p99 ${ms(r.driver.p99)}` +
      (alone ? `; the poll's own statement on that bare connection: p50 ${ms(alone.p50)}, p99 ${ms(alone.p99)}` : ''),
    ratio: `p50 ${ratio(r.p50 / r.select1.p50)}× the pooled select 1`,
    floor: '≤ 1 query per poll; p50 ≤ 2× `select 1` through the same pool',
    met,
    note: (
      `Timed around cache.sync() in the application: the query, the driver, knex's pool and the ` +
      `poller. ` +
      quietNote(busy, quietWaitS) +
      (r.p50 > 2 * r.select1.p50 ? idleMiss(db, r.p50, r.select1.p50, r.driver.p50, alone?.p50) : '')
    ).trim(),
  };
}

/** How quiet the machine was when timing began (quietMachine waits for 10 % busy, at most `waitS`). */
function quietNote(busy: number | undefined, waitS: number): string {
  if (busy === undefined) return '';
  const percent = Math.round(busy * 100);
  return busy <= 0.1
    ? `Timing began once the machine was quiet (${percent} % busy over the last second). `
    : `The machine never got quiet within ${waitS} s: ${percent} % busy over the second before timing began. `;
}

/** What limits an idle poll that misses its floor, from the figures measured side by side. */
function idleMiss(db: Db, poll: number, select1: number, bareSelect1: number, alone: number | undefined): string {
  const head = `Not met: the poll's p50 is ${ms(poll)} against ${ms(select1)} for select 1 on the same pool. `;
  if (alone === undefined) return head;
  // The split below holds only where the bare connection is the cheaper path, as it should be.
  if (bareSelect1 > select1) {
    return (
      head +
      `The bare connection's own select 1 (${ms(bareSelect1)}) was slower than the pooled one here, so the poll's statement ` +
      `on it (${ms(alone)}) does not split the poll's cost in this run. `
    );
  }
  const statement =
    `The poll's own statement alone, prepared on a bare driver connection (no knex, no pool, no distcache), takes ${ms(alone)}: ` +
    `${ratio(alone / select1)}× the pooled select 1 by itself. `;
  const rest = `The rest, ${ms(Math.max(0, poll - alone))}, is the pool, the driver's callback and the poller around the statement. `;
  const why =
    db === 'sqlite'
      ? 'A select 1 reads no table, so SQLite opens no read transaction for it; any statement that reads the log takes the ' +
        "WAL's read lock and descends two b-trees (the log's index and the cursor's), which costs more than the floor allows. "
      : db === 'mysql'
        ? 'The statement reads the log (through its (cluster, seq) index) and the cursor row in one round trip; a select 1 reads ' +
          'nothing. '
        : 'The statement reads the log through its index and the cursor row in one round trip; a select 1 reads nothing. ';
  return head + statement + rest + (alone >= 2 * select1 ? why : '');
}

/**
 * #5, after bursts of writes: a server woken by every commit (NOTIFY, the WAL watch) must go back
 * to one poll per syncInterval once the writes stop. Before issue 12 each wake that met a poll in
 * flight left one more timer behind: 18, 55, then 79 polls a second after three bursts of 400.
 *
 * The loop's rate is measured from the gaps between polls, not from a count in a window (9 or 10
 * polls fit in 10 s when a poll takes a few milliseconds, 0.90 or 1.00 polls/s for the same loop).
 * Heartbeats, the lease and the cursors still write while the log is idle, and SQLite's WAL watch
 * wakes on every commit to the file (twice: at once, and once more a few milliseconds later), so
 * an early poll there is a wake, not a timer: those are counted apart, against the writes seen.
 */
async function idleAfterBursts(s: Settings, db: Db, knex: import('knex').Knex, target: Target): Promise<Figure> {
  const label = DB_LABEL[db];
  const interval = 1000;
  s.log(`#5 idle polls after bursts of writes: ${label}`);
  const writer = benchCache(knex, target.prefix, 'burst-writer', { notify: true });
  const watched = benchCache(knex, target.prefix, 'burst-watched', {
    notify: true,
    syncInterval: interval,
    startFromHead: true,
    maxPendingInstructions: 1_000_000,
  });
  let counting = false;
  const polls: number[] = [];
  let writes = 0;
  watched.on('sync:complete', () => counting && polls.push(performance.now()));
  const onQuery = (q: { sql?: string }) => {
    if (counting && /^\s*(insert|update|delete|replace)\b/i.test(q.sql ?? '')) writes += 1;
  };
  knex.on('query', onQuery);
  await Promise.all([writer.start(), watched.start()]);
  try {
    for (let burst = 0; burst < 3; burst += 1) {
      await Promise.all(Array.from({ length: 400 }, (_, i) => writer.refresh('bench', [burst * 400 + i])));
      await watched.sync();
    }
    // One interval for the polls the bursts asked for to end, then count.
    await delay(interval);
    const seconds = pick(s, 10, 5);
    counting = true;
    await delay(seconds * 1000);
    counting = false;
    const gaps = polls.slice(1).map((at, i) => at - polls[i]!);
    // A loop poll comes an interval after the poll before it; an early one was woken.
    const loopGaps = gaps.filter((g) => g >= interval / 2);
    const early = gaps.length - loopGaps.length;
    const meanGap = loopGaps.reduce((a, b) => a + b, 0) / Math.max(1, loopGaps.length);
    const rate = loopGaps.length > 0 ? 1000 / meanGap : 0;
    const met = rate >= 0.9 && rate <= 1.1 && early <= 2 * writes;
    return {
      id: 5,
      what: `idle polls a second after 3 bursts of 400 writes${db === 'mysql' ? '' : ', woken by each commit'} (syncInterval 1 s)`,
      db: label,
      result:
        `${rate.toFixed(2)} loop polls/s (mean gap ${ms(meanGap)} over ${loopGaps.length} gaps); ${early} early polls, ` +
        `${writes} writes of heartbeats, the lease and cursors in the ${seconds} s`,
      floor: '1 poll per syncInterval ± 10 % (0.9 to 1.1 /s); early polls only for writes (at most 2 each)',
      met,
      note:
        `${polls.length} polls in ${seconds} s. ` +
        (db === 'sqlite'
          ? "SQLite's WAL watch cannot tell an instruction from a heartbeat or a cursor: every commit to the file wakes every " +
            'server watching it, twice (at once, and once more after 5 ms for a commit still being written), and the interval ' +
            'starts again after a woken poll.'
          : db === 'postgres'
            ? 'Heartbeat, lease and cursor writes wake no server here: only an instruction row sends a NOTIFY.'
            : "MariaDB has no wake-up: every poll here is the loop's."),
    };
  } finally {
    knex.off('query', onQuery);
    await Promise.all([writer.stop(), watched.stop()]);
  }
}

/**
 * How long a catch-up may take before it is stopped: twice the raw scan of the same rows, measured
 * just before in the same child, plus a margin for a short scan's noise. A catch-up at the floor
 * (0.8× the raw rate) takes 1.25× the raw scan, so one that is stopped is well below it, however
 * fast or loaded the machine is; a fixed deadline stopped a 1,000,000-row catch-up at 0.98× the raw
 * rate on a busy machine (issue 21).
 */
export function catchUpDeadlineMs(rawMs: number, quick: boolean): number {
  return 2 * rawMs + (quick ? 10_000 : 30_000);
}

/** Runs the catch-up child; stops it at the deadline and reports how far it got. */
async function catchUp(s: Settings, db: Db, target: Target, rows: number, writeS: number): Promise<Figure> {
  const child = new Child<never, CatchupOut>('catchup', { mode: 'catchup', target, pageSize: 100, idlePolls: 0 }, ['--expose-gc']);
  const raw = await child.when((m): m is Extract<CatchupOut, { type: 'raw' }> => m.type === 'raw');
  const rawRate = raw.rows / (raw.ms / 1000);
  const baseline = `raw paged SELECT (keyset by id, 100 rows a page): ${(raw.ms / 1000).toFixed(1)} s, ${count(rawRate)} rows/s`;
  const what = `catch-up: one server applies a backlog of ${count(rows)} instructions (1 per row, pageSize 100), analyzed table`;
  const deadlineMs = catchUpDeadlineMs(raw.ms, s.quick);
  const rawS = (raw.ms / 1000).toFixed(1);
  s.log(`#4 catch-up: ${DB_LABEL[db]}, raw SELECT took ${rawS} s; catching up (at most ${(deadlineMs / 1000).toFixed(0)} s)`);
  const synced = await child
    .when((m): m is Extract<CatchupOut, { type: 'synced' }> => m.type === 'synced', deadlineMs)
    .catch(() => undefined);
  if (!synced) {
    const deadlineS = deadlineMs / 1000;
    const progress = child.messages.filter((m): m is Extract<CatchupOut, { type: 'progress' }> => m.type === 'progress');
    child.kill();
    await child.exited;
    const last = progress[progress.length - 1];
    const applied = last?.rows ?? 0;
    const rate = applied / ((last?.ms ?? deadlineMs) / 1000);
    const firstRate = progress.length > 1 ? progress[0]!.rows / (progress[0]!.ms / 1000) : rate;
    s.log(`#4 catch-up: ${DB_LABEL[db]} stopped at the deadline after ${count(applied)} rows`);
    return {
      id: 4,
      what,
      db: DB_LABEL[db],
      result:
        `did not finish within ${deadlineS.toFixed(0)} s: ${count(applied)} of ${count(rows)} rows applied, ${count(rate)} rows/s ` +
        `(${count(firstRate)}/s in the first second); RSS growth so far ${mb(last?.rssGrowth ?? 0)}`,
      baseline,
      ratio: `${ratio(rate / rawRate)} (rates)`,
      floor: 'ratio ≥ 0.8; memory growth < 100 MB',
      met: false,
      note:
        `Stopped at the deadline (twice the raw SELECT's time, plus ${s.quick ? 10 : 30} s); the ratio compares the rate reached ` +
        `with the raw rate. Backlog written by SQL in ${writeS.toFixed(0)} s.`,
    };
  }
  // The raw SELECT again, after the catch-up: about as long as the first.
  const done = await child.when((m): m is Extract<CatchupOut, { type: 'done' }> => m.type === 'done', deadlineMs);
  await child.exited;
  const rate = done.rows / (done.syncMs / 1000);
  const rawMs = (raw.ms + done.rawAfterMs) / 2;
  const met = rawMs / done.syncMs >= 0.8 && done.rssGrowth < 100 * 1024 * 1024 && done.rows === rows;
  // What limits a missed floor: the statements (the database and the driver) or distcache's work between them.
  const beyondKeyset =
    db === 'postgres'
      ? "the snapshot window, the half for transactions in progress at the last poll, the page's byte budget"
      : 'the position order, the byte bound on each body';
  const limit = met
    ? ''
    : done.dbMs > done.syncMs - done.dbMs
      ? `Not met: the statements take most of the sync. Each page is one statement, as each raw page is, so the gap is ` +
        `what the page statement does beyond a keyset SELECT: ${beyondKeyset}. `
      : `Not met: distcache's own work between the statements takes most of the sync. `;
  return {
    id: 4,
    what,
    db: DB_LABEL[db],
    result:
      `${(done.syncMs / 1000).toFixed(1)} s, ${count(rate)} rows/s, ${count(done.queries)} queries; peak growth ` +
      `RSS ${mb(done.rssGrowth)}, heap ${mb(done.heapGrowth)}`,
    baseline:
      `raw paged SELECT (keyset by id, 100 rows a page), before and after the catch-up: ${(raw.ms / 1000).toFixed(2)} s ` +
      `and ${(done.rawAfterMs / 1000).toFixed(2)} s, ${count(raw.rows / (rawMs / 1000))} rows/s on average`,
    ratio: ratio(rawMs / done.syncMs, 0.8),
    floor: 'ratio ≥ 0.8; memory growth < 100 MB',
    met,
    note:
      limit +
      `${done.rows === rows ? '' : `read ${done.rows} of ${rows} rows (cold boot: ${done.coldBoot}). `}` +
      // What limits it: the statements (the database and the driver) against everything else the sync does.
      `Of the sync's ${(done.syncMs / 1000).toFixed(1)} s, ${(done.dbMs / 1000).toFixed(1)} s passed between sending ` +
      `its ${count(done.queries)} statements and their answers (${ratio(done.dbMs / rawMs)}× the raw SELECT's whole time), ` +
      `${((done.syncMs - done.dbMs) / 1000).toFixed(1)} s in distcache between them (decoding, coalescing, the refresher ` +
      `calls, the cursor). ` +
      `${count(done.instructions)} instructions reached the refresher in ${plural(done.refresherCalls, 'call')} (pages gather ` +
      `in a bounded buffer, applied each time it fills). ` +
      `Backlog written by SQL in ${writeS.toFixed(0)} s.`,
  };
}

/** A backlog of 10,000 refreshes of one id: how many refresher calls does catching up cost? */
async function coalescing(
  s: Settings,
  db: Db,
  knex: import('knex').Knex,
  prefix: string,
  store: import('../../src/store/store.js').InstructionStore,
): Promise<Figure> {
  s.log(`#4 coalescing: ${DB_LABEL[db]}, 10,000 refreshes of one id`);
  await store.resetCursor('coalesce', await store.head());
  await writeBacklog(knex, db, `${prefix}cache_instruction`, 10_000, 1000, 42);
  let calls = 0;
  const cache = benchCache(knex, prefix, 'coalesce', {
    maxPendingInstructions: 1_000_000,
    refreshers: [{ id: 'bench', refreshAll() {}, refresh: () => void calls++ }],
  });
  const result = await cache.sync();
  return {
    id: 4,
    what: 'catch-up coalescing: a backlog of 10,000 refreshes of one id (pageSize 100)',
    db: DB_LABEL[db],
    result: `${plural(calls, 'refresher call')} for ${count(result.rows)} rows`,
    floor: 'one call (issue 5: "costs one refresher call")',
    met: calls === 1,
    note:
      calls === 1
        ? undefined
        : 'Rows are coalesced one page at a time, so the backlog costs one call per page; coalescing across pages (bounded by a ' +
          'cap on distinct ids) would make it one.',
  };
}

/** #6: prune the whole backdated backlog while 4 writers run, against the writers' latency without it. */
async function prune(s: Settings, db: Db, knex: import('knex').Knex, prefix: string): Promise<Figure> {
  const label = DB_LABEL[db];
  const dutyCycle = pick(s, DEFAULTS.pruneDutyCycle, 0.5);
  const writers = 4;
  const writer = benchCache(knex, prefix, 'writer', { notify: true });
  await writer.start();
  const wake = await attachWake(writer, knex, true);
  let next = 1;
  const write = async () => {
    await writer.refresh('bench', [next++]);
    wake.notifyCommitted();
  };
  try {
    s.log(`#6 prune: ${label}, writers alone for a baseline`);
    const base = await runFor(pick(s, 5, 1.5), writers, write);
    // A quick run (CI's smoke test) rests less between chunks: at the default a MariaDB prune of its
    // 20,000 rows took 24 s on a busy machine. The figure names the duty cycle it ran with.
    const pruner = benchCache(knex, prefix, 'pruner', { pruneDutyCycle: dutyCycle });
    s.log(`#6 prune: ${label}, pruning the expired rows while ${writers} writers run`);
    const t = performance.now();
    const pruning = pruner.prune();
    const during = await runUntil(pruning, writers, write);
    const result = await pruning;
    const pruneS = (performance.now() - t) / 1000;
    const after = await runFor(pick(s, 3, 1), writers, write);
    const p99Base = percentile([...base.latencies, ...after.latencies], 99);
    const p99During = percentile(during, 99);
    return {
      id: 6,
      what:
        `prune of ${count(result.deleted)} expired rows (chunks of ${count(DEFAULTS.pruneChunkSize)}, duty ` +
        `cycle ${dutyCycle.toFixed(2)}) while ${writers} writers run`,
      db: label,
      result:
        `writer p99 during the prune ${ms(p99During)} (p50 ${ms(percentile(during, 50))}, ${count(during.length)} writes); prune ` +
        `took ${pruneS.toFixed(1)} s (${count(result.deleted / pruneS)} rows/s)`,
      baseline: `writer p99 without a prune: ${ms(p99Base)} (p50 ${ms(percentile(base.latencies, 50))})`,
      ratio: ratio(p99During / p99Base, 2),
      floor: 'p99 during the prune ≤ 2×',
      met: p99During / p99Base <= 2,
      note:
        'The baseline pools the writers alone before and after the prune; the writers write through DistributedCache (refresh()), ' +
        '4 at a time.',
    };
  } finally {
    await wake.stop();
    await writer.stop();
  }
}

/** '1 call', '50 calls'. */
function plural(n: number, noun: string): string {
  return `${count(n)} ${noun}${n === 1 ? '' : 's'}`;
}
