import { fileURLToPath } from 'node:url';
import { migrate, tableNames } from 'distcache';
import { eventually, guard, runToEnd, say, startServer, type ServerProcess } from '../shared/processes.js';
import { DATABASE_URL, dropExampleTables, examplePrefix, pgKnex } from '../shared/postgres.js';
import { createProductSchema, dropProductSchema } from './schema.js';

/**
 * Two web servers cache products; a separate worker changes products by plain SQL. A trigger on
 * the product table writes the cache instructions, so every server's cache follows.
 */
const prefix = examplePrefix('example_trigger_');
const names = { product: `${prefix}product`, instruction: tableNames(prefix).instruction };
const knex = pgKnex();
const run = guard(60_000);
let ok = false;

try {
  say('main', `database ${DATABASE_URL.replace(/\/\/[^@/]*@/, '//***@')}, table prefix ${prefix}`);
  await dropProductSchema(knex, names);
  await dropExampleTables(knex, prefix, []);
  await migrate(knex, { tablePrefix: prefix });
  await createProductSchema(knex, names);
  await knex(names.product).insert([
    { id: 42, name: 'Sencha', category: 'tea', price: 19.5 },
    { id: 43, name: 'Assam', category: 'tea', price: 12 },
    { id: 44, name: 'Kettle', category: 'kitchen', price: 35 },
  ]);
  say('main', `the seed insert wrote ${await count()} instruction row through the trigger`);

  const webFile = fileURLToPath(new URL('./web.js', import.meta.url));
  const servers = await Promise.all(
    ['web-1', 'web-2'].map((name) => startServer(webFile, name, { SERVER_IDENTITY: name, TABLE_PREFIX: prefix })),
  );
  const get = async (s: ServerProcess, id: number) => {
    const response = await fetch(`${s.url}/products/${id}`);
    return response.status === 404 ? null : ((await response.json()) as { price: string });
  };
  for (const s of servers) {
    for (const id of [42, 43, 44]) await get(s, id);
    say('main', `${s.name} cached products 42, 43, 44 (42 costs ${(await get(s, 42))?.price})`);
  }

  const before = await count();
  await runToEnd(fileURLToPath(new URL('./worker.js', import.meta.url)), 'worker', { TABLE_PREFIX: prefix });
  const rows = await knex(names.instruction).where('id', '>', before.maxId).orderBy('id').select('json_instruction', 'originated');
  say('main', `the worker's 3 statements wrote ${rows.length} instruction rows:`);
  for (const row of rows) say('main', `  ${row.originated}: ${row.json_instruction}`);

  for (const s of servers) {
    const seen = await eventually(
      async () => {
        const [p42, p43, p44] = await Promise.all([get(s, 42), get(s, 43), get(s, 44)]);
        return p42?.price === '23.65' && p43?.price === '13.20' && p44 === null ? true : undefined;
      },
      10_000,
      `${s.name} to see the worker's changes`,
    );
    say('main', `${s.name} sees 42 at 23.65, 43 at 13.20 and 44 gone, after ${seen.ms} ms`);
  }
  ok = true;
  say('main', 'OK: plain SQL changed the data; the trigger kept every cache in step');
} catch (err) {
  console.error('example failed:', err);
} finally {
  await run.finish(ok);
  if (process.env.KEEP_TABLES !== '1') {
    await dropProductSchema(knex, names).catch(() => undefined);
    await dropExampleTables(knex, prefix, []).catch(() => undefined);
  }
  await knex.destroy();
}

async function count(): Promise<{ rows: number; maxId: number; toString(): string }> {
  const [row] = await knex(names.instruction).select(knex.raw('count(*)::int as rows'), knex.raw('coalesce(max(id), 0)::int as max_id'));
  const result = { rows: Number(row.rows), maxId: Number(row.max_id) };
  return { ...result, toString: () => String(result.rows) };
}
