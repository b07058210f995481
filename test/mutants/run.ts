/**
 * `npm run test:mutants`: applies each mutant of list.ts, one at a time, to a scratch copy of the
 * repository (node_modules linked, never this working tree), builds it, and runs the tests that
 * should fail. Prints the score and every survivor; exits 1 when a mutant survives or no longer
 * applies. See docs/testing.md.
 *
 *   node dist/test/mutants/run.js [--only id,id] [--keep] [--baseline]
 *
 * --baseline first runs each mutant's tests on the unmutated copy: a test that fails there would
 * count every mutant as killed.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MUTANTS, type Mutant } from './list.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const only = args.includes('--only') ? new Set(args[args.indexOf('--only') + 1]!.split(',')) : undefined;
const TEST_TIMEOUT_MS = 180_000;

/** Fails loudly, before anything runs, for every mutant whose text is not found exactly once. */
function checkList(mutants: readonly Mutant[]): void {
  const problems: string[] = [];
  const ids = new Set<string>();
  for (const m of mutants) {
    if (ids.has(m.id)) problems.push(`${m.id}: the id is used twice`);
    ids.add(m.id);
    const path = join(root, m.file);
    if (!existsSync(path)) {
      problems.push(`${m.id}: ${m.file} does not exist (moved? update test/mutants/list.ts)`);
      continue;
    }
    const count = readFileSync(path, 'utf8').split(m.search).length - 1;
    if (count !== 1) {
      const where = `${count} times in ${m.file}, not once (update test/mutants/list.ts)`;
      problems.push(`${m.id}: the search text occurs ${where}:\n    ${JSON.stringify(m.search)}`);
    }
    for (const file of m.tests.files) {
      const source = file.replace(/^dist\//, '').replace(/\.js$/, '.ts');
      if (!existsSync(join(root, source))) problems.push(`${m.id}: no source for test ${file} (${source})`);
    }
  }
  if (problems.length > 0) {
    console.error(`test:mutants: ${problems.length} mutant(s) no longer apply:\n  ${problems.join('\n  ')}`);
    process.exit(2);
  }
}

/** The tracked and untracked (not ignored) files of the repository, copied; node_modules linked. */
function scratchCopy(): string {
  const dir = mkdtempSync(join(tmpdir(), 'distcache-mutants-'));
  const listed = spawnSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  if (listed.status !== 0) throw new Error(`git ls-files failed: ${listed.stderr}`);
  for (const file of listed.stdout.split('\0').filter(Boolean)) {
    if (file === 'node_modules' || !existsSync(join(root, file))) continue;
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    cpSync(join(root, file), join(dir, file));
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

interface RunResult {
  ok: boolean;
  output: string;
  ms: number;
}

function run(dir: string, command: string, commandArgs: string[], env: NodeJS.ProcessEnv = {}): RunResult {
  const started = Date.now();
  const options = { cwd: dir, encoding: 'utf8' as const, env: { ...process.env, ...env }, timeout: 600_000, maxBuffer: 64 << 20 };
  const result = spawnSync(command, commandArgs, options);
  return { ok: result.status === 0, output: `${result.stdout ?? ''}${result.stderr ?? ''}`, ms: Date.now() - started };
}

function build(dir: string): void {
  // Incremental: only the mutated file and what depends on it is compiled again.
  const tsc = join(dir, 'node_modules/typescript/bin/tsc');
  const result = run(dir, process.execPath, [tsc, '-p', 'tsconfig.json', '--incremental', '--tsBuildInfoFile', '.mutants.tsbuildinfo']);
  if (!result.ok) throw new Error(`build failed:\n${result.output.slice(0, 4000)}`);
}

function runTests(dir: string, m: Mutant): RunResult {
  const testArgs = ['--test', '--test-concurrency=1', `--test-timeout=${TEST_TIMEOUT_MS}`];
  if (m.tests.pattern) testArgs.push(`--test-name-pattern=${m.tests.pattern}`);
  return run(dir, process.execPath, [...testArgs, ...m.tests.files], m.tests.dialects ? { DISTCACHE_DIALECTS: m.tests.dialects } : {});
}

/** node:test counts: a run where the pattern matched nothing would "pass" without testing anything. */
function passed(output: string): number {
  return Number(/^# pass (\d+)/m.exec(output)?.[1] ?? 0);
}

type Outcome = 'killed' | 'survived' | 'no-compile' | 'inconclusive';

/** Builds the mutated copy and runs the mutant's tests. */
function judge(dir: string, m: Mutant): { m: Mutant; outcome: Outcome; ms: number; note: string } {
  const started = Date.now();
  const done = (outcome: Outcome, note: string) => ({ m, outcome, ms: Date.now() - started, note });
  try {
    build(dir);
  } catch (err) {
    // A mutant the compiler refuses proves nothing about the tests: say so, count it apart.
    return done('no-compile', (err as Error).message.split('\n').slice(0, 4).join(' '));
  }
  const result = runTests(dir, m);
  // A database judged unreachable skips its suite (or, under CI=true, fails it): neither says
  // anything about the mutant.
  const unreachable = /(\w+) unreachable \(/.exec(result.output);
  if (unreachable) return done('inconclusive', `${unreachable[1]} was unreachable during the run`);
  if (result.ok) return done('survived', `${passed(result.output)} tests passed`);
  const failing = [...result.output.matchAll(/^\s*not ok \d+ - (.*)$/gm)]
    .map((x) => x[1]!)
    .filter((name) => !/^conformance: |^store conformance: |\.js$/.test(name));
  return done('killed', `failed: ${[...new Set(failing)].slice(0, 2).join(' | ') || result.output.slice(-300)}`);
}

const mutants = MUTANTS.filter((m) => !only || only.has(m.id));
checkList(mutants);
const started = Date.now();
const dir = scratchCopy();
console.log(`# ${mutants.length} mutants, scratch copy in ${dir}`);
const results: Array<ReturnType<typeof judge>> = [];
try {
  build(dir);
  if (flag('--baseline')) {
    for (const m of mutants) {
      const base = runTests(dir, m);
      if (!base.ok || passed(base.output) === 0 || /unreachable \(/.test(base.output)) {
        const why = base.ok ? 'matched nothing or skipped a database' : 'fail without the mutant';
        console.error(`# baseline: the tests of ${m.id} ${why}:\n${base.output.slice(-3000)}`);
        process.exit(2);
      }
      console.log(`# baseline ${m.id}: ${passed(base.output)} passed in ${base.ms} ms`);
    }
  }
  for (const m of mutants) {
    const path = join(dir, m.file);
    const original = readFileSync(path, 'utf8');
    writeFileSync(
      path,
      original.replace(m.search, () => m.replace),
    );
    try {
      results.push(judge(dir, m));
    } finally {
      writeFileSync(path, original);
    }
    const last = results[results.length - 1]!;
    const label = { killed: 'killed  ', survived: 'SURVIVED', 'no-compile': 'NO-BUILD', inconclusive: 'NO-DB   ' }[last.outcome];
    console.log(`${label} ${m.id} (${(last.ms / 1000).toFixed(1)} s): ${last.note}`);
  }
} finally {
  if (!flag('--keep')) rmSync(dir, { recursive: true, force: true });
}
const killed = results.filter((r) => r.outcome === 'killed').length;
const survivors = results.filter((r) => r.outcome !== 'killed');
console.log(`\n# mutation score: ${killed}/${results.length} killed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
for (const s of survivors) console.log(`# ${s.outcome}: ${s.m.id} in ${s.m.file}: ${s.m.invariant}`);
process.exitCode = survivors.length === 0 ? 0 : 1;
