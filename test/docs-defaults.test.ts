import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { DEFAULTS } from '../src/options.js';
import { REGION_DEFAULTS } from '../src/regions/options.js';
import { DASHBOARD_DEFAULTS } from '../src/dashboard/options.js';
import { parseDuration } from '../src/duration.js';

// Every option default is declared once in the code (DEFAULTS, REGION_DEFAULTS, DASHBOARD_DEFAULTS,
// ADMIN_DEFAULTS); the docs' option tables are read here and must say the same, so a default
// changed in the code and not in the docs fails `npm test`.

const DOCS = fileURLToPath(new URL('../../docs/', import.meta.url));

/** The rows of the first table whose header starts with `header`: first cell's option names -> default cell. */
function optionTable(file: string, header: string): Map<string, string> {
  const lines = readFileSync(DOCS + file, 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  assert.ok(start >= 0, `${file} has a table headed "${header}"`);
  const rows = new Map<string, string>();
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break;
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const names = [...cells[1]!.matchAll(/`([A-Za-z]+)[`(]/g)].map((m) => m[1]!);
    const defaults = splitTopLevel(cells[2]!);
    names.forEach((name, i) => rows.set(name, names.length > 1 ? (defaults[i] ?? '') : cells[2]!));
  }
  return rows;
}

/** `''`, `'default'` -> two cells, split at commas outside code spans (a row may give two options). */
function splitTopLevel(cell: string): string[] {
  const parts: string[] = [];
  let current = '';
  let inCode = false;
  for (const ch of cell) {
    if (ch === '`') inCode = !inCode;
    if (ch === ',' && !inCode) {
      parts.push(current.trim());
      current = '';
    } else current += ch;
  }
  return [...parts, current.trim()];
}

/** The value the docs give: the first code span, read as a duration, number, boolean, string or object. */
function documented(cell: string): unknown {
  const code = /`([^`]*)`/.exec(cell)?.[1];
  if (code === undefined) return /^none\b/.test(cell) ? 'none' : undefined;
  return literal(code.trim());
}

function literal(code: string): unknown {
  if (code === 'true' || code === 'false') return code === 'true';
  if (/^-?[\d_]+(\.\d+)?$/.test(code)) return Number(code.replace(/_/g, ''));
  const quoted = /^'(.*)'$/.exec(code);
  if (quoted) return parseDuration(quoted[1]!) ?? quoted[1];
  const object = /^\{(.*)\}$/.exec(code);
  if (object) {
    return Object.fromEntries(
      object[1]!.split(',').map((pair) => {
        const [key, value] = pair.split(':').map((s) => s.trim());
        return [key, literal(value!)];
      }),
    );
  }
  return code;
}

test('docs/api.md gives every DistributedCache default as DEFAULTS declares it', () => {
  const docs = optionTable('api.md', '| option | default |');
  for (const [name, value] of Object.entries(DEFAULTS)) {
    assert.ok(docs.has(name), `docs/api.md's options table has a row for ${name}`);
    assert.deepEqual(documented(docs.get(name)!), value, `docs/api.md: the default of ${name}`);
  }
});

test('docs/regions.md gives every region default as REGION_DEFAULTS declares it (none and false: 0, off)', () => {
  const docs = optionTable('regions.md', '| region option | default |');
  for (const [name, value] of Object.entries(REGION_DEFAULTS)) {
    assert.ok(docs.has(name), `docs/regions.md's region option table has a row for ${name}`);
    const given = documented(docs.get(name)!);
    const expected = value === 0 && (given === 'none' || given === false) ? given : value;
    assert.deepEqual(given, expected, `docs/regions.md: the default of ${name}`);
  }
});

test('docs/dashboard.md gives the dashboard defaults as DASHBOARD_DEFAULTS declares them', () => {
  const docs = optionTable('dashboard.md', '| option | default |');
  assert.deepEqual(documented(docs.get('refreshInterval')!), DASHBOARD_DEFAULTS.refreshInterval);
  assert.deepEqual(documented(docs.get('cluster')!), DEFAULTS.cluster);
  assert.deepEqual(documented(docs.get('tablePrefix')!), DEFAULTS.tablePrefix);
});

test('the reader of option tables is not fooled: a wrong default is caught', () => {
  assert.notDeepEqual(documented("`'10s'` (or 3 × `syncInterval`)"), 10_001);
  assert.equal(documented("`'10s'` (or 3 × `syncInterval`)"), 10_000);
  assert.deepEqual(documented("`{ maxLag: '1m', maxPending: 1000 }`"), { maxLag: 60_000, maxPending: 1000 });
  assert.equal(documented('`10_000` (unless `maxSize`)'), 10_000);
});

test("the @default in each option's JSDoc (src/options.ts) is the value DEFAULTS declares", () => {
  const source = readFileSync(fileURLToPath(new URL('../../src/options.ts', import.meta.url)), 'utf8');
  for (const [name, value] of Object.entries(DEFAULTS)) {
    if (name === 'health') continue; // an object: its three thresholds are documented on HealthThresholds, checked below
    const declared = new RegExp(String.raw`/\*\*((?:(?!\*/)[\s\S])*)\*/\s*${name}\?:`).exec(source);
    assert.ok(declared, `src/options.ts declares ${name} with a JSDoc comment`);
    const given = /@default ('[^']*'|\S+)/.exec(declared[1]!)?.[1];
    assert.ok(given !== undefined, `${name}'s JSDoc has an @default`);
    // `@default maxRetention ('7d')`: the default is another option's.
    const read = literal(given!);
    const resolved = typeof read === 'string' && read in DEFAULTS ? DEFAULTS[read as keyof typeof DEFAULTS] : read;
    assert.deepEqual(resolved, value, `src/options.ts: the @default of ${name}`);
  }
  for (const [name, value] of Object.entries(DEFAULTS.health)) {
    const given = new RegExp(String.raw`@default ('[^']*'|\S+)[^\n]*\*/\s*${name}\?:`).exec(source)?.[1];
    if (name === 'maxPending') assert.equal(value, DEFAULTS.maxPendingInstructions, 'health.maxPending defaults to maxPendingInstructions');
    else assert.deepEqual(literal(given ?? ''), value, `src/options.ts: the @default of health.${name}`);
  }
});
