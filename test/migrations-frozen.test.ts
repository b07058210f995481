import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { test } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../src/index.js';
import { MIGRATIONS } from '../src/migrations/list.js';
import { migrationConfig, resolveTables } from '../src/migrations/migrate.js';
import { availability, DATABASES, freshPrefix, selectedDialects } from './support/databases.js';
import { dropAll, dumpSchema } from './support/schema-dump.js';

/**
 * A fresh install (every migration in one run) must end with exactly the schema of an install
 * upgraded one migration at a time, as a real deployment is over the years. Each migration writes
 * its own SQL (no call into src/dialects/), so the two can only drift if a migration depends on
 * the run it is part of. Generic over MIGRATIONS: a new migration is covered without touching
 * this file. The schema is read from the catalog: tables, columns, indexes, constraints, triggers.
 */
for (const dialect of selectedDialects()) {
  test(
    `${dialect}: a fresh install has the same schema as one upgraded migration by migration`,
    { skip: await availability(dialect) },
    async (t) => {
      const knex = knexFactory(DATABASES[dialect].config());
      const fresh = freshPrefix();
      const stepped = freshPrefix();
      let passed = false;
      t.after(async () => {
        // Kept when the test failed, so the two schemas can be compared by hand.
        if (passed) for (const prefix of [fresh, stepped]) await dropAll(knex, dialect, prefix);
        await knex.destroy();
      });

      assert.deepEqual(
        (await migrate(knex, { tablePrefix: fresh })).applied,
        MIGRATIONS.map((m) => m.name),
      );

      const config = migrationConfig(knex, resolveTables(stepped));
      for (const [i, migration] of MIGRATIONS.entries()) {
        const [, ran] = (await knex.migrate.up(config)) as [number, string[]];
        assert.deepEqual(ran, [migration.name], `step ${i + 1} applies ${migration.name} alone`);
      }
      const [, pending] = (await knex.migrate.list(config)) as [unknown[], unknown[]];
      assert.equal(pending.length, 0);

      const freshSchema = await dumpSchema(knex, dialect, fresh);
      assert.ok(freshSchema.length > 20, `the dump reads the catalog (${freshSchema.length} entries)`);
      assert.ok(freshSchema.some((line) => line.startsWith('table <p>cache_instruction')));
      assert.deepEqual(await dumpSchema(knex, dialect, stepped), freshSchema);
      passed = true;
    },
  );
}

/**
 * The static half: a migration may import knex's types, the context type, table-name types and
 * the error classes, nothing that creates schema; and of the dialect it may read only the name.
 * Read from the sources, so every later migration file is checked too.
 */
test('migrations import nothing that could change what they create', () => {
  const dir = new URL('../../migrations/', import.meta.url);
  const files = readdirSync(dir).filter((f) => /^\d{3}_.*\.ts$/.test(f));
  assert.ok(files.length >= MIGRATIONS.length, `found the sources (${files.join(', ')})`);
  const allowed = new Set(['knex', '../src/errors.js', '../src/migrations/context.js', '../src/store/tables.js']);
  for (const file of files) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    for (const [, typeOnly, from = ''] of text.matchAll(/^import (type )?[^;]*? from '([^']+)';/gm)) {
      // A type-only import of the library's own types cannot change what runs.
      assert.ok(allowed.has(from) || (typeOnly !== undefined && from.startsWith('../src/')), `${file} imports '${from}'`);
    }
    const uses = [...text.matchAll(/(?<![\w/.])dialect\.(\w+)/g)].map((m) => m[1]); // not a path like mysql/dialect.ts
    assert.deepEqual(
      uses.filter((u) => u !== 'name'),
      [],
      `${file} calls the live dialect (${uses.join(', ')}); write the SQL out instead`,
    );
  }
});
