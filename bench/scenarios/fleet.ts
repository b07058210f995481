import type { Knex } from 'knex';
import { Child } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, rows as rawRows, type Db } from '../lib/db.js';
import { cpuMsOf, pidsNamed } from '../lib/proc.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { count, FLEET_APP, ms, percentile, sleep, wallNow } from '../lib/stats.js';
import { attachWake } from '../lib/wake.js';
import type { FleetIn, FleetOut } from '../children/fleet-member.js';

const PROCESSES = 4;
const PER_PROCESS = 5;

type Report = Extract<FleetOut, { type: 'report' }>;

/**
 * #7: 20 cache servers in 4 processes, polling every second, while one writer sends 10 changes a
 * second, then while nothing happens. Every server must get every change. Reported: how long
 * after the last commit the last server had it, delivery delays, queries per second sent by
 * the fleet, and CPU (the fleet's processes, and the database's).
 */
export async function fleet(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  const variants: Array<{ db: Db; notify: boolean }> = s.quick
    ? [{ db: 'postgres', notify: true }]
    : [
        { db: 'postgres', notify: true },
        { db: 'postgres', notify: false },
        { db: 'mysql', notify: false },
      ];
  for (const v of variants) if (s.dbs.has(v.db)) figures.push(await one(s, v.db, v.notify));
  return figures;
}

async function one(s: Settings, db: Db, notify: boolean): Promise<Figure> {
  const activeS = pick(s, 10, 3);
  const idleS = pick(s, 10, 3);
  const label = `${DB_LABEL[db]}${notify ? ', wake-up on' : ', poll-only'}`;
  s.log(
    `#7 fleet: ${label}: ${PROCESSES * PER_PROCESS} servers in ${PROCESSES} processes, ${activeS} s of 10 writes/s, then ${idleS} s idle`,
  );
  const target = await freshTarget(db);
  const knex = knexFor(target, 4);
  const children = Array.from(
    { length: PROCESSES },
    (_, p) =>
      new Child<FleetIn, FleetOut>('fleet-member', {
        target,
        identities: Array.from({ length: PER_PROCESS }, (_, i) => `fleet-${p}-${i}`),
        notify,
        syncInterval: 1000,
      }),
  );
  const writer = benchCache(knex, target.prefix, 'fleet-writer', { notify });
  try {
    await Promise.all(children.map((c) => c.when((m): m is Extract<FleetOut, { type: 'ready' }> => m.type === 'ready', 60_000)));
    await writer.start();
    const wake = await attachWake(writer, knex, notify);
    const dbCpu = await databaseCpu(knex, db);

    // Active: 10 writes a second.
    children.forEach((c) => c.send({ type: 'mark' }));
    let dbMark = dbCpu.sample();
    let writes = 0;
    let lastCommit = 0;
    const end = performance.now() + activeS * 1000;
    while (performance.now() < end) {
      const next = performance.now() + 100;
      await writer.refreshPayload('bench', { t: wallNow(), k: writes });
      lastCommit = wallNow();
      wake.notifyCommitted();
      writes += 1;
      await sleep(Math.max(0, next - performance.now()));
    }
    let converged = false;
    let convergedAt = 0;
    let received: number[] = [];
    const deadline = performance.now() + 15_000;
    while (performance.now() < deadline) {
      received = (await Promise.all(children.map(status))).flat();
      if (received.every((n) => n >= writes)) {
        convergedAt = wallNow();
        converged = true;
        break;
      }
      await sleep(10);
    }
    const active = await Promise.all(children.map(report));
    const activeDb = dbCpu.since(dbMark);

    // Idle: nothing written.
    children.forEach((c) => c.send({ type: 'mark' }));
    dbMark = dbCpu.sample();
    await sleep(idleS * 1000);
    const idle = await Promise.all(children.map(report));
    const idleDb = dbCpu.since(dbMark);
    await wake.stop();

    const delays = active.flatMap((r) => r.delays);
    const q = (rs: Report[]) => rs.reduce((sum, r) => sum + r.queries, 0) / (rs[0]!.elapsedMs / 1000);
    const cpu = (rs: Report[]) => (100 * rs.reduce((sum, r) => sum + r.cpuMs, 0)) / rs[0]!.elapsedMs;
    const servers = PROCESSES * PER_PROCESS;
    const got = received.filter((n) => n >= writes).length;
    return {
      id: 7,
      what: `fleet: ${servers} servers in ${PROCESSES} processes, syncInterval 1 s, ${label.replace(/^[^,]*, /, '')}`,
      db: DB_LABEL[db],
      result:
        `${got}/${servers} converged on all ${writes} changes, the last ${converged ? ms(convergedAt - lastCommit) : 'never'} ` +
        `after its commit; ` +
        `delivery p50 ${ms(percentile(delays, 50))}, p99 ${ms(percentile(delays, 99))}; ` +
        `queries/s: ${count(q(active))} while writing, ${count(q(idle))} idle; ` +
        `CPU (% of one core): fleet ${cpu(active).toFixed(1)} / ${cpu(idle).toFixed(1)} idle, ` +
        `database ${dbCpu.label} ${activeDb.toFixed(1)} / ${idleDb.toFixed(1)} idle`,
      floor: 'every instance converges; queries/s and CPU reported',
      met: converged,
      note:
        `Queries are those the 20 caches sent through knex (polls, cursor saves, heartbeats, lease renewals, the publisher's ` +
        `prune), not the writer's` +
        `${notify ? ', nor the LISTEN session, which carries no queries once it listens' : ''}. ` +
        (db === 'postgres'
          ? "Database CPU: the fleet's own backends, found by application_name."
          : 'Database CPU: the whole mariadbd process (its threads cannot be told apart), other users of the server included.'),
    };
  } finally {
    children.forEach((c) => c.send({ type: 'stop' }));
    await Promise.all(
      children.map(async (c) => {
        const timer = setTimeout(() => c.kill(), 15_000);
        await c.exited;
        clearTimeout(timer);
      }),
    );
    await writer.stop();
    await knex.destroy();
    await dropTarget(target);
  }
}

async function status(c: Child<FleetIn, FleetOut>): Promise<number[]> {
  c.send({ type: 'status' });
  return (await c.when((m): m is Extract<FleetOut, { type: 'status' }> => m.type === 'status')).received;
}

async function report(c: Child<FleetIn, FleetOut>): Promise<Report> {
  c.send({ type: 'report' });
  return c.when((m): m is Report => m.type === 'report');
}

/** CPU of the database work for the fleet, as % of one core between two samples. */
async function databaseCpu(knex: Knex, db: Db) {
  let pids: number[] = [];
  if (db === 'postgres') {
    pids = rawRows(await knex.raw('select pid from pg_stat_activity where application_name = ?', [FLEET_APP])).map((r) => Number(r.pid));
  } else if (db === 'mysql') {
    pids = pidsNamed('mariadbd').concat(pidsNamed('mysqld'));
  }
  const sample = () => ({ at: performance.now(), cpu: pids.reduce((sum, pid) => sum + cpuMsOf(pid), 0) });
  return {
    label: db === 'postgres' ? `(${pids.length} backends)` : '(whole server)',
    sample,
    since(mark: { at: number; cpu: number }): number {
      const now = sample();
      return (100 * (now.cpu - mark.cpu)) / (now.at - mark.at);
    },
  };
}
