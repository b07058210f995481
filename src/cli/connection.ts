import type { Knex } from 'knex';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { knexConfigFromUrl, maskUrl, sqliteConfig } from '../connection.js';
import { urlPasswords } from '../util/redact.js';
import { validateCluster, validateTablePrefix } from '../identifiers.js';
import { UsageError } from './failure.js';
import { dialectOfClient } from '../dialects/dialect.js';

/** Where each setting came from, for messages ("from DATABASE_URL"). */
export type Source =
  | '--db'
  | '--prefix'
  | '--cluster'
  | 'DISTCACHE_DATABASE_URL'
  | 'DATABASE_URL'
  | 'DISTCACHE_TABLE_PREFIX'
  | 'DISTCACHE_CLUSTER'
  | 'knexfile'
  | 'default';

export interface ResolvedConnection {
  config: Knex.Config;
  source: Source;
  /** The connection, masked: safe to print. */
  display: string;
  /** Every form of the password this connection holds, so output can scrub them. */
  secrets: string[];
  /** The file, for better-sqlite3 connections. */
  sqliteFile?: string;
}

export interface Settings {
  connection: ResolvedConnection;
  tablePrefix: string;
  prefixSource: Source;
  cluster: string;
  clusterSource: Source;
}

export interface GlobalFlags {
  db?: string;
  prefix?: string;
  cluster?: string;
}

/** What a knexfile may carry besides knex's own settings. */
interface DistcacheKnexfileSettings {
  tablePrefix?: string;
  cluster?: string;
}

const KNEXFILES = ['knexfile.js', 'knexfile.mjs', 'knexfile.cjs'];

/**
 * Resolves the connection, the table prefix and the cluster, each in the order
 * flag > environment > knexfile in the working folder > default:
 * - connection: --db, DISTCACHE_DATABASE_URL, DATABASE_URL, knexfile, ./distcache.sqlite;
 * - prefix: --prefix, DISTCACHE_TABLE_PREFIX, the knexfile's `distcache.tablePrefix`, '';
 * - cluster: --cluster, DISTCACHE_CLUSTER, the knexfile's `distcache.cluster`, 'default'.
 * With a URL (--db or the environment) the knexfile is read only when DISTCACHE_KNEXFILE=1.
 */
export async function resolveSettings(flags: GlobalFlags, env: NodeJS.ProcessEnv, cwd: string): Promise<Settings> {
  let knexfile: Promise<{ config: Knex.Config; distcache: DistcacheKnexfileSettings; name: string } | undefined> | undefined;
  const url = nonEmpty(flags.db) ?? nonEmpty(env.DISTCACHE_DATABASE_URL) ?? nonEmpty(env.DATABASE_URL);
  // A knexfile is code: with a URL given, the one in whatever folder the CLI runs in is not executed
  // for the prefix or cluster unless DISTCACHE_KNEXFILE=1 asks for it (issue 22).
  const knexfileAllowed = url === undefined || env.DISTCACHE_KNEXFILE === '1';
  const loadKnexfile = (required: boolean) =>
    knexfileAllowed ? (knexfile ??= readKnexfile(cwd, env, required)) : Promise.resolve(undefined);

  let connection: ResolvedConnection;
  if (url !== undefined) {
    const source: Source =
      nonEmpty(flags.db) !== undefined
        ? '--db'
        : nonEmpty(env.DISTCACHE_DATABASE_URL) !== undefined
          ? 'DISTCACHE_DATABASE_URL'
          : 'DATABASE_URL';
    connection = fromUrl(url, source);
  } else {
    const found = await loadKnexfile(true);
    if (found) connection = fromConfig(found.config, 'knexfile', found.name);
    else {
      const file = resolve(cwd, 'distcache.sqlite');
      connection = { config: sqliteConfig(file), source: 'default', display: file, secrets: [], sqliteFile: file };
    }
  }

  let tablePrefix: string;
  let prefixSource: Source;
  if (flags.prefix !== undefined) [tablePrefix, prefixSource] = [flags.prefix, '--prefix'];
  else if (env.DISTCACHE_TABLE_PREFIX !== undefined) [tablePrefix, prefixSource] = [env.DISTCACHE_TABLE_PREFIX, 'DISTCACHE_TABLE_PREFIX'];
  else {
    const fromFile = (await loadKnexfile(false))?.distcache.tablePrefix;
    [tablePrefix, prefixSource] = fromFile !== undefined ? [fromFile, 'knexfile'] : ['', 'default'];
  }
  let cluster: string;
  let clusterSource: Source;
  if (flags.cluster !== undefined) [cluster, clusterSource] = [flags.cluster, '--cluster'];
  else if (nonEmpty(env.DISTCACHE_CLUSTER) !== undefined) [cluster, clusterSource] = [env.DISTCACHE_CLUSTER!, 'DISTCACHE_CLUSTER'];
  else {
    const fromFile = (await loadKnexfile(false))?.distcache.cluster;
    [cluster, clusterSource] = fromFile !== undefined ? [fromFile, 'knexfile'] : ['default', 'default'];
  }
  // The library's own checks, reported as a usage error (exit 2) naming where the value came from.
  try {
    validateTablePrefix(tablePrefix, prefixSource);
    validateCluster(cluster, clusterSource);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { connection, tablePrefix, prefixSource, cluster, clusterSource };
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function fromUrl(url: string, source: Source): ResolvedConnection {
  let config: Knex.Config;
  try {
    config = knexConfigFromUrl(url);
  } catch (err) {
    throw new UsageError(`${source}: ${(err as Error).message}`);
  }
  const connection = config.connection as { filename?: string } | string | undefined;
  const sqliteFile = typeof connection === 'object' && connection?.filename ? connection.filename : undefined;
  return { config, source, display: sqliteFile ?? maskUrl(url), secrets: urlSecrets(url), sqliteFile };
}

function fromConfig(config: Knex.Config, source: Source, name: string): ResolvedConnection {
  const connection = config.connection as Record<string, unknown> | string | undefined;
  if (typeof connection === 'string') return { ...fromUrl(connection, source), config, display: `${name}: ${maskUrl(connection)}` };
  const secrets: string[] = [];
  if (connection && typeof connection === 'object') {
    if (typeof connection.password === 'string') secrets.push(connection.password);
    if (typeof connection.connectionString === 'string') secrets.push(...urlSecrets(connection.connectionString));
  }
  const c = (connection ?? {}) as {
    filename?: unknown;
    host?: unknown;
    port?: unknown;
    database?: unknown;
    user?: unknown;
    connectionString?: unknown;
  };
  const sqliteFile = typeof c.filename === 'string' ? c.filename : undefined;
  const where =
    sqliteFile ??
    (typeof c.connectionString === 'string'
      ? maskUrl(c.connectionString)
      : `${c.user ? `${String(c.user)}@` : ''}${String(c.host ?? 'localhost')}` +
        `${c.port ? `:${String(c.port)}` : ''}/${String(c.database ?? '')}`);
  return { config, source, display: `${name}: ${String(config.client)} ${where}`, secrets: secrets.filter(usefulSecret), sqliteFile };
}

/** The password of a URL as written and decoded, and any password query parameter. */
export function urlSecrets(url: string): string[] {
  return urlPasswords(url).filter(usefulSecret);
}

/**
 * Scrubbing a very short password from all output would garble it (every "a" in it); such a
 * password is still masked wherever it appears as part of a URL.
 */
function usefulSecret(secret: string): boolean {
  return secret.length >= 4;
}

async function readKnexfile(cwd: string, env: NodeJS.ProcessEnv, required: boolean) {
  const name = KNEXFILES.find((f) => existsSync(resolve(cwd, f)));
  if (!name) {
    if (required && existsSync(resolve(cwd, 'knexfile.ts'))) {
      throw new UsageError(
        'found knexfile.ts in this folder, but node cannot load TypeScript; compile it to knexfile.js, or pass --db (or set ' +
          'DISTCACHE_DATABASE_URL)',
      );
    }
    return undefined;
  }
  let loaded: unknown;
  try {
    const mod = (await import(pathToFileURL(resolve(cwd, name)).href)) as { default?: unknown };
    loaded = mod.default ?? mod;
    if (typeof loaded === 'function') loaded = await (loaded as () => unknown)();
  } catch (err) {
    throw new UsageError(`could not load ./${name}: ${(err as Error).message}; fix it, or pass --db`);
  }
  if (!loaded || typeof loaded !== 'object') throw new UsageError(`./${name} exports no knex configuration`);
  let config = loaded as Knex.Config & { distcache?: DistcacheKnexfileSettings };
  if (config.client === undefined) {
    // An environment map, as `knex init` writes it.
    const environment = env.NODE_ENV ?? 'development';
    const picked = (loaded as Record<string, unknown>)[environment];
    if (!picked || typeof picked !== 'object') {
      throw new UsageError(`./${name} has no '${environment}' configuration; set NODE_ENV to one of: ${Object.keys(loaded).join(', ')}`);
    }
    config = picked as typeof config;
  }
  const { distcache = {}, ...knexConfig } = config;
  return { config: knexConfig as Knex.Config, distcache, name: `./${name}` };
}

/**
 * A config whose every connection refuses to write, so read-only commands provably never write:
 * SQLite opens the file read-only; PostgreSQL and MySQL run each statement in a read-only
 * transaction of its own (see dialects/read-only-transactions.ts: nothing stays on the session, which a pooler may hand
 * to the application next). Another layer under the commands' own design, not instead of it.
 */
export function readOnlyConfig(config: Knex.Config, timeoutMs: number): Knex.Config {
  const dialect = dialectOfClient(String(config.client));
  return dialect ? dialect.operatorConnection.readOnly(config, timeoutMs) : config;
}

/**
 * Bounds opening a connection by `timeoutMs` in the driver itself, so that `--timeout` also
 * covers a database that accepts TCP and never answers. knex's acquireConnectionTimeout alone
 * gives up waiting but leaves the socket open, and closing the pool then waits on it: the process
 * would stay alive after reporting the error.
 */
export function connectTimeoutConfig(config: Knex.Config, timeoutMs: number): Knex.Config {
  const pooled = { ...config, pool: { ...(config.pool ?? {}), createTimeoutMillis: timeoutMs } };
  return dialectOfClient(String(config.client))?.operatorConnection.connectTimeout(pooled, timeoutMs) ?? pooled;
}
