import type { Knex } from 'knex';
import { DistributedCache, type ColdBootReason } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { recorder, type RecordingRefresher } from './recorder.js';

/** A server of the lifecycle tests (issue 15): a cache with one recording refresher and its cold boots. */
export interface LifecycleServer {
  cache: DistributedCache;
  product: RecordingRefresher;
  boots: Array<{ reason: ColdBootReason; detail?: string }>;
  knex: Knex;
}

/**
 * A started cache on `knex`. `polling`: it polls on its own every 100 ms (a server that stays up
 * through the operation); otherwise the test drives `sync()`.
 */
export async function lifecycleServer(
  knex: Knex,
  prefix: string,
  identity: string,
  options: { polling?: boolean } = {},
): Promise<LifecycleServer> {
  const product = recorder();
  const cache = new DistributedCache({
    knex,
    tablePrefix: prefix,
    serverIdentity: identity,
    refreshers: [product],
    syncInterval: options.polling ? 100 : 60_000,
    maxErrorBackoff: 400,
    queryTimeout: 3000,
    notify: false,
    pruneSchedule: false,
    logger: silentLogger,
  });
  const boots: LifecycleServer['boots'] = [];
  cache.on('server:cold-boot', (e) => boots.push({ reason: e.reason, ...(e.detail === undefined ? {} : { detail: e.detail }) }));
  cache.on('sync:error', () => undefined);
  await cache.start();
  return { cache, product, boots, knex };
}

/** Writes `ids` as refresh instructions, one row each. */
export async function write(writer: LifecycleServer, ids: number[]): Promise<void> {
  for (const id of ids) await writer.cache.refresh('product', [id]);
}

export const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

/** The rule: each id in `ids` reached the server, or it cold-booted after `bootsBefore`. */
export function receivedOrColdBooted(s: LifecycleServer, ids: number[], bootsBefore: number): boolean {
  const got = new Set(s.product.refreshedIds());
  return ids.every((id) => got.has(id)) || s.boots.length > bootsBefore;
}

/** Hands out `n` transaction ids (PostgreSQL), each in its own transaction, as a busy database does. */
export async function burnXids(knex: Knex, n: number): Promise<void> {
  for (let i = 0; i < n; i += 1) await knex.raw('select pg_current_xact_id()');
}

/** Burns xids until the database's counter has passed `position`'s xmax: the "position ahead" check can no longer see it. */
export async function burnUntilPast(knex: Knex, position: string): Promise<void> {
  const past = async () =>
    (await knex.raw('select pg_snapshot_xmax(pg_current_snapshot()) > pg_snapshot_xmax(?::pg_snapshot) as past', [position])).rows[0]
      .past === true;
  while (!(await past())) await burnXids(knex, 50);
}

/** Retries `work` while a restarted database comes back (old pooled connections fail once each). */
export async function retrying<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= 10) throw err;
    }
  }
}
