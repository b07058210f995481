import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import knexFactory from 'knex';
import { migrate } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { sqliteConfig, sqliteFile } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import { holds, importViolations, mapProblems, readLayerMap } from './support/layer-map.js';

checkLeaksAfterEach();

/** The TypeScript sources and the docs (the compiled test runs from dist/test; the sources sit beside dist). */
const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const DESIGN = fileURLToPath(new URL('../../docs/design.md', import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

const map = readLayerMap(readFileSync(DESIGN, 'utf8'));
const sources = sourceFiles(SRC).map((file) => ({ path: relative(SRC, file), text: readFileSync(file, 'utf8') }));

test('the layer map in docs/design.md is well formed: every layer it names exists, and its value imports have no cycle', () => {
  assert.ok(map.layers.length > 10, 'the map between the layer-map markers in docs/design.md was read');
  assert.deepEqual(mapProblems(map), []);
});

test('every file in src/ belongs to exactly one layer of the map (so every folder appears in docs/design.md)', () => {
  const problems = sources.flatMap(({ path }) => {
    const owners = map.layers.filter((l) => l.holds.some((h) => holds(h, path)));
    return owners.length === 1 ? [] : [`${path}: ${owners.length === 0 ? 'in no layer' : `in ${owners.map((l) => l.name).join(', ')}`}`];
  });
  assert.deepEqual(problems, []);
});

test('every import in src/, type imports included, follows the layer map', () => {
  assert.deepEqual(
    sources.flatMap((s) => importViolations(map, s.path, s.text)),
    [],
  );
});

test('the layer check fails on a violation planted by hand', () => {
  // The store is the seam: reaching up into the sync loop, even for a type, is what the map forbids.
  assert.deepEqual(importViolations(map, 'store/planted.ts', "import type { Poller } from '../sync/poller.js';\n"), [
    "store/planted.ts imports '../sync/poller.js' (store may not import sync)",
  ]);
  assert.deepEqual(importViolations(map, 'events.ts', "import { errors } from './cluster/roles.js';\n"), [
    "events.ts imports './cluster/roles.js' (events may import cluster for types only)",
  ]);
  assert.deepEqual(importViolations(map, 'dialects/mysql/planted.ts', "export { x } from '../sqlite/store.js';\n"), [
    "dialects/mysql/planted.ts imports '../sqlite/store.js' (one dialect's folder never imports another's)",
  ]);
  assert.deepEqual(importViolations(map, 'cluster/planted.ts', "import {\n  type RegionStats,\n} from '../regions/stats.js';\n"), []);
  assert.deepEqual(importViolations(map, 'cluster/planted.ts', "const m = await import('../regions/stats.js');\n"), [
    "cluster/planted.ts imports '../regions/stats.js' (cluster may import regions for types only)",
  ]);
});

/** The team's limit on a file in src/ (docs/design.md, "one concept per file"): past it, a file is split by concept. */
const MAX_LINES = 300;

function lineCount(text: string): number {
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

/** The files over MAX_LINES, as 'path: N lines', longest first. */
function oversizeFiles(files: ReadonlyArray<{ path: string; text: string }>): string[] {
  return files
    .map(({ path, text }) => ({ path, n: lineCount(text) }))
    .filter(({ n }) => n > MAX_LINES)
    .sort((a, b) => b.n - a.n)
    .map(({ path, n }) => `src/${path}: ${n} lines (the limit is ${MAX_LINES})`);
}

/**
 * The folders of src/ docs/design.md does not name. A folder is named by its path from src/ with
 * a trailing slash (`dialects/postgres/sql/`), or, inside a named folder, by its own name with a
 * trailing slash, as the layer tree indents it (`postgres/` under `dialects/`).
 */
function unnamedFolders(folders: readonly string[], design: string): string[] {
  const named = (folder: string): boolean => {
    if (design.includes(`${folder}/`)) return true;
    const cut = folder.lastIndexOf('/');
    return cut > 0 && design.includes(`${folder.slice(cut + 1)}/`) && named(folder.slice(0, cut));
  };
  return folders.filter((f) => !named(f)).map((f) => `src/${f}/ is not named in docs/design.md`);
}

function sourceFolders(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => [`${prefix}${e.name}`, ...sourceFolders(join(dir, e.name), `${prefix}${e.name}/`)]);
}

test(`no file in src/ is over ${MAX_LINES} lines`, () => {
  assert.deepEqual(oversizeFiles(sources), []);
});

test('every folder of src/ is named in docs/design.md', () => {
  const folders = sourceFolders(SRC);
  assert.ok(folders.includes('dialects/postgres/sql'), 'the folders of src/ were listed');
  assert.deepEqual(unnamedFolders(folders, readFileSync(DESIGN, 'utf8')), []);
});

test('the size and folder checks fail on violations planted by hand', () => {
  const long = `${'const x = 1;\n'.repeat(MAX_LINES)}export {};\n`;
  assert.deepEqual(
    oversizeFiles([
      { path: 'planted.ts', text: long },
      { path: 'short.ts', text: 'export {};\n' },
    ]),
    [`src/planted.ts: ${MAX_LINES + 1} lines (the limit is ${MAX_LINES})`],
  );
  assert.deepEqual(oversizeFiles([{ path: 'exact.ts', text: 'x\n'.repeat(MAX_LINES) }]), []);
  const design = 'dialects/ and under it postgres/ with sql/';
  assert.deepEqual(unnamedFolders(['dialects', 'dialects/postgres', 'dialects/postgres/sql', 'dialects/mysql', 'planted/sql'], design), [
    'src/dialects/mysql/ is not named in docs/design.md',
    'src/planted/sql/ is not named in docs/design.md',
  ]);
});

test('every executor a JSDoc example or a doc calls exists in distcache/executors (no prismaExecutor)', () => {
  const exported = new Set(
    [...readFileSync(join(SRC, 'executors/index.ts'), 'utf8').matchAll(/\b([a-z][A-Za-z0-9]*Executor)\b/g)].map((m) => m[1]),
  );
  const docs = fileURLToPath(new URL('../../docs/', import.meta.url));
  const texts = [
    ...sources.map((s) => ({ path: `src/${s.path}`, text: s.text })),
    ...readdirSync(docs)
      .filter((f) => f.endsWith('.md'))
      .map((f) => ({ path: `docs/${f}`, text: readFileSync(join(docs, f), 'utf8') })),
    { path: 'README.md', text: readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8') },
  ];
  const unknown = texts.flatMap(({ path, text }) =>
    [...text.matchAll(/\b([a-z][A-Za-z0-9]*Executor)\(/g)].filter((m) => !exported.has(m[1]!)).map((m) => `${path}: ${m[1]}`),
  );
  assert.deepEqual(unknown, []);
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
