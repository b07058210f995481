/**
 * One cache server in its own process, for the tests where the point is process failure (a
 * publisher killed with SIGKILL). Started by `spawnServer` (child-servers.ts) with its settings as
 * JSON in argv[2]; reports over IPC, and stops cleanly on a { type: 'stop' } message.
 */
import knexFactory from 'knex';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { DATABASES, sqliteConfig } from './databases.js';
import type { ChildSettings, ChildMessage, ParentMessage } from './child-servers.js';

const settings = JSON.parse(process.argv[2] ?? '{}') as ChildSettings;
const knex = knexFactory(settings.dialect === 'sqlite' ? sqliteConfig(settings.sqliteFile ?? '') : DATABASES[settings.dialect].config());
const send = (message: ChildMessage) => process.send?.(message);

const cache = new DistributedCache({
  knex,
  tablePrefix: settings.prefix,
  serverIdentity: settings.identity,
  cluster: settings.cluster,
  role: settings.role,
  heartbeatInterval: settings.heartbeatInterval,
  leaseDuration: settings.leaseDuration,
  staleServerTimeout: settings.staleServerTimeout,
  syncInterval: 60_000,
  pruneSchedule: false,
  logger: silentLogger,
  // Behind a transaction-mode pooler the listener needs a session of its own, as the harness gives
  // its caches (see databases.ts): without one the probe's LISTEN can stay on a pooled session.
  ...(process.env.DISTCACHE_PG_NOTIFY_URL ? { notify: process.env.DISTCACHE_PG_NOTIFY_URL } : {}),
});
cache.on('server:role-changed', ({ previous, role }) => send({ type: 'role', previous, role, at: Date.now() }));

process.on('message', (message: ParentMessage) => {
  if (message.type !== 'stop') return;
  void (async () => {
    await cache.stop();
    send({ type: 'stopped', at: Date.now() });
    await knex.destroy();
    process.disconnect();
  })();
});
// The parent went away (a failed test): do not linger.
process.on('disconnect', () => setTimeout(() => process.exit(0), 50).unref());

await cache.start();
send({ type: 'started', instanceId: cache.instanceId, at: Date.now() });
