import assert from 'node:assert/strict';
import { fork, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { DistributedCache, migrate, type DistributedCacheOptions } from '../src/index.js';
import { tableNames } from '../src/store/tables.js';
import { notifyChannel, PostgresWakeSource } from '../src/dialects/wake-sources.js';
import { useProtocolCancel } from '../src/dialects/postgres/cancel.js';
import { availability, dropPrefixed, freshPrefix, PG_URL } from './support/databases.js';
import { cli } from './support/cli-run.js';
import { PgBouncer, pgbouncerAvailability, type SessionState } from './support/pgbouncer.js';
import type { PoolerChildMessage, PoolerChildSettings } from './support/pooler-child.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

/**
 * distcache behind a real PgBouncer (issue 16), in transaction mode and in session mode, each a
 * pool of a few server sessions so sharing them is certain. Ports 6441-6444 (6440-6449 are
 * reserved for pooler tests).
 */
checkLeaksAfterEach();

const skip = pgbouncerAvailability() || (await availability('postgres'));
const TX_PORT = 6441;
const SESSION_PORT = 6442;
/** A pooler of the listener's own, whose mode a test changes. */
const FIXED_PORT = 6443;
/** A pooler of its own for the cancel storm, so a crash there cannot take the others down. */
const CANCEL_PORT = 6444;

interface Logged {
  level: string;
  msg: string;
}

function capturingLogger(into: Logged[]) {
  const at = (level: string) => (_ctx: unknown, msg?: string) => into.push({ level, msg: String(msg ?? _ctx) });
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

/** Every server session of the pool as it should be when nothing leaked: defaults, no LISTEN, no lock. */
function assertClean(states: SessionState[], after: string): void {
  assert.ok(states.length > 0);
  for (const s of states) {
    const where = `after ${after}, server session ${s.pid}`;
    assert.deepEqual(s.changed, {}, `${where}: settings changed by SET`);
    assert.deepEqual(s.listening, [], `${where}: LISTEN left behind`);
    assert.equal(s.readOnly, 'off', `${where}: default_transaction_read_only`);
    assert.equal(s.synchronousCommit, 'on', `${where}: synchronous_commit`);
    assert.equal(s.advisoryLocks, 0, `${where}: advisory lock held`);
  }
}

describe('behind PgBouncer', { skip }, () => {
  let tx: PgBouncer;
  let session: PgBouncer;
  const knexes: Knex[] = [];
  const prefixes: string[] = [];
  let direct: Knex;

  before(async () => {
    direct = knexFactory({ client: 'pg', connection: PG_URL, pool: { min: 0, max: 4 } });
    tx = await PgBouncer.start({ port: TX_PORT, mode: 'transaction', poolSize: 5 });
    // Session mode: each client connection holds a server session while it is open, so the pool
    // is sized for the suite's connections (the README's sizing rule).
    session = await PgBouncer.start({ port: SESSION_PORT, mode: 'session', poolSize: 30 });
  });

  after(async () => {
    await Promise.all(knexes.map((k) => k.destroy().catch(() => undefined)));
    for (const prefix of prefixes) await dropPrefixed(direct, prefix);
    await direct?.destroy();
    await tx?.stop();
    await session?.stop();
  });

  function pooled(bouncer: PgBouncer, max = 10): Knex {
    const knex = knexFactory({ client: 'pg', connection: bouncer.url(), pool: { min: 0, max } });
    knexes.push(knex);
    return knex;
  }

  async function migrated(knex: Knex): Promise<string> {
    const prefix = freshPrefix();
    prefixes.push(prefix);
    await migrate(knex, { tablePrefix: prefix });
    return prefix;
  }

  function cacheOn(knex: Knex, prefix: string, options: Partial<DistributedCacheOptions> & { serverIdentity: string }): DistributedCache {
    return new DistributedCache({
      knex,
      tablePrefix: prefix,
      syncInterval: 60_000,
      notify: false,
      pruneSchedule: false,
      logger: capturingLogger([]),
      ...options,
    });
  }

  for (const mode of ['transaction', 'session'] as const) {
    test(`the PostgreSQL conformance suite (concurrency included) passes through ${mode} mode`, async (t) => {
      const bouncer = mode === 'transaction' ? tx : session;
      const script = fileURLToPath(new URL('./conformance-postgres.test.js', import.meta.url));
      const { NODE_TEST_CONTEXT: _nested, ...parentEnv } = process.env;
      const env = {
        ...parentEnv,
        DATABASE_URL: bouncer.url(),
        // Transaction mode: the listener gets its own session straight to PostgreSQL.
        DISTCACHE_PG_NOTIFY_URL: mode === 'transaction' ? PG_URL : '',
        DISTCACHE_DIALECTS: 'postgres',
      };
      const { code, output } = await run(process.execPath, ['--test', '--test-concurrency=1', script], env);
      const summary = output.split('\n').filter((l) => /^# (tests|pass|fail|skipped)/.test(l));
      t.diagnostic(`${mode}: ${summary.join(', ')}`);
      assert.equal(code, 0, output.slice(-4000));
      assert.match(output, /^# fail 0$/m);
      assert.match(output, /^# skipped 0$/m);
      if (mode === 'transaction') assertClean(await tx.sessionStates(), 'the conformance suite');
    });
  }

  test('3 concurrent migrate() through transaction mode finish within 30 s and leave no lock', async () => {
    const prefix = freshPrefix();
    prefixes.push(prefix);
    const started = Date.now();
    const results = await Promise.all([0, 1, 2].map(() => migrate(pooled(tx, 3), { tablePrefix: prefix, lockTimeout: 30_000 })));
    const took = Date.now() - started;
    assert.ok(took < 30_000, `took ${took} ms`);
    const applied = results.map((r) => r.applied.length);
    assert.equal(applied.filter((n) => n > 0).length, 1, `exactly one run applied the migrations: ${applied}`);
    const locks = await direct.raw("select count(*)::int as n from pg_locks where locktype = 'advisory'");
    assert.equal(locks.rows[0].n, 0, 'no advisory lock left anywhere');
    const [lock] = await direct(`${tableNames(prefix).migrations}_lock`).select('is_locked');
    assert.equal(Number(lock.is_locked), 0);
    assertClean(await tx.sessionStates(), '3 concurrent migrate()');
  });

  test('writes, polls, start and stop, and every CLI command leave every pooled session as it was', async (t) => {
    const knex = pooled(tx);
    const prefix = await migrated(knex);
    assertClean(await tx.sessionStates(), 'migrate');
    const seen = recorder();
    const writer = cacheOn(knex, prefix, { serverIdentity: 'w', refreshers: [recorder()], notify: PG_URL });
    const reader = cacheOn(pooled(tx), prefix, { serverIdentity: 'r', refreshers: [seen], notify: PG_URL });
    await writer.start();
    await reader.start();
    await writer.refresh('product', [1, 2]);
    await waitFor(() => seen.refreshedIds().length === 2, { timeout: 10_000 });
    await reader.sync();
    await writer.stop();
    await reader.stop();
    assertClean(await tx.sessionStates(), 'start, writes, polls and stop');

    const env = { DISTCACHE_DATABASE_URL: tx.url(), DISTCACHE_TABLE_PREFIX: prefix };
    const commands = [
      ['status'],
      ['pending'],
      ['servers'],
      ['failures'],
      ['tail', '--limit', '5'],
      ['show', '1'],
      ['prune', '--dry-run'],
      ['migrate', '--dry-run'],
      ['migrate'],
      ['send', 'refresh', 'product', '7'],
      ['resync', 'r'],
      ['prune'],
      ['servers', 'forget', 'w', '--force'],
    ];
    for (const args of commands) {
      // Several times each (one run can land on only some of the pool's sessions); forget only once.
      for (let i = 0; i < (args[1] === 'forget' ? 1 : 3); i++) {
        const result = await cli([...args, '--json'], { env });
        assert.ok(result.code === 0, `distcache ${args.join(' ')}: exit ${result.code}\n${result.stderr}`);
      }
      assertClean(await tx.sessionStates(), `distcache ${args.join(' ')}`);
    }
    // The application's own writes still work on every session (issue 16: they failed with 25006).
    const app = `${prefix}app_data`;
    await direct.schema.createTable(app, (table) => table.increments('id'));
    await Promise.all(Array.from({ length: 10 }, () => knex(app).insert({})));
    t.diagnostic(`${commands.length} CLI commands, 3 runs each: every session at its defaults`);
  });

  test('without a notify connection the probe turns the wake-up off, says so once, and leaves no LISTEN', async () => {
    const knex = pooled(tx);
    const prefix = await migrated(knex);
    const logged: Logged[] = [];
    const cache = cacheOn(knex, prefix, {
      serverIdentity: 'probe',
      refreshers: [recorder()],
      notify: true,
      logger: capturingLogger(logged),
    });
    await cache.start();
    await waitFor(async () => (await cache.health()).wakeUp === 'off', { timeout: 5_000 });
    const health = await cache.health();
    assert.equal(health.healthy, true, health.problems.join('; '));
    assert.equal(health.warnings.length, 1);
    assert.match(health.warnings[0]!, /wake-up is off.*transaction-mode pooler.*notify option/s);
    const warnings = logged.filter((l) => l.level === 'warn' && /wake-up is off/.test(l.msg));
    assert.equal(warnings.length, 1);
    // Writes still go out, and still tell other processes (through the pool).
    await cache.refresh('product', [1]);
    await cache.stop();
    assertClean(await tx.sessionStates(), 'a listener whose probe failed');
  });

  const reprobeTest =
    'a failed probe is retried: once the listener reaches a session-mode pool the wake-up comes back on and health() clears';
  test(reprobeTest, async (t) => {
    // The notify connection goes through a pooler of its own on 6443: transaction mode first (the
    // probe fails), then the operator fixes the pooler (session mode on the same port). The
    // listener must find out by itself, at its next probe (the default backoff: 7.5 to 15 s), and say so.
    let notifyPooler = await PgBouncer.start({ port: FIXED_PORT, mode: 'transaction', poolSize: 3 });
    t.after(() => notifyPooler.stop());
    const knex = pooled(tx);
    const prefix = await migrated(knex);
    const logged: Logged[] = [];
    const seen = recorder();
    const reader = cacheOn(knex, prefix, {
      serverIdentity: 'reprobe',
      refreshers: [seen],
      notify: notifyPooler.url(),
      logger: capturingLogger(logged),
    });
    t.after(() => reader.stop());
    await reader.start();
    await waitFor(async () => (await reader.health()).wakeUp === 'off', { timeout: 5_000 });
    assert.match((await reader.health()).warnings.join('; '), /wake-up is off/);

    await notifyPooler.stop();
    notifyPooler = await PgBouncer.start({ port: FIXED_PORT, mode: 'session', poolSize: 3 });
    await waitFor(async () => (await reader.health()).wakeUp === 'on', { timeout: 40_000, describe: () => 'the wake-up to come back on' });
    const health = await reader.health();
    assert.deepEqual(health.warnings, [], 'the warning is cleared once a probe is heard');
    assert.equal(logged.filter((l) => l.level === 'warn' && /wake-up is off/.test(l.msg)).length, 1, 'warned once, not per re-probe');
    assert.ok(logged.some((l) => l.level === 'info' && /wake-up is on again/.test(l.msg)));
    // And it wakes for real: a write through the pool reaches the reader long before its 60 s poll.
    const writer = cacheOn(pooled(tx), prefix, { serverIdentity: 'reprobe-w', refreshers: [recorder()], notify: PG_URL });
    await writer.start();
    t.after(() => writer.stop());
    await writer.refresh('product', [42]);
    await waitFor(() => seen.refreshedIds().includes(42), { timeout: 10_000 });
  });

  test('own NOTIFYs are told apart by their payload, not the backend pid the pooler chose', async (t) => {
    const knex = pooled(tx);
    const prefix = await migrated(knex);
    const channel = notifyChannel(prefix, 'default');
    const source = new PostgresWakeSource({
      knex,
      tables: tableNames(prefix),
      cluster: 'default',
      logger: capturingLogger([]),
      queryTimeout: 5_000,
      connection: PG_URL,
    });
    t.after(() => source.stop());
    let wakes = 0;
    await source.start(() => (wakes += 1));
    assert.equal(source.state, 'on');
    const before = wakes;
    // Through the pooler, as the fallback sends them while the listener reconnects: another backend pid each.
    for (let i = 0; i < 5; i++) await knex.raw('select pg_notify(?, ?)', [channel, source.listenerId!]);
    await knex.raw('select pg_notify(?, ?)', [channel, 'another-process']);
    // Notifications arrive in commit order: once the other process's is in, ours were seen and ignored.
    await waitFor(() => source.stats!.notificationsReceived === 1, { timeout: 5_000 });
    assert.equal(wakes - before, 1);
  });

  test('20 concurrent writes at the moment prepared statements are lost: 0 rejected, one warning, health says so', async () => {
    const prefix = await migrated(pooled(tx));
    let collisions = 0;
    for (let round = 0; round < 2; round++) {
      // A fresh knex: 20 connections that each believe nothing is prepared yet, on 5 server sessions.
      const knex = pooled(tx, 20);
      knex.on('query-error', (err: { code?: string }) => {
        if (err.code === '42P05' || err.code === '26000') collisions += 1;
      });
      const logged: Logged[] = [];
      const cache = cacheOn(knex, prefix, { serverIdentity: `writer-${round}`, refreshers: [recorder()], logger: capturingLogger(logged) });
      await cache.start();
      const outcomes = await Promise.allSettled(Array.from({ length: 20 }, (_, i) => cache.refresh('product', [`${round}-${i}`])));
      const rejected = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(rejected.length, 0, rejected.map((r) => String((r as PromiseRejectedResult).reason)).join('\n'));
      const warnings = logged.filter((l) => l.level === 'warn' && /prepared statements/.test(l.msg));
      assert.ok(warnings.length <= 1, `at most one warning: ${warnings.length}`);
      if (warnings.length === 1) {
        const health = await cache.health();
        assert.equal(health.preparedStatements, false);
        assert.ok(health.warnings.some((w) => /prepared statements are off/.test(w)));
      }
      await cache.stop();
    }
    assert.ok(collisions > 0, 'the pooler did lose prepared statements');
    const rows = await direct(tableNames(prefix).instruction).count({ n: '*' });
    assert.ok(Number(rows[0]!.n) >= 40);
  });

  test('a poll that times out is cancelled on the server through the pooler within a second', async () => {
    const knex = pooled(tx);
    const prefix = await migrated(knex);
    const cache = cacheOn(knex, prefix, { serverIdentity: 'blocked', refreshers: [recorder()], queryTimeout: 1_000 });
    await cache.start();
    const table = tableNames(prefix).instruction;
    // Hold a lock the poll's read must wait for, on a direct session.
    const holder = await direct.transaction();
    try {
      await holder.raw('lock table ?? in access exclusive mode', [table]);
      const waiting = () =>
        direct.raw("select count(*)::int as n from pg_stat_activity where state = 'active' and wait_event_type = 'Lock' and query like ?", [
          `%${table}%`,
        ]);
      await assert.rejects(cache.sync(), /timeout/i);
      const timedOutAt = Date.now();
      await waitFor(async () => (await waiting()).rows[0].n === 0, {
        timeout: 1_000,
        describe: () => 'the blocked poll still runs on the server',
      });
      assert.ok(Date.now() - timedOutAt < 1_000);
    } finally {
      await holder.rollback();
    }
    // The connection did not go back to the pool busy: the next poll works.
    await cache.sync();
    await cache.stop();
  });

  test('1,000 statement timeouts cancelled through PgBouncer, more clients than sessions: the pooler lives, no FATAL', async () => {
    // PgBouncer 1.18 (Debian 12's) exits when a cancel client hangs up before the cancel it
    // forwarded is done (pgbouncer#801). Our CancelRequest once half-closed its socket right after
    // the 16 bytes and crashed it within the first few cancels; now it waits for the pooler to close.
    const bouncer = await PgBouncer.start({ port: CANCEL_PORT, mode: 'transaction', poolSize: 3 });
    const knex = knexFactory({ client: 'pg', connection: bouncer.url(), pool: { min: 0, max: 12 } });
    useProtocolCancel(knex);
    let cancelled = 0;
    let other = 0;
    try {
      const deadline = Date.now() + 90_000;
      const worker = async () => {
        while (cancelled < 1_000 && other === 0 && Date.now() < deadline) {
          try {
            await knex.raw('select pg_sleep(0.05)').timeout(5 + Math.floor(Math.random() * 40), { cancel: true });
          } catch (err) {
            if (/timeout/i.test(String(err))) cancelled += 1;
            else other += 1;
          }
        }
      };
      await Promise.all(Array.from({ length: 12 }, worker));
      assert.equal(other, 0, `statements failed other than by their timeout; pooler log: ${bouncer.log().slice(-400)}`);
      assert.ok(cancelled >= 1_000, `only ${cancelled} cancels within 90 s`);
      assert.ok(bouncer.running, `pgbouncer exited: ${bouncer.log().slice(-400)}`);
      assert.doesNotMatch(bouncer.log(), /FATAL/);
      // Every cancelled session went back usable.
      assert.equal((await knex.raw('select 1 as one')).rows[0].one, 1);
    } finally {
      await knex.destroy();
      await bouncer.stop();
    }
  });

  test('3 readers and 4 writers in separate processes through transaction mode: lost 0, unexpected 0 on every reader', async (t) => {
    const prefix = await migrated(pooled(tx));
    const child = (settings: PoolerChildSettings) => new Child(settings);
    const readers = [0, 1, 2].map((i) => child({ role: 'reader', url: tx.url(), notify: PG_URL, prefix, identity: `reader-${i}` }));
    t.after(() => Promise.all(readers.map((r) => r.stop())));
    await Promise.all(readers.map((r) => r.next('started')));
    const writers = [0, 1, 2, 3].map((i) =>
      child({ role: 'writer', url: tx.url(), notify: PG_URL, prefix, identity: `writer-${i}`, writes: 40 }),
    );
    t.after(() => Promise.all(writers.map((w) => w.stop())));
    const written = await Promise.all(writers.map((w) => w.next('written')));
    const committed = new Set(written.flatMap((m) => (m.type === 'written' ? m.committed : [])));
    const rolledBack = new Set(written.flatMap((m) => (m.type === 'written' ? m.rolledBack : [])));
    for (const reader of readers) {
      let ids: string[] = [];
      await waitFor(
        async () => {
          const report = await reader.ask();
          ids = report.type === 'report' ? report.ids : [];
          return [...committed].every((id) => ids.includes(id));
        },
        { timeout: 20_000, describe: () => `${reader.settings.identity} lost ${[...committed].filter((id) => !ids.includes(id)).length}` },
      );
      const unexpected = ids.filter((id) => !committed.has(id));
      const lost = [...committed].filter((id) => !ids.includes(id));
      t.diagnostic(
        `${reader.settings.identity}: ${committed.size} committed, ${rolledBack.size} rolled back; lost ${lost.length}, ` +
          `unexpected ${unexpected.length}`,
      );
      assert.equal(lost.length, 0);
      assert.deepEqual(unexpected, []);
    }
  });
});

/** A pooler-child process as the test sees it. */
class Child {
  private readonly process;
  private readonly messages: PoolerChildMessage[] = [];
  private waiters: Array<() => void> = [];
  private readonly exited: Promise<void>;

  constructor(readonly settings: PoolerChildSettings) {
    this.process = fork(new URL('./support/pooler-child.js', import.meta.url), [JSON.stringify(settings)], {
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.process.on('message', (m: PoolerChildMessage) => {
      this.messages.push(m);
      for (const w of this.waiters.splice(0)) w();
    });
    this.process.on('error', () => undefined);
    this.exited = new Promise((resolve) =>
      this.process.once('exit', () => {
        for (const w of this.waiters.splice(0)) w();
        resolve();
      }),
    );
  }

  async next(type: PoolerChildMessage['type'], from = 0): Promise<PoolerChildMessage> {
    for (;;) {
      const found = this.messages.slice(from).find((m) => m.type === type);
      if (found) return found;
      if (this.process.exitCode !== null) throw new Error(`${this.settings.identity} exited with ${this.process.exitCode}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  ask(): Promise<PoolerChildMessage> {
    const from = this.messages.length;
    this.process.send({ type: 'report' });
    return this.next('report', from);
  }

  async stop(): Promise<void> {
    if (this.process.exitCode === null && this.process.connected) this.process.send({ type: 'stop' });
    const killer = setTimeout(() => this.process.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(killer);
  }
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
