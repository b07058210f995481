import { Admin } from '../../src/admin/admin.js';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { cliDatabase, type CliDatabase } from './cli-run.js';
import type { DialectName } from './databases.js';
import { recorder } from './recorder.js';
import { waitFor } from './wait.js';

/** A payload value the dashboard must not show unless `showPayloads`. */
export const SECRET = 'secret-payload-value-7f3a';
/** An `originated` label written by a less-than-trusted writer: shown as text, never run. */
export const HOSTILE_ORIGIN = `<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">`;

export interface DashboardCluster {
  db: CliDatabase;
  admin: Admin;
  servers: DistributedCache[];
  /** The row whose only instruction is the refresher no server has: its failure is on the Failures page. */
  failedRow: number;
  payloadRow: number;
  close(): Promise<void>;
}

/**
 * Two live servers on one database: web-1 with a cache region that has served reads, web-2;
 * rows in the log (a payload carrying SECRET, written under HOSTILE_ORIGIN), and one recorded
 * failure (a refresher neither server has), each server caught up.
 */
export async function dashboardCluster(dialect: DialectName): Promise<DashboardCluster> {
  const db = await cliDatabase(dialect);
  // A region is registered before start, so web-1 is made here rather than by db.server().
  const web1 = new DistributedCache({
    knex: db.knex,
    tablePrefix: db.prefix,
    serverIdentity: 'web-1',
    refreshers: [recorder('product')],
    syncInterval: 60_000,
    heartbeatInterval: 200,
    notify: false,
    pruneSchedule: false,
    logger: silentLogger,
  });
  const close = async () => {
    await web1.stop();
    await db.close();
  };
  try {
    return await populate(db, web1, close);
  } catch (err) {
    await close();
    throw err;
  }
}

async function populate(db: CliDatabase, web1: DistributedCache, close: () => Promise<void>): Promise<DashboardCluster> {
  const region = web1.region<number>('price', { load: (k) => Number(k) * 10 });
  await web1.start();
  const web2 = await db.server('web-2', [recorder('product')], { heartbeatInterval: 200 });
  await region.get(1);
  await region.get(1);
  await region.get(2);
  const admin = new Admin({ knex: db.knex, tablePrefix: db.prefix });
  await admin.send({ kind: 'refresh', refresher: 'product', ids: [1, 2, 3], force: true, originated: 'import-job' });
  const payload = await admin.send({
    kind: 'payload',
    refresher: 'product',
    payloads: [{ id: 1, note: SECRET }],
    force: true,
    originated: HOSTILE_ORIGIN,
  });
  const failed = await admin.send({ kind: 'refresh', refresher: 'ghost', ids: [9], force: true, originated: 'import-job' });
  await web1.sync();
  await web2.sync();
  await waitFor(
    async () => {
      const { servers } = await admin.servers();
      return servers.some((s) => s.regions?.some((r) => r.region === 'price' && r.hits === 1));
    },
    { timeout: 15_000, interval: 100, describe: () => 'web-1 publishing its region figures with a heartbeat' },
  );
  return {
    db,
    admin,
    servers: [web1, web2],
    failedRow: failed.rowIds[0]!,
    payloadRow: payload.rowIds[0]!,
    close,
  };
}
