/**
 * One application server for the read-your-writes process test (read-your-writes-processes.test.ts):
 * a region over a table of versioned rows. The parent asks it to write a row (it answers with the
 * new version and the write's position token) or to read one, after waiting for a token or not.
 * Settings come as JSON in argv[2]; it reports over IPC.
 */
import knexFactory, { type Knex } from 'knex';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { DATABASES, sqliteConfig, type DialectName } from './databases.js';

export interface RywChildSettings {
  dialect: DialectName;
  sqliteFile?: string;
  prefix: string;
  identity: string;
  syncInterval: number;
}

export type RywRequest =
  { type: 'write'; id: number } | { type: 'read'; id: number; position?: string; timeoutMs: number } | { type: 'stop' };

export type RywReply =
  | { type: 'ready' }
  | { type: 'written'; version: number; position: string }
  | { type: 'read'; version: number | undefined; applied: boolean | null; waitMs: number }
  | { type: 'stopped' };

const settings = JSON.parse(process.argv[2] ?? '{}') as RywChildSettings;
const knex = knexFactory(
  settings.dialect === 'sqlite'
    ? sqliteConfig(settings.sqliteFile ?? '')
    : { ...DATABASES[settings.dialect].config(), pool: { min: 0, max: 4 } },
);
const table = `${settings.prefix}app_data`;
const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.identity,
  syncInterval: settings.syncInterval,
  // No wake-up: a server learns of another's write at its next poll, as it would across a slow network.
  notify: false,
  pruneSchedule: false,
  logger: silentLogger,
});
const rows = cache.region<{ version: number }>('row', {
  load: async (id) => {
    const row = await knex(table).where({ id }).first('version');
    return row ? { version: Number(row.version) } : undefined;
  },
});
const send = (reply: RywReply) => process.send?.(reply);

async function write(id: number): Promise<RywReply> {
  let version = 0;
  let position = '';
  await knex.transaction(async (trx: Knex.Transaction) => {
    await trx(table).where({ id }).increment('version', 1);
    version = Number((await trx(table).where({ id }).first('version')).version);
    position = await rows.refresh([id], { trx });
  });
  return { type: 'written', version, position };
}

async function read(id: number, position: string | undefined, timeoutMs: number): Promise<RywReply> {
  const started = performance.now();
  const applied = position === undefined ? null : await cache.waitFor(position, { timeout: timeoutMs });
  const waitMs = performance.now() - started;
  return { type: 'read', version: (await rows.get(id))?.version, applied, waitMs };
}

process.on('message', (message: RywRequest) => {
  (async () => {
    if (message.type === 'write') send(await write(message.id));
    else if (message.type === 'read') send(await read(message.id, message.position, message.timeoutMs));
    else {
      await cache.stop();
      await knex.destroy();
      send({ type: 'stopped' });
      process.disconnect();
    }
  })().catch((err) => {
    console.error(settings.identity, 'failed:', err);
    process.exit(1);
  });
});

await cache.start();
send({ type: 'ready' });
