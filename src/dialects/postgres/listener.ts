import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describeError } from '../../errors.js';
import type { Logger } from '../../logger.js';
import { backoffDelay } from '../../sync/backoff.js';
import type { ListenerConnection } from './listener-connection.js';
import { probeFailedReason, probeWakeUp, unlistenWhereListened } from './probe.js';

/** One cache's interest in one channel. */
export interface Subscription {
  readonly channel: string;
  onWake(): void;
  onError?(error: Error, retryInMs: number): void;
  /** Woken once after its channel is LISTENed on the current connection. */
  pendingWake: boolean;
  /** Resolves `subscribe()`: after the first wake, or after a connect attempt failed. */
  settle?: () => void;
  /** Sends a NOTIFY with `payload` on `channel` through the application's pool (another session than the listener's). */
  notifyThroughPool?: (payload: string) => Promise<unknown>;
}

/**
 * - connecting: not listening yet, or reconnecting;
 * - on: listening, and a NOTIFY sent through the pool was heard back;
 * - off: the probe's NOTIFY was not heard, so LISTEN does not work on this connection (a
 *   transaction-mode pooler, or a NOTIFY slower than the probe's wait); the listener gave up its
 *   connection, only polling delivers, and it probes again now and then until a probe is heard.
 */
export type WakeUpState = 'connecting' | 'on' | 'off';

export interface ListenerSettings {
  queryTimeout: number;
  logger: Logger;
  /** First reconnect delay; doubles per failed attempt. */
  reconnectBase?: number;
  /** Longest delay between reconnect attempts. */
  reconnectMax?: number;
  /** How often an idle connection is checked with `select 1`, to notice a silently dead peer. */
  livenessInterval?: number;
  /** How long the probe NOTIFY may take to come back before the wake-up is marked off. @default 1000 */
  probeTimeout?: number;
  /** Said in the warning and in health() when the probe fails: how to give the listener a working session. */
  probeAdvice?: string;
  /** First wait before probing again after a failed probe; doubles per failed probe. @default 1000 */
  reprobeBase?: number;
  /** Longest wait between probes while the wake-up is off. @default 60000 */
  reprobeMax?: number;
}

export interface ListenerStats {
  /** Successful connects, the first one included. */
  connects: number;
  /** Failed connect attempts and lost connections. */
  failures: number;
  /** NOTIFYs received from other sessions. */
  notificationsReceived: number;
  /** NOTIFYs sent: on the listener connection, or through knex while it was down. */
  notifiesSent: number;
}

/** A connection that listened this long was healthy; the next reconnect starts the backoff over. */
const STABLE_CONNECTION_MS = 5_000;

/** Per channel: at most one NOTIFY in flight and one waiting behind it. */
interface NotifyState {
  inFlight: boolean;
  pending: boolean;
}

/**
 * One dedicated PostgreSQL session per process (per set of connection settings) that LISTENs on
 * every channel its subscribers need. On every connect it LISTENs, then wakes every subscriber,
 * because anything committed while it was not listening sent a NOTIFY nobody heard. A lost
 * connection is retried with jittered exponential backoff, forever.
 *
 * It also sends this process's NOTIFYs: after a commit, coalesced per channel (one in flight, one
 * pending), on its own session, so a burst of writes costs a few NOTIFYs and never waits for a
 * pooled connection. Its own NOTIFYs come back to it and are ignored: the other caches of this
 * process on that channel were woken directly, without the round trip.
 */
export class PgListener {
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private readonly notifiers = new Map<string, NotifyState>();
  /** The connected session, once it has connected; undefined while (re)connecting. */
  private client: pg.Client | undefined;
  /** Channels LISTENed on `client`. */
  private readonly listened = new Set<string>();
  /** The backend pid that ran each channel's LISTEN: behind a transaction pooler, not the connection's. */
  private readonly listenedOn = new Map<string, number>();
  private reconciling: Promise<void> = Promise.resolve();
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Ends the current connection (or the backoff sleep) early. */
  private interrupt: (() => void) | undefined;
  private backendPid: number | undefined;
  /**
   * Carried in every NOTIFY payload this process sends, so its own come back recognised: behind
   * a pooler the sender's backend pid is a session the pooler chose, not the listener's.
   */
  readonly instanceId = randomUUID();
  private probeCount = 0;
  private probeHeard: ((payload: string) => void) | undefined;
  private state: WakeUpState = 'connecting';
  private offReason: string | undefined;
  readonly stats: ListenerStats = { connects: 0, failures: 0, notificationsReceived: 0, notifiesSent: 0 };
  private readonly reconnectBase: number;
  private readonly reconnectMax: number;
  private readonly livenessInterval: number;
  private readonly reprobeBase: number;
  private readonly reprobeMax: number;

  constructor(
    private readonly connection: ListenerConnection,
    private readonly settings: ListenerSettings,
  ) {
    this.reconnectBase = settings.reconnectBase ?? 100;
    this.reconnectMax = settings.reconnectMax ?? 10_000;
    this.livenessInterval = settings.livenessInterval ?? 30_000;
    this.reprobeBase = settings.reprobeBase ?? 1_000;
    this.reprobeMax = settings.reprobeMax ?? 60_000;
  }

  get wakeUp(): WakeUpState {
    return this.state;
  }

  /** Why the wake-up is off, and what to do about it; undefined while it is not off. */
  get problem(): string | undefined {
    return this.state === 'off' ? this.offReason : undefined;
  }

  /** The backend pid of the listening session, while connected (for pg_terminate_backend in tests). */
  get pid(): number | undefined {
    return this.client ? this.backendPid : undefined;
  }

  isListening(channel: string): boolean {
    return this.state === 'on' && this.client !== undefined && this.listened.has(channel);
  }

  /** Resolves once `subscription` has been woken on a listening connection, or a connect attempt failed. */
  subscribe(subscription: Subscription): Promise<void> {
    if (this.closed) return Promise.resolve();
    let set = this.subscriptions.get(subscription.channel);
    if (!set) this.subscriptions.set(subscription.channel, (set = new Set()));
    set.add(subscription);
    subscription.pendingWake = true;
    this.loop ??= this.run();
    // The last probe showed LISTEN does not work here; this process polls until a later probe is
    // heard, and then every subscriber is woken (see connectAndListen).
    if (this.state === 'off') return Promise.resolve();
    const settled = new Promise<void>((resolve) => (subscription.settle = resolve));
    // Already connected: LISTEN (if this channel is new), then wake it, as on a reconnect.
    if (this.client) void this.reconcile().then(() => this.wakePending(), () => undefined);
    return settled;
  }

  async unsubscribe(subscription: Subscription): Promise<void> {
    const set = this.subscriptions.get(subscription.channel);
    if (!set?.delete(subscription)) return;
    subscription.settle?.();
    if (set.size === 0) {
      this.subscriptions.delete(subscription.channel);
      if (this.client && !this.closed) await this.reconcile().catch(() => undefined);
    }
  }

  /**
   * A write committed on `channel`: wakes the other subscribers of this process at once and
   * sends one NOTIFY for the other processes. `fallback` sends it through knex's pool while the
   * listener is disconnected. Never waits, never throws.
   */
  notify(channel: string, from: Subscription | undefined, fallback: (payload: string) => Promise<unknown>): void {
    for (const subscription of this.subscriptions.get(channel) ?? []) {
      if (subscription !== from) callSafely(subscription.onWake);
    }
    let state = this.notifiers.get(channel);
    if (!state) this.notifiers.set(channel, (state = { inFlight: false, pending: false }));
    if (state.inFlight) {
      // The NOTIFY in flight may have gone out before this commit; one more follows it.
      state.pending = true;
      return;
    }
    void this.sendNotifies(channel, state, fallback);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt?.();
    await this.loop;
  }

  private async sendNotifies(channel: string, state: NotifyState, fallback: (payload: string) => Promise<unknown>): Promise<void> {
    state.inFlight = true;
    try {
      do {
        state.pending = false;
        try {
          const client = this.client;
          // On the listener's own session when it is up (no pool to wait for); through knex otherwise,
          // or when that session just failed (query() has dropped it, and the loop reconnects).
          // Plain statements, not pg_notify($1, $2): the simple protocol runs them in one round
          // trip, cheaper than a parse-bind-execute (measured here: 0.13 ms against 0.2 ms). The
          // NOTIFY's commit need not wait for a WAL flush (a NOTIFY lost in a crash costs at most
          // one poll interval, never an instruction); SET LOCAL keeps that to this transaction, so
          // nothing stays on a session a pooler hands to the application next.
          const sql = `begin; set local synchronous_commit = off; notify ${escapeIdentifier(channel)}, ${escapeLiteral(this.instanceId)}; commit`;
          if (!client || !(await this.query(client, sql).then(() => true, () => false))) await fallback(this.instanceId);
          this.stats.notifiesSent += 1;
        } catch (err) {
          // The other processes still get the row at their next poll.
          this.settings.logger.debug({ err: describeError(err), channel }, 'could not send the wake-up NOTIFY');
        }
      } while (state.pending && !this.closed);
    } finally {
      state.inFlight = false;
    }
  }

  /** Connect, LISTEN, wake, wait for the connection to end; again after a backoff; until closed. */
  private async run(): Promise<void> {
    let attempt = 0;
    let probesFailed = 0;
    while (!this.closed) {
      const life = await this.connectAndListen();
      if (this.closed) break;
      if (this.state === 'off') {
        // A failed probe is no verdict for good: the operator may fix the pooler, a slow NOTIFY
        // may be quick next time. Probe again, slowly (each one costs a connection and a
        // NOTIFY), with the shared jittered backoff so a fleet does not probe in step.
        const retryInMs = backoffDelay(probesFailed++, this.reprobeBase, this.reprobeMax);
        this.settings.logger.debug({ err: describeError(life.error), retryInMs }, 'distcache wake-up is off; probing again later');
        await this.pause(retryInMs);
        continue;
      }
      probesFailed = 0;
      this.stats.failures += 1;
      // A connection that listened for a while starts the backoff over; one that dies at once
      // (a pooler that closes it, a flapping server) keeps backing off.
      if (life.listenedMs >= STABLE_CONNECTION_MS) attempt = 0;
      const retryInMs = backoffDelay(attempt++, this.reconnectBase, this.reconnectMax);
      this.report(life.error, retryInMs, attempt);
      // subscribe() resolves after a failed attempt too: start() never waits for a database that is down.
      for (const set of this.subscriptions.values()) for (const s of set) s.settle?.();
      await this.pause(retryInMs);
    }
    for (const set of this.subscriptions.values()) for (const s of set) s.settle?.();
  }

  /** One connection's life: connect, LISTEN, wake everyone, wait until it ends. Resolves with why it ended. */
  private async connectAndListen(): Promise<{ error: Error; listenedMs: number }> {
    let client: pg.Client | undefined;
    let liveness: NodeJS.Timeout | undefined;
    let listeningSince: number | undefined;
    let connected = false;
    try {
      client = new this.connection.Client(await this.connection.config());
      const ended = new Promise<Error>((resolve) => {
        // An 'error' listener stays attached for the client's whole life: a late socket error
        // on a client without one would crash the process.
        client!.on('error', (err) => resolve(err));
        client!.on('end', () => resolve(new Error('the listener connection ended')));
        this.interrupt = () => resolve(new Error('the listener was closed'));
      });
      client.on('notification', (message) => this.dispatch(message));
      await Promise.race([this.bounded(client.connect(), 'connecting'), ended.then((err) => Promise.reject(err))]);
      connected = true;
      if (this.closed) return { error: new Error('the listener was closed'), listenedMs: 0 };
      this.backendPid = (client as unknown as { processID?: number }).processID;
      this.client = client;
      this.listened.clear();
      this.listenedOn.clear();
      await this.reconcile();
      if (!(await this.probe(client))) {
        await this.giveUp(client);
        return { error: new Error('the wake-up probe was not heard'), listenedMs: 0 };
      }
      if (this.state === 'off') this.settings.logger.info({ pid: this.backendPid }, 'distcache: the wake-up is on again: the probe NOTIFY was heard');
      this.state = 'on';
      listeningSince = Date.now();
      this.stats.connects += 1;
      if (this.stats.connects > 1) this.settings.logger.info({ pid: this.backendPid }, 'distcache wake-up listener reconnected');
      // LISTEN, then poll: whatever was committed while nobody listened sent a NOTIFY nobody heard.
      for (const set of this.subscriptions.values()) for (const s of set) s.pendingWake = true;
      this.wakePending();
      liveness = setInterval(() => {
        const current = this.client;
        if (current) this.query(current, 'select 1').catch(() => undefined);
      }, this.livenessInterval);
      liveness.unref();
      return { error: await ended, listenedMs: Date.now() - listeningSince };
    } catch (err) {
      return { error: err instanceof Error ? err : new Error(String(err)), listenedMs: listeningSince === undefined ? 0 : Date.now() - listeningSince };
    } finally {
      if (liveness) clearInterval(liveness);
      if (this.state === 'on') this.state = 'connecting';
      this.interrupt = undefined;
      if (this.client === client) this.client = undefined;
      this.listened.clear();
      if (client) {
        client.removeAllListeners('notification');
        if (connected) await this.bounded(client.end(), 'closing').catch(() => destroy(client!));
        else destroy(client);
      }
    }
  }

  /** See probe.ts. A pool that cannot send the NOTIFY fails the connect as usual: that is no verdict on LISTEN. */
  private async probe(client: pg.Client): Promise<boolean> {
    const subscription = [...this.subscriptions].flatMap(([channel, set]) => [...set].map((s) => ({ channel, s }))).find((x) => x.s.notifyThroughPool);
    const send = subscription?.s.notifyThroughPool;
    if (!subscription || !send || !this.listened.has(subscription.channel)) return true; // nothing to probe with: trust it
    try {
      return await probeWakeUp({
        payload: `${this.instanceId}:probe:${++this.probeCount}`,
        timeoutMs: this.settings.probeTimeout ?? 1000,
        send,
        onHeard: (handler) => (this.probeHeard = handler),
      });
    } catch (err) {
      this.drop(client, err);
      throw err;
    }
  }

  /** The probe failed: LISTEN cannot work on this connection. Undo it, say so once, poll only. */
  private async giveUp(client: pg.Client): Promise<void> {
    // Warned once per stretch off, not at every probe that fails again.
    if (this.state !== 'off') {
      this.offReason = probeFailedReason(this.settings.probeTimeout ?? 1000, this.settings.probeAdvice);
      this.settings.logger.warn({ channels: [...this.listened] }, `distcache: ${this.offReason}`);
    }
    this.state = 'off';
    const unlisten = (channel: string) => this.backendPidAfter(client, `unlisten ${escapeIdentifier(channel)}`);
    await unlistenWhereListened(this.listenedOn, unlisten, this.settings.logger).catch(() => undefined);
    this.listenedOn.clear();
    this.listened.clear();
    for (const set of this.subscriptions.values()) for (const s of set) s.settle?.();
  }

  /** Runs `statement` and `select pg_backend_pid()` in one message (so on one server session); the pid. */
  private async backendPidAfter(client: pg.Client, statement: string): Promise<number | undefined> {
    try {
      const results = (await this.bounded(client.query(`${statement}; select pg_backend_pid() as pid`), statement.split(' ')[0] ?? 'query')) as unknown;
      const last = Array.isArray(results) ? results[results.length - 1] : results;
      const pid = (last as { rows?: Array<{ pid?: unknown }> })?.rows?.[0]?.pid;
      return typeof pid === 'number' ? pid : undefined;
    } catch (err) {
      this.drop(client, err);
      throw err;
    }
  }

  /** LISTENs and UNLISTENs until the session listens on exactly the subscribed channels; one at a time. */
  private reconcile(): Promise<void> {
    const run = this.reconciling.then(async () => {
      const client = this.client;
      if (!client) return;
      try {
        for (const channel of this.subscriptions.keys()) {
          if (this.listened.has(channel)) continue;
          // One message, so one server session even behind a pooler: the pid is the one that listens.
          const pid = await this.backendPidAfter(client, `listen ${escapeIdentifier(channel)}`);
          if (this.client === client) this.listened.add(channel);
          if (pid !== undefined) this.listenedOn.set(channel, pid);
        }
        for (const channel of [...this.listened]) {
          if (this.subscriptions.has(channel)) continue;
          await this.query(client, `unlisten ${escapeIdentifier(channel)}`);
          this.listened.delete(channel);
          this.listenedOn.delete(channel);
        }
      } catch (err) {
        this.drop(client, err);
        throw err;
      }
    });
    this.reconciling = run.catch(() => undefined);
    return run;
  }

  /** Wakes every subscriber that is owed a wake and whose channel is now LISTENed. */
  private wakePending(): void {
    for (const [channel, set] of this.subscriptions) {
      if (!this.isListening(channel)) continue;
      for (const subscription of set) {
        if (!subscription.pendingWake) continue;
        subscription.pendingWake = false;
        callSafely(subscription.onWake);
        subscription.settle?.();
      }
    }
  }

  private dispatch(message: pg.Notification): void {
    const payload = message.payload ?? '';
    if (payload.startsWith(`${this.instanceId}:probe:`)) {
      this.probeHeard?.(payload);
      return;
    }
    // Our own NOTIFY (this process's subscribers were woken when it was sent), or another
    // process's probe (nothing was committed).
    if (payload === this.instanceId || payload.includes(':probe:')) return;
    this.stats.notificationsReceived += 1;
    for (const subscription of this.subscriptions.get(message.channel) ?? []) callSafely(subscription.onWake);
  }

  /** A query on the listener session, bounded; a session that does not answer in time is dropped. */
  private async query(client: pg.Client, sql: string, values?: unknown[]): Promise<void> {
    try {
      await this.bounded(client.query(sql, values), sql.split(' ')[0] ?? 'query');
    } catch (err) {
      this.drop(client, err);
      throw err;
    }
  }

  /** Ends `client`'s life (if it is still the current one): the loop reconnects. */
  private drop(client: pg.Client, err: unknown): void {
    if (this.client !== client) return;
    this.settings.logger.debug({ err: describeError(err) }, 'dropping the wake-up listener connection');
    this.client = undefined;
    destroy(client);
  }

  private bounded<T>(work: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the wake-up listener got no answer ${what} within ${this.settings.queryTimeout} ms`)), this.settings.queryTimeout);
      timer.unref();
    });
    return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      timer.unref();
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.interrupt = done;
    });
  }

  private report(error: Error, retryInMs: number, attempt: number): void {
    const context = { err: describeError(error), retryInMs };
    // The first failure of a streak is worth a warning; the rest of an outage is noise.
    if (attempt <= 1) this.settings.logger.warn(context, 'distcache wake-up listener lost its connection; polling continues, reconnecting');
    else this.settings.logger.debug(context, 'distcache wake-up listener still cannot connect');
    for (const set of this.subscriptions.values()) for (const s of set) s.onError?.(error, retryInMs);
  }
}

function callSafely(fn: () => void): void {
  try {
    fn();
  } catch {
    // A wake is a hint; a subscriber that throws must not stop the others.
  }
}

/** Closes a session that may not answer: the socket goes, whatever state it is in. */
function destroy(client: pg.Client): void {
  const stream = (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream;
  try {
    stream?.destroy();
  } catch {
    // already gone
  }
}

function escapeLiteral(text: string): string {
  return `'${text.replace(/'/g, "''")}'`;
}

function escapeIdentifier(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}
