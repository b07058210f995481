import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import { DATABASES } from '../support/databases.js';
import { FaultProcess, LogFeed, untilWorked } from './fault-processes.js';
import { waitFor } from '../support/wait.js';
import { faultDatabase } from './setup.js';

const run = promisify(execFile);

export interface RestartResult {
  report: CheckerReport;
  outageMs: number;
  /** Per server: from PostgreSQL accepting connections again to its first successful poll. */
  recoveryMs: Record<string, number>;
  syncInterval: number;
  /** Writes that failed during the outage, by error code, and whether they were direct (no trx). */
  failedWrites: Record<string, number>;
  /** Failed writes whose row exists anyway: the commit happened, its acknowledgement was lost. */
  ambiguousCommits: string[];
  crashed: string[];
  durationMs: number;
}

/** The local cluster to restart, from `pg_lsclusters` (e.g. "15 main"). */
export async function localPgCluster(): Promise<[string, string] | undefined> {
  try {
    const { stdout } = await run('pg_lsclusters', ['-h']);
    const [version, name] = stdout.trim().split('\n')[0]!.split(/\s+/);
    return version && name ? [version, name] : undefined;
  } catch {
    return undefined;
  }
}

async function pgAccepts(): Promise<boolean> {
  const knex = knexFactory({ ...DATABASES.postgres.config(), pool: { min: 0, max: 1 }, acquireConnectionTimeout: 1000 });
  try {
    await knex.raw('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await knex.destroy();
  }
}

/**
 * Fault 2: PostgreSQL restarts under load. 3 servers and 2 writers run as processes; the cluster
 * is restarted with pg_ctlcluster. No process crashes; writes during the outage reject (direct
 * writes with E_WRITE_FAILED) and are not applied locally; every poller is back within two
 * intervals of the database accepting connections; nothing is lost.
 */
export async function restartScenario(options: {
  syncInterval: number;
  maxErrorBackoff?: number;
  note?: (line: string) => void;
}): Promise<RestartResult> {
  const started = Date.now();
  const cluster = await localPgCluster();
  if (!cluster) throw new Error('no local PostgreSQL cluster (pg_lsclusters) to restart');
  const db = await faultDatabase('postgres');
  const checker = new FaultChecker('postgres');
  const feeds = new Map<string, LogFeed>();
  const procs: FaultProcess[] = [];
  let ok = false;
  const servers = ['s0', 's1', 's2'];
  const writers = ['w0', 'w1'];
  const feed = (name: string) => {
    if (!feeds.has(name)) feeds.set(name, new LogFeed(name, join(db.logDir, `${name}.jsonl`), checker));
    return feeds.get(name)!;
  };
  const pump = () => feeds.forEach((f) => f.pump());
  try {
    for (const s of servers) {
      checker.expect(s);
      feed(s);
      procs.push(
        new FaultProcess('server', s, {
          dialect: 'postgres',
          prefix: db.prefix,
          identity: s,
          logFile: join(db.logDir, `${s}.jsonl`),
          syncInterval: options.syncInterval,
          maxErrorBackoff: options.maxErrorBackoff,
          queryTimeout: 2000,
          applyPauseMs: 0,
          maxPendingInstructions: 1_000_000,
        }),
      );
    }
    await Promise.all(procs.map((p) => p.waitStarted()));
    for (const w of writers) {
      checker.expect(w, (key) => key.startsWith(`${w}.`));
      feed(w);
      procs.push(
        new FaultProcess('writer', w, {
          dialect: 'postgres',
          prefix: db.prefix,
          name: w,
          logFile: join(db.logDir, `${w}.jsonl`),
          appTable: db.table('app_data'),
          rollbackRate: 0.05,
          directRate: 0.5,
          maxHoldMs: 2,
          maxPauseMs: 5,
        }),
      );
    }
    // Work under load before the restart: four polls each, and writes committed.
    await untilWorked(feeds, { servers, writers, syncs: 4, commits: 5 * writers.length });
    // The restart. Our own pool's connections die with it; knex replaces them.
    const downAt = Date.now();
    await run('pg_ctlcluster', ['--skip-systemctl-redirect', cluster[0], cluster[1], 'restart'], { timeout: 120_000 });
    await waitFor(pgAccepts, { timeout: 60_000, interval: 50, describe: () => 'PostgreSQL accepting connections again' });
    const backAt = Date.now();
    const recoveryMs: Record<string, number> = {};
    await waitFor(
      () => {
        pump();
        for (const s of servers) {
          const ok = feeds.get(s)!.events.find((e) => e.t === 'sync-ok' && e.at >= backAt);
          if (ok) recoveryMs[s] ??= ok.at - backAt;
        }
        return servers.every((s) => recoveryMs[s] !== undefined);
      },
      { timeout: 60_000, interval: 20, describe: () => `recovered: ${JSON.stringify(recoveryMs)}` },
    );
    // More load after the outage (four polls each, writes committed), then stop the writers and let everything converge.
    await untilWorked(feeds, { servers, writers, syncs: 4, commits: 5 * writers.length });
    await Promise.all(procs.filter((p) => p.kind === 'writer').map((p) => p.stop()));
    pump();
    await checker.resolveFromDatabase(db.knex, db.table('cache_instruction'));
    await waitFor(
      () => {
        pump();
        return servers.every((s) => checker.pending(s) === 0);
      },
      { timeout: 60_000, interval: 50, describe: () => describeReport(checker.report()) },
    );
    await Promise.all(procs.map((p) => p.stop()));
    pump();
    const report = checker.report();
    options.note?.(describeReport(report));
    const failedWrites: Record<string, number> = {};
    const failedKeys: string[] = [];
    for (const w of writers) {
      for (const e of feeds.get(w)!.events) {
        if (e.t !== 'write-error') continue;
        const label = `${e.direct ? 'direct' : 'in transaction'}: ${e.code ?? 'no code'}`;
        failedWrites[label] = (failedWrites[label] ?? 0) + 1;
        failedKeys.push(e.key);
      }
    }
    const inDatabase = new Set(
      (await db.knex(db.table('cache_instruction')).select('json_instruction')).flatMap((r: { json_instruction: string }) =>
        (JSON.parse(r.json_instruction) as { instructions: Array<{ ids?: string[] }> }).instructions.flatMap((i) => i.ids ?? []),
      ),
    );
    ok = report.totals.lost === 0 && report.totals.unexpected === 0;
    return {
      report,
      outageMs: backAt - downAt,
      recoveryMs,
      syncInterval: options.syncInterval,
      failedWrites,
      ambiguousCommits: failedKeys.filter((k) => inDatabase.has(k)),
      crashed: procs.filter((p) => p.crashed).map((p) => `${p.name} (pid ${p.pid}, exit ${JSON.stringify(p.exit)})`),
      durationMs: Date.now() - started,
    };
  } finally {
    await Promise.all(procs.map((p) => p.kill()));
    // Our own pool may hold connections the restart killed; cleanup needs fresh ones.
    await waitFor(pgAccepts, { timeout: 60_000, interval: 100 }).catch(() => undefined);
    await db.cleanup(!ok);
  }
}
