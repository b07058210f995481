import { fileURLToPath } from 'node:url';
import { migrate } from 'distcache';
import { eventually, guard, say, startServer, type ServerProcess } from '../shared/processes.js';
import { DATABASE_URL, dropExampleTables, examplePrefix, pgKnex } from '../shared/postgres.js';

/**
 * Two Fastify servers on PostgreSQL, each with its own cache-manager product cache and a /metrics
 * endpoint. A price changed on one is seen on the other; the metrics show it.
 */
const prefix = examplePrefix('example_fastify_');
const productTable = `${prefix}product`;
const knex = pgKnex();
const run = guard(60_000);
let ok = false;

/** `name{labels} value` lines of the distcache metrics worth showing. */
const interesting =
  /^distcache_(instructions_written_total|instructions_applied_total|rows_written_total|sync_lag_instructions|sync_lag_seconds|role)\b/;

try {
  say('main', `database ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//***@')}, table prefix ${prefix}`);
  await dropExampleTables(knex, prefix, [productTable]);
  await migrate(knex, { tablePrefix: prefix });
  await knex.schema.createTable(productTable, (table) => {
    table.integer('id').primary();
    table.string('name').notNullable();
    table.decimal('price', 10, 2).notNullable();
  });
  await knex(productTable).insert([
    { id: 42, name: 'Espresso machine', price: 199 },
    { id: 43, name: 'Grinder', price: 89 },
  ]);

  const serverFile = fileURLToPath(new URL('./server.js', import.meta.url));
  const servers = await Promise.all(
    ['app-1', 'app-2'].map((name) => startServer(serverFile, name, { SERVER_IDENTITY: name, TABLE_PREFIX: prefix })),
  );
  const [app1, app2] = servers as [ServerProcess, ServerProcess];
  const price = async (s: ServerProcess) => Number(((await (await fetch(`${s.url}/products/42`)).json()) as { price: string }).price);

  for (const s of servers) say('main', `${s.name} listening on ${s.url}; product 42 costs ${await price(s)} there`);
  await fetch(`${app1.url}/products/42`, {
    method: 'PUT',
    body: JSON.stringify({ price: 179 }),
    headers: { 'content-type': 'application/json' },
  });
  say('main', 'PUT /products/42 price 179 on app-1 (the row commits with the update)');
  const seen = await eventually(async () => ((await price(app2)) === 179 ? true : undefined), 10_000, 'app-2 to see the new price');
  say('main', `app-2 sees price 179 after ${seen.ms} ms`);

  const metrics: Record<string, string> = {};
  for (const s of servers) {
    metrics[s.name] = await (await fetch(`${s.url}/metrics`)).text();
    say('main', `GET /metrics on ${s.name}:`);
    for (const line of metrics[s.name]!.split('\n').filter((l) => interesting.test(l))) say('main', `  ${line}`);
  }
  const has = (text: string | undefined, pattern: RegExp) => pattern.test(text ?? '');
  if (!has(metrics['app-1'], /^distcache_instructions_written_total\{refresher="product"\} 1$/m))
    throw new Error('app-1 should report 1 written product instruction');
  if (!has(metrics['app-2'], /^distcache_instructions_applied_total\{[^}]*source="remote"[^}]*\} 1$/m))
    throw new Error('app-2 should report 1 applied remote instruction');
  ok = true;
  say('main', 'OK: the change reached every server, and the metrics show it');
} catch (err) {
  console.error('example failed:', err);
} finally {
  await run.finish(ok);
  if (process.env.KEEP_TABLES !== '1') await dropExampleTables(knex, prefix, [productTable]).catch(() => undefined);
  await knex.destroy();
}
