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
