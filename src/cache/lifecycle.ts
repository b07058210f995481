import cron, { type ScheduledTask } from 'node-cron';
import { runsScheduledWork } from '../cluster/roles.js';
import { describeError, errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import { trackClosed, trackOpen } from '../open-resources.js';
import type { ResolvedOptions } from '../options.js';
import { quietPoolWarnings } from '../connection-errors.js';
import type { RegionSet } from '../regions/region-set.js';
import { settleWithin } from '../util/async.js';
import type { CacheParts } from './parts.js';

/** Where a cache is in its life; `health().state`. */
export type LifecycleState = 'new' | 'starting' | 'started' | 'stopping' | 'stopped';

/**
 * The start/stop state machine of one DistributedCache: in which order the parts start and stop,
 * one shared start and one shared stop however often either is called, and one deadline for the
 * whole stop. The cache's start() and stop() are this class's.
 */
export class Lifecycle {
  private current: LifecycleState = 'new';
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  /** What start() is doing right now, for health(): a hung database shows as a step that does not end. */
  private startStep: { what: string; since: number } | undefined;
  private pruneTask: ScheduledTask | undefined;

  constructor(
    /** The cache, as the leak check counts it open from start() to the end of its stop(). */
    private readonly owner: object,
    private readonly parts: CacheParts,
    private readonly options: ResolvedOptions,
    private readonly events: TypedEmitter,
    private readonly regionSet: RegionSet,
    private readonly instanceId: string,
    /** The cache's prune(); the schedule runs it on the scheduling publisher only. */
    private readonly prune: () => Promise<unknown>,
  ) {}

  get state(): LifecycleState {
    return this.current;
  }

  /** Refreshers may still be added: start() was never called (or a start aborted for missing tables). */
  get registering(): boolean {
    return this.current === 'new' && !this.starting;
  }

  /** The step start() is in and for how long, for health(); undefined outside start(). */
  get activity(): string | undefined {
    return this.startStep ? `${this.startStep.what}, for ${((Date.now() - this.startStep.since) / 1000).toFixed(1)} s` : undefined;
  }

  start(): Promise<void> {
    if (this.current === 'stopping' || this.current === 'stopped') {
      return Promise.reject(new errors.StoppedError('this DistributedCache was stopped; create a new one to start again'));
    }
    if (!this.starting) {
      trackOpen(this.owner);
      this.current = 'starting';
      this.starting = this.doStart();
    }
    return this.starting;
  }

  private async doStart(): Promise<void> {
    this.parts.membership.join();
    this.step('registering this server (first heartbeat)');
    const heartbeatError = await quietPoolWarnings(this.options.knex, () => this.parts.heartbeat.start());
    // Missing tables, a database name or a login that is wrong, or a primary knex that reaches a
    // standby: no retry can fix these. A refused connection may be a database still starting: the
    // loops retry it and health() reports it.
    if (
      heartbeatError instanceof errors.NotMigratedError ||
      heartbeatError instanceof errors.PrimaryIsStandbyError ||
      heartbeatError instanceof errors.UnknownDatabaseError ||
      heartbeatError instanceof errors.AuthenticationFailedError
    ) {
      await this.abortStart();
      throw heartbeatError;
    }
    if (this.stopRequested) return;
    if (this.parts.store.verifyReplicas) {
      // A replica whose settings can reorder commits (MySQL/MariaDB) is refused, never read.
      this.step('checking the replicas');
      try {
        await this.parts.store.verifyReplicas();
      } catch (err) {
        await this.abortStart();
        throw err;
      }
    }
    this.step('catching up with the instruction log');
    try {
      await this.parts.poller.sync();
    } catch (err) {
      if (err instanceof errors.NotMigratedError || err instanceof errors.PrimaryIsStandbyError) {
        await this.abortStart();
        throw err;
      }
      if (this.stopRequested) return;
      // The database may be down right now; the loop keeps retrying and reports each failure.
      this.events.emit('sync:error', { error: err as Error, consecutiveFailures: 1, retryInMs: this.options.syncInterval });
    }
    this.startStep = undefined;
    if (this.stopRequested) return;
    this.current = 'started';
    this.parts.poller.start();
    this.parts.ticker?.start();
    await this.parts.startWake();
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
      this.current = 'new';
      trackClosed(this.owner);
    }
    await this.parts.heartbeat.stop();
    this.parts.membership.beginLeave();
    this.parts.membership.rejoinable();
  }

  private async scheduledPrune(): Promise<void> {
    if (!runsScheduledWork(this.parts.membership.role)) return;
    await this.prune().catch(() => undefined);
  }

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
    const wasStarting = this.current === 'starting' || this.current === 'new';
    if (this.current !== 'new') this.current = 'stopping';
    // From here on no once-per-cluster job may start on this server.
    this.parts.membership.beginLeave();
    if (this.pruneTask) {
      await this.pruneTask.destroy();
      this.pruneTask = undefined;
    }
    // A prune in flight ends after its current chunk; the rest goes at the next prune, on any server.
    this.parts.pruner.halt();
    // No heartbeat may renew the lease after it is given up below.
    const beatsDone = await settleWithin(this.parts.heartbeat.stop(), left());
    // Writes in flight finish; a local apply still retrying past stopTimeout is abandoned (see Writer.drain).
    await settleWithin(this.parts.writer.drain(left()), left());
    await settleWithin(this.parts.wake?.stop(), left());
    await settleWithin(this.parts.ticker?.stop(), left());
    await this.parts.poller.stop(left());
    // No invalidation reaches this server any more: its regions empty and stop storing.
    this.regionSet.setStoring(false);
    // start() sees the stop at its next step and returns; the poll it waited for has just stopped.
    await settleWithin(this.starting, left());
    const skipped: string[] = [];
    if (left() > 0) {
      const flushed = settleWithin(
        this.parts.poller.flushCursor().catch((err: unknown) => {
          // The stored cursor then trails by up to an interval: those rows are applied again at the
          // next start, which at-least-once allows.
          this.options.logger.warn({ err: describeError(err) }, 'could not store the cursor at stop');
        }),
        left(),
      );
      if (!(await flushed)) skipped.push('storing the cursor');
    } else skipped.push('storing the cursor');
    await settleWithin(this.parts.pruner.inFlight, left());
    if (beatsDone && left() > 0) {
      const gone = settleWithin(
        this.parts.membership.leave().catch((err: unknown) => {
          // The lease then expires on its own and the row goes stale: slower, still correct.
          this.options.logger.warn({ err: describeError(err) }, 'could not give up the publisher lease or mark this server inactive');
        }),
        deadline - Date.now(),
      );
      if (!(await gone)) skipped.push('giving up the lease');
    } else skipped.push('giving up the lease');
    if (skipped.length > 0) {
      this.options.logger.warn(
        { stopTimeout: this.options.stopTimeout, skipped, during: wasStarting ? 'start' : 'run' },
        'stop() reached stopTimeout; skipped what was left',
      );
    }
    this.current = 'stopped';
    this.startStep = undefined;
    // A pool built from the `connection` option is ours to close; a knex passed in is the app's.
    if (this.options.ownsKnex) await this.options.knex.destroy().catch(() => undefined);
    trackClosed(this.owner);
  }
}
