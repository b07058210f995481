import { randomUUID } from 'node:crypto';
import { ErrorRecord, type HealthReport } from './cluster/health.js';
import { runsScheduledWork, type ServerRole } from './cluster/roles.js';
import type { ServerInfo } from './cluster/server-table.js';
import { describeError, errors } from './errors.js';
import { TypedEmitter, type DistcacheEvents, type EventName } from './events.js';
import type { CacheId, JsonValue } from './instructions/types.js';
import type { DistributedCacheOptions, ResolvedOptions } from './options.js';
import { resolveOptions } from './options/resolve.js';
import { RefresherRegistry } from './refreshers/registry.js';
import type { AnyCacheRefresher } from './refreshers/refresher.js';
import type { InstructionStore } from './store/store.js';
import type { Poller, SyncResult } from './sync/poller.js';
import type { PruneResult } from './cluster/pruner.js';
import { runInCommitScope } from './write/commit-scope.js';
import { InstrumentationHooks, type Instrumentation } from './instrumentation.js';
import { OwnWrites } from './apply/own-writes.js';
import { Region, type RegionHost } from './regions/region.js';
import type { RegionOptions } from './regions/options.js';
import { RegionSet } from './regions/region-set.js';
import type { RegionStats } from './regions/stats.js';
import { cacheHealth } from './cache/health.js';
import { Lifecycle } from './cache/lifecycle.js';
import { makeParts, type CacheParts } from './cache/parts.js';
import { WriteRequests, type SyncWriteOptions, type WriteOptions } from './cache/write-requests.js';
import { RequestScopes } from './regions/request-scope.js';
import { RequestCachedRegion } from './regions/request-cached-region.js';
import { PositionTokens } from './cache/position-token.js';
import { Positions, type WaitForOptions } from './cache/positions.js';
import { CacheRequest } from './cache/request.js';
import { isGathered, type WrittenRow } from './write/written.js';

// The facade: the public API, delegating to the parts (cache/parts.ts), the start/stop state
// machine (cache/lifecycle.ts), the write API's argument checks (cache/write-requests.ts) and the
// health report (cache/health.ts).
export type { LifecycleState } from './cache/lifecycle.js';
export type { SyncWriteOptions, WriteOptions } from './cache/write-requests.js';
export type { WaitForOptions } from './cache/positions.js';
export type { CacheRequest } from './cache/request.js';

/** What a write inside `batch()` resolves to: nothing is written yet, so there is no position to wait for. */
const NOTHING_WRITTEN: Promise<string> = Promise.resolve('');

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
  private readonly parts: CacheParts;
  /** parts.poller, under the name a conformance test reaches for to wake this cache by hand. */
  private readonly poller: Poller;
  private readonly errorRecord = new ErrorRecord();
  private readonly regionSet = new RegionSet();
  private readonly lifecycle: Lifecycle;
  private readonly requests: WriteRequests;
  private readonly scopes = new RequestScopes();
  private readonly positions: Positions;

  constructor(options: DistributedCacheOptions) {
    this.options = resolveOptions(options);
    const o = this.options;
    for (const refresher of o.refreshers) this.registry.add(refresher);
    this.events = new TypedEmitter((event, err) => o.logger.error({ event, err: describeError(err) }, 'an event listener threw'));
    const { events, registry, hooks, ownWrites, errorRecord, regionSet, instanceId, scopes } = this;
    const parts = makeParts(o, { instanceId, events, registry, hooks, ownWrites, errorRecord, regionSet, scopes });
    this.parts = parts;
    this.store = parts.store;
    this.poller = parts.poller;
    this.lifecycle = new Lifecycle(this, parts, o, events, regionSet, instanceId, () => this.prune());
    this.requests = new WriteRequests(registry, parts.writer, parts.store.capabilities.dialect);
    const applying = () => this.lifecycle.state === 'started' || this.lifecycle.state === 'starting';
    this.positions = new Positions(parts.store, parts.poller, events, new PositionTokens(o.cluster), applying);
    // Regions store entries only while the log is applied here: from the first sync until stop().
    this.events.on('sync:complete', () => {
      if (this.lifecycle.state !== 'stopped') this.regionSet.setStoring(true);
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
    if (!this.lifecycle.registering) {
      throw new errors.RegisterAfterStartError(
        `cache.region('${id}') was called after start(); create every region before start(), so every poll sees it`,
      );
    }
    const region = options?.perRequest
      ? new RequestCachedRegion<T>(id, options, this.regionHost, this.scopes)
      : new Region<T>(id, options, this.regionHost);
    this.register(region.asRefresher());
    this.regionSet.add(region);
    return region;
  }

  /** The region created under this id by `region()`, if any (integrations that name regions by id look them up here). */
  getRegion<T>(id: string): Region<T> | undefined {
    return this.regionSet.get(id) as Region<T> | undefined;
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
    emit: (event, payload) => {
      if (event === 'region:invalidated') {
        const { region, keys, tags } = payload as DistcacheEvents['region:invalidated'];
        this.scopes.invalidated(region, keys, tags !== null);
      }
      this.events.emit(event, payload);
    },
  };

  /** Adds a refresher. Only before `start()`, so every poll sees the same registry. */
  register(refresher: AnyCacheRefresher): this {
    if (!this.lifecycle.registering) {
      throw new errors.RegisterAfterStartError(
        `register('${refresher?.id}') was called after start(); register every refresher before start()`,
      );
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
    return this.lifecycle.start();
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
    this.positions.stop();
    return this.lifecycle.stop();
  }

  /**
   * Read-your-writes across servers: resolves true once this server has applied every write up to
   * `position` (a token a write resolved to, typically made on another server and handed over by the
   * client), false after `timeout` (default 1 s) or when this server is not applying the log
   * (before start(), after stop()). A server that is behind polls at once. '' resolves true. A
   * text that is not a token of this cluster rejects with E_INVALID_POSITION. See docs/read-your-writes.md.
   *
   * @example
   * // server A
   * const position = await cache.refresh('product', [42]);
   * // server B, with the token from the client
   * if (await cache.waitFor(position, { timeout: '500ms' })) {
   *   // every read here is at least as new as A's write
   * }
   */
  waitFor(position: string, options?: WaitForOptions): Promise<boolean> {
    return this.positions.waitFor(position, options);
  }

  /**
   * Runs `fn` as one request: regions created with `perRequest` memoize their reads for it, and
   * `request.position` is the token of every write made inside it (batch() included). The scope
   * ends when `fn` settles. The express and fastify `requestScope` middleware do this per request.
   *
   * @example
   * const ids = [1, 2, 3];
   * const position = await cache.runInRequest(async (request) => {
   *   await cache.batch(() => { for (const id of ids) cache.refresh('product', id); });
   *   return request.position;
   * });
   */
  async runInRequest<T>(fn: (request: CacheRequest) => T | Promise<T>): Promise<T> {
    const request = this.openRequest();
    try {
      return await request.run(() => fn(request));
    } finally {
      request.close();
    }
  }

  /**
   * A request scope for integrations that cannot wrap one function (an HTTP request starts in one
   * callback and ends in another): enter it with `run()`, end it with `close()`.
   */
  openRequest(): CacheRequest {
    return new CacheRequest(this.scopes, this.scopes.openScope(), this.positions.tokens);
  }

  /** The position token of what `written` inserted; calls gathered into a batch share one settled promise. */
  private position(written: Promise<WrittenRow>): Promise<string> {
    if (isGathered(written)) return NOTHING_WRITTEN;
    const tokens = this.positions.tokens;
    return written.then((rowId) => tokens.make(rowId));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
  }

  /**
   * Every server's refresher `refresher` refreshes these ids. Resolves to a position token once
   * written (valid once the write commits; '' inside batch(), see runInRequest): another server's
   * `waitFor(token)` waits until it has applied it.
   */
  refresh(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.ids(refresher, 'refresh', ids, options));
  }

  /** Every server's refresher `refresher` refreshes everything. */
  refreshAll(refresher: string, options?: WriteOptions): Promise<string> {
    return this.position(this.requests.send({ refresher, kind: 'refresh-all' }, options));
  }

  /** Every server's refresher `refresher` removes these ids. */
  remove(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.ids(refresher, 'remove', ids, options));
  }

  /** Every server's refresher `refresher` receives these JSON payloads. */
  refreshPayload(refresher: string, payloads: JsonValue | JsonValue[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.payloads(refresher, payloads, options));
  }

  /** `refresh` inside a synchronous transaction (better-sqlite3): throws on failure, so the transaction rolls back. */
  refreshSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.idsSync(refresher, 'refresh', ids, options));
  }

  refreshAllSync(refresher: string, options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.sendSync({ refresher, kind: 'refresh-all' }, options));
  }

  removeSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.idsSync(refresher, 'remove', ids, options));
  }

  refreshPayloadSync(refresher: string, payloads: JsonValue | JsonValue[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.payloadsSync(refresher, payloads, options));
  }

  /**
   * Runs `work`, the call that runs a client library's transaction, and applies the writes made
   * inside it through executors locally (and announces them) once it resolves: never if it
   * rejects. For libraries that report no commits (Prisma, Kysely, postgres.js, node-postgres).
   * `work` must resolve only when the transaction committed, as `prisma.$transaction()` does.
   *
   * @example
   * import { kyselyExecutor } from 'distcache/executors';
   * await cache.transaction(() => db.transaction().execute(async (trx) => {
   *   await trx.updateTable('product').set({ price: 10 }).where('id', '=', 42).execute();
   *   await cache.refresh('product', [42], { trx: kyselyExecutor(trx, 'postgres') });
   * }));
   */
  transaction<T>(work: () => T | Promise<T>): Promise<T> {
    return runInCommitScope(this.parts.writer, work);
  }

  /**
   * Writes every instruction made inside `work` as one row when it resolves; nothing if it rejects.
   * Resolves to that row's position token (valid once it commits; '' when nothing was written, or
   * inside another batch, which writes the row). `work`'s own result is not returned: capture it.
   *
   * @example
   * const position = await cache.batch(() => { for (const id of [1, 2, 3]) void cache.refresh('product', id); });
   */
  batch(work: () => unknown): Promise<string> {
    return this.position(this.parts.writer.batch(work));
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
    return this.parts.pruner.prune({
      coveredBy: () => this.parts.membership.activePositions(),
      forget: () => this.parts.membership.forgetGone(),
    });
  }

  /**
   * This server's role: `'single'`, `'scheduling-publisher'`, `'subscriber'`, or `'unknown'`
   * (before the first heartbeat, after stop(), or while an elected publisher cannot renew its lease).
   */
  get role(): ServerRole {
    return this.parts.membership.role;
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
    return this.parts.membership.list();
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
    return cacheHealth(this.parts, this.lifecycle, this.errorRecord, this.role, this.options);
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
}
