import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate, type CacheRefresher } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { publishRefreshers } from '../../src/cluster/published-refreshers.js';
import { tableNames } from '../../src/store/tables.js';
import { DATABASES, dropPrefixed, freshPrefix, sqliteConfig, sqliteFile, type DialectName } from './databases.js';

/** The built CLI, as `npx distcache` runs it. */
export const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Added to a clean environment (PATH and HOME only), so the caller's DATABASE_URL never leaks in. */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Runs `node dist/src/cli/main.js ...args` and collects everything it prints. */
export function cli(args: readonly string[], options: CliOptions = {}): Promise<CliResult> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
  for (const [k, v] of Object.entries(options.env ?? {})) if (v !== undefined) env[k] = v;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env, cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Runs the CLI with --json and parses its one document; fails loudly with stderr when it did not succeed. */
export async function cliJson<T = unknown>(args: readonly string[], options: CliOptions = {}): Promise<T> {
  const result = await cli([...args, '--json'], options);
  if (result.code !== 0) throw new Error(`distcache ${args.join(' ')} exited ${result.code}: ${result.stderr}`);
  try {
    return JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(`distcache ${args.join(' ')} --json did not print one JSON document:\n${result.stdout}`);
  }
}

/** One database and a fresh prefix, migrated, with the flags the CLI needs to reach it. */
export interface CliDatabase {
  dialect: DialectName;
  knex: Knex;
  prefix: string;
  url: string;
  /** --db and --prefix for this database. */
  flags: string[];
  /** A cache server on these tables, publishing its refresher ids; stopped by `close()`. */
  server(identity: string, refreshers: CacheRefresher[], options?: Record<string, unknown>): Promise<DistributedCache>;
  /**
   * Tables of the prefix, as text, to prove a command changed nothing. By default every table;
   * while servers heartbeat, leave out `server` and `lease`, which their heartbeats change.
   */
  snapshot(tables?: ReadonlyArray<'instruction' | 'cursor' | 'failure' | 'server' | 'lease' | 'migrations' | 'action'>): Promise<string>;
  close(): Promise<void>;
}

export async function cliDatabase(dialect: DialectName, options: { url?: string } = {}): Promise<CliDatabase> {
  const prefix = freshPrefix();
  let url: string;
  let knex: Knex;
  if (dialect === 'sqlite') {
    const file = sqliteFile();
    url = `sqlite://${file}`;
    knex = knexFactory(sqliteConfig(file));
  } else {
    url = options.url ?? DATABASES[dialect].url();
    knex = knexFactory(DATABASES[dialect].config());
  }
  await migrate(knex, { tablePrefix: prefix });
  const caches: DistributedCache[] = [];
  const tables = tableNames(prefix);
  return {
    dialect,
    knex,
    prefix,
    url,
    flags: ['--db', url, '--prefix', prefix],
    async server(identity, refreshers, extra = {}) {
      const cache = new DistributedCache({
        knex,
        tablePrefix: prefix,
        serverIdentity: identity,
        refreshers,
        syncInterval: 60_000, // the test drives sync() itself
        notify: false,
        // Quick heartbeats, and a lease no busy test machine lets lapse by accident.
        heartbeatInterval: 500,
        leaseDuration: 5000,
        staleServerTimeout: 20_000,
        pruneSchedule: false,
        retryDelay: 1,
        logger: silentLogger,
        ...extra,
      } as ConstructorParameters<typeof DistributedCache>[0]);
      caches.push(cache);
      await cache.start();
      // What src/cluster/server-table.ts will do at registration once it is wired in; harmless after that.
      await publishRefreshers(
        { knex, tables, cluster: cache.options.cluster, store: cache.store },
        identity,
        cache.instanceId,
        refreshers.map((r) => r.id),
      );
      return cache;
    },
    async snapshot(which = ['instruction', 'cursor', 'failure', 'server', 'lease', 'migrations', 'action'] as const) {
      const names = which.map((w) => tables[w]);
      const dump: Record<string, unknown> = {};
      for (const name of names) {
        const rows = await knex(name).select('*');
        dump[name] = rows
          .map((r: Record<string, unknown>) =>
            JSON.stringify(
              Object.keys(r)
                .sort()
                .map((k) => [k, r[k] instanceof Date ? (r[k] as Date).toISOString() : String(r[k])]),
            ),
          )
          .sort();
      }
      return JSON.stringify(dump);
    },
    async close() {
      await Promise.all(caches.map((c) => c.stop()));
      if (process.env.DISTCACHE_KEEP_TABLES !== '1') await dropPrefixed(knex, prefix);
      await knex.destroy();
    },
  };
}
