import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, errors, migrate, type DistcacheError } from '../src/index.js';
import { useProtocolCancel } from '../src/dialects/postgres/cancel.js';
import { silentLogger } from '../src/logger.js';
import { availability, DATABASES, freshPrefix, MYSQL_URL, PG_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

/**
 * Issue 24: errors that point at the real cause. A refused connection, an unknown database and a
 * refused login each get their own code and fix, from migrate() and from start(), with no knex
 * pool stack trace printed before them; E_NOT_MIGRATED says "run migrate" without the SQL; a region
 * made after start() is named; a cancelled query prints no pg deprecation warning.
 */
checkLeaksAfterEach();

/** A port nothing listens on: one the OS just handed out and took back. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `url` with another database name or user. */
function withPath(url: string, change: (u: URL) => void): string {
  const u = new URL(url);
  change(u);
  return u.toString();
}

/** Runs `work` and returns what it printed through console.log/console.warn/console.error (knex's logger uses them). */
async function printed(work: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const saved = { log: console.log, warn: console.warn, error: console.error };
  for (const level of ['log', 'warn', 'error'] as const) console[level] = (...args: unknown[]) => void lines.push(args.join(' '));
  try {
    await work();
  } finally {
    Object.assign(console, saved);
  }
  return lines.join('\n');
}

async function expectCode(knex: Knex, code: string, fix: RegExp): Promise<void> {
  let migrateError: DistcacheError | undefined;
  const output = await printed(() => migrate(knex).catch((err: DistcacheError) => (migrateError = err)));
  assert.equal(migrateError?.code, code, String(migrateError));
  assert.match(migrateError!.message, fix);
  assert.doesNotMatch(migrateError!.message, /may create tables/);
  assert.doesNotMatch(output, /Acquire connection error|\n\s+at /, 'no knex pool stack trace before our error');
  if (code === 'E_CONNECTION_REFUSED') return; // start() keeps retrying a refused connection: the database may be starting
  const cache = new DistributedCache({ knex, logger: silentLogger, notify: false });
  let startError: DistcacheError | undefined;
  const startOutput = await printed(() => cache.start().catch((err: DistcacheError) => (startError = err)));
  await cache.stop();
  assert.equal(startError?.code, code, String(startError));
  assert.doesNotMatch(startOutput, /Acquire connection error/);
}

describe('connection mistakes on postgres', { skip: await availability('postgres') }, () => {
  test('refused, unknown database and refused login: each its own code and fix', async () => {
    const port = await closedPort();
    const cases: Array<[string, string, RegExp]> = [
      [withPath(PG_URL, (u) => (u.port = String(port))), 'E_CONNECTION_REFUSED', /cannot reach the database.*host and port/],
      [withPath(PG_URL, (u) => (u.pathname = '/distcache_no_such_db')), 'E_UNKNOWN_DATABASE', /does not exist.*createdb/],
      [
        withPath(PG_URL, (u) => (u.username = 'distcache_no_such_user')),
        'E_AUTHENTICATION_FAILED',
        /refused the login.*user name and password/,
      ],
    ];
    for (const [url, code, fix] of cases) {
      const knex = knexFactory({ client: 'pg', connection: url, pool: { min: 0, max: 2 } });
      try {
        await expectCode(knex, code, fix);
      } finally {
        await knex.destroy();
      }
    }
  });

  test('a cancelled query prints no pg deprecation warning', async () => {
    const knex = knexFactory(DATABASES.postgres.config());
    useProtocolCancel(knex);
    const warnings: string[] = [];
    const onWarning = (w: Error) => void warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      await assert.rejects(knex.raw('select pg_sleep(5)').timeout(100, { cancel: true }));
      await knex.raw('select 1');
    } finally {
      process.off('warning', onWarning);
      await knex.destroy();
    }
    assert.deepEqual(
      warnings.filter((w) => /activeQuery/.test(w)),
      [],
    );
  });
});

describe('connection mistakes on mysql', { skip: await availability('mysql') }, () => {
  test('unknown database and refused login: each its own code and fix', async () => {
    const cases: Array<[string, string, RegExp]> = [
      [withPath(MYSQL_URL, (u) => (u.pathname = '/distcache_no_such_db')), 'E_UNKNOWN_DATABASE', /does not exist.*CREATE DATABASE/],
      [
        withPath(MYSQL_URL, (u) => ((u.username = 'distcache_no_such_user'), (u.password = 'x'))),
        'E_AUTHENTICATION_FAILED',
        /refused the login/,
      ],
    ];
    for (const [url, code, fix] of cases) {
      const knex = knexFactory({ client: 'mysql2', connection: url, pool: { min: 0, max: 2 } });
      try {
        await expectCode(knex, code, fix);
      } finally {
        await knex.destroy();
      }
    }
  });
});

test('E_NOT_MIGRATED says run migrate, without the SQL; a region after start() is named', async (t) => {
  const knex = knexFactory(DATABASES.sqlite.config());
  t.after(() => knex.destroy());
  const cache = new DistributedCache({ knex, tablePrefix: freshPrefix(), logger: silentLogger, notify: false });
  const err = await cache.start().then(
    () => undefined,
    (e: DistcacheError) => e,
  );
  await cache.stop();
  assert.equal(err?.code, 'E_NOT_MIGRATED');
  assert.match(err!.message, /run migrate/);
  assert.doesNotMatch(err!.message, /select|insert|update /i, err!.message);
  assert.ok(err!.message.length < 220, `short: ${err!.message}`);

  await migrate(knex);
  const started = new DistributedCache({ knex, logger: silentLogger, notify: false });
  await started.start();
  t.after(() => started.stop());
  assert.throws(
    () => started.region('late-products'),
    (e: Error) => {
      assert.ok(e instanceof errors.RegisterAfterStartError);
      assert.match(e.message, /cache\.region\('late-products'\) was called after start\(\)/);
      return true;
    },
  );
});
