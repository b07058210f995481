import knexFactory from 'knex';
import { DistributedCache, sqliteConfig, type CacheRefresher } from '../../src/index.js';
import { now, type CoordinatorMessage, type ServerMessage } from './messages.js';


/**
 * One demo server: an in-memory product cache kept in step through distcache. The writer process
 * changes prices in transactions; every process prints the invalidations as they arrive.
 */
const [filename, identity] = process.argv.slice(2) as [string, string];
const send = (message: ServerMessage) => process.send?.(message);
const knex = knexFactory(sqliteConfig(filename));

const products = new Map<number, { id: number; price: number }>();
async function load(ids?: number[]) {
  const query = knex('demo_product').select('id', 'price');
  const rows: Array<{ id: number; price: number }> = ids ? await query.whereIn('id', ids) : await query;
  for (const row of rows) products.set(row.id, row);
}

let source: 'local' | 'remote' = 'remote';
const productRefresher: CacheRefresher = {
  id: 'product',
  name: 'Products',
  async refreshAll() {
    products.clear();
    await load();
  },
  async refresh(ids) {
    await load(ids as number[]);
    const shown = (ids as number[]).map((id) => `#${id}=${products.get(id)?.price.toFixed(2)}`).join(' ');
    if (source === 'remote') console.log(`  ${identity.padEnd(6)} <- refresh product ${shown}`);
    send({ type: 'applied', identity, ids: ids as number[], at: now(), source });
  },
};

const cache = new DistributedCache({ knex, serverIdentity: identity, refreshers: [productRefresher], syncInterval: '200ms', startFromHead: true });
cache.on('instruction:applied', (e) => (source = e.source));
await load();
await cache.start();
send({ type: 'ready', identity });

// A failure ends this server with the error printed, rather than as an unhandled rejection.
process.on('message', (message: CoordinatorMessage) =>
  void onMessage(message).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  }),
);

async function onMessage(message: CoordinatorMessage): Promise<void> {
  if (message.type === 'write') {
    let written = 0;
    for (let i = 0; i < message.changes; i++) {
      const id = 1 + Math.floor(Math.random() * 20);
      const price = Math.round(Math.random() * 10_000) / 100;
      source = 'local';
      let at = 0;
      // The product row and its cache instruction commit together, or not at all.
      await knex.transaction(async (trx) => {
        await trx('demo_product').where({ id }).update({ price });
        await cache.refresh('product', [id], { trx });
        at = now(); // just before the commit: the delay below includes it
      });
      send({ type: 'committed', identity, id, at });
      console.log(`  ${identity.padEnd(6)} -> product #${id} now costs ${price.toFixed(2)}`);
      written++;
      await new Promise((resolve) => setTimeout(resolve, 60 + Math.random() * 60));
    }
    send({ type: 'done', identity, written });
  } else if (message.type === 'stop') {
    await cache.stop();
    await knex.destroy();
    process.disconnect?.();
  }
}
