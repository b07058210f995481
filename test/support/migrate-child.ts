import knexFactory from 'knex';
import { knexConfigFromUrl, migrate } from '../../src/index.js';

/** Runs migrate() once against a URL and prefix, for the "5 processes at once" test. */
const [url, prefix] = process.argv.slice(2) as [string, string];
const knex = knexFactory(knexConfigFromUrl(url));
try {
  const { applied } = await migrate(knex, { tablePrefix: prefix });
  process.stdout.write(`\n${JSON.stringify({ applied })}\n`);
} finally {
  await knex.destroy();
}
