import type { RegionStats } from '../regions/stats.js';
import type { WakeUpState } from './health.js';
import { errors } from '../errors.js';
import type { TypedEmitter } from '../events.js';
import type { Logger } from '../logger.js';
import { Lease } from './lease.js';
import { LeaseTable } from './lease-table.js';
import { runsScheduledWork, type RoleOption, type ServerRole } from './roles.js';
import { ServerTable, type HeartbeatCursor, type TouchResult } from './server-table.js';
import type { Registration, ServerInfo } from './server-info.js';
import type { ClusterSql } from './sql.js';

export interface MembershipSettings {
  registration: Registration;
  role: RoleOption;
  staleServerTimeout: number;
  leaseDuration: number;
  forgetServersAfter: number;
  /** The latest error of this server, written with each heartbeat for `servers()`. */
  lastError: () => string | null;
  /** The ids of this server's refreshers, published with each heartbeat. */
  refresherIds: () => string[];
  /** This server's regions and their figures, published with each heartbeat. */
  regions?: () => RegionStats[];
  /** This server's wake-up state, published with each heartbeat (migration 010). */
  wakeUp?: () => WakeUpState;
  /** The cursor save a heartbeat carries in its transaction (see ServerTable.touch). */
  cursor?: {
    forHeartbeat(): HeartbeatCursor | undefined;
    saved(save: HeartbeatCursor, written: boolean): void;
  };
}

/**
 * This server's place in its cluster: its registration and heartbeat, the election of the
 * scheduling publisher, and the role that results. Everything is scoped to one cluster by
 * `ClusterSql`.
 *
 * Election: every server with role 'auto' tries, at each heartbeat, to take the lease when it is
 * free (a clean stop released it) or expired by the database clock (its holder died). One holder
 * per cluster, by the lease's compare-and-set; the holder is 'single' when it is the only active
 * server, else 'scheduling-publisher'; everyone else is 'subscriber'.
 */
export class Membership {
  private state: 'idle' | 'joined' | 'left' = 'idle';
  /** The role the last heartbeat decided; only used with role 'auto'. */
  private elected: ServerRole = 'unknown';
  private announced: ServerRole = 'unknown';
  private lapseTimer: NodeJS.Timeout | undefined;
  /** Set once this instance's row was written: a row taken over after that means a duplicate identity. */
  private registered = false;
  private warnedSingle = false;
  private duplicateSeen: { at: number; problem: string } | undefined;
  private readonly servers: ServerTable;
  private readonly leaseTable: LeaseTable;
  private readonly lease: Lease;
  /** When the last heartbeat succeeded, by the local clock. */
  lastHeartbeat: Date | null = null;

  constructor(
    sql: ClusterSql,
    private readonly events: TypedEmitter,
    private readonly logger: Logger,
    private readonly settings: MembershipSettings,
  ) {
    this.servers = new ServerTable(sql);
    this.leaseTable = new LeaseTable(sql);
    this.lease = new Lease(this.leaseTable, settings.registration, settings.leaseDuration, logger);
  }

  /**
   * The role now. An elected publisher's role ends with its lease: when renewals fail it turns
   * 'unknown' before the lease can expire in the database, even between heartbeats.
   */
  get role(): ServerRole {
    if (this.state !== 'joined') return 'unknown';
    if (this.settings.role !== 'auto') return this.settings.role;
    if (runsScheduledWork(this.elected) && !this.lease.held) return 'unknown';
    return this.elected;
  }

  /** Takes part from now on; a fixed role applies at once, an elected one after the first heartbeat. */
  join(): void {
    if (this.state !== 'idle') return;
    this.state = 'joined';
    this.announce();
  }

  /** After a start that failed (tables missing), allows joining again. */
  rejoinable(): void {
    if (this.state === 'left') this.state = 'idle';
  }

  /** One heartbeat: registration, stale servers, the lease, the role. */
  async beat(): Promise<void> {
    if (this.state !== 'joined') return;
    const { registration: me, staleServerTimeout } = this.settings;
    const written = this.role;
    const { lastError, refresherIds, regions, cursor, wakeUp } = this.settings;
    const save = cursor?.forHeartbeat();
    const touched = await this.servers.touch(me, written, lastError(), refresherIds(), regions?.(), save, wakeUp?.());
    if (save) cursor!.saved(save, touched.cursorWritten);
    if (touched.found === 'other' && this.registered) this.duplicate(touched);
    this.registered = true;
    // stop() began while this beat ran: leave the lease to stop(), which gives it up.
    if (this.state !== 'joined') return;
    const fixed = this.settings.role;
    const holds = fixed === 'subscriber' ? false : await this.lease.maintain(fixed !== 'auto');
    if (this.state !== 'joined') return;
    // Only the server running the once-per-cluster work sweeps the server table: a sweep reads
    // every active row, so N servers each sweeping read N² rows per interval. The others touch
    // their own row only.
    if (fixed === 'auto' ? holds : fixed !== 'subscriber') {
      const { active, wentStale } = await this.servers.sweep(staleServerTimeout);
      if (wentStale.length > 0)
        this.logger.info({ servers: wentStale }, 'marked cache servers inactive: no heartbeat within staleServerTimeout');
      if (this.state !== 'joined') return;
      if (fixed === 'auto') this.elected = active <= 1 ? 'single' : 'scheduling-publisher';
      this.warnIfNotSingle(active);
    } else if (fixed === 'auto') this.elected = 'subscriber';
    this.lastHeartbeat = new Date();
    const role = this.announce();
    this.watchLease();
    if (role !== written) await this.servers.setRole(me, role);
  }

  /** stop(), first step: stop acting on the role at once, before anything is awaited. */
  beginLeave(): void {
    if (this.state !== 'joined') return;
    this.state = 'left';
    this.lease.forget();
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    this.lapseTimer = undefined;
    this.announce();
  }

  /** stop(), last step (after the heartbeat loop stopped): give up the lease and mark this server inactive. */
  async leave(): Promise<void> {
    if (!this.registered) return;
    try {
      await this.lease.release();
    } finally {
      await this.servers.markInactive(this.settings.registration);
    }
  }

  async list(): Promise<ServerInfo[]> {
    const holder = await this.leaseTable.holder();
    return this.servers.list(this.settings.registration.instanceId, holder);
  }

  /** Positions pruning must respect: those of the active servers. */
  activePositions(): Promise<string[]> {
    return this.servers.activePositions(this.settings.staleServerTimeout);
  }

  /** Deletes cursors and registrations of servers gone longer than forgetServersAfter. */
  forgetGone(): Promise<string[]> {
    return this.servers.forget(this.settings.forgetServersAfter);
  }

  /** Emits `server:role-changed` when the role differs from the one last announced. */
  private announce(): ServerRole {
    const role = this.role;
    if (role !== this.announced) {
      const previous = this.announced;
      this.announced = role;
      this.logger.info({ previous, role }, `this server's cache role is now ${role}`);
      this.events.emit('server:role-changed', { previous, role });
    }
    return role;
  }

  /** While the lease is held, wakes up when the belief would end, so the role change is announced on time even if no heartbeat succeeds. */
  private watchLease(): void {
    if (this.lapseTimer) clearTimeout(this.lapseTimer);
    this.lapseTimer = undefined;
    if (this.settings.role !== 'auto' || !this.lease.held) return;
    this.lapseTimer = setTimeout(
      () => {
        this.lapseTimer = undefined;
        this.announce();
      },
      Math.min(this.lease.remainingMs() + 1, 2 ** 31 - 1),
    );
    this.lapseTimer.unref();
  }

  /**
   * The health problem while another live process shares this identity: it takes the row over at
   * each of its heartbeats, so it is seen at every one of ours. Live means what it means for any
   * server: seen within staleServerTimeout.
   */
  get duplicateProblem(): string | undefined {
    const seen = this.duplicateSeen;
    if (!seen || Date.now() - seen.at > this.settings.staleServerTimeout) return undefined;
    return seen.problem;
  }

  private duplicate(other: Extract<TouchResult, { found: 'other' }>): void {
    const { identity, instanceId, host, pid } = this.settings.registration;
    this.duplicateSeen = {
      at: Date.now(),
      problem:
        `two live processes share serverIdentity '${identity}': pid ${other.pid} on ${other.host} and this one, pid ${pid} on ${host}; ` +
        'they share one cursor and may skip rows: give every process its own serverIdentity (the pod name, or host name plus pid)',
    };
    const error = new errors.DuplicateIdentityError(
      `another live process heartbeats as serverIdentity '${identity}' (host ${other.host}, pid ${other.pid}, ` +
        `instance ${other.instanceId}; this is host ${host}, pid ${pid}, instance ${instanceId}). ` +
        ('The two share one cursor, so each may skip rows the other read: give every process its own serverIdentity, such as the ' +
          'pod or host name plus the process number'),
    );
    this.logger.error({ identity, otherHost: other.host, otherPid: other.pid, otherInstanceId: other.instanceId }, error.message);
    this.events.emit('server:duplicate-identity', {
      identity,
      otherInstanceId: other.instanceId,
      otherHost: other.host,
      otherPid: other.pid,
      error,
    });
  }

  /** A fixed 'single' role with company is almost certainly a configuration mistake: say so, once. */
  private warnIfNotSingle(active: number): void {
    if (this.settings.role !== 'single') return;
    if (active > 1 && !this.warnedSingle) {
      this.logger.warn(
        { activeServers: active },
        "role is fixed to 'single' but other servers are active in this cluster; give them role 'subscriber'",
      );
    }
    this.warnedSingle = active > 1;
  }
}
