import type { Knex } from 'knex';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dialectFor } from '../../src/dialects/dialect.js';
import { dashboard } from '../../src/dashboard/index.js';
import type { InstructionStore } from '../../src/store/store.js';
import { tableNames } from '../../src/store/tables.js';
import { analyze, settle, writeBacklog } from '../lib/backlog.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, type Db } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import type { Settings } from '../lib/settings.js';
import { count, ms, pcts } from '../lib/stats.js';

const SERVERS = 200;
/** Rows written in the last hour, on top of the old backlog: more than the chart reads (10,000), so its cap is measured too. */
const RECENT = 50_000;
const FLOOR_MS = 100;

/**
 * #11: the dashboard (issue 26) on a cluster of 200 registered servers, each with a cursor at its
 * own position (app-k has k + 1 rows to apply, so no two share a position), and a
 * 1,000,000-row analyzed log whose newest 50,000 rows are from the last hour. Measured over HTTP
 * in this process: the Overview page, GET /api/overview, and the Instructions page (the per-minute
 * chart and the tail). The page must never be the slow query on the database. Beside them, the
 * 200 pending counts in one statement (`pendingMany`, what the overview uses) against one
 * statement per server (what it did before), interleaved in the same run, so the ratio holds on a
 * loaded machine where the absolute times do not.
 */
export async function dashboardScenario(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  const dbs: Db[] = s.quick ? ['postgres'] : ['postgres', 'mysql', 'sqlite'];
  for (const db of dbs) if (s.dbs.has(db)) figures.push(...(await one(s, db)));
  return figures;
}

async function one(s: Settings, db: Db): Promise<Figure[]> {
  const rows = s.quick ? 20_000 : 1_000_000;
  const recent = Math.min(RECENT, rows / 2);
  const label = DB_LABEL[db];
  const target = await freshTarget(db);
  const knex = knexFor(target, 10);
  const tables = tableNames(target.prefix);
  try {
    s.log(`#11 dashboard: ${label}, ${count(rows)} rows (${count(recent)} in the last hour), ${SERVERS} servers`);
    await writeBacklog(knex, db, tables.instruction, rows);
    const store = dialectFor(knex).createStore({ knex, tables, cluster: 'default', queryTimeout: 600_000 });
    const positions = await register(knex, db, target.prefix, store);
    await restamp(knex, db, tables.instruction, recent);
    await analyze(knex, db, [tables.instruction, tables.cursor, tables.server]);
    await settle(knex, db);
    const server = createServer(dashboard({ knex, tablePrefix: target.prefix }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const check = (await (await fetch(`${base}/api/overview`)).json()) as { servers?: unknown[] };
      if (check.servers?.length !== SERVERS)
        throw new Error(`overview listed ${check.servers?.length} servers, not ${SERVERS}: ${JSON.stringify(check).slice(0, 500)}`);
      const figure = async (what: string, path: string): Promise<Figure> => {
        const times = await timed(`${base}${path}`, s.quick ? 20 : 50);
        const p = pcts(times);
        return {
          id: 11,
          what: `dashboard: ${what}, ${SERVERS} servers, ${count(rows)}-row log`,
          db: label,
          result: `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}`,
          floor: `p95 < ${FLOOR_MS} ms`,
          met: p.p95 < FLOOR_MS,
          note: 'Sequential requests over HTTP on this machine, after 3 warm-up requests; the server and the database share 2 cores.',
        };
      };
      const pendingFigure = await comparePending(store, positions, s.quick ? 10 : 30, label);
      return [
        pendingFigure,
        await figure('Overview page', '/'),
        await figure('GET /api/overview', '/api/overview'),
        await figure('Instructions page (chart + tail)', '/instructions'),
      ];
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  } finally {
    await knex.destroy();
    await dropTarget(target);
  }
}

async function timed(url: string, n: number): Promise<number[]> {
  for (let i = 0; i < 3; i++) await (await fetch(url)).text();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    const response = await fetch(url);
    await response.text();
    if (response.status !== 200) throw new Error(`${url}: ${response.status}`);
    times.push(performance.now() - t);
  }
  return times;
}

/** The newest `n` rows, stamped within the last hour (one per ~70 ms), as a busy hour of writes. */
async function restamp(knex: Knex, db: Db, table: string, n: number): Promise<void> {
  const [first] = (await knex(table).max({ m: 'id' })) as Array<{ m: number | string }>;
  const m = first!.m;
  const from = Number(m) - n;
  const step = 3_500_000 / n; // milliseconds spread over 58 minutes
  if (db === 'postgres')
    await knex.raw(`update ?? set utc_stamp = now() - make_interval(secs => (? - id) * ? / 1000.0) where id > ?`, [
      table,
      Number(m),
      step,
      from,
    ]);
  else if (db === 'mysql')
    await knex.raw(`update ?? set utc_stamp = current_timestamp(3) - interval round((? - id) * ?) * 1000 microsecond where id > ?`, [
      table,
      Number(m),
      step,
      from,
    ]);
  else
    await knex.raw(
      `update ?? set utc_stamp = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || ((? - id) * ? / 1000.0) || ' seconds') where id > ?`,
      [table, Number(m), step, from],
    );
}

/**
 * The 200 pending counts the overview needs, in one statement against one per server (the
 * overview before: one query per distinct position, 10 at a time on the pool), alternating.
 */
async function comparePending(store: InstructionStore, positions: string[], n: number, label: string): Promise<Figure> {
  const one: number[] = [];
  const each: number[] = [];
  const expected = JSON.stringify([...(await store.pendingMany(positions)).values()].map((p) => p.rows));
  const perServer = await Promise.all(positions.map((p) => store.pending(p)));
  if (JSON.stringify(perServer.map((p) => p.rows)) !== expected) throw new Error(`${label}: pendingMany disagrees with pending()`);
  for (let i = 0; i < n; i++) {
    let t = performance.now();
    await store.pendingMany(positions);
    one.push(performance.now() - t);
    t = performance.now();
    await Promise.all(positions.map((p) => store.pending(p)));
    each.push(performance.now() - t);
  }
  const a = pcts(one);
  const b = pcts(each);
  return {
    id: 11,
    what: `dashboard: pending of ${positions.length} servers at ${positions.length} distinct positions, one statement`,
    db: label,
    result: `p50 ${ms(a.p50)}, p95 ${ms(a.p95)}`,
    baseline: `one statement per server: p50 ${ms(b.p50)}, p95 ${ms(b.p95)}`,
    ratio: `${(b.p50 / a.p50).toFixed(1)}× faster`,
    note: `Alternating, ${n} of each, in this process on a pool of 10 connections; the overview's pending counts are the first.`,
  };
}

/**
 * 200 servers registered and heartbeating (as of now), server k with a cursor k rows behind the
 * head: one row is written (its own transaction) before each position is taken. The positions.
 */
async function register(knex: Knex, db: Db, prefix: string, store: InstructionStore): Promise<string[]> {
  const tables = tableNames(prefix);
  const positions: string[] = [];
  for (let i = 0; i < SERVERS; i++) {
    positions.push(await store.head());
    await writeBacklog(knex, db, tables.instruction, 1, 1);
  }
  const identities = Array.from({ length: SERVERS }, (_, i) => `app-${String(i).padStart(3, '0')}`);
  for (let i = 0; i < identities.length; i += 50) {
    await knex(tables.server).insert(
      identities.slice(i, i + 50).map((identity, j) => ({
        cluster: 'default',
        server_identity: identity,
        instance_id: `bench-${i + j}`,
        host: `host-${(i + j) % 20}`,
        pid: 1000 + i + j,
        package_version: '0.1.0',
        role: i + j === 0 ? 'scheduling-publisher' : 'subscriber',
        active: true,
      })),
    );
  }
  for (const [k, identity] of identities.entries()) await store.resetCursor(identity, positions[SERVERS - 1 - k]!);
  return positions;
}
