import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

/**
 * Each entry point is imported in a fresh process whose module hooks record every module it
 * resolves; the packages it loads are then compared with what it may load.
 */
// lru-cache is a dependency since cache regions (issue 14), so it is no longer optional.
const OPTIONAL = [
  'express',
  'fastify',
  'prom-client',
  '@opentelemetry/api',
  'keyv',
  'cache-manager',
  'zod',
  'pg',
  'mysql2',
  'better-sqlite3',
  'postgres',
  'kysely',
  'drizzle-orm',
  'sequelize',
  'typeorm',
  '@mikro-orm/core',
  '@nestjs/common',
  '@nestjs/core',
] as const;

const dist = fileURLToPath(new URL('../src/', import.meta.url));

const HOOKS = `
import { appendFileSync } from 'node:fs';
let out;
export function initialize(data) { out = data.out; }
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(out, resolved.url + '\\n');
  return resolved;
}
`;

const RUNNER = `
import { register, createRequire } from 'node:module';
const [hooks, target, out] = process.argv.slice(2);
register(hooks, { data: { out } });
await import(target);
// CommonJS packages required from inside other CommonJS packages bypass the hooks; they land here.
const { appendFileSync } = await import('node:fs');
appendFileSync(out, Object.keys(createRequire(import.meta.url).cache).map((p) => 'file://' + p).join('\\n') + '\\n');
`;

async function packagesLoadedBy(entry: string): Promise<Set<string>> {
  const dir = mkdtempSync(join(tmpdir(), 'distcache-isolation-'));
  try {
    const hooks = join(dir, 'hooks.mjs');
    const runner = join(dir, 'runner.mjs');
    const out = join(dir, 'modules.txt');
    writeFileSync(hooks, HOOKS);
    writeFileSync(runner, RUNNER);
    writeFileSync(out, '');
    await promisify(execFile)(process.execPath, [runner, pathToFileURL(hooks).href, pathToFileURL(join(dist, entry)).href, out], {
      timeout: 30_000,
    });
    const packages = new Set<string>();
    for (const url of readFileSync(out, 'utf8').split('\n')) {
      const match = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
      if (match) packages.add(match[1]!);
    }
    return packages;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What each entry point must load, and what else it may (prom-client itself loads the OTel API when installed, for exemplars). */
const ENTRIES: Record<string, { loads: ReadonlyArray<(typeof OPTIONAL)[number]>; mayLoad?: ReadonlyArray<(typeof OPTIONAL)[number]> }> = {
  'index.js': { loads: [] },
  'integrations/express.js': { loads: [] },
  'integrations/fastify.js': { loads: [] },
  'integrations/jobs.js': { loads: [] },
  // pg comes only through the knex the relay is given, when it starts.
  'integrations/cluster.js': { loads: [] },
  'integrations/refreshers/index.js': { loads: [] },
  'integrations/prometheus.js': { loads: ['prom-client'], mayLoad: ['@opentelemetry/api'] },
  'integrations/opentelemetry.js': { loads: ['@opentelemetry/api'] },
  'integrations/nestjs/index.js': { loads: ['@nestjs/common', '@nestjs/core'] },
  'executors/index.js': { loads: [] },
};

for (const [entry, { loads, mayLoad = [] }] of Object.entries(ENTRIES)) {
  test(`importing ${entry} loads ${loads.length ? loads.join(', ') : 'no optional package'}`, async () => {
    const loaded = await packagesLoadedBy(entry);
    const optional = OPTIONAL.filter((name) => loaded.has(name) && !mayLoad.includes(name));
    assert.deepEqual(optional, [...loads], `optional packages loaded: ${optional.join(', ') || 'none'}`);
    if (entry === 'index.js') assert.ok(loaded.has('node-cron'), 'the hooks saw the core load its own dependencies');
  });
}
