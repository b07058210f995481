import cluster, { type Worker } from 'node:cluster';
import knexFactory, { type Knex } from 'knex';
import { knexConfigFromUrl } from '../connection.js';
import { dialectFor } from '../dialects/dialect.js';
import { notifyChannel, PostgresWakeSource } from '../dialects/wake-sources.js';
import { errors } from '../errors.js';
import { validateCluster, validateTablePrefix } from '../identifiers.js';
import { defaultLogger, type Logger } from '../logger.js';
import { resolveTables } from '../migrations/migrate.js';
import { trackClosed, trackOpen } from '../open-resources.js';
import { DEFAULTS, type NotifyConnectionSettings } from '../options.js';
import { isRelayMessage, RELAY_NOTIFY, RELAY_WAKE, type RelayMessage } from '../wake/relay.js';

export interface ClusterWakeRelayOptions {
  /** The primary database, as the workers' caches reach it (a pg knex); or give `connection`. */
  knex?: Knex;
  /** A postgres:// URL; the relay then builds (and at stop() destroys) a one-connection pool of its own. */
  connection?: string;
  /** The workers' caches' `tablePrefix`. @default '' */
  tablePrefix?: string;
  /** The workers' caches' `cluster`. @default 'default' */
  cluster?: string;
  /** The listener's own session, as the cache's `notify` URL or settings (behind a transaction-mode pooler). */
  notify?: string | NotifyConnectionSettings;
  /** Bounds the listener's statements, as the cache's option does. @default 5000 */
  queryTimeout?: number;
  logger?: Logger;
}

export interface ClusterWakeRelay {
  /** The NOTIFY channel relayed (the workers' caches' one). */
  readonly channel: string;
  /** Whether the LISTEN session is up, so a commit elsewhere reaches the workers now. */
  readonly listening: boolean;
  /** Wake-ups sent to workers, one per worker each; for tests and the benchmark. */
  readonly relayed: number;
  /** Stops listening and forwarding; releases the session (and the relay's own pool). Idempotent. */
  stop(): Promise<void>;
}

/**
 * In a `cluster` primary: one LISTEN session for the whole host, shared by its workers. Each
 * NOTIFY (and each (re)connect, after which anything may have been missed) is sent to every
 * worker over IPC; a worker's commit comes in over IPC and goes to the other workers and, as a
 * NOTIFY, to the other hosts. The listener is the caches' own (reconnects, probe, bounds), so the
 * relay behaves as a cache's wake-up does; the workers keep polling as the safety net.
 *
 * Resolves once the first attempt to listen has finished, whether it worked or not.
 */
export async function startClusterWakeRelay(options: ClusterWakeRelayOptions): Promise<ClusterWakeRelay> {
  if (!cluster.isPrimary)
    throw new errors.InvalidOptionError("clusterWakeRelay.primary() runs in the cluster primary; workers use notify: 'relay'");
  if ((options.knex === undefined) === (options.connection === undefined))
    throw new errors.InvalidOptionError('clusterWakeRelay.primary(): pass either knex or connection (a postgres:// URL)');
  // Checked before a pool of our own exists, so a refusal leaves nothing open.
  const tables = resolveTables(validateTablePrefix(options.tablePrefix ?? DEFAULTS.tablePrefix));
  const name = validateCluster(options.cluster ?? DEFAULTS.cluster);
  const own =
    options.connection === undefined ? undefined : knexFactory({ ...knexConfigFromUrl(options.connection), pool: { min: 0, max: 1 } });
  const knex = own ?? options.knex!;
  if (!dialectFor(knex).listenerConnection) {
    await own?.destroy();
    throw new errors.InvalidOptionError('clusterWakeRelay.primary(): the relay needs PostgreSQL (LISTEN/NOTIFY)');
  }
  const channel = notifyChannel(tables.prefix, name);
  const logger = options.logger ?? defaultLogger;
  const source = new PostgresWakeSource({
    knex,
    tables,
    cluster: name,
    logger,
    queryTimeout: options.queryTimeout ?? DEFAULTS.queryTimeout,
    connection: options.notify as string | Record<string, unknown> | undefined,
  });
  let relayed = 0;
  const forward = (except?: Worker): void => {
    for (const worker of Object.values(cluster.workers ?? {})) {
      if (!worker || worker === except || !worker.isConnected()) continue;
      try {
        worker.send({ type: RELAY_WAKE, channel } satisfies RelayMessage);
        relayed += 1;
      } catch (err) {
        // A worker exiting: its replacement polls at start.
        logger.debug({ err, worker: worker.id }, 'distcache relay: a worker could not be told');
      }
    }
  };
  const onWorkerCommit = (worker: Worker, message: unknown): void => {
    if (!isRelayMessage(message, RELAY_NOTIFY) || message.channel !== channel) return;
    forward(worker);
    source.notifyCommitted();
  };
  let stopping: Promise<void> | undefined;
  const relay: ClusterWakeRelay = {
    channel,
    get listening() {
      return !stopping && source.listening;
    },
    get relayed() {
      return relayed;
    },
    stop() {
      stopping ??= (async () => {
        cluster.off('message', onWorkerCommit);
        await source.stop();
        await own?.destroy();
        trackClosed(relay);
      })();
      return stopping;
    },
  };
  trackOpen(relay);
  cluster.on('message', onWorkerCommit);
  await source.start(() => forward());
  return relay;
}
