import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { sqliteConfig, sqliteFile } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** The TypeScript sources (the compiled test runs from dist/test; the sources sit beside dist). */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

test('the CLI is a shell over the library: nothing outside src/cli/ imports from it', () => {
  const cli = resolve(SRC, 'cli');
  const offenders: string[] = [];
  for (const file of sourceFiles(SRC)) {
    if (file.startsWith(cli + '/')) continue;
    for (const [, from] of readFileSync(file, 'utf8').matchAll(/\bfrom\s+'([^']+)'/g)) {
      if (from!.startsWith('.') && resolve(file, '..', from!).startsWith(cli + '/'))
        offenders.push(`${relative(SRC, file)} imports '${from}'`);
    }
  }
  assert.deepEqual(offenders, []);
});

test("Admin.send labels rows 'admin:<user>@<host>' unless its caller says who it is", async (t) => {
  const knex = knexFactory(sqliteConfig(sqliteFile()));
  t.after(() => knex.destroy());
  await migrate(knex);
  const admin = new Admin({ knex });
  const byDefault = await admin.send({ kind: 'refresh', refresher: 'product', ids: [1], force: true });
  assert.match(byDefault.originated, new RegExp(`^admin:[^@]+@${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
  const labelled = await admin.send({ kind: 'refresh', refresher: 'product', ids: [2], force: true, originated: 'deploy-script' });
  assert.equal(labelled.originated, 'deploy-script');
  const rows = await knex('cache_instruction').select('originated').orderBy('id');
  assert.deepEqual(
    rows.map((r: { originated: string }) => r.originated),
    [byDefault.originated, 'deploy-script'],
  );
});
