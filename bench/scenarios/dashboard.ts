import type { Knex } from 'knex';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dialectFor } from '../../src/dialects/dialect.js';
import { dashboard } from '../../src/dashboard/index.js';
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
 * #11: the dashboard (issue 26) on a cluster of 200 registered servers, each with a cursor at the
 * head, and a 1,000,000-row analyzed log whose newest 50,000 rows are from the last hour. Measured
 * over HTTP in this process: the Overview page, GET /api/overview, and the Instructions page (the
 * per-minute chart and the tail). The page must never be the slow query on the database.
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
    await restamp(knex, db, tables.instruction, recent);
    await register(knex, target.prefix);
    await analyze(knex, db, [tables.instruction, tables.cursor, tables.server]);
    await settle(knex, db);
    const server = createServer(dashboard({ knex, tablePrefix: target.prefix }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const check = (await (await fetch(`${base}/api/overview`)).json()) as { servers: unknown[] };
      if (check.servers.length !== SERVERS) throw new Error(`overview listed ${check.servers.length} servers, not ${SERVERS}`);
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
      return [
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

/** 200 servers registered and heartbeating (as of now), each with a cursor at the head. */
async function register(knex: Knex, prefix: string): Promise<void> {
  const tables = tableNames(prefix);
  const store = dialectFor(knex).createStore({ knex, tables, cluster: 'default', queryTimeout: 600_000 });
  const head = await store.head();
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
  for (const identity of identities) await store.resetCursor(identity, head);
}
