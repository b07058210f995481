import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { PG_URL } from './databases.js';

/** The suite's PostgreSQL database (DATABASE_URL's), which the pooler serves: never a fixed name. */
const PG_DATABASE = decodeURIComponent(new URL(PG_URL).pathname.slice(1)) || 'postgres';
import { waitFor } from './wait.js';

/**
 * A throwaway PgBouncer for one test run: its own config, auth file, log and socket directory in a
 * temp dir, in front of the test PostgreSQL, run as a child process and stopped by the test.
 * Ports come from the range reserved for pooler tests (6440-6449), never the Debian default 6432.
 */
export type PoolMode = 'transaction' | 'session';

export interface PgBouncerOptions {
  port: number;
  mode: PoolMode;
  /** Server sessions per database/user pair: small, so sharing sessions is certain. @default 5 */
  poolSize?: number;
  /** Where PostgreSQL listens. @default 127.0.0.1:5432 */
  serverHost?: string;
  serverPort?: number;
}

/** One pooled server session as seen from inside it. */
export interface SessionState {
  pid: number;
  /** Settings changed in the session by SET (pg_settings.source = 'session'), less the ones PgBouncer itself tracks. */
  changed: Record<string, string>;
  listening: string[];
  readOnly: string;
  synchronousCommit: string;
  advisoryLocks: number;
}

/** Startup parameters PgBouncer sets on server sessions itself to match each client. */
const TRACKED = new Set(['client_encoding', 'datestyle', 'timezone', 'standard_conforming_strings', 'application_name']);

/** Debian installs it in /usr/sbin, which is not on every user's PATH. */
export const PGBOUNCER_BINARY = process.env.PGBOUNCER ?? (existsSync('/usr/sbin/pgbouncer') ? '/usr/sbin/pgbouncer' : 'pgbouncer');

/**
 * Whether the pooler tests run: false when they do, else the skip reason (one line, printed).
 * Under CI=true a missing pgbouncer is a failure, never a skip.
 */
export function pgbouncerAvailability(): string | false {
  const probe = spawnSync(PGBOUNCER_BINARY, ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) return false;
  const line =
    `pgbouncer is not installed (${PGBOUNCER_BINARY} --version failed); the pooler tests are skipped. Install it: apt-get install ` +
    `-y pgbouncer`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

export class PgBouncer {
  private constructor(
    readonly port: number,
    readonly mode: PoolMode,
    readonly poolSize: number,
    private readonly dir: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
  ) {}

  static async start(options: PgBouncerOptions): Promise<PgBouncer> {
    const poolSize = options.poolSize ?? 5;
    if (await portInUse(options.port)) throw new Error(`port ${options.port} is in use; the pooler tests need it free`);
    const dir = mkdtempSync(join(tmpdir(), `distcache-pgbouncer-${options.port}-`));
    writeFileSync(join(dir, 'users.txt'), '"postgres" ""\n');
    writeFileSync(
      join(dir, 'pgbouncer.ini'),
      [
        '[databases]',
        `* = host=${options.serverHost ?? '127.0.0.1'} port=${options.serverPort ?? 5432}`,
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${options.port}`,
        `unix_socket_dir = ${dir}`,
        'auth_type = trust',
        `auth_file = ${join(dir, 'users.txt')}`,
        'admin_users = postgres',
        `pool_mode = ${options.mode}`,
        `default_pool_size = ${poolSize}`,
        'min_pool_size = 0',
        'reserve_pool_size = 0',
        'max_client_conn = 500',
        // pg and knex send these; PgBouncer 1.18 refuses a client that sends one it does not know.
        'ignore_startup_parameters = extra_float_digits,options',
        `logfile = ${join(dir, 'pgbouncer.log')}`,
        `pidfile = ${join(dir, 'pgbouncer.pid')}`,
        '',
      ].join('\n'),
    );
    // PgBouncer refuses to run as root; -u drops to the postgres user, which must read the files.
    const asRoot = process.getuid?.() === 0;
    if (asRoot) {
      chmodSync(dir, 0o777);
      for (const f of ['users.txt', 'pgbouncer.ini']) chmodSync(join(dir, f), 0o644);
    }
    const args = [...(asRoot ? ['-u', 'postgres'] : []), join(dir, 'pgbouncer.ini')];
    const child = spawn(PGBOUNCER_BINARY, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const bouncer = new PgBouncer(options.port, options.mode, poolSize, dir, child, exited);
    try {
      await waitFor(async () => gone || (await portInUse(options.port)), {
        timeout: 10_000,
        describe: () => `pgbouncer on ${options.port} to listen`,
      });
      if (gone) throw new Error(`pgbouncer exited at start: ${stderr.trim()} ${bouncer.log().slice(-500)}`);
    } catch (err) {
      await bouncer.stop();
      throw err;
    }
    return bouncer;
  }

  /** A client URL through this pooler. */
  url(database = PG_DATABASE): string {
    return `postgres://postgres@127.0.0.1:${this.port}/${database}`;
  }

  log(): string {
    try {
      return readFileSync(join(this.dir, 'pgbouncer.log'), 'utf8');
    } catch {
      return '';
    }
  }

  /** Rows of an admin console command (SHOW SERVERS, SHOW POOLS, ...). */
  async admin(command: string): Promise<Array<Record<string, unknown>>> {
    const client = new pg.Client({ connectionString: this.url('pgbouncer') });
    await client.connect();
    try {
      return (await client.query(command)).rows as Array<Record<string, unknown>>;
    } finally {
      await client.end();
    }
  }

  /**
   * The state of every server session of the pool for `database`, seen from inside each: as many
   * clients as the pool has sessions each open a transaction at once, so together they hold every
   * session (in transaction mode a client holds its session only while its transaction is open).
   */
  async sessionStates(database = PG_DATABASE): Promise<SessionState[]> {
    const clients = Array.from(
      { length: this.poolSize },
      () => new pg.Client({ connectionString: this.url(database), application_name: 'distcache session check' }),
    );
    try {
      await Promise.all(clients.map((c) => c.connect()));
      await Promise.all(clients.map((c) => c.query('begin')));
      const states = await Promise.all(
        clients.map(async (c): Promise<SessionState> => {
          const { rows } = await c.query(`
            select pg_backend_pid() as pid,
              current_setting('default_transaction_read_only') as read_only,
              current_setting('synchronous_commit') as synchronous_commit,
              array(select pg_listening_channels()) as listening,
              (select count(*)::int from pg_locks l where l.locktype = 'advisory' and l.pid = pg_backend_pid()) as advisory,
              coalesce((select json_object_agg(s.name, s.setting) from pg_settings s where s.source = 'session'), '{}'::json) as changed`);
          const row = rows[0] as {
            pid: number;
            read_only: string;
            synchronous_commit: string;
            listening: string[];
            advisory: number;
            changed: Record<string, string>;
          };
          const changed = Object.fromEntries(Object.entries(row.changed).filter(([name]) => !TRACKED.has(name.toLowerCase())));
          return {
            pid: row.pid,
            changed,
            listening: row.listening,
            readOnly: row.read_only,
            synchronousCommit: row.synchronous_commit,
            advisoryLocks: row.advisory,
          };
        }),
      );
      await Promise.all(clients.map((c) => c.query('rollback')));
      return states;
    } finally {
      await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
    }
  }

  /** Whether the process still runs (false once it exited, by stop() or on its own). */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  async stop(): Promise<void> {
    if (!this.running) {
      // It exited on its own: say why where CI shows it, since every later test on it fails.
      const last = this.log()
        .split('\n')
        .filter((l) => /FATAL|ERROR/.test(l))
        .slice(-3)
        .join(' | ');
      console.log(`# pgbouncer on ${this.port} had exited on its own (code ${this.child.exitCode}): ${last || 'nothing in its log'}`);
    }
    if (this.running) {
      this.child.kill('SIGINT'); // immediate shutdown
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 5_000);
      await this.exited;
      clearTimeout(killer);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
