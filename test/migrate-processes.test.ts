import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import knexFactory from 'knex';
import { knexConfigFromUrl, migrate } from '../src/index.js';
import { MIGRATIONS } from '../src/migrations/list.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, selectedDialects } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const run = promisify(execFile);
const child = fileURLToPath(new URL('./support/migrate-child.js', import.meta.url));

/**
 * On SQLite nothing on a server serializes whole runs, and a new file is where knex's own lock
 * row used to be created twice (see src/dialects/sqlite/migration-lock.ts): race it several times.
 */
const ROUNDS: Record<string, number> = { sqlite: 6 };

for (const dialect of selectedDialects()) {
  const rounds = ROUNDS[dialect] ?? 1;
  test(
    `migrate() from 5 processes at once on ${dialect} (${rounds === 1 ? 'once' : `${rounds} times`}): all succeed, each ` +
      `migration applied once, one lock row`,
    { skip: await availability(dialect) },
    async () => {
      for (let round = 0; round < rounds; round++) await raceOnce(DATABASES[dialect].url(), round);
    },
  );
}

async function raceOnce(url: string, round: number): Promise<void> {
  const prefix = freshPrefix();
  const results = await Promise.all(Array.from({ length: 5 }, () => run(process.execPath, [child, url, prefix], { timeout: 90_000 })));
  // knex prints its own "already locked" notes; our child writes its JSON as the last line.
  const applied = results.flatMap((r) => (JSON.parse(r.stdout.trim().split('\n').pop()!) as { applied: string[] }).applied);
  // Exactly one process applied each migration; the other four found nothing to do.
  assert.deepEqual([...applied].sort(), MIGRATIONS.map((m) => m.name).sort(), `round ${round}`);
  const knex = knexFactory(knexConfigFromUrl(url));
  try {
    const rows = await knex(`${prefix}distcache_migrations`).select('name');
    assert.equal(rows.length, new Set(rows.map((r: { name: string }) => r.name)).size, 'no migration is recorded twice');
    assert.ok(await knex.schema.hasTable(`${prefix}cache_instruction`));
    // Two rows would make every later run read "already locked" until its deadline.
    assert.deepEqual(
      await knex(`${prefix}distcache_migrations_lock`).select('is_locked'),
      [{ is_locked: 0 }],
      `round ${round}: one unlocked lock row`,
    );
  } finally {
    await dropPrefixed(knex, prefix);
    await knex.destroy();
  }
}

/**
 * A process that finds the migration lock taken must not touch the schema while it waits: knex's
 * migrate.list() creates the migrations table, its lock table and the lock row, and doing that
 * outside the lock raced the holder into two lock rows (knex then says "already locked" forever).
 */
test('migrate() waiting for the PostgreSQL migration lock creates nothing', { skip: await availability('postgres') }, async () => {
  const prefix = freshPrefix();
  const holder = knexFactory(DATABASES.postgres.config());
  const waiter = knexFactory(DATABASES.postgres.config());
  const trx = await holder.transaction();
  try {
    await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [`distcache:${prefix}distcache_migrations`]);
    await assert.rejects(migrate(waiter, { tablePrefix: prefix, lockTimeout: 300 }), { code: 'E_MIGRATION_FAILED' });
    assert.equal(await waiter.schema.hasTable(`${prefix}distcache_migrations_lock`), false, 'the lock table was created outside the lock');
    assert.equal(await waiter.schema.hasTable(`${prefix}distcache_migrations`), false, 'the migrations table was created outside the lock');
  } finally {
    await trx.rollback();
    await dropPrefixed(waiter, prefix);
    await Promise.all([holder.destroy(), waiter.destroy()]);
  }
});
