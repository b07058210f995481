import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DistributedCache } from 'distcache';
import { mapRefresher } from 'distcache/refreshers';
import { onStopRequest } from '../shared/processes.js';
import { examplePrefix, pgKnex } from '../shared/postgres.js';

interface Product {
  id: number;
  name: string;
  price: string;
}

/**
 * One web server with a plain Map product cache. It never writes an instruction itself: the
 * database trigger does, whoever changes a product.
 */
const prefix = examplePrefix('example_trigger_');
const knex = pgKnex();
const products = new Map<number, Product>();
const cache = new DistributedCache({
  knex,
  tablePrefix: prefix,
  serverIdentity: process.env.SERVER_IDENTITY,
  refreshers: [mapRefresher({ id: 'product', map: products })],
  syncInterval: 100, // short for the demo; the default is one second
});
cache.on('instruction:applied', (e) =>
  console.log(
    `applied ${e.kind === 'refresh-all' ? 'a refresh-all' : `${e.kind} of ${e.count} product(s)`} ` +
      `from ${e.source === 'remote' ? 'the log' : 'this server'}`,
  ),
);
await cache.start();

// The handler is async; a failed query answers 500 instead of rejecting into nowhere.
const server = createServer((req, res) => void serve(req, res).catch(() => res.writeHead(500).end()));

async function serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const id = Number(/^\/products\/(\d+)$/.exec(req.url ?? '')?.[1]);
  if (!Number.isInteger(id)) return void res.writeHead(404).end();
  let product = products.get(id);
  const hit = product !== undefined;
  if (!product) {
    product = await knex<Product>(`${prefix}product`).where({ id }).first('id', 'name', 'price');
    if (!product) return void res.writeHead(404).end();
    products.set(id, product);
  }
  res.writeHead(200, { 'content-type': 'application/json', 'x-cache': hit ? 'hit' : 'miss' }).end(JSON.stringify(product));
}

server.listen(0, '127.0.0.1', () => process.send?.({ type: 'listening', port: (server.address() as AddressInfo).port }));

onStopRequest(async () => {
  await cache.stop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await knex.destroy();
});
