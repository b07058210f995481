import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { harness } from './harness.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import type { DialectName } from '../support/databases.js';
import type { Harness } from './harness.js';

export interface DeliveryCount {
  lost: number;
  unexpected: number;
  duplicated: number;
}

/** Counts what one server received against what was committed and rolled back. */
export function countDelivery(received: readonly unknown[], committed: ReadonlySet<string>): DeliveryCount {
  const seen = new Map<string, number>();
  for (const id of received) seen.set(String(id), (seen.get(String(id)) ?? 0) + 1);
  let lost = 0;
  for (const id of committed) if (!seen.has(id)) lost++;
  let unexpected = 0;
  let duplicated = 0;
  for (const [id, n] of seen) {
    if (!committed.has(id)) unexpected++;
    if (n > 1) duplicated += n - 1;
  }
  return { lost, unexpected, duplicated };
}

/**
 * The concurrency test the design stands on: many writers commit in an order other than the one
 * their ids were handed out in, some roll back, and every subscriber must still get every
 * committed instruction and none of the rolled-back ones.
 */
export function concurrencyTests(dialect: DialectName): void {
  test('8 concurrent writers with random commit delays and 5% rollbacks: 2 subscribers lose nothing, see nothing unexpected', async (t) => {
    const h = await harness(t, dialect);
    const appTable = `${h.prefix}app_data`;
    await h.knex.schema.createTable(appTable, (table) => {
      table.increments('id');
      table.string('note', 64);
    });

    const writers = Array.from({ length: 8 }, (_, w) => {
      const local = recorder();
      return { local, cache: h.cache({ serverIdentity: `writer-${w}`, refreshers: [local] }) };
    });
    // Each subscriber is its own server on its own connection, polling in the background.
    const subscribers = [0, 1].map((i) => {
      const r = recorder();
      return { r, cache: h.cache({ serverIdentity: `subscriber-${i}`, refreshers: [r], syncInterval: 10, knex: h.connection() }) };
    });
    for (const { cache } of subscribers) await cache.start();

    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    const perWriter = 150;
    class Rollback extends Error {}
    const importing = importer(h, committed, () => subscribers.map(({ r }) => r.refreshedIds()));
    await importing.reserve();
    const writing = Promise.all(
      writers.map(async ({ cache }, w) => {
        for (let i = 0; i < perWriter; i++) {
          const id = `${w}-${i}`;
          const rollback = Math.random() < 0.05;
          try {
            await h.knex.transaction(async (trx) => {
              // The instruction comes after other writes in the same transaction.
              await trx(appTable).insert({ note: id });
              await cache.refresh('product', [id], { trx });
              await delay(Math.random() * 5);
              if (rollback) throw new Rollback();
            });
            committed.add(id);
          } catch (err) {
            if (!(err instanceof Rollback)) throw err;
            rolledBack.add(id);
          }
        }
      }),
    ).finally(() => importing.done());
    await Promise.all([importing.run(), writing]);
    assert.equal(committed.size + rolledBack.size, 8 * perWriter + importing.count());
    t.diagnostic(`${dialect}: ${importing.count()} rows committed with an id below one a subscriber had already applied`);
    if (dialect !== 'sqlite') assert.ok(importing.count() > 0, 'some commits straddled a poll out of id order');
    assert.ok(rolledBack.size > 0, 'some transactions rolled back');

    for (const { r } of subscribers) {
      await waitFor(() => countDelivery(r.refreshedIds(), committed).lost === 0, {
        timeout: 30_000,
        describe: () => JSON.stringify(countDelivery(r.refreshedIds(), committed)),
      });
    }
    for (const { r, cache } of subscribers) {
      await cache.sync();
      const count = countDelivery(r.refreshedIds(), committed);
      t.diagnostic(
        `${dialect}: ${committed.size} committed, ${rolledBack.size} rolled back; subscriber saw lost=${count.lost} ` +
          `unexpected=${count.unexpected} duplicated=${count.duplicated}`,
      );
      assert.equal(count.lost, 0);
      assert.equal(count.unexpected, 0);
      assert.equal(count.duplicated, 0);
      assert.ok(r.refreshedIds().every((id) => !rolledBack.has(String(id))));
    }
    // Each writer applied exactly its own committed instructions, after commit.
    for (const [w, { local, cache }] of writers.entries()) {
      await cache.stop();
      const mine = new Set([...committed].filter((id) => id.startsWith(`${w}-`)));
      assert.deepEqual(countDelivery(local.refreshedIds(), mine), { lost: 0, unexpected: 0, duplicated: 0 });
    }
  });
}

/**
 * Rows whose id order is not their commit order, each committed only after both subscribers
 * applied a row with a higher id: the commit straddles a poll, so a cursor that followed ids
 * (rather than commit order) would be past the row already and lose it.
 *
 * MariaDB's trigger takes the sequence lock before InnoDB hands out the AUTO_INCREMENT id, so its
 * own writers' ids are always in commit order; these rows keep ids given to them, as a restore or
 * a copy from another table does. SQLite is left out: there the row id *is* the position, by
 * design (one writer, AUTOINCREMENT), and a row given a lower id by hand is not supported.
 */
function importer(h: Harness, committed: Set<string>, delivered: () => unknown[][]) {
  let imported = 0;
  let writersDone = false;
  const RESERVED = 1000;
  const table = h.table('cache_instruction');
  const json = (id: string) => JSON.stringify({ v: 1, instructions: [{ refresher: 'product', kind: 'refresh', ids: [id] }] });
  return {
    count: () => imported,
    done: () => void (writersDone = true),
    /** Before any writer starts: ids below RESERVED are left to the importer, every other writer's id is higher. */
    async reserve(): Promise<void> {
      if (h.dialect === 'postgres') await h.knex.raw(`select setval(pg_get_serial_sequence(?, 'id'), ?)`, [table, RESERVED]);
      if (h.dialect === 'mysql') await h.knex.raw(`alter table ?? auto_increment = ${RESERVED + 1}`, [table]);
    },
    async run(): Promise<void> {
      if (h.dialect === 'sqlite') return;
      for (let n = 1; n < RESERVED && !writersDone; n++) {
        const before = delivered().map((ids) => ids.length);
        // Until each subscriber has applied another writer's row (whose id is above RESERVED).
        await waitFor(() => writersDone || delivered().every((ids, i) => ids.length > before[i]!), { timeout: 30_000 });
        if (writersDone) return;
        const id = `import-${n}`;
        const sql = `insert into ?? (id, json_instruction, originated, instruction_count) values (?, ?, 'import', 1)`;
        await h.knex.raw(sql, [table, n, json(id)]);
        committed.add(id);
        imported++;
      }
    },
  };
}
