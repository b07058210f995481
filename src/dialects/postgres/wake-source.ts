import type { Knex } from 'knex';
import { SharedResources } from '../../wake/shared.js';
import { notifyChannel } from './channel.js';
import type { WakeSource, WakeSourceConfig } from '../../wake/wake-source.js';
import type { DialectStatement } from '../../store/executor.js';
import { listenerConnection } from './listener-connection.js';
import { boundQuery } from '../../store/bound-query.js';
import { PgListener, type ListenerSettings, type ListenerStats } from './listener.js';
import type { Subscription } from './subscriptions.js';

/** Every listener of this process, by connection settings. */
const listeners = new SharedResources<PgListener>();

/** How many listener connections this process holds open; tests check that none leaks. */
export function openListenerCount(): number {
  return listeners.size;
}

export type PostgresWakeOptions = Partial<
  Pick<ListenerSettings, 'reconnectBase' | 'reconnectMax' | 'livenessInterval' | 'probeTimeout' | 'reprobeBase' | 'reprobeMax'>
>;

const ADVICE_POOLED =
  "Fix: give the listener its own session with the notify option, e.g. notify: 'postgres://user@db-host:5432/app' " +
  '(straight to PostgreSQL, or a session-mode pool), or turn it off with notify: false.';
const ADVICE_OWN = 'Fix: the notify connection must reach PostgreSQL itself or a session-mode pool, and the same database as knex.';

/**
 * LISTEN/NOTIFY wake-up for one cache on PostgreSQL. All caches of a process whose listener
 * connects with the same settings share one listener session, whatever their channels; it closes
 * when the last of them stops.
 *
 * LISTEN cannot work through a pooler in transaction mode (PgBouncer `pool_mode = transaction`):
 * the session that ran it is handed to other clients after each transaction. So at every connect
 * the listener probes (a NOTIFY through knex's pool must come back), and turns the wake-up off,
 * saying so, when it does not; it keeps probing at a slow backoff and turns it back on, clearing
 * health()'s warning, once a probe is heard. `connection` (the `notify` option's URL or settings) gives the
 * listener its own session straight to PostgreSQL while queries go through the pooler.
 */
export class PostgresWakeSource implements WakeSource {
  readonly kind = 'postgres-notify' as const;
  readonly channel: string;
  private readonly knex: Knex;
  private readonly key: string;
  private readonly queryTimeout: number;
  private listener: PgListener | undefined;
  private subscription: Subscription | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly config: WakeSourceConfig,
    private readonly options: PostgresWakeOptions = {},
  ) {
    this.knex = config.knex;
    this.channel = notifyChannel(config.tables.prefix, config.cluster);
    this.key = listenerConnection(config.knex, config.connection).key;
    this.queryTimeout = config.queryTimeout;
  }

  start(onWake: () => void): Promise<void> {
    if (this.stopping) return Promise.resolve();
    this.starting ??= this.doStart(onWake);
    return this.starting;
  }

  private async doStart(onWake: () => void): Promise<void> {
    const { logger, onError } = this.config;
    this.listener = listeners.acquire(
      this.key,
      () =>
        new PgListener(listenerConnection(this.knex, this.config.connection), {
          queryTimeout: this.queryTimeout,
          logger,
          probeAdvice: this.config.connection === undefined ? ADVICE_POOLED : ADVICE_OWN,
          ...this.options,
        }),
    );
    this.subscription = {
      channel: this.channel,
      onWake,
      onError,
      pendingWake: true,
      notifyThroughPool: (payload) => this.notifyThroughPool(payload),
    };
    await this.listener.subscribe(this.subscription);
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // A start in flight has acquired the listener by now (doStart does so synchronously).
    const { listener, subscription } = this;
    if (!listener || !subscription) return;
    await listener.unsubscribe(subscription);
    await listeners.release(this.key, listener);
  }

  notifyCommitted(): void {
    const listener = this.listener;
    if (!listener || this.stopping) return;
    listener.notify(this.channel, this.subscription, (payload) => this.notifyThroughPool(payload));
  }

  inTransactionNotify(): DialectStatement {
    // An empty payload is nobody's listener id, so this process's own listener wakes its poller too.
    return { text: 'select pg_notify(?, ?)', values: [this.channel, ''], dialect: 'postgres' };
  }

  private notifyThroughPool(payload: string): Promise<unknown> {
    return boundQuery(this.knex.raw('select pg_notify(?, ?)', [this.channel, payload]), this.queryTimeout, true);
  }

  /** Why the wake-up does not work and what to do; undefined while it works or is still connecting. */
  get problem(): string | undefined {
    return this.stopping ? undefined : this.listener?.problem;
  }

  get state(): 'connecting' | 'on' | 'off' {
    return this.listener?.wakeUp ?? 'connecting';
  }

  get listening(): boolean {
    return !this.stopping && this.listener !== undefined && this.listener.isListening(this.channel);
  }

  /** The listening session's backend pid while connected; for tests and diagnostics. */
  get listenerPid(): number | undefined {
    return this.stopping ? undefined : this.listener?.pid;
  }

  /** The id this process's NOTIFYs carry as their payload (its own come back recognised by it); for tests. */
  get listenerId(): string | undefined {
    return this.listener?.instanceId;
  }

  /** Counters of the shared listener (connects, failures, NOTIFYs received and sent). */
  get stats(): Readonly<ListenerStats> | undefined {
    return this.listener?.stats;
  }
}
