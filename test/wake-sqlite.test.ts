import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { describe, test, type TestContext } from 'node:test';
import knexFactory from 'knex';
import { harness, type Harness } from './conformance/harness.js';
import { silentLoggerForTests, tableNames, type DistributedCache } from './conformance/exports.js';
import { sqliteFileOf as harnessFile } from './support/child-servers.js';
import { recorder, type RecordingRefresher } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { createSqliteWakeSource, openWatcherCount, SqliteWakeSource } from '../src/dialects/wake-sources.js';
import { WalWatcher } from '../src/dialects/sqlite/wal-watcher.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const repoRoot = fileURLToPath(new URL('../..', import.meta.url));

async function attach(t: TestContext, h: Harness, cache: DistributedCache) {
  const source = createSqliteWakeSource({
    knex: h.knex,
    tables: tableNames(h.prefix),
    cluster: 'default',
    logger: silentLoggerForTests,
    queryTimeout: 5000,
  });
  assert.ok(source, 'a file database gets a wake source');
  t.after(() => source.stop());
  const wakes = { count: 0 };
  await source.start(() => {
    wakes.count += 1;
    cache.sync().catch(() => undefined);
  });
  return { source, wakes };
}

/**
 * Another process that writes rows with plain SQL (better-sqlite3, WAL mode, no distcache code):
 * one id per line on stdin, one line back on stdout once it has committed.
 */
function plainWriter(t: TestContext, file: string, table: string) {
  const code = `
    const Database = require('better-sqlite3');
    const db = new Database(${JSON.stringify(file)});
    db.pragma('journal_mode = WAL');
    db.pragma('busy_timeout = 10000');
    const insert = db.prepare(
      "insert into ${table} (json_instruction, originated, origin_instance, instruction_count, cluster) " +
        "values (?, 'plain-sql', null, 1, 'default')",
    );
    require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
      insert.run(JSON.stringify({ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [Number(line)] }] }));
      process.stdout.write(line + '\\n');
    });`;
  const child = spawn(process.execPath, ['-e', code], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill());
  const committed = new Set<number>();
  createInterface({ input: child.stdout! }).on('line', (line) => committed.add(Number(line)));
  return {
    async write(id: number): Promise<void> {
      child.stdin!.write(`${id}\n`);
      await waitFor(() => committed.has(id), { timeout: 10_000 });
    },
  };
}

const has = (r: RecordingRefresher, id: number) => () => r.refreshedIds().includes(id);

describe('sqlite wake-up: a watch on the WAL file', () => {
  test('plain SQL commits from another process wake this one long before the poll interval, every time', async (t) => {
    const h = await harness(t, 'sqlite');
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 60_000 });
    await b.start();
    const { source } = await attach(t, h, b);
    assert.ok(source.listening);
    const writer = plainWriter(t, harnessFile(h.knex)!, h.table('cache_instruction'));
    const delays: number[] = [];
    for (let id = 1; id <= 30; id++) {
      await writer.write(id);
      const committed = performance.now();
      // The interval is 60 s: only the watch can deliver within the deadline.
      await waitFor(has(onB, id), { timeout: 5000, interval: 2, describe: () => `id ${id}; got ${JSON.stringify(onB.refreshedIds())}` });
      delays.push(performance.now() - committed);
    }
    delays.sort((x, y) => x - y);
    console.log(
      `sqlite wake-up across processes: 30/30 delivered; after the writer's commit was reported: ` +
        `median ${delays[15]!.toFixed(1)} ms, max ${delays[29]!.toFixed(1)} ms`,
    );
  });

  test('a write through DistributedCache in another process wakes this one', async (t) => {
    const h = await harness(t, 'sqlite');
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 60_000 });
    await b.start();
    await attach(t, h, b);
    const code = `
      import knexFactory from 'knex';
      import { DistributedCache, sqliteConfig } from ${JSON.stringify(new URL('../src/index.js', import.meta.url).href)};
      import { silentLogger } from ${JSON.stringify(new URL('../src/logger.js', import.meta.url).href)};
      const knex = knexFactory(sqliteConfig(${JSON.stringify(harnessFile(h.knex))}, 10000));
      const cache = new DistributedCache({
        knex, tablePrefix: ${JSON.stringify(h.prefix)}, serverIdentity: 'writer',
        refreshers: [{ id: 'product', refreshAll() {}, refresh() {} }], logger: silentLogger, pruneSchedule: false,
      });
      await cache.refresh('product', [42]);
      await knex.destroy();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'] });
    t.after(() => child.kill());
    await waitFor(has(onB, 42), { timeout: 5000, describe: () => JSON.stringify(onB.calls) });
  });

  test('caches of one process on one file share one watch, released by the last stop', async (t) => {
    const h = await harness(t, 'sqlite');
    const before = openWatcherCount();
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    const wa = await attach(t, h, a);
    const wb = await attach(t, h, b);
    assert.equal(openWatcherCount(), before + 1);
    await Promise.all([wa.source.stop(), wa.source.stop()]);
    assert.equal(openWatcherCount(), before + 1);
    assert.equal(wa.source.listening, false);
    await wb.source.stop();
    assert.equal(openWatcherCount(), before);
    wb.source.notifyCommitted(); // a no-op: the commit itself is the signal
  });

  test('an in-memory database has nothing to watch', async (t) => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    t.after(() => knex.destroy());
    assert.equal(
      createSqliteWakeSource({ knex, tables: tableNames(''), cluster: 'default', logger: silentLoggerForTests, queryTimeout: 1000 }),
      undefined,
    );
  });

  test('a WAL file that appears after the watch began still wakes, twice per burst (at once, then once settled)', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'distcache-wal-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'db.sqlite');
    const watcher = new WalWatcher(file, { logger: silentLoggerForTests, settleMs: 20 });
    t.after(() => watcher.close());
    let wakes = 0;
    watcher.subscribe(() => wakes++);
    assert.equal(wakes, 1, 'a wake when the watch begins: earlier commits raised no event');
    writeFileSync(join(dir, 'other.sqlite-wal'), 'x');
    writeFileSync(`${file}-wal`, 'frames');
    await waitFor(() => wakes >= 3, { describe: () => `${wakes} wakes` });
    const events = watcher.events;
    assert.ok(events >= 1);
    // The next burst wakes again.
    writeFileSync(`${file}-wal`, 'more frames');
    await waitFor(() => watcher.events > events && wakes >= 5, { describe: () => `${wakes} wakes` });
  });

  test('the source reports which file it watches, and start after stop does nothing', async (t) => {
    const h = await harness(t, 'sqlite');
    const source = new SqliteWakeSource(harnessFile(h.knex)!, { logger: silentLoggerForTests });
    await source.stop();
    let wakes = 0;
    await source.start(() => wakes++);
    assert.equal(wakes, 0);
    assert.equal(source.listening, false);
  });
});
