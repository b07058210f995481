import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const PG_BIN = '/usr/lib/postgresql/15/bin';

/**
 * Throwaway PostgreSQL 15 clusters for the lifecycle tests (dump/restore, failover, PITR): made with
 * Debian's pg_createcluster on ports 5440-5449 only, named distcache_t_*, run as the postgres user,
 * and always dropped by the test that made them.
 */
export async function clusterAvailability(): Promise<string | false> {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'not root (pg_createcluster runs the cluster as postgres)';
  else if (!existsSync('/usr/bin/pg_createcluster') || !existsSync(`${PG_BIN}/pg_resetwal`))
    reason = 'pg_createcluster or PostgreSQL 15 binaries missing';
  if (reason === undefined) return false;
  const line = `throwaway PostgreSQL clusters unavailable: ${reason}; the lifecycle tests are skipped.`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

/** Runs a command as the postgres user; its output when it fails is in the error. */
export async function asPostgres(command: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run('runuser', ['-u', 'postgres', '--', command, ...args], { cwd: '/tmp', maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed: ${e.stderr ?? e.message}`);
  }
}

export interface Cluster {
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

/**
 * A new cluster, stopped, with trust authentication (local tests only). `xidEpoch` sets the
 * transaction-id epoch before the first start (pg_resetwal -e): a counter far above a fresh
 * cluster's, as a long-lived production database has.
 */
export async function createCluster(suffix: string, port: number, options: { xidEpoch?: number; start?: boolean } = {}): Promise<Cluster> {
  if (port < 5440 || port > 5449) throw new Error(`port ${port} is outside 5440-5449`);
  const name = `distcache_t_${suffix}`;
  await dropCluster(name);
  await run('pg_createcluster', ['15', name, '-p', String(port), '--', '--auth=trust']);
  const dataDir = `/var/lib/postgresql/15/${name}`;
  if (options.xidEpoch !== undefined) await asPostgres(`${PG_BIN}/pg_resetwal`, ['-e', String(options.xidEpoch), '-D', dataDir]);
  const cluster: Cluster = {
    name,
    port,
    dataDir,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start: async () => void (await run('pg_ctlcluster', ['15', name, 'start'])),
    stop: async (mode = 'fast') => void (await run('pg_ctlcluster', ['15', name, 'stop', '-m', mode])),
    sql: (text) =>
      asPostgres(`${PG_BIN}/psql`, ['-h', '127.0.0.1', '-p', String(port), '-d', 'postgres', '-AtX', '-v', 'ON_ERROR_STOP=1', '-c', text]),
    drop: () => dropCluster(name),
  };
  if (options.start !== false) await cluster.start();
  return cluster;
}

/** Stops and removes a cluster if it exists; never throws (a finally hook calls it). */
export async function dropCluster(name: string): Promise<void> {
  await run('pg_dropcluster', ['--stop', '15', name]).catch(() => undefined);
}

/**
 * A TCP proxy standing for the virtual address a fleet reaches its primary through. `switchTo`
 * points it at another server and cuts every open connection, as a moved address does.
 */
export class TcpProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private target: number,
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '127.0.0.1', () => resolve());
    });
  }

  switchTo(target: number): void {
    this.target = target;
    for (const s of this.sockets) s.destroy();
  }

  stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
