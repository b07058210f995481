import { waitFor } from '../support/wait.js';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { inspect, promisify } from 'node:util';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, knexConfigFromUrl, type EventName } from '../../src/index.js';
import type { Logger } from '../../src/logger.js';

/** Table prefixes, cluster names, identities and refresher ids an attacker or a typo could pass. */
export const HOSTILE_NAMES: readonly string[] = [
  "x'; drop table cache_instruction; --",
  'a"b',
  'a;b',
  "' OR '1'='1",
  "Robert'); DROP TABLE students;--",
  'x\ny',
  'tab\tname',
  '`backtick`',
  'x/*comment*/',
  '$1',
  'a b',
  '',
  'x\u0000y',
  'ä',
  'A'.repeat(300),
  'cache_; select pg_sleep(10)',
  '--',
];

/** Every event name distcache documents; the password test listens to all of them. */
export const EVENT_NAMES: readonly EventName[] = [
  'instruction:written',
  'instruction:applied',
  'instruction:failed',
  'instruction:malformed',
  'sync:complete',
  'sync:error',
  'server:cold-boot',
  'prune:complete',
  'prune:error',
  'server:role-changed',
  'server:duplicate-identity',
  'heartbeat:error',
  'write:error',
];

/** Everything a program could print or ship somewhere: logs, events, errors, return values, console output. */
export class OutputCapture {
  readonly texts: string[] = [];
  private restore: Array<() => void> = [];

  add(label: string, value: unknown): void {
    const text =
      typeof value === 'string'
        ? value
        : inspect(value, { depth: 10, showHidden: true, getters: true, maxStringLength: Infinity, maxArrayLength: Infinity });
    this.texts.push(`${label}: ${text}`);
    // Error causes and messages, spelled out: inspect can elide parts of them.
    for (let e: unknown = value, n = 0; e instanceof Error && n < 10; e = (e as { cause?: unknown }).cause, n++) {
      this.texts.push(`${label} error: ${e.name} ${e.message} ${e.stack ?? ''} ${JSON.stringify(Object.entries(e))}`);
    }
  }

  logger(label: string): Logger {
    const log = (level: string) => (obj: object, msg?: string) => this.add(`${label} log.${level}`, [msg, obj]);
    return { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') };
  }

  listen(label: string, cache: DistributedCache): void {
    for (const name of EVENT_NAMES) cache.on(name, (payload) => this.add(`${label} event ${name}`, payload));
  }

  /** Tees process.stdout and process.stderr (the default logger writes there). */
  teeConsole(): void {
    for (const stream of [process.stdout, process.stderr]) {
      const write = stream.write.bind(stream);
      stream.write = ((chunk: unknown, ...rest: unknown[]) => {
        this.texts.push(`console: ${String(chunk)}`);
        // The default logger's lines are this test's material, not its report: captured, not shown.
        if (String(chunk).startsWith('[distcache]') || String(chunk).startsWith('  ')) return true;
        return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
      }) as typeof stream.write;
      this.restore.push(() => (stream.write = write));
    }
  }

  stopTee(): void {
    this.restore.forEach((r) => r());
    this.restore = [];
  }

  /** Where the secret appears (raw or URL-encoded), if anywhere. */
  find(secret: string): string[] {
    const forms = [secret, encodeURIComponent(secret)];
    return this.texts.filter((t) => forms.some((f) => t.includes(f))).map((t) => t.slice(0, 300));
  }
}

export function secretPassword(): string {
  // Characters a URL must encode, so both spellings are searched for.
  return `S3cr3t-${randomBytes(6).toString('hex')}-p@ss:w/rd`;
}

/**
 * Runs a cache against `url` through every path that can fail and report: start, sync, writes,
 * prune, servers, health, stop. Errors are expected (the database may be unreachable); all of
 * them go to `capture`.
 */
export async function exerciseCache(
  capture: OutputCapture,
  label: string,
  url: string,
  extra: { defaultLogger?: boolean } = {},
): Promise<void> {
  let knex: Knex | undefined;
  try {
    const config = knexConfigFromUrl(url);
    // knex's own warnings (it prints pool errors) go to the capture, not the console.
    const knexLog = (level: string) => (message: unknown) => capture.add(`${label} knex.${level}`, message);
    knex = knexFactory({
      ...config,
      acquireConnectionTimeout: 1500,
      pool: { min: 0, max: 2 },
      log: { warn: knexLog('warn'), error: knexLog('error'), deprecate: knexLog('deprecate'), debug: knexLog('debug') },
    });
  } catch (err) {
    capture.add(`${label} knexConfigFromUrl threw`, err);
    return;
  }
  const cache = new DistributedCache({
    knex,
    serverIdentity: 'leak-test',
    refreshers: [{ id: 'item', refreshAll() {}, refresh() {} }],
    syncInterval: 100,
    maxErrorBackoff: 200,
    queryTimeout: 1000,
    heartbeatInterval: 100,
    staleServerTimeout: 1000,
    stopTimeout: 500,
    pruneSchedule: false,
    ...(extra.defaultLogger ? {} : { logger: capture.logger(label) }),
  });
  capture.listen(label, cache);
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      capture.add(`${label} ${what} returned`, await work());
    } catch (err) {
      capture.add(`${label} ${what} threw`, err);
    }
  };
  let started = false;
  await attempt('start', async () => {
    await cache.start();
    started = true;
  });
  await attempt('sync', () => cache.sync());
  await attempt('refresh', () => cache.refresh('item', [1]));
  await attempt('refresh in trx', () => knex!.transaction((trx) => cache.refresh('item', [2], { trx })));
  await attempt('prune', () => cache.prune());
  await attempt('servers', () => cache.servers());
  await attempt('health', () => cache.health());
  // Let the background loops fail and report a few times (or, where the database answers, run a few times).
  let beats = 0;
  cache.on('sync:error', () => beats++);
  cache.on('sync:complete', () => beats++);
  cache.on('heartbeat:error', () => beats++);
  // A start that was refused (tables missing) leaves no loop behind to wait for.
  if (started) await waitFor(() => beats >= 3, { timeout: 10_000, describe: () => `${beats} background loop runs` });
  await attempt('health again', () => cache.health());
  await attempt('stop', () => cache.stop());
  await knex.destroy();
}

/** The built CLI, when it exists. */
export function cliPath(): string | undefined {
  const path = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
  return existsSync(path) ? path : undefined;
}

export async function runCli(capture: OutputCapture, args: string[]): Promise<void> {
  const cli = cliPath()!;
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [cli, ...args], { timeout: 30_000 });
    capture.add(`cli ${args[0]} stdout`, stdout);
    capture.add(`cli ${args[0]} stderr`, stderr);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    capture.add(`cli ${args[0]} stdout`, e.stdout ?? '');
    capture.add(`cli ${args[0]} stderr`, e.stderr ?? '');
    // Not the error itself: its message repeats our own command line, password included.
    capture.add(`cli ${args[0]} exit`, (err as { code?: unknown }).code);
  }
}
