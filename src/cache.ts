import type { Knex } from 'knex';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import cron, { type ScheduledTask } from 'node-cron';
import { checkHealth, ErrorRecord, type HealthReport } from './cluster/health.js';
import { Heartbeat } from './cluster/heartbeat.js';
import { Membership } from './cluster/membership.js';
import { runsScheduledWork, type ServerRole } from './cluster/roles.js';
import type { ServerInfo } from './cluster/server-table.js';
import { packageVersion } from './cluster/version.js';
import { describeError, errors } from './errors.js';
import { TypedEmitter, type DistcacheEvents, type EventName } from './events.js';
import type { CacheId, Instruction, InstructionKind, JsonValue } from './instructions/types.js';
import { resolveTables } from './migrations/migrate.js';
import type { DistributedCacheOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options/resolve.js';
import { RefresherRegistry } from './refreshers/registry.js';
import type { AnyCacheRefresher } from './refreshers/refresher.js';
import { dialectFor } from './dialects/dialect.js';
import type { InstructionStore } from './store/store.js';
import { Applier } from './sync/applier.js';
import { Poller, type SyncResult } from './sync/poller.js';
import { Pruner, type PruneResult } from './sync/pruner.js';
import { settleWithin } from './sync/timeout.js';
import { trackOpen, trackClosed } from './open-resources.js';
import { isTransaction } from './write/transaction.js';
import { isExecutor, type Executor, type SyncExecutor } from './write/executor.js';
import { runInCommitScope } from './write/commit-scope.js';
import { InstrumentationHooks, type Instrumentation } from './instrumentation.js';
import { Writer } from './write/writer.js';
import { toIds, toPayloads } from './write/arguments.js';
import { OwnWrites } from './write/own-writes.js';
import type { WakeSource, WakeSourceConfig } from './wake/wake-source.js';
import { Region, type RegionHost } from './regions/region.js';
import type { RegionOptions } from './regions/options.js';
import { RegionSet } from './regions/region-set.js';
import type { RegionStats } from './regions/stats.js';

/** Where a cache is in its life; `health().state`. */
export type LifecycleState = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

export interface WriteOptions {
  /**
   * Write inside this transaction: a knex transaction, or an executor over another library's
   * transaction (`distcache/executors`). The local apply and NOTIFY wait for its commit; see
   * docs/clients.md for how each library's commit is detected.
   */
  trx?: Knex.Transaction | Executor;
}

/** Options of the `*Sync` writes: a synchronous executor is required. */
export interface SyncWriteOptions {
  trx: SyncExecutor;
}

/**
 * Keeps this server's caches in step with every other server on the same database.
 *
 * @example
 * const cache = new DistributedCache({ knex, refreshers: [products], serverIdentity: 'web-1' });
 * await cache.start();
 * await cache.refresh('product', [42]);   // every server's 'product' refresher gets [42]
 * if (cache.isSchedulingPublisher) runNightlyImport();   // once per cluster
 * process.once('SIGTERM', async () => {
 *   await cache.stop();
 *   await knex.destroy();   // a SIGTERM handler replaces the default exit: close what keeps the process alive
 * });
 */
export class DistributedCache {
  /** Frozen, validated options. */
  readonly options: ResolvedOptions;
  /** Unique per instance: rows it wrote were applied at write time, so its poller skips them. */
  readonly instanceId = randomUUID();
  readonly store: InstructionStore;
  private readonly events: TypedEmitter;
  private readonly registry = new RefresherRegistry();
  private readonly hooks = new InstrumentationHooks();
  private readonly ownWrites = new OwnWrites();
  /** LISTEN/NOTIFY or a WAL watch; undefined where the dialect has none or `notify: false`. */
  private readonly wake: WakeSource | undefined;
  private readonly applier: Applier;
  private readonly writer: Writer;
  private readonly poller: Poller;
  private readonly pruner: Pruner;
  private readonly membership: Membership;
  private readonly heartbeat: Heartbeat;
  private readonly errorRecord = new ErrorRecord();
  private pruneTask: ScheduledTask | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private state: LifecycleState = 'new';
  /** What start() is doing right now, for health(): a hung database shows as a step that does not end. */
  private startStep: { what: string; since: number } | undefined;
  private readonly regionSet = new RegionSet();

  constructor(options: DistributedCacheOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    for (const refresher of o.refreshers) this.registry.add(refresher);
    this.events = new TypedEmitter((event, err) => o.logger.error({ event, err: describeError(err) }, 'an event listener threw'));
    const tables = resolveTables(o.tablePrefix);
    const dialect = dialectFor(o.knex);
    if (o.notifyConnection !== undefined && dialect.name !== 'postgres') {
      // A listener connection would be silently unused: only PostgreSQL's wake-up has one.
      throw new errors.InvalidOptionError(`notify: a connection is for PostgreSQL's listener; on ${dialect.name} use true or false`);
    }
    this.store = dialect.createStore({
      knex: o.knex,
      tables,
      cluster: o.cluster,
      queryTimeout: o.queryTimeout,
      preparedStatements: o.preparedStatements,
      logger: o.logger,
    });
    this.applier = new Applier(this.registry, this.store, this.events, o.logger, this.hooks, {
      identity: o.serverIdentity,
      refresherTimeout: o.refresherTimeout,
      refresherRetries: o.refresherRetries,
      retryDelay: o.retryDelay,
    });
    this.writer = new Writer(this.store, this.applier, this.events, o.logger, this.hooks, this.ownWrites, {
      identity: o.serverIdentity,
      instanceId: this.instanceId,
      maxInstructionsPerRow: o.maxInstructionsPerRow,
      // Tells the other processes after every committed write; this.wake is set below.
      onCommitted: () => this.wake?.notifyCommitted(),
      refresherTimeout: o.refresherTimeout,
    });
    this.poller = new Poller(this.store, this.applier, this.events, o.logger, this.hooks, this.ownWrites, {
      identity: o.serverIdentity,
      instanceId: this.instanceId,
      syncInterval: o.syncInterval,
      pageSize: o.pageSize,
      maxPendingInstructions: o.maxPendingInstructions,
      startFromHead: o.startFromHead,
      maxErrorBackoff: o.maxErrorBackoff,
      // Regions empty on every cold boot, also when the application handles it itself.
      onColdBoot: o.onColdBoot ? (context) => (this.regionSet.invalidateAll(), o.onColdBoot!(context)) : undefined,
    });
    this.pruner = new Pruner(this.store, this.events, o.logger, { retention: o.retention, maxRetention: o.maxRetention, chunkSize: o.pruneChunkSize, dutyCycle: o.pruneDutyCycle });
    this.wake = o.notify
      ? dialect.createWakeSource?.({
          knex: o.knex,
          tables,
          cluster: o.cluster,
          logger: o.logger,
          queryTimeout: o.queryTimeout,
          connection: o.notifyConnection as WakeSourceConfig['connection'],
          onError: (error, retryInMs) => this.events.emit('wake:error', { error, retryInMs }),
        })
      : undefined;
    this.membership = new Membership({ knex: o.knex, tables, cluster: o.cluster, store: this.store }, this.events, o.logger, {
      registration: { identity: o.serverIdentity, instanceId: this.instanceId, host: hostname(), pid: process.pid, packageVersion: packageVersion() },
      role: o.role,
      staleServerTimeout: o.staleServerTimeout,
      leaseDuration: o.leaseDuration,
      forgetServersAfter: o.forgetServersAfter,
      lastError: () => {
        const last = this.errorRecord.latestWith(this.poller.lastError);
        return last ? `${last.at.toISOString()} ${last.source}: ${last.message}`.slice(0, 2000) : null;
      },
      refresherIds: () => this.registry.all().map((r) => r.id),
      regions: () => this.regionSet.stats(),
    });
    this.heartbeat = new Heartbeat(() => this.membership.beat(), this.events, o.logger, o.heartbeatInterval);
    this.events.on('heartbeat:error', ({ error }) => this.errorRecord.record('heartbeat', error));
    this.events.on('prune:error', ({ error }) => this.errorRecord.record('prune', error));
    this.events.on('write:error', ({ error }) => this.errorRecord.record('write', error));
    // Regions store entries only while the log is applied here: from the first sync until stop().
    this.events.on('sync:complete', () => {
      if (this.state !== 'stopped') this.regionSet.setStoring(true);
    });
  }

  /**
   * A cache region: a bounded read-through cache of this process, kept in step with every server
   * by a refresher registered under `id` (so `cache.refresh(id, keys)` from anywhere reaches it).
   * Only before `start()`; an id already taken by a region or refresher is E_DUPLICATE_REFRESHER.
   * See src/regions/region.ts for the guarantees.
   *
   * @example
   * const products = cache.region<Product>('product', { load: (id) => db.product(id), ttl: '10m' });
   */
  region<T>(id: string, options: RegionOptions<T> = {}): Region<T> {
    const region = new Region<T>(id, options, this.regionHost);
    this.register(region.asRefresher());
    this.regionSet.add(region);
    return region;
  }

  /** Figures of every region of this cache. */
  regionStats(): RegionStats[] {
    return this.regionSet.stats();
  }

  private readonly regionHost: RegionHost = {
    refresh: (refresher, ids, options) => this.refresh(refresher, ids, options),
    remove: (refresher, ids, options) => this.remove(refresher, ids, options),
    refreshAll: (refresher, options) => this.refreshAll(refresher, options),
    refreshPayload: (refresher, payloads, options) => this.refreshPayload(refresher, payloads, options),
    emit: (event, payload) => this.events.emit(event, payload),
  };

  /** Adds a refresher. Only before `start()`, so every poll sees the same registry. */
  register(refresher: AnyCacheRefresher): this {
    if (this.state !== 'new' || this.starting) {
      throw new errors.RegisterAfterStartError(`register('${refresher?.id}') was called after start(); register every refresher before start()`);
    }
    this.registry.add(refresher);
    return this;
  }

  /**
   * Registers this server (first heartbeat, which may elect it publisher), catches up with the log
   * (a cold boot if needed), then polls every `syncInterval`, beats every `heartbeatInterval`, and
   * prunes on `pruneSchedule` while it is the scheduling publisher. Safe to call twice, or
   * concurrently: both calls share one start.
   * Rejects with E_NOT_MIGRATED when the tables are missing; other errors are retried in the background.
   */
  start(): Promise<void> {
    if (this.state === 'stopping' || this.state === 'stopped') {
      return Promise.reject(new errors.StoppedError('this DistributedCache was stopped; create a new one to start again'));
    }
    if (!this.starting) {
      trackOpen(this);
      this.state = 'starting';
      this.starting = this.doStart();
    }
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.membership.join();
    this.step('registering this server (first heartbeat)');
    const heartbeatError = await this.heartbeat.start();
    if (heartbeatError instanceof errors.NotMigratedError) {
      await this.abortStart();
      throw heartbeatError;
    }
    if (this.stopRequested) return;
    this.step('catching up with the instruction log');
    try {
      await this.poller.sync();
    } catch (err) {
      if (err instanceof errors.NotMigratedError) {
        await this.abortStart();
        throw err;
      }
      if (this.stopRequested) return;
      // The database may be down right now; the loop keeps retrying and reports each failure.
      this.events.emit('sync:error', { error: err as Error, consecutiveFailures: 1, retryInMs: this.options.syncInterval });
    }
    this.startStep = undefined;
    if (this.stopRequested) return;
    this.state = 'started';
    this.poller.start();
    await this.wake?.start(() => this.poller.wake());
    if (this.options.pruneSchedule !== false && !this.stopRequested) {
      // Every server keeps the schedule, so the role can move without rescheduling; only the
      // publisher's run does anything. noOverlap: a slow prune is never run twice at once.
      this.pruneTask = cron.schedule(this.options.pruneSchedule, () => this.scheduledPrune(), {
        noOverlap: true,
        name: `distcache-prune-${this.instanceId}`,
        // node-cron keeps the process alive through its timers otherwise.
        unref: true,
      });
    }
  }

  private step(what: string): void {
    this.startStep = { what, since: Date.now() };
  }

  private get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** A start that found the tables missing leaves no heartbeat behind, and may be retried after migrating. */
  private async abortStart(): Promise<void> {
    this.starting = undefined;
    this.startStep = undefined;
    if (!this.stopRequested) {
      this.state = 'new';
      trackClosed(this);
    }
    await this.heartbeat.stop();
    this.membership.beginLeave();
    this.membership.rejoinable();
  }

  private async scheduledPrune(): Promise<void> {
    if (!this.isSchedulingPublisher) return;
    await this.prune().catch(() => undefined);
  }

  /**
   * Leaves the cluster cleanly: stops acting as publisher at once, stops every timer, writes any
   * open work, lets the poll (and a prune) in flight finish (bounded by `stopTimeout`), gives up
   * the publisher lease so another server takes over at its next heartbeat, and marks this server
   * inactive. Never closes the knex instance. Safe to call twice, or concurrently.
   *
   * @example
   * process.once('SIGTERM', async () => {
   *   await cache.stop();
   *   await knex.destroy();   // yours to close, after the cache
   * });
   */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    // One deadline for the whole stop, whatever state it finds: connecting, catching up, a cold
    // boot, a hung database. A step still running at the deadline is left to end on its own (each
    // query is bounded by queryTimeout) and sends nothing more; the steps after it that need the
    // database are skipped, which at worst leaves the lease to expire and the row to go stale.
    const deadline = Date.now() + this.options.stopTimeout;
    const left = () => Math.max(0, deadline - Date.now());
    const wasStarting = this.state === 'starting' || this.state === 'new';
    if (this.state !== 'new') this.state = 'stopping';
    // From here on no once-per-cluster job may start on this server.
    this.membership.beginLeave();
    if (this.pruneTask) {
      await this.pruneTask.destroy();
      this.pruneTask = undefined;
    }
    // A prune in flight ends after its current chunk; the rest goes at the next prune, on any server.
    this.pruner.halt();
    // No heartbeat may renew the lease after it is given up below.
    const beatsDone = await settleWithin(this.heartbeat.stop(), left());
    // Writes in flight finish; a local apply still retrying past stopTimeout is abandoned (see Writer.drain).
    await settleWithin(this.writer.drain(left()), left());
    await settleWithin(this.wake?.stop(), left());
    await this.poller.stop(left());
    // No invalidation reaches this server any more: its regions empty and stop storing.
    this.regionSet.setStoring(false);
    // start() sees the stop at its next step and returns; the poll it waited for has just stopped.
    await settleWithin(this.starting, left());
    const skipped: string[] = [];
    if (left() > 0) {
      const flushed = settleWithin(
        this.poller.flushCursor().catch((err: unknown) => {
          // The stored cursor then trails by up to an interval: those rows are applied again at the
          // next start, which at-least-once allows.
          this.options.logger.warn({ err: describeError(err) }, 'could not store the cursor at stop');
        }),
        left(),
      );
      if (!(await flushed)) skipped.push('storing the cursor');
    } else skipped.push('storing the cursor');
    await settleWithin(this.pruner.inFlight, left());
    if (beatsDone && left() > 0) {
      const gone = settleWithin(
        this.membership.leave().catch((err: unknown) => {
          // The lease then expires on its own and the row goes stale: slower, still correct.
          this.options.logger.warn({ err: describeError(err) }, 'could not give up the publisher lease or mark this server inactive');
        }),
        deadline - Date.now(),
      );
      if (!(await gone)) skipped.push('giving up the lease');
    } else skipped.push('giving up the lease');
    if (skipped.length > 0) {
      this.options.logger.warn({ stopTimeout: this.options.stopTimeout, skipped, during: wasStarting ? 'start' : 'run' }, 'stop() reached stopTimeout; skipped what was left');
    }
    this.state = 'stopped';
    this.startStep = undefined;
    trackClosed(this);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /** Every server's refresher `refresher` refreshes these ids. */
  refresh(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<void> {
    return this.sendIds(refresher, 'refresh', ids, options);
  }

  /** Every server's refresher `refresher` refreshes everything. */
  refreshAll(refresher: string, options?: WriteOptions): Promise<void> {
    return this.send({ refresher, kind: 'refresh-all' }, options);
  }

  /** Every server's refresher `refresher` removes these ids. */
  remove(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<void> {
    return this.sendIds(refresher, 'remove', ids, options);
  }

  /** Every server's refresher `refresher` receives these JSON payloads. */
  refreshPayload(refresher: string, payloads: JsonValue | JsonValue[], options?: WriteOptions): Promise<void> {
    let instruction: Instruction;
    try {
      instruction = { refresher, kind: 'payload', payloads: toPayloads(refresher, payloads) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(instruction, options);
  }

  /** `refresh` inside a synchronous transaction (better-sqlite3): throws on failure, so the transaction rolls back. */
  refreshSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): void {
    this.sendSync({ refresher, kind: 'refresh', ids: toIds('refresh', refresher, ids) }, options);
  }

  refreshAllSync(refresher: string, options: SyncWriteOptions): void {
    this.sendSync({ refresher, kind: 'refresh-all' }, options);
  }

  removeSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): void {
    this.sendSync({ refresher, kind: 'remove', ids: toIds('remove', refresher, ids) }, options);
  }

  refreshPayloadSync(refresher: string, payloads: JsonValue | JsonValue[], options: SyncWriteOptions): void {
    this.sendSync({ refresher, kind: 'payload', payloads: toPayloads(refresher, payloads) }, options);
  }

  /**
   * Runs `work`, the call that runs a client library's transaction, and applies the writes made
   * inside it through executors locally (and announces them) once it resolves: never if it
   * rejects. For libraries that report no commits (Prisma, Kysely, postgres.js, node-postgres).
   * `work` must resolve only when the transaction committed, as `prisma.$transaction()` does.
   *
   * @example
   * await cache.transaction(() => prisma.$transaction(async (tx) => {
   *   await tx.product.update({ where: { id: 42 }, data: { price: 10 } });
   *   await cache.refresh('product', [42], { trx: prismaExecutor(tx, 'postgres') });
   * }));
   */
  transaction<T>(work: () => T | Promise<T>): Promise<T> {
    return runInCommitScope(this.writer, work);
  }

  /** Writes every instruction made inside `work` as one row when it resolves; nothing if it rejects. */
  batch<T>(work: () => T | Promise<T>): Promise<T> {
    return this.writer.batch(work);
  }

  /** Polls now. Concurrent calls share one poll; the result says what was applied and whether it cold-booted. */
  sync(): Promise<SyncResult> {
    return this.poller.sync();
  }

  /**
   * Prunes now, from any server: deletes rows older than `retention` that every active server
   * has applied, then rows older than `maxRetention` regardless (their laggards cold-boot), in
   * chunks; then forgets servers gone longer than `forgetServersAfter`. Safe from several servers
   * at once. The scheduled prune runs this on the scheduling publisher only.
   */
  prune(): Promise<PruneResult> {
    return this.pruner.prune({ coveredBy: () => this.membership.activePositions(), forget: () => this.membership.forgetGone() });
  }

  /**
   * This server's role: `'single'`, `'scheduling-publisher'`, `'subscriber'`, or `'unknown'`
   * (before the first heartbeat, after stop(), or while an elected publisher cannot renew its lease).
   */
  get role(): ServerRole {
    return this.membership.role;
  }

  /**
   * Whether this server should run the application's once-per-cluster jobs now: true for
   * `'single'` and `'scheduling-publisher'`. At most one server per cluster sees true at a time,
   * with role 'auto'. Check it right before each run; it turns false as soon as the role is lost.
   */
  get isSchedulingPublisher(): boolean {
    return runsScheduledWork(this.role);
  }

  /** The servers registered in this cluster, active or not, with the lease holder marked. */
  servers(): Promise<ServerInfo[]> {
    return this.membership.list();
  }

  /**
   * This server's health: lag (instructions pending, and seconds behind), last successful sync,
   * role, last error, and `healthy` judged against the `health` option. Never rejects.
   *
   * @example
   * app.get('/healthz', async (_req, res) => {
   *   const health = await cache.health();
   *   res.status(health.healthy ? 200 : 503).json(health);
   * });
   */
  health(): Promise<HealthReport> {
    return checkHealth(
      this.store,
      {
        identity: this.options.serverIdentity,
        cluster: this.options.cluster,
        state: this.state,
        activity: this.startStep ? `${this.startStep.what}, for ${((Date.now() - this.startStep.since) / 1000).toFixed(1)} s` : undefined,
        role: this.role,
        position: this.poller.appliedPosition,
        lastSuccessfulSync: this.poller.lastSuccess,
        lastHeartbeat: this.membership.lastHeartbeat,
        lastError: this.errorRecord.latestWith(this.poller.lastError),
        wakeUp: !this.wake ? 'disabled' : this.wake.problem !== undefined ? 'off' : this.wake.listening ? 'on' : 'connecting',
        wakeUpProblem: this.wake?.problem,
        preparedStatements: this.store.preparedStatements,
        // Turned off by the user is a choice; turned off by the store is a finding.
        preparedStatementsLost: this.options.preparedStatements && this.store.preparedStatements === false,
        databaseChanged: this.poller.lastDatabaseChange,
      },
      this.options.health,
    );
  }

  /**
   * Attaches hooks around writes, polls and refresher calls (for tracing); returns the function
   * that detaches them. `traceCache()` from `distcache/opentelemetry` uses this.
   */
  instrument(hooks: Instrumentation): () => void {
    return this.hooks.add(hooks);
  }

  /** Subscribes to a typed event. */
  on<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    this.events.on(event, listener);
    return this;
  }

  once<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    this.events.once(event, listener);
    return this;
  }

  off<E extends EventName>(event: E, listener: (payload: DistcacheEvents[E]) => void): this {
    this.events.off(event, listener);
    return this;
  }

  /** The refreshers registered here. */
  refreshers(): AnyCacheRefresher[] {
    return this.registry.all();
  }

  private sendIds(refresher: string, kind: 'refresh' | 'remove', ids: CacheId | CacheId[], options: WriteOptions | undefined): Promise<void> {
    let list: CacheId[];
    try {
      if (options === undefined && typeof ids === 'number' && Number.isFinite(ids)) {
        // One id and no transaction, inside batch(): joins the batch without the general path's objects.
        const gathered = this.writer.gatherId(refresher, kind, ids, this.requireRefresher);
        if (gathered) return gathered;
      }
      list = toIds(kind, refresher, ids);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send({ refresher, kind, ids: list }, options);
  }

  private readonly requireRefresher = (refresher: string, kind: InstructionKind): void => void this.registry.require(refresher, kind);

  /** Checks a built instruction and hands it to the writer; rejects (never throws) on bad input. */
  private send(instruction: Instruction, options: WriteOptions | undefined): Promise<void> {
    try {
      this.registry.require(instruction.refresher, instruction.kind as InstructionKind);
      if (options?.trx !== undefined) this.checkTrx(options.trx);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.write([instruction], options?.trx);
  }

  private sendSync(instruction: Instruction, options: SyncWriteOptions): void {
    this.registry.require(instruction.refresher, instruction.kind as InstructionKind);
    if (!isExecutor(options?.trx)) {
      throw new errors.InvalidOptionError(
        'trx: a *Sync write needs a synchronous executor, e.g. { trx: betterSqliteExecutor(db) } from distcache/executors',
      );
    }
    this.checkTrx(options.trx);
    this.writer.writeSync([instruction], options.trx);
  }

  private checkTrx(trx: unknown): void {
    if (isExecutor(trx)) {
      const dialect = this.store.capabilities.dialect;
      if (trx.dialect !== dialect) {
        throw new errors.InvalidOptionError(
          `trx: this executor writes to ${trx.dialect} but this cache's database is ${dialect}; use an executor of the same database`,
        );
      }
      return;
    }
    if (!isTransaction(trx)) {
      throw new errors.InvalidOptionError(
        'trx: pass the transaction object knex gives you (knex.transaction(async (trx) => cache.refresh(..., { trx })))'
          + ' or an executor from distcache/executors',
      );
    }
  }
}
