import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);
const BIN = '/usr/lib/postgresql/15/bin';

/** A throwaway PostgreSQL 15 primary and one streaming hot standby (pg_basebackup -R), for #10. */
export interface PgPair {
  primaryUrl: string;
  replicaUrl: string;
  drop(): Promise<void>;
}

/** Why the pair cannot be made here, or undefined: it needs root and Debian's pg_createcluster. */
export function pairUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return 'not root (pg_createcluster runs the clusters as postgres)';
  if (!existsSync('/usr/bin/pg_createcluster') || !existsSync(`${BIN}/pg_basebackup`)) return 'pg_createcluster or PostgreSQL 15 missing';
  return undefined;
}

const asPostgres = (command: string, args: string[]) => run('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: '/tmp' });

/**
 * Made on `port` and `port + 1` (5470-5471 by default, or DISTCACHE_BENCH_PAIR_PORT: an engineer's
 * own range, without the machine-wide port lock), named distcache_bench_p/_s (with the port when
 * not the default); always drop().
 */
export async function createPair(port = Number(process.env.DISTCACHE_BENCH_PAIR_PORT ?? 5470)): Promise<PgPair> {
  const suffix = port === 5470 ? '' : `_${port}`;
  const [p, s] = [`distcache_bench_p${suffix}`, `distcache_bench_s${suffix}`];
  const drop = async () => {
    for (const name of [s, p]) await run('pg_dropcluster', ['--stop', '15', name]).catch(() => undefined);
  };
  await drop();
  // Enough connections for a thousand simulated servers' pools and the benchmark's own.
  await run('pg_createcluster', ['15', p, '-p', String(port), '-o', 'max_connections=300', '--', '--auth=trust']);
  await run('pg_ctlcluster', ['15', p, 'start']);
  await run('pg_createcluster', ['15', s, '-p', String(port + 1), '-o', 'max_connections=300', '--', '--auth=trust']);
  await asPostgres('find', [`/var/lib/postgresql/15/${s}`, '-mindepth', '1', '-delete']);
  await asPostgres(`${BIN}/pg_basebackup`, [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-U',
    'postgres',
    '-D',
    `/var/lib/postgresql/15/${s}`,
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
  ]);
  await run('pg_ctlcluster', ['15', s, 'start']);
  return {
    primaryUrl: `postgres://postgres@127.0.0.1:${port}/postgres`,
    replicaUrl: `postgres://postgres@127.0.0.1:${port + 1}/postgres`,
    drop,
  };
}
