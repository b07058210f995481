import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { knexConfigFromUrl } from '../src/index.js';
import { MIGRATIONS } from '../src/migrations/list.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, selectedDialects } from './support/databases.js';

const run = promisify(execFile);
const child = fileURLToPath(new URL('./support/migrate-child.js', import.meta.url));

for (const dialect of selectedDialects()) {
  test(`migrate() from 5 processes at once on ${dialect}: all succeed, each migration applied once`, { skip: await availability(dialect) }, async () => {
    const url = DATABASES[dialect].url();
    const prefix = freshPrefix();
    const results = await Promise.all(Array.from({ length: 5 }, () => run(process.execPath, [child, url, prefix], { timeout: 90_000 })));
    // knex prints its own "already locked" notes; our child writes its JSON as the last line.
    const applied = results.flatMap((r) => (JSON.parse(r.stdout.trim().split('\n').pop()!) as { applied: string[] }).applied);
    // Exactly one process applied each migration; the other four found nothing to do.
    assert.deepEqual([...applied].sort(), MIGRATIONS.map((m) => m.name).sort());
    const knex = knexFactory(knexConfigFromUrl(url));
    try {
      const rows = await knex(`${prefix}distcache_migrations`).select('name');
      assert.equal(rows.length, new Set(rows.map((r: { name: string }) => r.name)).size, 'no migration is recorded twice');
      assert.ok(await knex.schema.hasTable(`${prefix}cache_instruction`));
    } finally {
      await dropPrefixed(knex, prefix);
      await knex.destroy();
    }
  });
}
