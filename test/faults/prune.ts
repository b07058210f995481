import fc from 'fast-check';
import type { Knex } from 'knex';
import { DistributedCache, type CacheRefresher } from '../../src/index.js';
import type { InstructionStore } from '../../src/store/store.js';
import { silentLogger } from '../../src/logger.js';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import type { DialectName } from '../support/databases.js';
import { faultDatabase, type FaultDatabase } from './setup.js';

/** One step of a schedule. */
export type PruneStep =
  | { op: 'write'; n: number }
  | { op: 'sync'; server: number }
  | { op: 'stop'; server: number }
  | { op: 'start'; server: number }
  /** Backdates every row (past retention, or past maxRetention too), then prunes. */
  | { op: 'prune'; age: 'past-retention' | 'past-max-retention' };

export interface PruneRunResult {
  report: CheckerReport;
  deleted: number;
  marked: number;
  coldBoots: number;
  /** Cursors a chunk passed strictly inside: it deleted rows the cursor had read and rows it had not. */
  insideChunk: number;
}

/** A schedule, and the prune chunk size it runs with: small chunks put cursors inside and between them. */
export interface PruneSchedule {
  chunkSize: number;
  steps: PruneStep[];
}

const SERVERS = 3;
const DAY = 24 * 3600_000;

export const stepArbitrary: fc.Arbitrary<PruneStep> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('write' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('sync' as const), server: fc.nat({ max: SERVERS - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('stop' as const), server: fc.nat({ max: SERVERS - 1 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('start' as const), server: fc.nat({ max: SERVERS - 1 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('prune' as const),
      age: fc.constantFrom('past-retention' as const, 'past-max-retention' as const),
    }),
  },
);

/**
 * Schedules long enough (fast-check's default size keeps arrays to about ten steps) for a server
 * to read, stop and fall behind while rows pile up on both sides of its cursor, with chunks of 1 to
 * 5 rows so that a chunk can end below, at, or past a cursor.
 */
export function scheduleArbitrary(maxSteps: number): fc.Arbitrary<PruneSchedule> {
  return fc.record({
    chunkSize: fc.integer({ min: 1, max: 5 }),
    steps: fc.array(stepArbitrary, { minLength: 1, maxLength: maxSteps, size: 'max' }),
  });
}

let runs = 0;

/**
 * Runs one schedule in its own cluster (so runs share the tables but never see each other's
 * rows), then starts every server and lets it catch up, and judges with the checker: a server
 * either applied each committed row or cold-booted after it.
 */
export async function runPruneSchedule(db: FaultDatabase, steps: readonly PruneStep[], chunkSize = 250): Promise<PruneRunResult> {
  const cluster = `run${++runs}`;
  const checker = new FaultChecker(db.dialect);
  const common = {
    knex: db.knex,
    tablePrefix: db.prefix,
    cluster,
    syncInterval: 60_000,
    notify: false,
    pruneSchedule: false as const,
    logger: silentLogger,
    retryDelay: 1,
  };
  const refreshers = [{ id: 'item', refreshAll() {}, refresh() {} }];
  const writer = new DistributedCache({ ...common, serverIdentity: 'writer', pruneChunkSize: chunkSize, refreshers });
  const inside = countCursorsInsideChunks(writer.store);
  let rowIds: number[] = [];
  writer.on('instruction:written', (e) => (rowIds = e.rowIds));
  const running: Array<DistributedCache | undefined> = Array.from({ length: SERVERS }, () => undefined);
  let coldBoots = 0;
  const startServer = async (i: number) => {
    const name = `s${i}`;
    const item: CacheRefresher = {
      id: 'item',
      refreshAll() {},
      refresh: (ids) => ids.forEach((id) => checker.applied(name, i, String(id))),
    };
    const cache = new DistributedCache({ ...common, serverIdentity: name, refreshers: [item] });
    cache.on('sync:complete', (r) => {
      if (r.coldBoot === null) return;
      coldBoots++;
      checker.cover({ server: name, pid: i, position: r.position, reason: 'cold-boot' });
    });
    running[i] = cache;
    await cache.start();
  };
  for (let i = 0; i < SERVERS; i++) checker.expect(`s${i}`);
  let written = 0;
  let deleted = 0;
  let marked = 0;
  try {
    for (let i = 0; i < SERVERS; i++) await startServer(i);
    for (const step of steps) {
      switch (step.op) {
        case 'write': {
          const keys = Array.from({ length: step.n }, () => `${cluster}-k${written++}`);
          await writer.refresh('item', keys);
          const covers = await coverValues(db, rowIds);
          for (const key of keys) checker.committed(key, { cover: covers[0], at: Date.now() });
          break;
        }
        case 'sync':
          await running[step.server]?.sync();
          break;
        case 'stop':
          await running[step.server]?.stop();
          running[step.server] = undefined;
          break;
        case 'start':
          if (!running[step.server]) await startServer(step.server);
          break;
        case 'prune': {
          await db
            .knex(db.table('cache_instruction'))
            .where({ cluster })
            .update({ utc_stamp: stamp(db, step.age === 'past-retention' ? 3 * DAY : 30 * DAY) });
          const result = await writer.prune();
          deleted += result.deleted;
          marked += result.marked.length;
          break;
        }
      }
    }
    // The end of every schedule: everyone back, caught up.
    for (let i = 0; i < SERVERS; i++) if (!running[i]) await startServer(i);
    for (const cache of running) {
      await cache!.sync();
      await cache!.sync();
    }
    return { report: checker.report(), deleted, marked, coldBoots, insideChunk: inside.count() };
  } finally {
    await Promise.all(running.map(async (c) => c?.stop()));
    await writer.stop();
  }
}

/**
 * Watches every chunk the prune deletes through `store` (the writer's, which its pruner uses) and
 * counts the cursors not yet marked that it passed strictly inside: the case that marking by the
 * chunk's lowest position, not its highest, gets wrong. Through the store interface only, so it
 * means the same on every dialect.
 */
function countCursorsInsideChunks(store: InstructionStore): { count(): number } {
  let inside = 0;
  const pruneChunk = store.pruneChunk.bind(store);
  const ids = async (rows: Promise<Array<{ id: number }>>) => new Set((await rows).map((r) => r.id));
  store.pruneChunk = async (options) => {
    const cursors = (await store.listCursors()).filter((c) => !c.coldBootRequested);
    const before = await ids(store.newest(100_000));
    const unread = await Promise.all(cursors.map((c) => ids(store.listPending(c.position, 100_000))));
    const result = await pruneChunk(options);
    const after = await ids(store.newest(100_000));
    const deleted = [...before].filter((id) => !after.has(id));
    for (const notRead of unread) if (deleted.some((id) => notRead.has(id)) && deleted.some((id) => !notRead.has(id))) inside++;
    return result;
  };
  return { count: () => inside };
}

function stamp(db: FaultDatabase, ago: number): string | Date {
  const d = new Date(Date.now() - ago);
  return db.dialect === 'sqlite' ? d.toISOString() : d;
}

/** The value a position is compared with: row id, seq, or txid. */
async function coverValues(db: FaultDatabase, ids: number[]): Promise<string[]> {
  if (db.dialect === 'sqlite') return ids.map(String);
  const column: Knex.Raw | string = db.dialect === 'postgres' ? db.knex.raw('txid::text as c') : 'seq as c';
  const rows: Array<{ c: unknown }> = await db.knex(db.table('cache_instruction')).whereIn('id', ids).select(column);
  return rows.map((r) => String(r.c));
}

export interface PrunePropertyResult {
  runs: number;
  totals: { deleted: number; marked: number; coldBoots: number; committed: number; applied: number; covered: number; insideChunk: number };
  durationMs: number;
}

/**
 * Fault 6 as a property: over random schedules of writes, syncs, prunes, stops and restarts,
 * lost (and unexpected) is always 0. fast-check shrinks a failing schedule to a minimal one.
 */
export async function prunePropertyScenario(options: {
  dialect: DialectName;
  numRuns: number;
  maxSteps: number;
  seed?: number;
}): Promise<PrunePropertyResult> {
  const started = Date.now();
  const db = await faultDatabase(options.dialect);
  const totals = { deleted: 0, marked: 0, coldBoots: 0, committed: 0, applied: 0, covered: 0, insideChunk: 0 };
  let count = 0;
  let ok = false;
  try {
    await fc.assert(
      fc.asyncProperty(scheduleArbitrary(options.maxSteps), async ({ chunkSize, steps }) => {
        const result = await runPruneSchedule(db, steps, chunkSize);
        count++;
        totals.deleted += result.deleted;
        totals.marked += result.marked;
        totals.coldBoots += result.coldBoots;
        totals.committed += result.report.committed;
        totals.applied += result.report.servers.reduce((n, s) => n + s.applied, 0);
        totals.covered += result.report.servers.reduce((n, s) => n + s.covered, 0);
        totals.insideChunk += result.insideChunk;
        if (result.report.totals.lost !== 0 || result.report.totals.unexpected !== 0) {
          const schedule = `chunks of ${chunkSize} after ${JSON.stringify(steps)}`;
          throw new Error(`lost or unexpected with ${schedule}:\n${describeReport(result.report)}`);
        }
      }),
      { numRuns: options.numRuns, seed: options.seed, endOnFailure: false },
    );
    ok = true;
    return { runs: count, totals, durationMs: Date.now() - started };
  } finally {
    await db.cleanup(!ok);
  }
}
