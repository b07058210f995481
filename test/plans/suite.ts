/**
 * The plan gate (issue 21): on a log of 300,000 analyzed rows, every statement distcache sends on
 * its hot paths is captured from the store and the cache themselves (capture.ts), then explained
 * (explain.ts), and must neither scan the log nor touch more than a bound: a constant for what an
 * idle server does, proportional to the page or chunk size for catch-up and prune. Deterministic:
 * it counts what the database reports, never time. See docs/testing.md, "The plan gate".
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate, silentLoggerForTests } from '../conformance/exports.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { TypedEmitter } from '../../src/events.js';
import { Pruner } from '../../src/cluster/pruner.js';
import type { InstructionStore } from '../../src/store/store.js';
import { tableNames } from '../../src/store/tables.js';
import { DATABASES, dropPrefixed, freshPrefix, removeSqliteFile, type DialectName } from '../support/databases.js';
import { recorder } from '../support/recorder.js';
import { captureStatements, type CapturedStatement } from './capture.js';
import { explain } from './explain.js';
import { buildLog } from './log.js';

/** Rows in the log: enough that a full scan costs thousands of buffers, few enough to build in seconds. */
export const PLAN_ROWS = 300_000;
const PAGE = 100;
const CHUNK = 200;
/**
 * Rows past retention: many chunks' worth, so a chunk that reads every doomed row (and sorts them)
 * instead of stopping after `CHUNK` is over its bound, and a prune held back by a lagging server
 * has plenty of old rows it must not delete.
 */
const OLD_ROWS = 20_000;
const DAY = 24 * 3600_000;

/**
 * The bounds, in the database's own unit (PostgreSQL buffers, MariaDB rows examined). A full scan
 * of the log is about 4,000 buffers and 300,000 rows; a subplan run per row of a page, even as an
 * index probe, is 3 or more buffers a row. Each bound leaves room for index depth and the small
 * tables, and none for either fault.
 */
const BOUNDS: Record<'postgres' | 'mysql', { constant: number; perRow: number }> = {
  postgres: { constant: 40, perRow: 1 },
  mysql: { constant: 30, perRow: 2 },
};

/**
 * A prune deletes by primary key: each row costs its index probe (3 buffers at this size) and its
 * heap page, about 5 buffers a row; a read of a page costs less than one.
 */
const PRUNE_PER_ROW = 6;

interface Operation {
  name: string;
  /** Rows the operation may legitimately touch (a page, a chunk); 0 for a constant bound. */
  rows: number;
  /** How many units each of those rows may cost, in multiples of the database's per-row bound. @default 1 */
  perRow?: number;
  run(): Promise<unknown>;
}

/** The gate for one database; `skip` from availability(), as every database's suite takes it. */
export function planGate(dialect: DialectName, skip: string | false): void {
  describe(`plan gate (${dialect}): hot statements on ${PLAN_ROWS.toLocaleString('en')} analyzed rows`, () => {
    test('every hot statement stays within its bound, with no scan of the log', { skip, timeout: 300_000 }, async (t) => {
      const knex = knexFactory(DATABASES[dialect].config());
      const prefix = freshPrefix();
      const caches: DistributedCache[] = [];
      t.after(async () => {
        for (const cache of caches) await cache.stop();
        if (process.env.DISTCACHE_KEEP_TABLES !== '1') await dropPrefixed(knex, prefix);
        const file = (knex.client as { config?: { connection?: { filename?: string } } }).config?.connection?.filename;
        await knex.destroy();
        if (dialect === 'sqlite' && file) removeSqliteFile(file);
      });
      await migrate(knex, { tablePrefix: prefix });
      const tables = tableNames(prefix);
      const store = dialectFor(knex).createStore({ knex, tables, cluster: 'default', queryTimeout: 60_000 });
      // A position that covers none of the log: a server that fell behind by all of it.
      const behind = await store.head();
      await buildLog(knex, dialect, tables, { rows: PLAN_ROWS, oldRows: OLD_ROWS, oldDays: 30 });
      // A position a page behind the head.
      const pageBehind = await store.head();
      const json = '{"v":1,"instructions":[{"refresher":"plans","kind":"refresh","ids":[1]}]}';
      await store.insert(Array.from({ length: PAGE }, () => ({ json, originated: 'plans', originInstance: null, instructionCount: 1 })));
      const started = new DistributedCache({
        knex,
        tablePrefix: prefix,
        serverIdentity: 'plans',
        notify: false,
        pruneSchedule: false,
        syncInterval: 60_000,
        pageSize: PAGE,
        pruneChunkSize: CHUNK,
        retention: 7 * DAY,
        maxRetention: 60 * DAY,
        logger: silentLoggerForTests,
      });
      caches.push(started);
      started.register(recorder('plans'));
      // An active server that has read none of the log: a prune must keep every row for it.
      const lagging = new DistributedCache({
        knex,
        tablePrefix: prefix,
        serverIdentity: 'plans-lagging',
        notify: false,
        pruneSchedule: false,
        syncInterval: 60_000,
        logger: silentLoggerForTests,
      });
      caches.push(lagging);

      let token: string | null = null;
      const operations: Operation[] = [
        { name: 'start: registration, heartbeat, lease, cursor', rows: 0, run: () => started.start() },
        { name: 'idle page', rows: 0, run: () => started.sync() },
        { name: 'one-row write', rows: 0, run: () => started.refresh('plans', 1) },
        { name: 'page of one row and the cursor store', rows: 0, run: () => started.sync() },
        { name: 'health (readiness probes)', rows: 0, run: () => started.health() },
        {
          name: 'catch-up page, first of a window',
          rows: PAGE,
          run: async () => {
            token = (await store.readPage('plans-behind', behind, null, PAGE)).token;
            assert.notEqual(token, null, 'a full page');
          },
        },
        { name: 'catch-up page, later in the window', rows: PAGE, run: () => store.readPage('plans-behind', behind, token, PAGE) },
        { name: 'pending count, a page behind', rows: PAGE, run: () => store.pending(pageBehind) },
        { name: 'prune chunk', rows: CHUNK, perRow: PRUNE_PER_ROW, run: () => oneChunk(store) },
        {
          name: 'prune pass held back by a lagging server: every chunk finds nothing among 20,000 old rows',
          rows: CHUNK,
          perRow: PRUNE_PER_ROW,
          run: async () => {
            await lagging.start();
            await store.saveCursor('plans-lagging', behind);
            const result = await started.prune();
            assert.equal(result.deleted, 0, 'the lagging server holds every old row');
          },
        },
      ];
      const problems: string[] = [];
      for (const operation of operations) {
        const captured = await captureStatements(knex, operation.name, operation.run);
        if (captured.length === 0) problems.push(`${operation.name}: sent no statement, so the capture missed it`);
        const seen = new Set<string>();
        for (const statement of captured) {
          // The same statement with the same values (a prune's chunks) is explained once.
          const key = JSON.stringify([statement.sql, statement.bindings]);
          if (seen.has(key)) continue;
          seen.add(key);
          const { faults, summary } = await check(knex, dialect, tables.instruction, statement, operation);
          t.diagnostic(`${operation.name}: ${summary}`);
          problems.push(...faults.map((fault) => `${operation.name}: ${fault}`));
        }
      }
      if (problems.length > 0) assert.fail(`${problems.length} plan(s) over the gate:\n\n${problems.join('\n\n')}`);
    });
  });
}

/** One chunk of a real prune: the pruner halts itself after its first chunk, so doomed rows remain for the explain. */
async function oneChunk(store: InstructionStore): Promise<void> {
  const settings = { retention: 7 * DAY, maxRetention: 60 * DAY, chunkSize: CHUNK, dutyCycle: 1, onChunk: () => pruner.halt() };
  const pruner: Pruner = new Pruner(store, new TypedEmitter(() => undefined), silentLoggerForTests, settings);
  const head = await store.head();
  await pruner.prune({ coveredBy: async () => [head], forget: async () => [] }).catch((err: { code?: string }) => {
    if (err.code !== 'E_STOPPED') throw err;
  });
}

/** What is wrong with `statement`'s plans, one text per fault, and a line of what each plan cost. */
async function check(
  knex: Knex,
  dialect: DialectName,
  log: string,
  statement: CapturedStatement,
  operation: Operation,
): Promise<{ faults: string[]; summary: string }> {
  const problems: string[] = [];
  const costs: string[] = [];
  const sql = statement.sql.replace(/\s+/g, ' ').trim();
  const bound = dialect === 'sqlite' ? null : BOUNDS[dialect].constant + BOUNDS[dialect].perRow * (operation.perRow ?? 1) * operation.rows;
  for (const report of await explain(knex, dialect, log, statement)) {
    costs.push(`${report.variant} ${report.cost ?? '-'}${report.logScans.length > 0 ? ' SCAN' : ''}`);
    const faults = [...report.logScans];
    if (report.jit) faults.push('JIT compiled: the planner expected a large amount of work');
    if (bound !== null && report.cost !== null && report.cost > bound) {
      faults.push(`${report.cost} ${dialect === 'postgres' ? 'buffers' : 'rows examined'}, bound ${bound}`);
    }
    if (faults.length === 0) continue;
    problems.push(`[${report.variant}] ${faults.join('; ')}\n  statement: ${sql.slice(0, 400)}\n  plan:\n${report.text.slice(0, 3000)}`);
  }
  return { faults: problems, summary: `${costs.join(', ')} (bound ${bound ?? 'none'}): ${sql.slice(0, 90)}` };
}
