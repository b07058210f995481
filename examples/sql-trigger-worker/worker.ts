import pg from 'pg';
import { DATABASE_URL, examplePrefix } from '../shared/postgres.js';

/**
 * A worker that knows nothing of distcache: plain SQL through the pg driver, as a nightly import,
 * a psql session or a program in another language would do. The trigger invalidates the caches.
 */
const product = `"${examplePrefix('example_trigger_')}product"`;
const client = new pg.Client({ connectionString: DATABASE_URL });
await client.connect();
try {
  const one = await client.query(`update ${product} set price = 21.50 where id = 42`);
  console.log(`update price of product 42: ${one.rowCount} row`);
  const tea = await client.query(`update ${product} set price = round(price * 1.10, 2) where category = 'tea'`);
  console.log(`raise every tea price by 10%: ${tea.rowCount} rows, one statement`);
  const gone = await client.query(`delete from ${product} where id = 44`);
  console.log(`delete product 44: ${gone.rowCount} row`);
} finally {
  await client.end();
}
