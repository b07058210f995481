import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { asPostgres, PG_BIN } from './pg-clusters.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/** A throwaway PostgreSQL 15 server for the replica tests: ports 5460-5479, names dci25_*, always dropped. */
export interface PgServer {
  name: string;
  port: number;
  dataDir: string;
  url: string;
  start(): Promise<void>;
  stop(mode?: 'fast' | 'immediate'): Promise<void>;
  /** psql -c on the postgres database. */
  sql(text: string): Promise<string>;
  drop(): Promise<void>;
}

function server(name: string, port: number): PgServer {
  if (port < 5460 || port > 5479) throw new Error(`port ${port} is outside 5460-5479`);
  return {
    name,
    port,
    dataDir: `/var/lib/postgresql/15/${name}`,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => void (await run('pg_ctlcluster', ['15', name, 'start'])),
    stop: async (mode = 'fast') => void (await run('pg_ctlcluster', ['15', name, 'stop', '-m', mode])),
    sql: (text) =>
      asPostgres(`${PG_BIN}/psql`, ['-h', '127.0.0.1', '-p', String(port), '-d', 'postgres', '-AtX', '-v', 'ON_ERROR_STOP=1', '-c', text]),
    drop: () =>
      run('pg_dropcluster', ['--stop', '15', name]).then(
        () => undefined,
        () => undefined,
      ),
  };
}

/**
 * A primary and one streaming hot standby made from it (pg_basebackup -R), as the lifecycle tests
 * build them: `dci25_<suffix>_p` on `port`, `dci25_<suffix>_s` on `port + 1`. Drop both afterwards.
 */
export async function createReplicaPair(suffix: string, port: number): Promise<{ primary: PgServer; standby: PgServer }> {
  const primary = server(`dci25_${suffix}_p`, port);
  const standby = server(`dci25_${suffix}_s`, port + 1);
  await primary.drop();
  await standby.drop();
  await run('pg_createcluster', ['15', primary.name, '-p', String(port), '--', '--auth=trust']);
  await primary.start();
  await run('pg_createcluster', ['15', standby.name, '-p', String(port + 1), '--', '--auth=trust']);
  await asPostgres('find', [standby.dataDir, '-mindepth', '1', '-delete']);
  await asPostgres(`${PG_BIN}/pg_basebackup`, [
    ...['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-D', standby.dataDir],
    ...['-R', '-X', 'stream', '-c', 'fast'],
  ]);
  await standby.start();
  await waitStreaming(primary);
  return { primary, standby };
}

/**
 * Another hot standby, `dci25_<suffix>` on `port`, made by pg_basebackup from `upstream`: the
 * primary, or a standby (then it is a cascading standby, streaming from that one). Drop it afterwards.
 */
export async function createStandby(suffix: string, port: number, upstream: PgServer): Promise<PgServer> {
  const standby = server(`dci25_${suffix}`, port);
  await standby.drop();
  await run('pg_createcluster', ['15', standby.name, '-p', String(port), '--', '--auth=trust']);
  await asPostgres('find', [standby.dataDir, '-mindepth', '1', '-delete']);
  await asPostgres(`${PG_BIN}/pg_basebackup`, [
    ...['-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'postgres', '-D', standby.dataDir],
    ...['-R', '-X', 'stream', '-c', 'fast'],
  ]);
  await standby.start();
  return standby;
}

/** Waits until `upstream` streams to `count` standbys. */
export async function waitStreaming(upstream: PgServer, count = 1): Promise<void> {
  await waitFor(
    async () => (await upstream.sql("select count(*) from pg_stat_replication where state = 'streaming'")).trim() === String(count),
    { timeout: 30_000, interval: 100 },
  );
}
