import { DistributedCache, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import type { DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { faultDatabase } from './setup.js';

export interface RefresherFaultOptions {
  dialect: DialectName;
  /** Instructions written in all, spread over the five refreshers. */
  writes: number;
  note?: (line: string) => void;
}

export interface RefresherFaultResult {
  report: CheckerReport;
  /** Per refresher: refresh() calls, refreshAll() calls, failure events by action. */
  calls: Record<string, { refresh: number; refreshAll: number; failed: Record<string, number> }>;
  /** Failure records in the table, by refresher and action; each must name a row. */
  records: Record<string, number>;
  recordsWithoutRow: number;
  pendingAfter: number | null;
  healthyAfter: boolean;
  durationMs: number;
}

const RETRIES = 2;
const TIMEOUT = 100;

/**
 * Fault 5: refreshers that throw now and then, always, hang, or are slow. Every instruction is
 * applied, or its refresher's refreshAll() ran after its row was read (recorded as a fallback),
 * or, when refreshAll() fails too, it is recorded as given up; the cursor never sticks.
 */
export async function refresherFaultScenario(options: RefresherFaultOptions): Promise<RefresherFaultResult> {
  const started = Date.now();
  const db = await faultDatabase(options.dialect);
  const checker = new FaultChecker(options.dialect);
  const server = 's';
  checker.expect(server);
  const calls: RefresherFaultResult['calls'] = {};
  const count = (id: string, what: 'refresh' | 'refreshAll') => ((calls[id] ??= { refresh: 0, refreshAll: 0, failed: {} })[what] += 1);
  const applied = (ids: readonly unknown[]) => ids.forEach((id) => checker.applied(server, process.pid, String(id)));
  const fail = (message: string) => {
    throw new Error(message);
  };
  const refreshers: CacheRefresher[] = [
    {
      id: 'flaky',
      refreshAll: () => void count('flaky', 'refreshAll'),
      refresh: (ids) => (count('flaky', 'refresh'), Math.random() < 0.3 ? fail('flaky') : applied(ids)),
    },
    { id: 'broken', refreshAll: () => void count('broken', 'refreshAll'), refresh: () => (count('broken', 'refresh'), fail('always')) },
    {
      id: 'doomed',
      refreshAll: () => (count('doomed', 'refreshAll'), fail('refreshAll fails too')),
      refresh: () => (count('doomed', 'refresh'), fail('always')),
    },
    {
      id: 'hang',
      refreshAll: () => void count('hang', 'refreshAll'),
      refresh: () => (count('hang', 'refresh'), new Promise<void>(() => undefined)),
    },
    {
      id: 'slow',
      refreshAll: () => void count('slow', 'refreshAll'),
      refresh: async (ids) => {
        count('slow', 'refresh');
        await new Promise((resolve) => setTimeout(resolve, 30));
        applied(ids);
      },
    },
  ];
  const writer = new DistributedCache({
    knex: db.knex,
    tablePrefix: db.prefix,
    serverIdentity: 'writer',
    refreshers: refreshers.map((r) => ({ id: r.id, refreshAll() {}, refresh() {} })),
    pruneSchedule: false,
    logger: silentLogger,
  });
  const rowKeys = new Map<number, string[]>();
  let lastKeys: string[] = [];
  writer.on('instruction:written', (e) => e.rowIds.forEach((id) => rowKeys.set(id, lastKeys)));
  const cache = new DistributedCache({
    knex: options.dialect === 'sqlite' ? db.knex : db.connection(),
    tablePrefix: db.prefix,
    serverIdentity: server,
    refreshers,
    syncInterval: 50,
    refresherRetries: RETRIES,
    retryDelay: 1,
    refresherTimeout: TIMEOUT,
    pruneSchedule: false,
    logger: silentLogger,
  });
  cache.on('instruction:failed', (e) => {
    const c = (calls[e.refresher] ??= { refresh: 0, refreshAll: 0, failed: {} });
    c.failed[e.action] = (c.failed[e.action] ?? 0) + 1;
    for (const rowId of e.rowIds) {
      for (const key of rowKeys.get(rowId) ?? []) {
        if (e.action === 'fell-back-to-refresh-all') checker.coveredKey(server, key);
        if (e.action === 'gave-up') checker.excuse(server, key);
      }
    }
  });
  let ok = false;
  try {
    await cache.start();
    const ids = refreshers.map((r) => r.id);
    for (let i = 0; i < options.writes; i++) {
      const refresher = ids[i % ids.length]!;
      const key = `${refresher}:${i}`;
      // Set before the write: the written event fires inside it.
      lastKeys = [key];
      await writer.refresh(refresher, [key]);
      checker.committed(key, { at: Date.now(), refresher });
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await waitFor(async () => (await cache.health()).pendingRows === 0 && checker.report().totals.lost === 0, {
      timeout: 60_000,
      interval: 50,
      describe: () => describeReport(checker.report()),
    });
    const health = await cache.health();
    const failures: Array<{ refresher: string; action: string; instruction_id: unknown }> = await db
      .knex(db.table('cache_failure'))
      .select('refresher', 'action', 'instruction_id');
    const records: Record<string, number> = {};
    for (const f of failures) records[`${f.refresher}:${f.action}`] = (records[`${f.refresher}:${f.action}`] ?? 0) + 1;
    const report = checker.report();
    options.note?.(describeReport(report));
    ok = report.totals.lost === 0 && report.totals.unexpected === 0;
    return {
      report,
      calls,
      records,
      recordsWithoutRow: failures.filter((f) => f.instruction_id == null).length,
      pendingAfter: health.pendingRows,
      healthyAfter: health.healthy,
      durationMs: Date.now() - started,
    };
  } finally {
    await cache.stop();
    await writer.stop();
    await db.cleanup(!ok);
  }
}

export const REFRESHER_FAULT_SETTINGS = { retries: RETRIES, timeout: TIMEOUT };
