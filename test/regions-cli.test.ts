import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DistributedCache } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { availability, selectedDialects } from './support/databases.js';
import { cli, cliDatabase, cliJson } from './support/cli-run.js';
import * as shape from './support/cli-shapes.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

for (const dialect of selectedDialects()) {
  test(
    `CLI on ${dialect}: status lists each server's regions and figures from its heartbeat`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      const cache = new DistributedCache({
        knex: db.knex,
        tablePrefix: db.prefix,
        serverIdentity: 'web-1',
        heartbeatInterval: 100,
        notify: false,
        pruneSchedule: false,
        logger: silentLogger,
      });
      t.after(async () => {
        await cache.stop();
        await db.close();
      });
      const products = cache.region<number>('product', { load: (k) => Number(k) });
      cache.region<string>('page', { load: () => 'html' });
      await cache.start();
      await products.get(1);
      await products.get(1);
      await products.get(2);
      // The next heartbeat publishes the figures.
      await waitFor(
        async () => {
          const status = shape.shaped(shape.status, await cliJson(['status', ...db.flags]), 'status');
          const product = status.servers.find((s) => s.identity === 'web-1')?.regions?.find((r) => r.region === 'product');
          return product?.size === 2 && product.hits === 1 && product.loads === 2;
        },
        { timeout: 15_000, interval: 200 },
      );
      const status = shape.shaped(shape.status, await cliJson(['status', ...db.flags]), 'status');
      assert.deepEqual(
        status.servers[0]!.regions!.map((r) => r.region),
        ['product', 'page'],
      );
      const human = await cli(['status', ...db.flags]);
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /SERVER\s+REGION\s+SIZE\s+HITS\s+MISSES\s+LOADS\s+LOAD ERRORS\s+DISCARDED\s+FROM GRACE\s+EVICTIONS/);
      assert.match(human.stdout, /web-1\s+product\s+2\s+1\s+2\s+2\s+0\s+0\s+0\s+0/);
      // A CLI send reaches the region like any refresher.
      shape.shaped(shape.send, await cliJson(['send', 'refresh', 'product', '1', ...db.flags]), 'send');
      await cache.sync();
      assert.equal(products.peek(1), undefined);
      assert.equal(products.peek(2), 2);
    },
  );
}
