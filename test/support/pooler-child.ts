/**
 * A reader or writer server in its own process, for the pooler tests (test/pooler-postgres.test.ts): it
 * connects through the URL it is given (a PgBouncer), reports over IPC, and stops cleanly on
 * { type: 'stop' }. Settings come as JSON in argv[2].
 */
import knexFactory from 'knex';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { recorder } from './recorder.js';

export interface PoolerChildSettings {
  role: 'reader' | 'writer';
  url: string;
  /** The listener's own connection, or false for polling only. */
  notify: string | false;
  prefix: string;
  identity: string;
  /** Writer: how many transactions to run (about 10% roll back). */
  writes?: number;
}

export type PoolerChildMessage =
  | { type: 'started' }
  | { type: 'report'; ids: string[] }
  | { type: 'written'; committed: string[]; rolledBack: string[] }
  | { type: 'stopped' };

const settings = JSON.parse(process.argv[2] ?? '{}') as PoolerChildSettings;
const send = (message: PoolerChildMessage) => process.send?.(message);
const knex = knexFactory({ client: 'pg', connection: settings.url, pool: { min: 0, max: 5 } });
const seen = recorder();
const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.identity,
  refreshers: [seen],
  syncInterval: 500,
  notify: settings.notify,
  pruneSchedule: false,
  logger: silentLogger,
});
await cache.start();
send({ type: 'started' });

process.on('message', (message: { type: 'stop' | 'report' }) => {
  if (message.type === 'report') send({ type: 'report', ids: seen.refreshedIds().map(String) });
  if (message.type === 'stop') {
    void (async () => {
      await cache.stop();
      await knex.destroy();
      send({ type: 'stopped' });
      process.disconnect();
    })();
  }
});

if (settings.role === 'writer') {
  const committed: string[] = [];
  const rolledBack: string[] = [];
  class Rollback extends Error {}
  for (let i = 0; i < (settings.writes ?? 50); i++) {
    const id = `${settings.identity}-${i}`;
    const rollback = Math.random() < 0.1;
    try {
      await knex.transaction(async (trx) => {
        await cache.refresh('product', [id], { trx });
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 5));
        if (rollback) throw new Rollback();
      });
      committed.push(id);
    } catch (err) {
      if (!(err instanceof Rollback)) throw err;
      rolledBack.push(id);
    }
  }
  send({ type: 'written', committed, rolledBack });
}
