import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Knex } from 'knex';
import { DistributedCache, isDistcacheError, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import { DATABASES, sqliteConfig, type DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { faultDatabase } from './setup.js';

/**
 * - `row-lock`: another session holds the server's cursor row (`SELECT ... FOR UPDATE`), so
 *   storing the cursor blocks;
 * - `sigstop`: every PostgreSQL backend serving the server is stopped with SIGSTOP, so any query
 *   on them never returns (what a dead connection behind a firewall looks like);
 * - `sqlite-lock`: another process holds SQLite's write lock.
 */
export type HangMode = 'row-lock' | 'sigstop' | 'sqlite-lock';

export interface HungResult {
  report: CheckerReport;
  syncErrors: number;
  timeouts: number;
  unhealthyDuring: string[];
  healthyAfterMs: number;
  syncsAfter: number;
  durationMs: number;
}

const APP = 'distcache-fault-hung';

/** Whether this process can signal PostgreSQL's backends (same machine, enough rights). */
export async function canSignalBackends(knex: Knex): Promise<string | false> {
  try {
    const { rows } = await knex.raw('select pg_backend_pid() as pid');
    const pid = Number(rows[0].pid);
    if (!existsSync(`/proc/${pid}`)) return 'PostgreSQL runs on another machine: its backends cannot be stopped from here';
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return `cannot signal PostgreSQL backends: ${(err as Error).message}`;
  }
}

/**
 * Fault 3: a query that never returns. It times out (queryTimeout), the poller carries on,
 * health() says unhealthy while the fault lasts and healthy after it, and nothing is lost.
 */
export async function hungScenario(options: {
  dialect: DialectName;
  mode: HangMode;
  faultMs: number;
  note?: (line: string) => void;
}): Promise<HungResult> {
  const started = Date.now();
  const db = await faultDatabase(options.dialect);
  const checker = new FaultChecker(options.dialect);
  const server = 's';
  checker.expect(server);
  const stopped: number[] = [];
  let release: (() => Promise<void>) | undefined;
  let ok = false;
  const serverKnex =
    options.dialect === 'sqlite'
      ? db.connection(
          sqliteConfig(db.sqliteFile!) && {
            ...sqliteConfig(db.sqliteFile!),
            pool: { ...sqliteConfig(db.sqliteFile!).pool, afterCreate: busyAfterCreate(150) },
          },
        )
      : options.dialect === 'postgres'
        ? db.connection({
            connection: {
              connectionString: String((DATABASES.postgres.config() as { connection: string }).connection),
              application_name: APP,
            },
          })
        : db.connection();
  const item: CacheRefresher = {
    id: 'item',
    refreshAll() {},
    refresh: (ids) => ids.forEach((id) => checker.applied(server, process.pid, String(id))),
  };
  const cache = new DistributedCache({
    knex: serverKnex,
    tablePrefix: db.prefix,
    serverIdentity: server,
    refreshers: [item],
    syncInterval: 100,
    queryTimeout: 300,
    maxErrorBackoff: 200,
    stopTimeout: 2000,
    health: { maxSyncAge: 700, maxLag: 1500 },
    pruneSchedule: false,
    logger: silentLogger,
  });
  let syncErrors = 0;
  let timeouts = 0;
  let syncs = 0;
  cache.on('sync:error', ({ error }) => {
    syncErrors++;
    if (isDistcacheError(error, 'E_QUERY_TIMEOUT')) timeouts++;
  });
  cache.on('sync:complete', (r) => {
    syncs++;
    if (r.coldBoot) checker.cover({ server, pid: process.pid, position: r.position, reason: 'cold-boot' });
  });
  // The writer has its own connection (SQLite: the same file, so it waits on the lock too).
  // (On SQLite it shares the server's short busy timeout: a long one would freeze this process's event loop.)
  const writer = new DistributedCache({
    knex: options.dialect === 'sqlite' ? serverKnex : db.connection(),
    tablePrefix: db.prefix,
    serverIdentity: 'writer',
    refreshers: [{ id: 'item', refreshAll() {}, refresh() {} }],
    pruneSchedule: false,
    logger: silentLogger,
  });
  let writing = true;
  let n = 0;
  const writes = (async () => {
    while (writing) {
      const key = `k${n++}`;
      checker.attempted(key);
      try {
        await writer.refresh('item', [key]);
        checker.committed(key, { at: Date.now() });
      } catch {
        // SQLite: the lock holder blocks writers too; the outcome is read from the table at the end.
      }
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
  })();
  try {
    await cache.start();
    await waitFor(async () => (await cache.health()).healthy, { timeout: 10_000, describe: () => 'healthy before the fault' });
    const errorsBefore = syncErrors;
    // The fault.
    if (options.mode === 'row-lock') {
      const locker = db.connection();
      const trx = await locker.transaction();
      await trx(db.table('cache_cursor')).where({ server_identity: server }).forUpdate().select('*');
      release = async () => void (await trx.rollback());
    } else if (options.mode === 'sigstop') {
      // Every backend serving the server, including those its pool opens during the fault: the pool
      // replaces a connection it destroyed (or opens one when the stopped ones are all busy), and a
      // fresh backend left running would let polls succeed, which is not the fault under test.
      const stopNew = async () => {
        const { rows } = await db.knex.raw('select pid from pg_stat_activity where application_name = ? and datname = current_database()', [
          APP,
        ]);
        for (const { pid } of rows as Array<{ pid: number }>) {
          if (stopped.includes(pid)) continue;
          process.kill(pid, 'SIGSTOP');
          stopped.push(pid);
        }
      };
      await stopNew();
      if (stopped.length === 0) throw new Error('no backend of the server was found to stop');
      let stopping = true;
      let stopperError: Error | undefined;
      const stopper = (async () => {
        while (stopping) {
          await stopNew();
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      })().catch((err: unknown) => {
        stopperError = err instanceof Error ? err : new Error(String(err));
      });
      release = async () => {
        stopping = false;
        await stopper;
        for (const pid of stopped.splice(0)) resume(pid);
        if (stopperError) throw stopperError;
      };
    } else {
      const child = fork(new URL('./fault-sqlite-lock.js', import.meta.url), [db.sqliteFile!], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      await new Promise<void>((resolve, reject) => {
        child.once('message', () => resolve());
        child.once('exit', () => reject(new Error('the lock holder exited')));
      });
      const exited = new Promise((resolve) => child.once('exit', resolve));
      release = async () => {
        child.send('release');
        await exited;
      };
    }
    const unhealthyDuring: string[] = [];
    await waitFor(
      async () => {
        const health = await cache.health();
        if (!health.healthy) unhealthyDuring.push(...health.problems);
        return !health.healthy && syncErrors > errorsBefore;
      },
      { timeout: 15_000, interval: 50, describe: () => `syncErrors ${syncErrors - errorsBefore}, problems ${unhealthyDuring.length}` },
    );
    // The fault lasts a while longer; the poller keeps trying, with backoff, without giving up.
    const faultEnds = Date.now() + options.faultMs;
    await waitFor(() => Date.now() >= faultEnds, { timeout: options.faultMs + 1000, interval: 50 });
    await release();
    release = undefined;
    const releasedAt = Date.now();
    const syncsAtRelease = syncs;
    await waitFor(async () => (await cache.health()).healthy, { timeout: 20_000, interval: 20, describe: () => 'healthy after the fault' });
    const healthyAfterMs = Date.now() - releasedAt;
    writing = false;
    await writes;
    await checker.resolveFromDatabase(db.knex, db.table('cache_instruction'));
    await waitFor(
      async () => {
        await cache.sync().catch(() => undefined);
        return checker.report().totals.lost === 0;
      },
      { timeout: 20_000, describe: () => describeReport(checker.report()) },
    );
    const report = checker.report();
    options.note?.(describeReport(report));
    ok = report.totals.lost === 0 && report.totals.unexpected === 0;
    return {
      report,
      syncErrors,
      timeouts,
      unhealthyDuring: [...new Set(unhealthyDuring.map((p) => p.replace(/\d+(\.\d+)?/g, 'N')))],
      healthyAfterMs,
      syncsAfter: syncs - syncsAtRelease,
      durationMs: Date.now() - started,
    };
  } finally {
    writing = false;
    await release?.();
    await writes;
    await cache.stop();
    await writer.stop();
    await db.cleanup(!ok);
  }
}

/** Lets a stopped backend run again; one that has exited meanwhile (its connection was closed) needs nothing. */
function resume(pid: number): void {
  try {
    process.kill(pid, 'SIGCONT');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** WAL and a short busy timeout: a blocked SQLite statement fails fast instead of freezing the event loop. */
function busyAfterCreate(ms: number) {
  return (conn: { pragma(s: string): unknown }, done: (err: Error | null, conn: unknown) => void) => {
    conn.pragma('journal_mode = WAL');
    conn.pragma(`busy_timeout = ${ms}`);
    done(null, conn);
  };
}
