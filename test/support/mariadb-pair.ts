import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cp, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { waitFor } from './wait.js';

const run = promisify(execFile);
const MARIADBD = '/usr/sbin/mariadbd';
const INSTALL_DB = '/usr/bin/mariadb-install-db';

/**
 * Throwaway MariaDB servers for the replica tests: a primary with a ROW binlog and one replica of
 * it, on ports 5480-5499 only, with data directories under /tmp/distcache-mariadb-<port>, always
 * stopped and deleted by the test that made them (and by the next run, if a crash left them).
 */
export async function mariadbAvailability(): Promise<string | false> {
  let reason: string | undefined;
  if (process.getuid?.() !== 0) reason = 'not root (mariadbd runs with --user=root)';
  else if (!existsSync(MARIADBD) || !existsSync(INSTALL_DB)) reason = 'mariadbd or mariadb-install-db missing';
  if (reason === undefined) return false;
  const line = `throwaway MariaDB servers unavailable: ${reason}; the MariaDB replica tests are skipped.`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

export interface MariaServer {
  port: number;
  /** mysql2 connection string for knex, on the database `dc`. */
  url: string;
  /** Runs SQL with the mariadb client as root; tab-separated output without headers. */
  sql(text: string): Promise<string>;
  stop(): Promise<void>;
}

class Server implements MariaServer {
  private child: ChildProcess | undefined;
  readonly url: string;

  constructor(
    readonly port: number,
    private readonly dataDir: string,
    private readonly args: string[],
  ) {
    if (port < 5480 || port > 5499) throw new Error(`port ${port} is outside 5480-5499`);
    this.url = `mysql://root@127.0.0.1:${port}/dc?timezone=Z&supportBigNumbers=true`;
  }

  async start(): Promise<void> {
    const child = spawn(
      MARIADBD,
      [
        ...['--no-defaults', '--user=root', `--datadir=${this.dataDir}`, `--port=${this.port}`, '--bind-address=127.0.0.1'],
        ...[`--socket=${this.dataDir}.sock`, `--pid-file=${this.dataDir}.pid`, `--log-error=${this.dataDir}.err`],
        // Throwaway: commits need not wait for a disk flush (the shared machine's disk is slow).
        ...['--innodb-buffer-pool-size=32M', '--innodb-flush-log-at-trx-commit=2', '--default-time-zone=+00:00', ...this.args],
      ],
      { stdio: 'ignore' },
    );
    this.child = child;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    await waitFor(
      async () => {
        if (gone) throw new Error(`mariadbd on ${this.port} exited: ${readFileSync(`${this.dataDir}.err`, 'utf8').slice(-2000)}`);
        return this.sql('select 1').then(
          () => true,
          () => false,
        );
      },
      { timeout: 30_000, interval: 100, describe: () => `mariadbd answers on ${this.port}` },
    );
  }

  sql(text: string): Promise<string> {
    return run('mariadb', ['-h127.0.0.1', `-P${this.port}`, '-uroot', '-N', '-B', '-e', text]).then(({ stdout }) => stdout);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  }
}

/** Stops a mariadbd a crashed run left behind on this data directory (its pid file), and deletes the directory. */
async function clearLeftovers(dataDir: string): Promise<void> {
  if (existsSync(`${dataDir}.pid`)) {
    const pid = Number(readFileSync(`${dataDir}.pid`, 'utf8').trim());
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }
  for (const suffix of ['', '.pid', '.err', '.sock']) await rm(`${dataDir}${suffix}`, { recursive: true, force: true });
}

export interface MariaPair {
  primary: MariaServer;
  replica: MariaServer;
  /** Stops both servers and deletes their data directories. */
  drop(): Promise<void>;
}

/**
 * A primary on `port` (binlog in ROW format, server_id 1) and a read-only replica of it on
 * `port + 1` (server_id 2), replicating by GTID from the primary's first transaction, with the
 * database `dc` created on the primary and replicated. Call drop() afterwards.
 */
export async function createMariaPair(port: number): Promise<MariaPair> {
  const primaryDir = `/tmp/distcache-mariadb-${port}`;
  const replicaDir = `/tmp/distcache-mariadb-${port + 1}`;
  await clearLeftovers(primaryDir);
  await clearLeftovers(replicaDir);
  const primary = new Server(port, primaryDir, ['--server-id=1', '--log-bin=bin', '--binlog-format=ROW']);
  const replica = new Server(port + 1, replicaDir, ['--server-id=2', '--relay-log=relay', '--read-only']);
  const drop = async () => {
    await replica.stop();
    await primary.stop();
    await clearLeftovers(replicaDir);
    await clearLeftovers(primaryDir);
  };
  try {
    await run(INSTALL_DB, [
      ...['--no-defaults', `--datadir=${primaryDir}`, '--user=root'],
      ...['--skip-test-db', '--auth-root-authentication-method=normal'],
    ]);
    // The same empty server twice: the replica then starts from the primary's first transaction.
    await cp(primaryDir, replicaDir, { recursive: true });
    await primary.start();
    await replica.start();
    await replica.sql(
      `change master to master_host = '127.0.0.1', master_port = ${port}, master_user = 'root', ` +
        'master_use_gtid = slave_pos; start slave',
    );
    await primary.sql('create database dc');
    await waitFor(async () => (await replica.sql("show databases like 'dc'")).trim() === 'dc', {
      timeout: 20_000,
      interval: 100,
      describe: () => 'the replica applies the primary',
    });
  } catch (err) {
    await drop();
    throw err;
  }
  return { primary, replica, drop };
}
