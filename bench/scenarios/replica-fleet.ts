import knexFactory, { type Knex } from 'knex';
import { migrate } from '../../src/migrations/migrate.js';
import { Child } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { rows as rawRows } from '../lib/db.js';
import { createPair, pairUnavailable, type PgPair } from '../lib/pg-pair.js';
import { cpuMsOf } from '../lib/proc.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { ms, percentile, sleep, wallNow } from '../lib/stats.js';
import type { ReplicaFleetIn, ReplicaFleetOut } from '../children/replica-fleet-member.js';

const PROCESSES = 4;
const HEARTBEAT_S = 10;
const SYNC_MS = 1000;
const WRITES_PER_S = 5;
const PREFIX = 'rf_';

type Report = Extract<ReplicaFleetOut, { type: 'report' }>;

/**
 * #10 (issue 25): a fleet of 20, 200 and 1,000 simulated servers (many caches per process, as #7)
 * against a throwaway primary and one streaming standby, without and with `replicas`. Measured
 * side by side from pg_stat_database (transactions: every autocommit statement is one) and /proc
 * (CPU of each cluster's processes): the primary's transactions per write and per idle second,
 * primary and replica CPU, delivery delays, convergence, and connections on the primary.
 */
export async function replicaFleet(s: Settings): Promise<Figure[]> {
  if (!s.wants(10)) return [];
  const missing = pairUnavailable();
  if (missing) return [{ id: 10, what: 'fleet with replicas', db: 'PostgreSQL', result: 'not run', note: missing }];
  // DISTCACHE_BENCH_FLEET_SIZES=1000 measures one size only (while working on it). Quick (CI's smoke
  // test): the same runs on two smaller fleets, with shorter phases.
  const sizes = process.env.DISTCACHE_BENCH_FLEET_SIZES?.split(',').map(Number) ?? pick(s, [20, 200, 1000], [20, 100]);
  const figures: Figure[] = [];
  // Wake-up off at every size (the replica poll is the wake-up); also on at the largest with
  // replicas, where the LISTEN sessions on the primary are counted: one per process, whatever N.
  const largest = sizes[sizes.length - 1]!;
  const runs = sizes.flatMap((n) => [
    { n, replicas: false, notify: false },
    { n, replicas: true, notify: false },
    ...(n === largest ? [{ n, replicas: true, notify: true }] : []),
  ]);
  // A full run builds a fresh pair for each fleet; a quick one builds one and gives each fleet its
  // own table prefix on it: building a pair is two initdbs and a base backup.
  let shared: PgPair | undefined;
  try {
    for (const { n, replicas, notify } of runs) {
      const pair = s.quick ? (shared ??= await createPair()) : await createPair();
      try {
        const prefix = s.quick ? `rf_${n}_${replicas ? 'r' : 'p'}${notify ? 'w' : ''}_` : PREFIX;
        const figure = await one(s, pair.primaryUrl, pair.replicaUrl, n, replicas, notify, prefix);
        s.log(`#10: ${figure.what}: ${figure.result}`);
        figures.push(figure);
      } catch (err) {
        // One size failing (a child that could not start) leaves the others' figures standing.
        const what = `fleet: ${n} servers, ${replicas ? 'replicas' : 'primary only'}, wake-up ${notify ? 'on' : 'off'}`;
        figures.push({ id: 10, what, db: 'PostgreSQL', result: `failed: ${(err as Error).message.slice(0, 200)}`, met: false });
      } finally {
        if (pair !== shared) await pair.drop();
      }
    }
  } finally {
    await shared?.drop();
  }
  return figures;
}

async function one(
  s: Settings,
  primaryUrl: string,
  replicaUrl: string,
  n: number,
  replicas: boolean,
  notify: boolean,
  prefix: string,
): Promise<Figure> {
  const activeS = pick(s, 10, 3);
  // At least one heartbeat interval even in a quick run: a shorter idle window sees each server's
  // heartbeat or not by chance, and the idle rate (subtracted from the active one) with it.
  const idleS = pick(s, 3 * HEARTBEAT_S, HEARTBEAT_S);
  const settleS = pick(s, HEARTBEAT_S, 2);
  const tailS = pick(s, HEARTBEAT_S, 2);
  const label = `${n} servers in ${PROCESSES} processes, ${replicas ? 'replicas' : 'primary only'}, wake-up ${notify ? 'on' : 'off'}`;
  s.log(`#10 fleet with replicas: ${label}: ${activeS} s of ${WRITES_PER_S} writes/s, then ${idleS} s idle`);
  const primary = knexFactory({ client: 'pg', connection: primaryUrl, pool: { min: 1, max: 2 } });
  const standby = knexFactory({ client: 'pg', connection: replicaUrl, pool: { min: 1, max: 2 } });
  await migrate(primary, { tablePrefix: prefix });
  const per = Math.ceil(n / PROCESSES);
  const children = Array.from(
    { length: PROCESSES },
    (_, p) =>
      new Child<ReplicaFleetIn, ReplicaFleetOut>('replica-fleet-member', {
        primaryUrl,
        replicaUrl: replicas ? replicaUrl : null,
        prefix,
        identities: Array.from({ length: per }, (_, i) => `s-${p}-${i}`),
        syncInterval: SYNC_MS,
        notify,
      }),
  );
  const writer = benchCache(primary, prefix, 'writer', { notify, ...(replicas ? { replicas: [standby] } : {}) });
  try {
    await Promise.all(children.map((c) => c.when((m): m is Extract<ReplicaFleetOut, { type: 'ready' }> => m.type === 'ready', 600_000)));
    await writer.start();
    // Past the start-up: every server has registered, and the first heartbeats have spread out.
    await sleep(settleS * 1000);
    const stats = counters(primary, standby, prefix);

    children.forEach((c) => c.send({ type: 'mark' }));
    let mark = await stats.sample();
    let writes = 0;
    let lastCommit = 0;
    const end = performance.now() + activeS * 1000;
    while (performance.now() < end) {
      const next = performance.now() + 1000 / WRITES_PER_S;
      await writer.refreshPayload('bench', { t: wallNow(), k: writes });
      lastCommit = wallNow();
      writes += 1;
      await sleep(Math.max(0, next - performance.now()));
    }
    let convergedAt = 0;
    let received: number[] = [];
    const deadline = performance.now() + 60_000;
    while (performance.now() < deadline) {
      received = (await Promise.all(children.map(status))).flat();
      if (received.every((x) => x >= writes)) {
        convergedAt = wallNow();
        break;
      }
      await sleep(50);
    }
    const active = await Promise.all(children.map(report));
    // The write window's transactions are counted for one heartbeat interval more: a fleet busy
    // applying sends its heartbeats late (queued behind the polls in its pools), and those beats
    // belong to the write window, not to the idle one that follows. (A quick run waits less.)
    await sleep(tailS * 1000);
    const activeStats = stats.since(mark, await stats.sample());

    children.forEach((c) => c.send({ type: 'mark' }));
    mark = await stats.sample();
    await sleep(idleS * 1000);
    const idleStats = stats.since(mark, await stats.sample());
    const idle = await Promise.all(children.map(report));

    const delays = active.flatMap((r) => r.delays);
    const fleetCpu = (rs: Report[]) => (100 * rs.reduce((sum, r) => sum + r.cpuMs, 0)) / rs[0]!.elapsedMs;
    const perWrite = (activeStats.xacts - idleStats.xactsPerS * activeStats.seconds) / writes;
    const writesPerWrite = (activeStats.xids - idleStats.xidsPerS * activeStats.seconds) / writes;
    const got = received.filter((x) => x >= writes).length;
    const servers = per * PROCESSES;
    const idleFloor = servers / HEARTBEAT_S + 5;
    const floored = replicas && !notify && n >= 1000;
    // Without replicas the polls are read-only statements on the primary and grow with N by design;
    // its write transactions (heartbeats, which carry busy cursor saves) must not exceed N/heartbeat + 5.
    const writeFloored = !replicas && n >= 200;
    const floorsMet =
      got === servers &&
      (!floored || (perWrite <= 3 && idleStats.xactsPerS <= idleFloor)) &&
      (!writeFloored || idleStats.xidsPerS <= idleFloor);
    return {
      id: 10,
      what: `fleet: ${label}, syncInterval 1 s, heartbeat 10 s`,
      db: 'PostgreSQL',
      result:
        `${got}/${servers} converged on ${writes} changes, ` +
        `the last ${convergedAt ? ms(convergedAt - lastCommit) : 'never'} after its commit; ` +
        `delivery p50 ${ms(percentile(delays, 50))}, p99 ${ms(percentile(delays, 99))}; ` +
        `primary: ${perWrite.toFixed(1)} transactions per write, ${idleStats.xactsPerS.toFixed(1)} per idle s, ` +
        `of which writes (xids) ${writesPerWrite.toFixed(1)} per write, ${idleStats.xidsPerS.toFixed(1)} per idle s, ` +
        `CPU ${activeStats.primaryCpu.toFixed(1)} / ${idleStats.primaryCpu.toFixed(1)} % idle, ${activeStats.connections} connections ` +
        `(${activeStats.listeners} LISTEN sessions); ` +
        `replica CPU ${activeStats.replicaCpu.toFixed(1)} / ${idleStats.replicaCpu.toFixed(1)} % idle; ` +
        `primary tables a second, rows written/scans, active: ${activeStats.tables}; idle: ${idleStats.tables}; ` +
        `fleet CPU ${fleetCpu(active).toFixed(0)} / ${fleetCpu(idle).toFixed(0)} % idle`,
      floor: floored
        ? `every server converges; ≤ 3 primary transactions per write; ≤ ${idleFloor.toFixed(0)} per idle s (N/heartbeat + 5)`
        : writeFloored
          ? `every server converges; ≤ ${idleFloor.toFixed(0)} primary write transactions (xids) per idle s (N/heartbeat + 5)`
          : 'every server converges; figures reported',
      met: floorsMet,
      note:
        'Transactions: xact_commit + xact_rollback of the primary database in pg_stat_database (each autocommit statement is one), ' +
        'and of them writes: the advance of pg_snapshot_xmax(pg_current_snapshot()) ' +
        '(an xid is assigned only to a transaction that writes), ' +
        "the writer's included; per write = (active − idle rate × active time) / writes, where the active window runs from " +
        'the first write to one heartbeat interval after every server converged (late heartbeats of a busy fleet fall in it). ' +
        'CPU: % of one core, every process of ' +
        'the cluster found through pg_stat_activity (backends, walsender, background workers), from /proc. Connections: client ' +
        'backends on the primary (4 processes, one pool each, plus one LISTEN session per process with the wake-up on, counted by ' +
        "its application_name 'distcache listener').",
    };
  } finally {
    children.forEach((c) => c.send({ type: 'stop' }));
    await Promise.all(
      children.map(async (c) => {
        const timer = setTimeout(() => c.kill(), 30_000);
        await c.exited;
        clearTimeout(timer);
      }),
    );
    await writer.stop();
    await primary.destroy();
    await standby.destroy();
  }
}

/** Transactions of the primary database and CPU of each cluster's processes, sampled together. */
function counters(primary: Knex, standby: Knex, prefix: string) {
  const pidsOf = async (knex: Knex) => rawRows(await knex.raw('select pid from pg_stat_activity')).map((r) => Number(r.pid));
  const sample = async () => {
    await primary.raw('select pg_stat_clear_snapshot()');
    const [db] = rawRows(
      await primary.raw('select xact_commit + xact_rollback as x from pg_stat_database where datname = current_database()'),
    );
    // Write transactions: the snapshot's xmax, the latest completed xid + 1. An xid is assigned only
    // to a transaction that writes, so its advance counts writing transactions (committed or rolled
    // back) but not the read-only autocommit statements xact_commit also counts (the polls, lease
    // reads); reading it assigns none.
    const [xid] = rawRows(await primary.raw('select pg_snapshot_xmax(pg_current_snapshot())::text as x'));
    const [conn] = rawRows(
      await primary.raw(
        "select count(*) as n, count(*) filter (where application_name = 'distcache listener') as listeners " +
          "from pg_stat_activity where backend_type = 'client backend'",
      ),
    );
    // Where the primary's transactions go: rows updated and index/sequential scans per table.
    const tables = rawRows(
      await primary.raw(
        'select relname, n_tup_upd + n_tup_ins as written, coalesce(idx_scan, 0) + coalesce(seq_scan, 0) as scans ' +
          'from pg_stat_user_tables where relname like ?',
        [`${prefix}%`],
      ),
    ).map((r) => ({ table: String(r.relname).slice(prefix.length), written: Number(r.written), scans: Number(r.scans) }));
    const [pp, rp] = await Promise.all([pidsOf(primary), pidsOf(standby)]);
    const cpu = (pids: number[]) => pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0);
    return {
      at: performance.now(),
      xacts: Number(db?.x),
      xids: Number(xid?.x),
      primaryCpu: cpu(pp),
      replicaCpu: cpu(rp),
      connections: Number(conn?.n),
      listeners: Number(conn?.listeners),
      tables,
    };
  };
  type Sample = Awaited<ReturnType<typeof sample>>;
  return {
    sample,
    since(a: Sample, b: Sample) {
      const seconds = (b.at - a.at) / 1000;
      return {
        seconds,
        xacts: b.xacts - a.xacts,
        xactsPerS: (b.xacts - a.xacts) / seconds,
        xids: b.xids - a.xids,
        xidsPerS: (b.xids - a.xids) / seconds,
        primaryCpu: (b.primaryCpu - a.primaryCpu) / (10 * seconds),
        replicaCpu: (b.replicaCpu - a.replicaCpu) / (10 * seconds),
        connections: b.connections,
        listeners: b.listeners,
        /** Per table, rows written and scans a second. */
        tables: b.tables
          .map((t) => {
            const before = a.tables.find((x) => x.table === t.table);
            const rate = (x: number) => (x / seconds).toFixed(1);
            return `${t.table} ${rate(t.written - (before?.written ?? 0))} w/${rate(t.scans - (before?.scans ?? 0))} s`;
          })
          .join(', '),
      };
    },
  };
}

async function status(c: Child<ReplicaFleetIn, ReplicaFleetOut>): Promise<number[]> {
  c.send({ type: 'status' });
  return (await c.when((m): m is Extract<ReplicaFleetOut, { type: 'status' }> => m.type === 'status')).received;
}

async function report(c: Child<ReplicaFleetIn, ReplicaFleetOut>): Promise<Report> {
  c.send({ type: 'report' });
  return c.when((m): m is Report => m.type === 'report');
}
