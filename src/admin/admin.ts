import type { Knex } from 'knex';
import { errors, fromDatabaseError } from '../errors.js';
import { validateCluster } from '../identifiers.js';
import { resolveTables, type MigrateResult } from '../migrations/migrate.js';
import { DEFAULTS } from '../options.js';
import { ADMIN_DEFAULTS } from './defaults.js';
import { dialectFor, type Dialect } from '../dialects/dialect.js';
import { triggerPlan, type TriggerPlan, type TriggerRequest } from './trigger.js';
import { activity, type ActivityView } from './activity.js';
import { ACTIONS_KEPT, listActions, recordAction, type ActionView, type OperatorAction } from './actions.js';
import type { PruneResult } from '../cluster/pruner.js';
import { guarded, type AdminContext } from './context.js';
import { AdminError } from './errors.js';
import { listFailures, type FailuresReport } from './failures.js';
import { applyMigrations, planMigrations, schemaState, type MigrationPlan, type SchemaState } from './migrations.js';
import { pendingForServer, pendingOverview, type PendingOverview, type ServerPending } from './pending.js';
import { defaultPruneRules, prune, prunePreview, type PrunePreview, type PruneRules } from './prune.js';
import { resync, resyncAll, type ResyncAllResult, type ResyncResult } from './resync.js';
import { fullRowView, type FullRowView, type RowView } from './rows.js';
import { send, type SendRequest, type SendResult } from './send.js';
import { findServer, forgetServer, listServers, type ClusterServers, type ForgetResult } from './servers.js';
import { status, type StatusReport } from './status.js';
import { follow, newestRows, type FollowOptions, type ReadBudget } from './tail.js';
import { rowWithin } from './bounded-rows.js';

/** Who runs an action, recorded with it. */
export interface ActionOptions {
  /** `<tool>:<who>@<host>`, capped to 255 characters. @default `admin:<user>@<host>` */
  originated?: string;
}

export interface AdminOptions {
  /** A Knex instance on the database the servers share. Admin never destroys it. */
  knex: Knex;
  /** The servers' `tablePrefix`. @default '' */
  tablePrefix?: string;
  /** The servers' `cluster`: every call is scoped to it. @default 'default' */
  cluster?: string;
  /** Bound on every query, in milliseconds. @default 10000 */
  queryTimeout?: number;
  /** PostgreSQL: polls as named prepared statements (see DistributedCacheOptions). @default true */
  preparedStatements?: boolean;
  /**
   * Replicas of `knex`'s primary, as the servers' `replicas`. PostgreSQL: the pending counts and
   * the log summary of `status`, `servers` and `pendingCounts` are read on a standby whose tick is
   * younger than `maxReplicaLag`, else on the primary; MySQL/MariaDB still read them on the
   * primary. Everything else stays on `knex`. SQLite refuses it (E_REPLICAS_UNSUPPORTED). Admin
   * never destroys these.
   */
  replicas?: readonly Knex[];
  /** How old a replica's tick may be for it to be read, in milliseconds. @default 10000 */
  maxReplicaLag?: number;
}

/**
 * The operator API: what `npx distcache` runs, for scripts and admin pages too. Every read goes
 * through the same storage seam and cluster code as the servers; no method holds state between
 * calls, and the read methods never write.
 *
 * @example
 * const admin = new Admin({ knex, tablePrefix: 'app_', cluster: 'production' });
 * const { publisher, servers } = await admin.status();
 * for (const s of servers) if ((s.lagSeconds ?? 0) > 60) await admin.resync(s.identity);
 */
export class Admin {
  private readonly ctx: AdminContext;
  /** What differs on this database: the trigger SQL, and whether DDL is transactional. */
  private readonly db: Dialect;

  constructor(options: AdminOptions) {
    if (!options || typeof options.knex !== 'function') throw new errors.InvalidOptionError('knex: a Knex instance is required');
    const tables = resolveTables(options.tablePrefix);
    const cluster = validateCluster(options.cluster ?? DEFAULTS.cluster);
    const knex = options.knex;
    this.db = dialectFor(knex);
    const config = {
      knex,
      tables,
      cluster,
      queryTimeout: options.queryTimeout ?? DEFAULTS.queryTimeout,
      preparedStatements: options.preparedStatements ?? DEFAULTS.preparedStatements,
    };
    const replicas = options.replicas ?? [];
    if (!Array.isArray(replicas) || replicas.some((r) => typeof r !== 'function'))
      throw new errors.InvalidOptionError('replicas: an array of Knex instances');
    const maxReplicaLag = options.maxReplicaLag ?? DEFAULTS.maxReplicaLag;
    if (!Number.isFinite(maxReplicaLag) || maxReplicaLag <= 0)
      throw new errors.InvalidOptionError('maxReplicaLag: a positive number of milliseconds');
    const store =
      replicas.length > 0
        ? this.db.createReplicatedStore(config, { replicas, maxReplicaLag, retryAfter: 1000 })
        : this.db.createStore(config);
    this.ctx = Object.freeze({ knex, tables, cluster, store, sql: { knex, tables, cluster, store } });
  }

  get cluster(): string {
    return this.ctx.cluster;
  }

  get dialect(): Dialect['name'] {
    return this.db.name;
  }

  /** The SQL of a generated trigger on an application table (see `distcache trigger`), without running it. */
  triggerPlan(request: TriggerRequest): TriggerPlan {
    return triggerPlan(this.db, this.ctx.tables, this.ctx.cluster, request);
  }

  /** Installs a generated trigger: in one transaction where the dialect's DDL is transactional (PostgreSQL, SQLite). */
  installTrigger(request: TriggerRequest): Promise<TriggerPlan> {
    return guarded(async () => {
      const plan = this.triggerPlan(request);
      const run = async (db: Knex | Knex.Transaction) => {
        for (const statement of plan.up) await db.raw(statement);
      };
      if (this.db.transactionalDdl) await this.ctx.knex.transaction(run);
      else await run(this.ctx.knex);
      return plan;
    });
  }

  /** Servers (role, heartbeat, cursor, pending, lag, last error), the publisher, the log and the failure count. */
  status(options: { retention?: number; all?: boolean } = {}): Promise<StatusReport> {
    return guarded(() => status(this.ctx, { retention: options.retention ?? DEFAULTS.retention, all: options.all === true }));
  }

  /** Every registered server and every cursor, with the publisher; servers that stopped cleanly only with `all`. */
  servers(options: { all?: boolean } = {}): Promise<ClusterServers> {
    return guarded(() => listServers(this.ctx, { all: options.all === true }));
  }

  /** The backlog of every server. */
  pendingCounts(): Promise<PendingOverview> {
    return guarded(() => pendingOverview(this.ctx));
  }

  /**
   * What one server has not applied yet, decoded, in the order it will apply it; the bodies within
   * `maxBytes` (default 32 MiB) in all, later rows past it left out (`leftOut`).
   */
  pending(server: string, options: { limit?: number; maxBytes?: number } = {}): Promise<ServerPending> {
    return guarded(() =>
      pendingForServer(this.ctx, server, positive('limit', options.limit ?? ADMIN_DEFAULTS.pendingLimit), readBytes(options.maxBytes)),
    );
  }

  /** One row, decoded in full; a body over `maxBytes` (default 32 MiB) is not read, only its size shown. */
  show(rowId: number, options: { maxBytes?: number } = {}): Promise<FullRowView> {
    return guarded(async () => {
      if (!Number.isSafeInteger(rowId) || rowId < 1)
        throw new AdminError('E_INVALID_ARGUMENT', `${rowId} is not a row id; row ids are whole numbers from 1`);
      const row = await rowWithin(this.ctx, rowId, readBytes(options.maxBytes));
      if (!row) {
        const summary = await this.ctx.store.logSummary(DEFAULTS.retention);
        const range = summary.minId === null ? 'the log is empty' : `the log holds ids ${summary.minId} to ${summary.maxId}`;
        throw new AdminError('E_UNKNOWN_ROW', `no row ${rowId} in cluster '${this.ctx.cluster}' (never written, or pruned); ${range}`);
      }
      return fullRowView(row);
    });
  }

  /** The newest rows, oldest first, their bodies within `maxBytes` (default 32 MiB): older rows past it are left out (`onLeftOut`). */
  tail(options: { limit?: number } & Partial<ReadBudget> = {}): Promise<RowView[]> {
    return guarded(() =>
      newestRows(this.ctx, positive('limit', options.limit ?? ADMIN_DEFAULTS.tailLimit), {
        ...withoutUndefined(options),
        maxBytes: readBytes(options.maxBytes),
      }),
    );
  }

  /** The newest rows, then every row as it commits, through the servers' exact reader; never stores a position. */
  async *follow(options: Partial<FollowOptions> = {}): AsyncGenerator<RowView> {
    const settings = {
      ...withoutUndefined(options),
      limit: positive('limit', options.limit ?? ADMIN_DEFAULTS.tailLimit, 0),
      interval: options.interval ?? ADMIN_DEFAULTS.followInterval,
      maxBytes: readBytes(options.maxBytes),
    };
    try {
      yield* follow(this.ctx, settings);
    } catch (err) {
      throw fromDatabaseError(err);
    }
  }

  /** Writes an instruction from `cli:<user>@<host>`; refuses a refresher no server publishes unless `force`. */
  send(request: SendRequest): Promise<SendResult> {
    return guarded(() => send(this.ctx, request));
  }

  /**
   * Makes one server cold-boot at its next poll. Recorded in `actions()` with `originated`
   * (default `admin:<user>@<host>`).
   */
  resync(server: string, options: ActionOptions = {}): Promise<ResyncResult> {
    return guarded(() => this.recorded('resync', server, options, () => resync(this.ctx, server)));
  }

  /** Makes every server of the cluster cold-boot at its next poll (after a restore no check can detect). Recorded in `actions()`. */
  resyncAll(options: ActionOptions = {}): Promise<ResyncAllResult> {
    return guarded(() => this.recorded('resync-all', null, options, () => resyncAll(this.ctx)));
  }

  /** The operators' actions (resync, resync-all, prune) with who ran them, newest first (migration 010). */
  actions(options: { limit?: number } = {}): Promise<ActionView[]> {
    return guarded(() => listActions(this.ctx, Math.min(positive('limit', options.limit ?? 20), ACTIONS_KEPT)));
  }

  /** Runs an action, then records it with who ran it; an action that failed is not recorded (nothing changed). */
  private async recorded<T>(action: OperatorAction, server: string | null, options: ActionOptions, run: () => Promise<T>): Promise<T> {
    const result = await run();
    await recordAction(this.ctx, { action, server, originated: options.originated, result });
    return result;
  }

  /** What `prune()` would delete now, and whom it would affect. */
  prunePreview(rules: Partial<PruneRules> = {}): Promise<PrunePreview> {
    return guarded(() => prunePreview(this.ctx, { ...defaultPruneRules(), ...withoutUndefined(rules) }));
  }

  /** Prunes now with the scheduled prune's rules (membership-aware, hard cap, forgetting). Recorded in `actions()`. */
  prune(rules: Partial<PruneRules> = {}, onProgress?: (deleted: number) => void, options: ActionOptions = {}): Promise<PruneResult> {
    return guarded(() =>
      this.recorded('prune', null, options, () => prune(this.ctx, { ...defaultPruneRules(), ...withoutUndefined(rules) }, onProgress)),
    );
  }

  /** Instructions written per minute over the last `minutes` (default 60), by the database clock; index-bound on any log size. */
  activity(options: { minutes?: number; rowLimit?: number } = {}): Promise<ActivityView> {
    return guarded(() =>
      activity(this.ctx, { minutes: positive('minutes', options.minutes ?? ADMIN_DEFAULTS.activityMinutes), rowLimit: options.rowLimit }),
    );
  }

  /** Recorded failures, newest first. */
  failures(options: { server?: string; limit?: number } = {}): Promise<FailuresReport> {
    return guarded(() =>
      listFailures(this.ctx, { server: options.server, limit: positive('limit', options.limit ?? ADMIN_DEFAULTS.failuresLimit) }),
    );
  }

  /** Deletes a gone server's registration and cursor; refuses one still heartbeating unless `force`. */
  forgetServer(server: string, options: { force?: boolean; staleServerTimeout?: number } = {}): Promise<ForgetResult> {
    return guarded(() =>
      forgetServer(this.ctx, server, {
        force: options.force,
        staleServerTimeout: options.staleServerTimeout ?? DEFAULTS.staleServerTimeout,
      }),
    );
  }

  /** Whether `server` exists (registration or cursor). */
  async hasServer(server: string): Promise<boolean> {
    try {
      await guarded(() => findServer(this.ctx, server, { pending: false }));
      return true;
    } catch (err) {
      if (err instanceof AdminError && err.code === 'E_UNKNOWN_SERVER') return false;
      throw err;
    }
  }

  /** Applied and pending migrations. */
  schema(): Promise<SchemaState> {
    return guarded(() => schemaState(this.ctx));
  }

  /** The SQL the pending migrations would run, captured in a transaction that is rolled back (not on MySQL). */
  migrationPlan(): Promise<MigrationPlan> {
    return guarded(() => planMigrations(this.ctx));
  }

  /** Applies the pending migrations; `functionOwner` as in the library's `migrate()` (PostgreSQL). */
  migrate(options: { functionOwner?: string } = {}): Promise<MigrateResult> {
    return applyMigrations(this.ctx, options);
  }
}

function positive(name: string, value: number, min = 1): number {
  if (!Number.isSafeInteger(value) || value < min)
    throw new AdminError('E_INVALID_ARGUMENT', `${name}: ${value} must be a whole number of at least ${min}`);
  return value;
}

/** A read's byte budget (see bounded-rows.ts): at least 1 KiB, so a row of ordinary size is always shown. */
function readBytes(value: number | undefined): number {
  return positive('maxBytes', value ?? ADMIN_DEFAULTS.maxReadBytes, 1024);
}

function withoutUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
