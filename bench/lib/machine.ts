import { readFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem, type } from 'node:os';
import knexFactory from 'knex';
import { MYSQL_URL, PG_URL, rows, type Db } from './db.js';

export interface Machine {
  cpu: string;
  cores: number;
  memory: string;
  os: string;
  node: string;
  databases: Partial<Record<Db, string>>;
}

export async function describeMachine(dbs: readonly Db[]): Promise<Machine> {
  const databases: Partial<Record<Db, string>> = {};
  for (const db of dbs) databases[db] = await version(db).catch((err: Error) => `unreachable (${err.message})`);
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memory: `${Math.round(totalmem() / 1024 ** 3)} GB`,
    os: `${type()} ${release()}`,
    node: process.version,
    databases,
  };
}

async function version(db: Db): Promise<string> {
  if (db === 'sqlite') {
    const { default: Database } = await import('better-sqlite3');
    const handle = new Database(':memory:');
    const v = (handle.prepare('select sqlite_version() as v').get() as { v: string }).v;
    handle.close();
    return `SQLite ${v} (better-sqlite3, WAL, same machine)`;
  }
  const knex = knexFactory(db === 'postgres' ? { client: 'pg', connection: PG_URL } : { client: 'mysql2', connection: MYSQL_URL });
  try {
    const [row] = rows(await knex.raw(db === 'postgres' ? 'select version() as v' : 'select version() as v'));
    const v = String(row?.v ?? '');
    return db === 'postgres' ? v.replace(/ on .*/, '') + ' (localhost TCP)' : `MariaDB/MySQL ${v} (localhost TCP)`;
  } finally {
    await knex.destroy();
  }
}

/** 1-minute load average, to show how busy the machine was. */
export function load(): string {
  return loadavg()
    .map((l) => l.toFixed(2))
    .join(' / ');
}

/** Busy and total CPU time of the whole machine so far, from /proc/stat (undefined off Linux). */
function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: idle and iowait are the idle time.
    const total = fields.reduce((a, b) => a + b, 0);
    return { busy: total - fields[3]! - (fields[4] ?? 0), total };
  } catch {
    return undefined;
  }
}

/**
 * Waits, at most `deadlineMs`, until the whole machine has been at most `threshold` busy over one
 * second: a database's background work (InnoDB purge, a checkpoint) or another program running
 * shows in a latency tail that has nothing to do with what is measured. Returns how busy the
 * last second was (0 to 1), for the figure to report, or undefined where /proc/stat is missing.
 */
export async function quietMachine(threshold = 0.1, deadlineMs = 60_000): Promise<number | undefined> {
  const deadline = Date.now() + deadlineMs;
  let before = cpuTimes();
  if (!before) return undefined;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = cpuTimes()!;
    const busy = (after.busy - before.busy) / Math.max(1, after.total - before.total);
    if (busy <= threshold || Date.now() >= deadline) return busy;
    before = after;
  }
}
