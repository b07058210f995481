import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness } from '../conformance/harness.js';
import { countDelivery } from '../conformance/concurrency.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import { availability, type DialectName } from '../support/databases.js';
import type { DistributedCache } from '../../src/index.js';
import { Rollback } from './clients.js';

/** One transaction of a client library: an app row, then the instruction, a random pause, commit or rollback. */
export type Transact = (cache: DistributedCache, appTable: string, id: string, rollback: boolean) => Promise<void>;

export interface Client {
  name: string;
  dialect: DialectName;
  open(): { transact: Transact; close(): Promise<void> };
}

/**
 * The conformance concurrency test (test/conformance/concurrency.ts) through executors: writers
 * commit out of id order, some roll back; both subscribers and every writer lose nothing and
 * see nothing unexpected or twice. The drivers run it from test/executors-concurrency.test.ts, the
 * Sequelize executor from test/orms.
 */
export async function concurrencyTests(clients: readonly Client[]): Promise<void> {
  for (const client of clients) {
    describe(`concurrency through the ${client.name}`, { skip: await availability(client.dialect) }, () => {
      test('6 writers with random commit delays and 5% rollbacks: 2 subscribers lose nothing, see nothing unexpected', async (t) => {
        const h = await harness(t, client.dialect);
        const appTable = `${h.prefix}app_data`;
        await h.knex.schema.createTable(appTable, (table) => {
          table.increments('id');
          table.string('note', 64);
        });
        const library = client.open();
        t.after(() => library.close());
        const writers = Array.from({ length: 6 }, (_, w) => {
          const local = recorder();
          return { local, cache: h.cache({ serverIdentity: `writer-${w}`, refreshers: [local] }) };
        });
        const subscribers = [0, 1].map((i) => {
          const r = recorder();
          return { r, cache: h.cache({ serverIdentity: `subscriber-${i}`, refreshers: [r], syncInterval: 10, knex: h.connection() }) };
        });
        for (const { cache } of subscribers) await cache.start();

        const committed = new Set<string>();
        const rolledBack = new Set<string>();
        const perWriter = 80;
        await Promise.all(
          writers.map(async ({ cache }, w) => {
            for (let i = 0; i < perWriter; i++) {
              const id = `${w}-${i}`;
              const rollback = Math.random() < 0.05;
              try {
                await library.transact(cache, appTable, id, rollback);
                committed.add(id);
              } catch (err) {
                if (!(err instanceof Rollback)) throw err;
                rolledBack.add(id);
              }
            }
          }),
        );
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
            `${committed.size} committed, ${rolledBack.size} rolled back; lost=${count.lost} unexpected=${count.unexpected} ` +
              `duplicated=${count.duplicated}`,
          );
          assert.deepEqual(count, { lost: 0, unexpected: 0, duplicated: 0 });
        }
        for (const [w, { local, cache }] of writers.entries()) {
          await cache.sync();
          await cache.stop();
          const mine = new Set([...committed].filter((id) => id.startsWith(`${w}-`)));
          assert.deepEqual(countDelivery(local.refreshedIds(), mine), { lost: 0, unexpected: 0, duplicated: 0 });
        }
      });
    });
  }
}
