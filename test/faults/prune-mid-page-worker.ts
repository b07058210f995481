/**
 * The prune of test/faults/prune-mid-page.ts, in a worker thread with its own connection: the test's
 * thread blocks (Atomics.wait) inside knex's 'query' event of the reader's body statement, so the
 * real pruneChunk runs and commits exactly between the reader's two statements.
 */
import knexFactory from 'knex';
import { parentPort, workerData } from 'node:worker_threads';
import { dialectFor } from '../../src/dialects/dialect.js';
import { resolveTables } from '../../src/migrations/migrate.js';
import { sqliteConfig } from '../../src/connection.js';
import { DATABASES, type DialectName } from '../support/databases.js';

export interface PruneWorkerData {
  dialect: DialectName;
  prefix: string;
  sqliteFile?: string;
  /** [0]: go (set by the test's thread), [1]: done, [2]: rows deleted, [3]: cursors marked. */
  signals: SharedArrayBuffer;
}

const data = workerData as PruneWorkerData;
const signals = new Int32Array(data.signals);
const knex = knexFactory(data.dialect === 'sqlite' ? sqliteConfig(data.sqliteFile!) : DATABASES[data.dialect].config());
const store = dialectFor(knex).createStore({ knex, tables: resolveTables(data.prefix), cluster: 'default', queryTimeout: 10_000 });
try {
  await knex.raw('select 1');
  parentPort!.postMessage('ready');
  // The worker may block: the test's thread is the one that must not.
  Atomics.wait(signals, 0, 0, 30_000);
  const result = await store.pruneChunk({ olderThanMs: 24 * 3600_000, limit: 100 });
  signals[2] = result.deleted;
  signals[3] = result.marked.length;
} finally {
  await knex.destroy();
  Atomics.store(signals, 1, 1);
  Atomics.notify(signals, 1);
}
