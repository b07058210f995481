import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrate } from 'distcache';
import { eventually, guard, say, startServer, type ServerProcess } from '../shared/processes.js';
import { createProducts, sqliteKnex, type Product } from './db.js';

/**
 * Three Express servers, each with its own in-process LRU cache, on one SQLite file. A price
 * changed through any of them is seen by all three, with no message broker.
 */
const file = join(tmpdir(), `distcache-express-lru-${process.pid}.sqlite`);
const knex = sqliteKnex(file);
const run = guard(60_000);
let ok = false;

try {
  await migrate(knex);
  await createProducts(knex);
  say('main', `database ${file}`);
  const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));
  const servers = await Promise.all(
    ['web-1', 'web-2', 'web-3'].map((name) => startServer(serverFile, name, { SQLITE_FILE: file, SERVER_IDENTITY: name })),
  );
  const [web1, web2, web3] = servers as [ServerProcess, ServerProcess, ServerProcess];
  for (const s of servers) say('main', `${s.name} listening on ${s.url}`);

  const get = async (server: ServerProcess, id: number) => {
    const response = await fetch(`${server.url}/products/${id}`);
    return { product: (await response.json()) as Product, cache: response.headers.get('x-cache') };
  };
  const rows = async () => Number((await knex('cache_instruction').count({ n: '*' }))[0]!.n);

  // 1. Every server caches product 1.
  for (const s of servers) {
    const first = await get(s, 1);
    const second = await get(s, 1);
    say('main', `GET /products/1 twice on ${s.name}: price ${second.product.price} (cache ${first.cache}, then ${second.cache})`);
  }

  // 2. web-1 changes the price: one row, applied on web-1 before its response.
  await fetch(`${web1.url}/products/1`, {
    method: 'PUT',
    body: JSON.stringify({ price: 29 }),
    headers: { 'content-type': 'application/json' },
  });
  say('main', `PUT /products/1 price 29 on web-1: ${await rows()} row in cache_instruction`);
  const own = await get(web1, 1);
  say('main', `web-1 sees price ${own.product.price} at once (cache ${own.cache})`);

  // 3. The other servers see it within their sync interval.
  for (const s of [web2, web3]) {
    const seen = await eventually(
      async () => ((await get(s, 1)).product.price === 29 ? true : undefined),
      10_000,
      `${s.name} to see the new price`,
    );
    say('main', `${s.name} sees price 29 after ${seen.ms} ms`);
  }

  // 4. A price list of three products through web-2: still one row for the request.
  const before = await rows();
  await fetch(`${web2.url}/prices`, {
    method: 'POST',
    body: JSON.stringify([
      { id: 1, price: 27 },
      { id: 2, price: 19 },
      { id: 3, price: 7 },
    ]),
    headers: { 'content-type': 'application/json' },
  });
  say('main', `POST /prices (3 products) on web-2: ${(await rows()) - before} row written`);
  for (const s of [web1, web3]) {
    await eventually(
      async () => ((await get(s, 3)).product.price === 7 && (await get(s, 1)).product.price === 27 ? true : undefined),
      10_000,
      `${s.name} to see the price list`,
    );
    say('main', `${s.name} sees the new price list`);
  }
  ok = true;
  say('main', 'OK: 3 servers, 3 LRU caches, one SQLite file, consistent');
} catch (err) {
  console.error('example failed:', err);
} finally {
  await run.finish(ok);
  await knex.destroy();
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });
}
