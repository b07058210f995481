import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkLeaksAfterEach } from './support/leaks.js';
import { waitFor } from './support/wait.js';

/**
 * The package as a user gets it (issue 24): `npm pack`, install the tarball into an empty folder
 * next to Express 4 and next to Express 5, run the README's first example there as two processes
 * on one SQLite file; install it next to NestJS 10 and next to NestJS 11 (the peer range) and run
 * a Nest app using `distcache/nestjs` there as two processes on one SQLite file; require the
 * package from a `.cjs` file, and compile a CommonJS TypeScript
 * project (NestJS's default tsconfig: node10 resolution) that imports every subpath. Also: `npm
 * publish --dry-run` is clean, and the examples import the package by name.
 *
 * Installs read npm's cache and ask the registry only for what it lacks; without either, outside
 * CI this file skips with one line, under CI=true it fails.
 */
checkLeaksAfterEach();

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: Record<string, unknown>; version: string };
const work = mkdtempSync(join(tmpdir(), 'distcache-pack-'));
let skip: string | false = false;
/** The app folders by Express major, each with the one packed tarball installed beside that Express. */
const apps = new Map<number, string>();
/** The app folders by NestJS major, each with the tarball installed beside that Nest. */
const nestApps = new Map<number, string>();
/** A Nest app's packages; @nestjs/platform-express brings the Express its major is built on. */
const nestDeps = (major: number) => [
  `@nestjs/core@${major}`,
  `@nestjs/common@${major}`,
  `@nestjs/platform-express@${major}`,
  'reflect-metadata',
  'rxjs',
];

before(async () => {
  // dist/ is built by `npm test`; --ignore-scripts skips prepack's second build of the same files.
  // Packed once: every folder installs this one tarball.
  const { stdout } = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { cwd: root, timeout: 60_000 });
  const tarball = join(work, stdout.trim().split('\n').pop()!);
  try {
    // Every folder at once: each install mostly reads npm's cache or waits on the registry.
    await Promise.all([
      ...[4, 5].map(async (major) => apps.set(major, await install(`express${major}`, tarball, [`express@${major}`]))),
      ...[10, 11].map(async (major) => nestApps.set(major, await install(`nestjs${major}`, tarball, nestDeps(major)))),
    ]);
  } catch (err) {
    const reason = (err as { stderr?: string }).stderr ?? (err as Error).message;
    if (!/ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|ENOTCACHED/.test(reason)) throw err;
    const line =
      `npm registry unreachable and npm's cache lacks a package (${reason.trim().split('\n')[0]}); ` +
      'the package-install test is skipped';
    if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
    console.log(`# ${line}`);
    skip = line;
  }
});
after(() => rmSync(work, { recursive: true, force: true }));

/**
 * An empty app folder with the tarball and `deps` installed: from npm's cache alone (--offline)
 * when it holds every package, as it does after a first run on a machine; else asking the registry
 * only for what the cache lacks (--prefer-offline). No lockfile (nothing reads it), no install
 * scripts (the tarball and Express have none; better-sqlite3 is the repository's own, below).
 */
async function install(name: string, tarball: string, deps: string[]): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true, type: 'module' }));
  const args = ['install', tarball, ...deps, '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', '--loglevel=error'];
  await run('npm', [...args, '--offline'], { cwd: dir, timeout: 120_000 }).catch((err: { stderr?: string }) => {
    if (!/ENOTCACHED/.test(err.stderr ?? '')) throw err;
    return run('npm', [...args, '--prefer-offline'], { cwd: dir, timeout: 120_000 });
  });
  // better-sqlite3 builds from source when its prebuilt binary cannot be downloaded (minutes):
  // the app uses the repository's own build of it instead.
  symlinkSync(join(root, 'node_modules', 'better-sqlite3'), join(dir, 'node_modules', 'better-sqlite3'));
  return dir;
}

/** The README's first ```js block, which examples/quickstart/app.mjs mirrors. */
function readmeExample(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const block = /```js\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'README.md has a ```js example');
  assert.equal(
    block,
    readFileSync(join(root, 'examples', 'quickstart', 'app.mjs'), 'utf8'),
    'examples/quickstart/app.mjs mirrors the README',
  );
  return block;
}

interface App {
  child: ChildProcess;
  url: string;
  output: () => string;
}

async function startApp(dir: string, podName: string, database: string): Promise<App> {
  const child = spawn(process.execPath, ['app.mjs'], {
    cwd: dir,
    env: { ...process.env, PORT: '0', POD_NAME: podName, DATABASE_URL: database },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  let port = '';
  await waitFor(
    () => {
      if (child.exitCode !== null) throw new Error(`${podName} exited ${child.exitCode}:\n${output}`);
      port = /listening on port (\d+)/.exec(output)?.[1] ?? '';
      return port !== '';
    },
    { timeout: 30_000, describe: () => `${podName} to listen; output so far:\n${output}` },
  );
  return { child, url: `http://127.0.0.1:${port}`, output: () => output };
}

/** SIGTERM, then its exit code (null when a signal ended it), within a deadline: a process that cannot exit fails. */
async function stopApp(app: App): Promise<number | null> {
  const { child } = app;
  const running = () => child.exitCode === null && child.signalCode === null;
  if (running()) {
    child.kill('SIGTERM');
    await waitFor(() => !running(), { timeout: 15_000, describe: () => `exit after SIGTERM; output:\n${app.output()}` }).catch((err) => {
      child.kill('SIGKILL');
      throw err;
    });
  }
  return child.exitCode;
}

async function price(app: App): Promise<number> {
  const body = (await (await fetch(`${app.url}/products/1`)).json()) as { price: number };
  return body.price;
}

for (const major of [4, 5]) {
  test(`the packed tarball next to Express ${major}: the README example across two processes`, async (t) => {
    if (skip) return t.skip(skip);
    const dir = apps.get(major)!;
    writeFileSync(join(dir, 'app.mjs'), readmeExample());
    const database = `sqlite://${join(dir, 'app.sqlite')}`;
    // One after the other: the example creates its demo table when it is missing.
    const web1 = await startApp(dir, 'web-1', database);
    t.after(() => stopApp(web1));
    const web2 = await startApp(dir, 'web-2', database);
    t.after(() => stopApp(web2));

    assert.equal(await price(web2), 10, 'web-2 loads and caches product 1');
    const put = await fetch(`${web1.url}/products/1`, {
      method: 'PUT',
      body: '{"price":25}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(((await put.json()) as { price: number }).price, 25, 'the writer reads its own write at once');
    let seen = 0;
    await waitFor(async () => (seen = await price(web2)) === 25, { timeout: 10_000, describe: () => `web-2 still serves ${seen}` });
    assert.deepEqual([await stopApp(web1), await stopApp(web2)], [0, 0], 'both exit by themselves after SIGTERM');
    assert.doesNotMatch(web1.output() + web2.output(), /Error|Warning: .*deprecat/i, 'no error or deprecation on the way');

    if (major !== 5) return;
    // CommonJS: require(esm) of the package and its subpaths, in a .cjs file.
    writeFileSync(
      join(dir, 'require.cjs'),
      [
        "const { DistributedCache, migrate, errors } = require('distcache');",
        "const { pgExecutor } = require('distcache/executors');",
        "const { batchPerRequest } = require('distcache/express');",
        "const { Admin } = require('distcache/admin');",
        "const version = require('distcache/package.json').version;",
        "const kinds = [DistributedCache, migrate, pgExecutor, Admin].map((f) => typeof f).join(',');",
        'console.log(kinds, typeof errors, typeof batchPerRequest, version);',
      ].join('\n'),
    );
    const cjs = await run(process.execPath, ['require.cjs'], { cwd: dir, timeout: 30_000 });
    assert.equal(cjs.stdout.trim(), `function,function,function,function object function ${pkg.version}`);
  });
}

for (const major of [10, 11]) {
  test(`the packed tarball in a NestJS ${major} app: @Cacheable and @CacheEvict across two processes, stopped on SIGTERM`, async (t) => {
    if (skip) return t.skip(skip);
    const dir = nestApps.get(major)!;
    const nest = JSON.parse(readFileSync(join(dir, 'node_modules', '@nestjs', 'core', 'package.json'), 'utf8')) as { version: string };
    assert.equal(nest.version.split('.')[0], String(major), `@nestjs/core ${nest.version} installed`);
    writeFileSync(join(dir, 'app.mjs'), readFileSync(join(root, 'test', 'support', 'nestjs-app.mjs'), 'utf8'));
    const database = `sqlite://${join(dir, 'app.sqlite')}`;
    // One after the other: the app creates its demo table when it is missing.
    const reader = await startApp(dir, 'nest-reader', database);
    t.after(() => stopApp(reader));
    const writer = await startApp(dir, 'nest-writer', database);
    t.after(() => stopApp(writer));
    const loads = async (app: App) => ((await (await fetch(`${app.url}/stats`)).json()) as { loads: number }).loads;

    assert.equal(await price(reader), 10);
    assert.equal(await price(reader), 10);
    assert.equal(await loads(reader), 1, '@Cacheable: the second read was a hit, so a new price can only come from an eviction');
    const put = await fetch(`${writer.url}/products/1`, {
      method: 'PUT',
      body: '{"price":25}',
      headers: { 'content-type': 'application/json' },
    });
    assert.equal(((await put.json()) as { price: number }).price, 25, '@CacheEvict: the writer reads its own write at once');
    let seen = 0;
    await waitFor(async () => (seen = await price(reader)) === 25, { timeout: 10_000, describe: () => `the reader still serves ${seen}` });
    assert.equal(await loads(reader), 2, "the writer's eviction reached the reader, which loaded once more");
    assert.deepEqual(
      [await stopApp(reader), await stopApp(writer)],
      [0, 0],
      'both exit by themselves after app.close(): the module stopped the cache and left nothing open',
    );
    assert.doesNotMatch(reader.output() + writer.output(), /Error|Warning: .*deprecat/i, 'no error or deprecation on the way');
  });
}

test('a CommonJS TypeScript project (NestJS default tsconfig, node10 resolution) compiles against every subpath', async (t) => {
  if (skip) return t.skip(skip);
  const dir = apps.get(5)!;
  const subpaths = Object.keys(pkg.exports).filter((s) => s !== '.' && !s.endsWith('.json'));
  const lines = [`import * as root from 'distcache';`];
  subpaths.forEach((s, i) => lines.push(`import * as sub${i} from 'distcache/${s.slice(2)}';`));
  lines.push(`export const all = [root, ${subpaths.map((_, i) => `sub${i}`).join(', ')}];`);
  lines.push(`export const build = (url: string) => new root.DistributedCache({ connection: url }).stop();`);
  writeFileSync(join(dir, 'main.ts'), lines.join('\n') + '\n');
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(nestTsconfig(join(root, 'node_modules', '@types'))));
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = await run(process.execPath, [tsc, '-p', 'tsconfig.json', '--noEmit'], { cwd: dir, timeout: 60_000 }).catch(
    (err: { stdout: string }) => ({ stdout: err.stdout, failed: true }),
  );
  assert.ok(!('failed' in result), `tsc failed:\n${result.stdout}`);
});

test('npm publish --dry-run is clean: no field npm would correct, the built code and its sources in the tarball', async () => {
  // dist/ is built by `npm test`; --ignore-scripts skips prepack's second build of the same files.
  const { stdout, stderr } = await run('npm', ['publish', '--dry-run', '--ignore-scripts'], { cwd: root, timeout: 60_000 });
  // Only the dry run's note that a real publish needs a login may warn.
  const warnings = stderr.split('\n').filter((line) => /npm warn/i.test(line) && !/requires you to be logged in/.test(line));
  assert.deepEqual(warnings, []);
  for (const file of ['dist/src/index.js', 'dist/src/index.d.ts', 'src/index.ts', 'LICENSE'])
    assert.match(stdout + stderr, new RegExp(` ${file}\n`));
  assert.doesNotMatch(stdout + stderr, / (test|bench|dist\/test)\//, 'no test or bench file ships');
});

test('the examples import the package by its name, as an application does, never ../../src', () => {
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : /\.(ts|mjs|js)$/.test(e.name) ? [join(dir, e.name)] : [],
    );
  const relative = files(join(root, 'examples')).filter((file) => /from '(\.\.\/)+src\//.test(readFileSync(file, 'utf8')));
  assert.deepEqual(relative, []);
});

/** `nest new`'s tsconfig.json (module commonjs, hence node10 resolution), with @types/node from the repository. */
function nestTsconfig(typeRoots: string) {
  return {
    compilerOptions: {
      module: 'commonjs',
      declaration: true,
      removeComments: true,
      emitDecoratorMetadata: true,
      experimentalDecorators: true,
      allowSyntheticDefaultImports: true,
      target: 'ES2021',
      sourceMap: true,
      outDir: './dist',
      baseUrl: './',
      incremental: true,
      skipLibCheck: true,
      strictNullChecks: false,
      noImplicitAny: false,
      strictBindCallApply: false,
      forceConsistentCasingInFileNames: false,
      noFallthroughCasesInSwitch: false,
      typeRoots: [typeRoots],
      types: ['node'],
    },
    files: ['main.ts'],
  };
}
