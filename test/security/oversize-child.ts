/**
 * One cache server in its own process for the oversize-row attack (test/security/oversize.ts): if
 * a row could make the driver throw outside a caught path, this process would exit, as every
 * PostgreSQL server of a fleet did on a 560-million-character row. Settings as JSON in argv[2];
 * reports every refresher call and every malformed row over IPC; stops on a { type: 'stop' } message.
 */
import knexFactory from 'knex';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { recorder } from '../support/recorder.js';
import { DATABASES, sqliteConfig } from '../support/databases.js';
import type { DialectName } from '../support/databases.js';

export interface OversizeChildSettings {
  dialect: DialectName;
  prefix: string;
  maxRowBytes: number;
  /** SQLite: the test's database file, shared with this process. */
  sqliteFile?: string;
}

export type OversizeChildMessage =
  { type: 'started' } | { type: 'call'; call: unknown } | { type: 'malformed'; rowId: number; reason: string } | { type: 'stopped' };

const settings = JSON.parse(process.argv[2] ?? '{}') as OversizeChildSettings;
const knex = knexFactory(settings.sqliteFile ? sqliteConfig(settings.sqliteFile) : DATABASES[settings.dialect].config());
const send = (message: OversizeChildMessage) => process.send?.(message);
const product = recorder('product', { onCall: (call) => void send({ type: 'call', call }) });

const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: 'oversize-child',
  refreshers: [product],
  syncInterval: 50,
  pruneSchedule: false,
  maxRowBytes: settings.maxRowBytes,
  logger: silentLogger,
});
cache.on('instruction:malformed', ({ rowId, reason }) => send({ type: 'malformed', rowId, reason }));

process.on('message', (message: { type: string }) => {
  if (message.type !== 'stop') return;
  void (async () => {
    await cache.stop();
    send({ type: 'stopped' });
    await knex.destroy();
    process.disconnect();
  })();
});
process.on('disconnect', () => setTimeout(() => process.exit(0), 50).unref());

await cache.start();
send({ type: 'started' });
