/**
 * Writes from other clients (issue 17): throughput of one transactional write (BEGIN, the
 * instruction, COMMIT) through knex's `{ trx }`, through the node-postgres executor (inside
 * `cache.transaction()`, so the local apply waits for the commit as knex's does) and through the
 * SQL function `distcache_refresh()`, on PostgreSQL. Ratios are against knex.
 *
 *   npm run build && node dist/bench/clients.js [--tx=3000] [--workers=1,4]
 *
 * NOTIFY is off for the caches: the SQL function sends none inside the transaction, and a wake-up
 * would cost knex and the executor the same.
 */
import pg from 'pg';
import { DistributedCache } from '../src/index.js';
import { silentLogger } from '../src/logger.js';
import { pgExecutor } from '../src/executors/index.js';
import { dropTarget, freshTarget, knexFor, PG_URL } from './lib/db.js';

const arg = (name: string, fallback: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3) ?? fallback;
const transactions = Number(arg('tx', '3000'));
const workerCounts = arg('workers', '1,4').split(',').map(Number);

const target = await freshTarget('postgres');
const knex = knexFor(target, 8);
const pool = new pg.Pool({ connectionString: PG_URL, max: 8 });
const noop = async () => undefined;
const refresher = { id: 'product', name: 'product', refresh: noop, refreshAll: noop, remove: noop };
const cache = new DistributedCache({
  knex,
  tablePrefix: target.prefix,
  serverIdentity: 'bench',
  refreshers: [refresher],
  notify: false,
  pruneSchedule: false,
  logger: silentLogger,
  syncInterval: 600_000,
});
await cache.start();

type Write = (i: number) => Promise<unknown>;
const paths: Array<[string, Write]> = [
  ['knex { trx }', (i) => knex.transaction((trx) => cache.refresh('product', [i], { trx }))],
  [
    'pg executor',
    (i) =>
      cache.transaction(async () => {
        const client = await pool.connect();
        try {
          await client.query('begin');
          await cache.refresh('product', [i], { trx: pgExecutor(client) });
          await client.query('commit');
        } finally {
          client.release();
        }
      }),
  ],
  [
    'SQL function',
    async (i) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await client.query(`select "${target.prefix}distcache_refresh"('product', $1::jsonb)`, [JSON.stringify([i])]);
        await client.query('commit');
      } finally {
        client.release();
      }
    },
  ],
];

async function measure(write: Write, workers: number): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (next < transactions) await write(next++);
    }),
  );
  return transactions / ((performance.now() - started) / 1000);
}

try {
  for (const workers of workerCounts) {
    // Warm-up: pools, prepared plans, JIT.
    for (const [, write] of paths) await measure(write, workers);
    const rates = new Map<string, number>();
    // Interleaved rounds, the median of three, so the machine's drift hits every path alike.
    const samples = new Map<string, number[]>(paths.map(([name]) => [name, []]));
    for (let round = 0; round < 3; round++) for (const [name, write] of paths) samples.get(name)!.push(await measure(write, workers));
    for (const [name, list] of samples) rates.set(name, list.sort((a, b) => a - b)[1]!);
    const base = rates.get('knex { trx }')!;
    console.log(`PostgreSQL, ${transactions} transactions, ${workers} worker(s):`);
    for (const [name, rate] of rates) {
      console.log(`  ${name.padEnd(14)} ${rate.toFixed(0).padStart(6)} tx/s   ratio to knex ${(rate / base).toFixed(2)}`);
    }
  }
} finally {
  await cache.stop();
  await pool.end();
  await knex.destroy();
  await dropTarget(target);
}
