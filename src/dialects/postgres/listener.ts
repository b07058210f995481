import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { describeError } from '../../errors.js';
import { backoffDelay } from '../../util/backoff.js';
import { quoteChannel } from './channel.js';
import type { ListenerConnection } from './listener-connection.js';
import { bounded, destroy, ListenerSession } from './listener-session.js';
import { Notifier } from './notifier.js';
import { probeFailedReason, probeWakeUp, unlistenWhereListened } from './probe.js';
import type { ListenerSettings, ListenerStats, WakeUpState } from './listener-settings.js';
import { Subscriptions, type Subscription } from './subscriptions.js';

export type { ListenerSettings, ListenerStats, WakeUpState } from './listener-settings.js';

/** A connection that listened this long was healthy; the next reconnect starts the backoff over. */
const STABLE_CONNECTION_MS = 5_000;

/**
 * One dedicated PostgreSQL session per process (per set of connection settings) that LISTENs on
 * every channel its subscribers need. This file is its life: connect, LISTEN, probe, wake every
 * subscriber (anything committed while it was not listening sent a NOTIFY nobody heard), wait for
 * the end; a lost connection is retried with jittered exponential backoff, forever, and a failed
 * probe is retried at a slower one. The session's statements are in listener-session.ts, the
 * subscribers in subscriptions.ts, and this process's NOTIFYs in notifier.ts; its own NOTIFYs
 * come back to it and are ignored (the other caches of this process were woken directly).
 */
export class PgListener {
  private readonly subscriptions = new Subscriptions();
  private readonly notifier: Notifier;
  /** The current connection's session; undefined while (re)connecting. */
  private session: ListenerSession | undefined;
  private loop: Promise<void> | undefined;
  private closed = false;
  /** Ends the current connection (or the backoff sleep) early. */
  private interrupt: (() => void) | undefined;
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
    this.reprobeBase = settings.reprobeBase ?? 15_000;
    this.reprobeMax = settings.reprobeMax ?? 60_000;
    this.notifier = new Notifier({
      payload: this.instanceId,
      logger: settings.logger,
      session: () => this.live(),
      closed: () => this.closed,
      onSent: () => (this.stats.notifiesSent += 1),
    });
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
    return this.live()?.pid;
  }

  isListening(channel: string): boolean {
    return this.state === 'on' && this.live()?.listened.has(channel) === true;
  }

  /** Resolves once `subscription` has been woken on a listening connection, or a connect attempt failed. */
  subscribe(subscription: Subscription): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.subscriptions.add(subscription);
    subscription.pendingWake = true;
    this.loop ??= this.run();
    // The last probe showed LISTEN does not work here; this process polls until a later probe is
    // heard, and then every subscriber is woken (see connectAndListen).
    if (this.state === 'off') return Promise.resolve();
    const settled = new Promise<void>((resolve) => (subscription.settle = resolve));
    // Already connected: LISTEN (if this channel is new), then wake it, as on a reconnect.
    if (this.live())
      void this.reconcile().then(
        () => this.wakePending(),
        () => undefined,
      );
    return settled;
  }

  async unsubscribe(subscription: Subscription): Promise<void> {
    if (!this.subscriptions.remove(subscription)) return;
    subscription.settle?.();
    if (!this.subscriptions.has(subscription.channel) && this.live() && !this.closed) await this.reconcile().catch(() => undefined);
  }

  /**
   * A write committed on `channel`: wakes the other subscribers of this process at once and
   * sends one NOTIFY for the other processes. `fallback` sends it through knex's pool while the
   * listener is disconnected. Never waits, never throws.
   */
  notify(channel: string, from: Subscription | undefined, fallback: (payload: string) => Promise<unknown>): void {
    this.subscriptions.wake(channel, from);
    this.notifier.send(channel, fallback);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.interrupt?.();
    await this.loop;
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
        // may be quick next time. Probe again, slowly: each one costs a connection and a NOTIFY,
        // and through a transaction pooler its LISTEN may be left on a pooled session when the
        // UNLISTEN cannot reach that session (probe.ts). Jittered, so a fleet does not probe in step.
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
      this.subscriptions.settleAll();
      await this.pause(retryInMs);
    }
    this.subscriptions.settleAll();
  }

  /** One connection's life: connect, LISTEN, probe, wake everyone, wait until it ends. Resolves with why it ended. */
  private async connectAndListen(): Promise<{ error: Error; listenedMs: number }> {
    let client: pg.Client | undefined;
    let session: ListenerSession | undefined;
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
      await Promise.race([bounded(client.connect(), 'connecting', this.settings.queryTimeout), ended.then((err) => Promise.reject(err))]);
      connected = true;
      if (this.closed) return { error: new Error('the listener was closed'), listenedMs: 0 };
      const pid = (client as unknown as { processID?: number }).processID;
      this.session = session = new ListenerSession(client, pid, this.settings.queryTimeout, this.settings.logger);
      await this.reconcile();
      if (!(await this.probe(session))) {
        await this.giveUp(session);
        return { error: new Error('the wake-up probe was not heard'), listenedMs: 0 };
      }
      if (this.state === 'off') this.settings.logger.info({ pid }, 'distcache: the wake-up is on again: the probe NOTIFY was heard');
      this.state = 'on';
      listeningSince = Date.now();
      this.stats.connects += 1;
      if (this.stats.connects > 1) this.settings.logger.info({ pid }, 'distcache wake-up listener reconnected');
      // LISTEN, then poll: whatever was committed while nobody listened sent a NOTIFY nobody heard.
      this.subscriptions.owePendingWakes();
      this.wakePending();
      // A failed check kills the session (the loop reconnects); nothing to await here.
      const check = () =>
        void this.live()
          ?.query('select 1')
          .catch(() => undefined);
      liveness = setInterval(check, this.livenessInterval);
      liveness.unref();
      return { error: await ended, listenedMs: Date.now() - listeningSince };
    } catch (err) {
      const listenedMs = listeningSince === undefined ? 0 : Date.now() - listeningSince;
      return { error: err instanceof Error ? err : new Error(String(err)), listenedMs };
    } finally {
      if (liveness) clearInterval(liveness);
      if (this.state === 'on') this.state = 'connecting';
      this.interrupt = undefined;
      if (session && this.session === session) this.session = undefined;
      if (client) {
        client.removeAllListeners('notification');
        if (connected) await bounded(client.end(), 'closing', this.settings.queryTimeout).catch(() => destroy(client!));
        else destroy(client);
      }
    }
  }

  /** See probe.ts. A pool that cannot send the NOTIFY fails the connect as usual: that is no verdict on LISTEN. */
  private async probe(session: ListenerSession): Promise<boolean> {
    const sender = this.subscriptions.probeSender();
    if (!sender || !session.listened.has(sender.channel)) return true; // nothing to probe with: trust it
    try {
      return await probeWakeUp({
        payload: `${this.instanceId}:probe:${++this.probeCount}`,
        timeoutMs: this.settings.probeTimeout ?? 1000,
        send: sender.send,
        onHeard: (handler) => (this.probeHeard = handler),
      });
    } catch (err) {
      session.kill(err);
      throw err;
    }
  }

  /** The probe failed: LISTEN cannot work on this connection. Undo it, say so once, poll only. */
  private async giveUp(session: ListenerSession): Promise<void> {
    // Warned once per stretch off, not at every probe that fails again.
    if (this.state !== 'off') {
      this.offReason = probeFailedReason(this.settings.probeTimeout ?? 1000, this.settings.probeAdvice);
      this.settings.logger.warn({ channels: [...session.listened] }, `distcache: ${this.offReason}`);
    }
    this.state = 'off';
    const unlisten = (channel: string) => session.backendPidAfter(`unlisten ${quoteChannel(channel)}`);
    await unlistenWhereListened(session.listenedOn, unlisten, this.settings.logger).catch(() => undefined);
    session.listenedOn.clear();
    session.listened.clear();
    this.subscriptions.settleAll();
  }

  /** The current session while it is alive. */
  private live(): ListenerSession | undefined {
    return this.session?.alive ? this.session : undefined;
  }

  private reconcile(): Promise<void> {
    return this.live()?.reconcile(this.subscriptions) ?? Promise.resolve();
  }

  private wakePending(): void {
    this.subscriptions.wakePending((channel) => this.isListening(channel));
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
    this.subscriptions.wake(message.channel);
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
    this.subscriptions.reportError(error, retryInMs);
  }
}
