import knexFactory from 'knex';
import { DistributedCache, sqliteConfig } from 'distcache';
import { now, type CoordinatorMessage, type ServerMessage } from './messages.js';

/**
 * One demo server: an in-memory product cache (a distcache region) kept in step through distcache. The writer process
 * changes prices in transactions; every process prints the invalidations as they arrive.
 */
const [filename, identity] = process.argv.slice(2) as [string, string];
// The coordinator stops every server once the changes it counted have arrived; the writer may
// still be between two writes then. After 'stop' nothing is sent: the channel is closing, and a
// send on a closed channel throws ERR_IPC_CHANNEL_CLOSED from inside the process.
let stopping = false;
const send = (message: ServerMessage) => {
  if (!stopping && process.connected) process.send?.(message);
};
const knex = knexFactory(sqliteConfig(filename));

type Product = { id: number; price: number };
let source: 'local' | 'remote' = 'remote';
const cache = new DistributedCache({ knex, serverIdentity: identity, syncInterval: '200ms', startFromHead: true });
// A region: loads each product on first read, keeps it until an invalidation for it arrives.
const products = cache.region<Product>('product', {
  load: (id) =>
    knex<Product>('demo_product')
      .where({ id: Number(id) })
      .first('id', 'price'),
});
cache.on('region:invalidated', ({ region, keys }) => {
  if (region !== 'product' || keys === 'all') return;
  const ids = keys.map(Number);
  const from = source;
  send({ type: 'applied', identity, ids, at: now(), source: from });
  if (from === 'local') return;
  // The next read loads the new price: show it, as a page render would.
  void Promise.all(ids.map((id) => products.get(id)))
    .then((rows) => rows.map((p) => `#${p?.id}=${p?.price.toFixed(2)}`).join(' '))
    .then((shown) => console.log(`  ${identity.padEnd(6)} <- refresh product ${shown}`))
    .catch((err) => console.error(`  ${identity.padEnd(6)} could not load: ${err}`));
});
cache.on('instruction:applied', (e) => (source = e.source));
await cache.start();
for (let id = 1; id <= 20; id++) await products.get(id);
send({ type: 'ready', identity });

// A failure ends this server with the error printed, rather than as an unhandled rejection.
process.on(
  'message',
  (message: CoordinatorMessage) =>
    void onMessage(message).catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    }),
);

async function onMessage(message: CoordinatorMessage): Promise<void> {
  if (message.type === 'write') {
    let written = 0;
    for (let i = 0; i < message.changes && !stopping; i++) {
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
    stopping = true;
    await cache.stop();
    await knex.destroy();
    process.disconnect?.();
  }
}
