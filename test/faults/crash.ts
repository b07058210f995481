import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { describeReport, FaultChecker, type CheckerReport } from './fault-checker.js';
import { FaultProcess, LogFeed, untilWorked } from './fault-processes.js';
import type { FaultServerSettings } from './fault-server.js';
import type { FaultWriterSettings } from './fault-writer.js';
import type { DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { faultDatabase } from './setup.js';

export interface CrashOptions {
  dialect: DialectName;
  servers: number;
  writers: number;
  /** SIGKILLs of server processes, each followed by a restart under the same identity. */
  serverKills: number;
  /** Writers killed while their transaction is open (instruction written, not committed). */
  writerKills: number;
  syncInterval: number;
  /** Pause inside an apply every 5 ids: widens the window for mid-apply kills. */
  applyPauseMs: number;
  /** Longest random wait between writes in each writer. */
  maxPauseMs: number;
  note?: (line: string) => void;
}

export interface CrashResult {
  report: CheckerReport;
  kills: { total: number; midApply: number; starting: number; idle: number };
  writerKills: number;
  /** Keys whose transactions were open when their writer was killed. */
  heldKeys: string[];
  /** Of those, how many the database holds (must be 0) and how many were applied anywhere (must be 0). */
  heldInDatabase: number;
  heldApplied: number;
  crashed: string[];
  durationMs: number;
}

/**
 * Fault 1, crashes: servers and writers run as separate processes on one database. Servers are
 * SIGKILLed at random moments (half of them aimed at an apply in progress) and restarted under the
 * same identity; writers are killed with a transaction open. Then every server must have applied
 * every committed instruction (or cold-booted after it), and nothing uncommitted.
 */
export async function crashScenario(options: CrashOptions): Promise<CrashResult> {
  const started = Date.now();
  const note = options.note ?? (() => undefined);
  const db = await faultDatabase(options.dialect);
  const checker = new FaultChecker(options.dialect);
  const feeds = new Map<string, LogFeed>();
  const current = new Map<string, FaultProcess>();
  const all: FaultProcess[] = [];
  let ok = false;

  const serverSettings = (identity: string): FaultServerSettings => ({
    dialect: options.dialect,
    sqliteFile: db.sqliteFile,
    prefix: db.prefix,
    identity,
    logFile: join(db.logDir, `${identity}.jsonl`),
    syncInterval: options.syncInterval,
    maxErrorBackoff: Math.max(100, options.syncInterval * 4),
    applyPauseMs: options.applyPauseMs,
    // Big enough that catching up after a restart replays rather than cold-boots: replay is what
    // at-least-once must get right. Cold boots still happen at first start and are checked too.
    maxPendingInstructions: 1_000_000,
    pageSize: 50,
  });
  const writerSettings = (name: string): FaultWriterSettings => ({
    dialect: options.dialect,
    sqliteFile: db.sqliteFile,
    prefix: db.prefix,
    name,
    logFile: join(db.logDir, `${name}.jsonl`),
    appTable: db.table('app_data'),
    rollbackRate: 0.05,
    directRate: 0.2,
    maxHoldMs: 3,
    maxPauseMs: options.maxPauseMs,
  });
  const spawn = (kind: 'server' | 'writer', name: string): FaultProcess => {
    const p = new FaultProcess(kind, name, kind === 'server' ? serverSettings(name) : writerSettings(name));
    current.set(name, p);
    all.push(p);
    if (!feeds.has(name)) feeds.set(name, new LogFeed(name, join(db.logDir, `${name}.jsonl`), checker));
    return p;
  };
  const pump = () => feeds.forEach((f) => f.pump());

  const servers = Array.from({ length: options.servers }, (_, i) => `s${i}`);
  const writers = Array.from({ length: options.writers }, (_, i) => `w${i}`);
  for (const s of servers) checker.expect(s);
  // A writer applies its own committed writes locally, and nothing else.
  for (const w of writers) checker.expect(w, (key) => key.startsWith(`${w}.`));

  const killed: Array<{ name: string; pid: number }> = [];
  const heldKeys: string[] = [];
  try {
    await Promise.all(servers.map((s) => spawn('server', s).waitStarted()));
    writers.forEach((w) => spawn('writer', w));
    const writerKillAt = new Set(
      Array.from({ length: options.writerKills }, (_, i) => Math.floor(((i + 1) * options.serverKills) / (options.writerKills + 1))),
    );
    for (let k = 0; k < options.serverKills; k++) {
      const name = servers[Math.floor(Math.random() * servers.length)]!;
      const victim = current.get(name)!;
      if (k % 2 === 0) {
        // Aimed at an apply: the refresher pauses inside it, so the kill usually lands mid-apply.
        await victim.next('apply-begin', 10 * options.syncInterval + 2000);
      } else if (k % 4 === 1) {
        // Any moment of normal work.
        await victim.waitStarted();
        await delay(Math.random() * 3 * options.syncInterval);
      } else {
        // Any moment at all, often while it is still starting (first poll, cold boot, heartbeat).
        await delay(Math.random() * 200);
      }
      killed.push({ name, pid: victim.pid });
      await victim.kill();
      spawn('server', name);
      if (writerKillAt.has(k)) {
        const wname = writers[k % writers.length]!;
        const w = current.get(wname)!;
        w.send({ type: 'hold' });
        if (!(await w.next('holding', 20_000))) throw new Error(`writer ${wname} never held a transaction open`);
        const held = w.messages.filter((m): m is Extract<typeof m, { type: 'holding' }> => m.type === 'holding').pop()!;
        heldKeys.push(held.key);
        await w.kill();
        spawn('writer', wname);
      }
    }
    // Let the restarted processes work under load (three polls each), then stop the writers.
    await untilWorked(feeds, { servers, writers, syncs: 3, commits: 3 * writers.length });
    await Promise.all(writers.map((w) => current.get(w)!.stop()));
    await Promise.all(servers.map((s) => current.get(s)!.waitStarted()));
    // Every outcome is final now: what the log holds was committed, whoever reported it.
    pump();
    await checker.resolveFromDatabase(db.knex, db.table('cache_instruction'));
    await waitFor(
      () => {
        pump();
        return checker.report().totals.lost === 0;
      },
      { timeout: 60_000, interval: 50, describe: () => describeReport(checker.report()) },
    );
    await Promise.all(servers.map((s) => current.get(s)!.stop()));
    pump();
    const report = checker.report();
    note(describeReport(report));
    const kills = { total: killed.length, midApply: 0, starting: 0, idle: 0 };
    for (const { name, pid } of killed) {
      const moment = feeds.get(name)!.momentOfDeath(pid);
      kills[moment === 'mid-apply' ? 'midApply' : moment]++;
    }
    const inDatabase = new Set(
      (await db.knex(db.table('cache_instruction')).select('json_instruction')).flatMap((r: { json_instruction: string }) =>
        heldKeys.filter((k) => String(r.json_instruction).includes(`"${k}"`)),
      ),
    );
    const appliedKeys = new Set([...feeds.values()].flatMap((f) => f.events.flatMap((e) => (e.t === 'applied' ? [e.key] : []))));
    const result: CrashResult = {
      report,
      kills,
      writerKills: heldKeys.length,
      heldKeys,
      heldInDatabase: inDatabase.size,
      heldApplied: heldKeys.filter((k) => appliedKeys.has(k)).length,
      crashed: all.filter((p) => p.crashed).map((p) => `${p.name} (pid ${p.pid}, exit ${JSON.stringify(p.exit)})`),
      durationMs: Date.now() - started,
    };
    ok = result.report.totals.lost === 0 && result.report.totals.unexpected === 0 && result.crashed.length === 0;
    return result;
  } finally {
    await Promise.all(all.map((p) => p.kill()));
    await db.cleanup(!ok);
  }
}
