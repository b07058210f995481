/**
 * The benchmark suite (issue 5): `npm run bench` (full) or `npm run bench -- --quick` (CI's smoke
 * test: every figure, with small backlogs, small fleets and short runs; about 2 minutes).
 *
 * A full run takes about 30 minutes on a 2-core machine (1,684 s on 2026-12-08, sharing it with a
 * test run; FULL_RUN_ESTIMATE is printed at the start); a busy one takes longer. Its parts: #1 about 3 minutes (spaced
 * samples, 600 of each), #2 and #3 about 2, #4-#6 about 12 to 15 (1,000,000 rows per database
 * written, read raw twice, caught up, then pruned at the default duty cycle: the prunes alone took
 * 213, 223 and 52 s in the last full run on a quiet machine), #7 and #8 about 4, #10 about 10 to 15
 * (fleets of 20, 200 and 1,000 servers against a throwaway primary and standby, built for each;
 * one --only=10 run took about 13 minutes on the loaded bench machine), #11 about 5 (another
 * 1,000,000-row log per database), #9 and #12 about 1 each. Every scenario's progress is logged with
 * the seconds since the start.
 * Prints a table and writes BENCHMARKS.md (a full run) with the machine, the databases and the
 * command. Options: --quick, --only=1,4 (figures to run), --dbs=postgres,mysql,sqlite, --out=FILE,
 * --no-write. Every run also saves its figures to .tmp/bench-last.json; `--render=FILE` writes
 * the markdown again from such a file (after editing bench/notes.ts) without measuring again.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { reachable, type Db } from './lib/db.js';
import { describeMachine, load } from './lib/machine.js';
import { consoleTable, markdown, type Figure, type RunInfo } from './lib/report.js';
import type { Settings } from './lib/settings.js';
import { INTRO, NOTES } from './notes.js';
import { propagation } from './scenarios/propagation.js';
import { throughput } from './scenarios/throughput.js';
import { concurrency } from './scenarios/concurrency.js';
import { backlog } from './scenarios/backlog.js';
import { fleet } from './scenarios/fleet.js';
import { regions } from './scenarios/regions.js';
import { replicaFleet } from './scenarios/replica-fleet.js';
import { dashboardScenario } from './scenarios/dashboard.js';
import { regionsBulk } from './scenarios/regions-bulk.js';
import { readYourWrites } from './scenarios/read-your-writes.js';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(`--${name}`);
const value = (name: string) => argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const quick = flag('quick');
const only = value('only')?.split(',').map(Number);
const out = value('out') ?? (only || quick || value('dbs') ? undefined : 'BENCHMARKS.md');

const render = value('render');
if (render) {
  const saved = JSON.parse(readFileSync(render, 'utf8')) as { figures: Figure[]; info: RunInfo };
  const target = out ?? 'BENCHMARKS.md';
  writeFileSync(
    target,
    markdown(saved.figures, { ...saved.info, startedAt: new Date(saved.info.startedAt) }, { intro: INTRO, notes: NOTES }),
  );
  console.log(`wrote ${target} from ${render}`);
  process.exit(0);
}

const started = new Date();
const t0 = performance.now();
const loadBefore = load();
const dbs = new Set<Db>();
const wantedDbs = value('dbs')?.split(',') ?? ['postgres', 'mysql', 'sqlite'];
for (const db of (['postgres', 'mysql', 'sqlite'] as const).filter((d) => wantedDbs.includes(d))) {
  const reason = await reachable(db);
  if (reason === undefined) dbs.add(db);
  else console.log(`# ${db} unreachable (${reason}); its figures are skipped`);
}
/** See the header: what a full run of every figure takes on a quiet 2-core machine. */
const FULL_RUN_ESTIMATE = 'about 30 minutes on a 2-core machine';
if (!quick && !only) console.log(`# a full run: ${FULL_RUN_ESTIMATE}; progress below, in seconds since the start`);
const settings: Settings = {
  quick,
  dbs,
  log: (m) => console.log(`[${((performance.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${m}`),
  wants: (id) => only === undefined || only.includes(id),
};

const scenarios: Array<[number[], (s: Settings) => Promise<Figure[]>]> = [
  [[1], propagation],
  [[2], throughput],
  [[3], concurrency],
  [[4, 5, 6], backlog],
  [[7], fleet],
  [[8], regions],
  [[10], replicaFleet],
  [[11], dashboardScenario],
  [[9], regionsBulk],
  [[12], readYourWrites],
];
const figures: Figure[] = [];
/** Scenarios that threw: the run still writes what it measured, then exits 1 (CI's smoke test fails on them). */
const failed: number[] = [];
for (const [ids, run] of scenarios) {
  if (only && !ids.some((id) => only.includes(id))) continue;
  try {
    figures.push(...(await run(settings)));
  } catch (err) {
    console.error(err);
    failed.push(ids[0]!);
    figures.push({
      id: ids[0]!,
      what: `scenario ${ids.join('/')} failed`,
      db: '',
      result: (err as Error).message.slice(0, 200),
      met: false,
    });
  }
  // Written after every scenario: a run stopped part-way (a deadline) still leaves what it measured.
  await save(false);
}
console.log(`\n${consoleTable(figures)}\n`);
await save(true);

/** Writes the figures so far (.tmp/bench-last.json, and `out`); `complete` once every scenario has run. */
async function save(complete: boolean): Promise<void> {
  figures.sort((a, b) => a.id - b.id);
  const machine = await describeMachine([...dbs]);
  const command = `npm run bench${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const mode = quick ? 'quick' : 'full';
  const info: RunInfo = {
    machine,
    command,
    mode: complete ? mode : `${mode}, stopped part-way: only the figures below had been measured`,
    startedAt: started,
    durationS: (performance.now() - t0) / 1000,
    loadBefore,
    loadAfter: load(),
  };
  mkdirSync('.tmp', { recursive: true });
  writeFileSync('.tmp/bench-last.json', JSON.stringify({ figures, info }, null, 2));
  if (out && !flag('no-write')) {
    writeFileSync(out, markdown(figures, info, { intro: INTRO, notes: NOTES }));
    if (complete) console.log(`wrote ${out}`);
  }
}
console.log(`done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
if (failed.length > 0) {
  console.error(`scenario(s) ${failed.join(', ')} failed (see above); floors are reported, but a scenario must run to its end`);
  process.exitCode = 1;
}
