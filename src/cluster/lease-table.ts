import type { Knex } from 'knex';
import { toDate } from '../store/columns.js';
import type { BoundableQuery } from '../store/bound-query.js';
import type { ClusterSql } from './sql.js';

/** The lease row as read. Expiry is `renewedAt + durationMs`, both by the database clock. */
export interface LeaseRow {
  holderIdentity: string | null;
  holderInstance: string | null;
  /**
   * Grows by one with every change of holder, never on a renewal. Every write is conditioned on
   * the token just read, so of several servers racing for the lease exactly one wins.
   */
  token: number;
  durationMs: number;
  acquiredAt: Date | null;
  renewedAt: Date | null;
  /** The database clock when the row was read. */
  readAt: Date;
}

export interface LeaseClaimant {
  identity: string;
  instanceId: string;
}

/**
 * The `cache_lease` table: one row per cluster and lease name. Every statement is a single
 * conditional UPDATE (compare-and-set on `token`), which every dialect executes atomically, so
 * no locking or dialect-specific SQL is needed. The holder's own duration is stored in the row
 * and the expiry test uses it, so servers configured with different lease durations still agree
 * on when a lease has expired.
 */
export class LeaseTable {
  constructor(
    private readonly sql: ClusterSql,
    private readonly name = 'scheduling-publisher',
  ) {}

  private row() {
    return this.sql.knex(this.sql.tables.lease).where({ cluster: this.sql.cluster, name: this.name });
  }

  private bounded<T extends BoundableQuery>(query: T): Promise<Awaited<T>> {
    return this.sql.store.bounded(query);
  }

  /** The row, creating it first when it is missing (the first server of a cluster does). */
  async read(): Promise<LeaseRow> {
    const row = await this.peek();
    if (row) return row;
    // A concurrent creator's insert is ignored.
    await this.bounded(
      this.sql
        .knex(this.sql.tables.lease)
        .insert({ cluster: this.sql.cluster, name: this.name, token: 0, duration_ms: 0 })
        .onConflict(['cluster', 'name'])
        .ignore(),
    );
    return (await this.peek()) ?? LeaseTable.absent();
  }

  /**
   * The row as a replica has it, when the store reads from replicas and one answers with the row;
   * else read(). With replicas a fleet's non-holders then look at the lease without touching the primary.
   */
  async readNearby(): Promise<LeaseRow> {
    const replica = this.sql.store.replicaForReads?.();
    if (replica) {
      const row = await this.peek(replica).catch(() => undefined);
      if (row) return row;
    }
    return this.read();
  }

  /** The row as it is, or undefined when no server has created it yet. Writes nothing: for read-only callers (admin/). */
  async peek(knex: Knex = this.sql.knex): Promise<LeaseRow | undefined> {
    const raw = await this.bounded(
      knex(this.sql.tables.lease)
        .where({ cluster: this.sql.cluster, name: this.name })
        .select(
          'holder_identity',
          'holder_instance',
          'token',
          'duration_ms',
          'acquired_at',
          'renewed_at',
          this.sql.knex.raw('? as read_at', [this.sql.store.clockSql(0)]),
        )
        .first(),
    );
    if (!raw) return undefined;
    return {
      holderIdentity: raw.holder_identity == null ? null : String(raw.holder_identity),
      holderInstance: raw.holder_instance == null ? null : String(raw.holder_instance),
      token: Number(raw.token ?? 0),
      durationMs: Number(raw.duration_ms ?? 0),
      acquiredAt: toDate(raw.acquired_at),
      renewedAt: toDate(raw.renewed_at),
      readAt: toDate(raw.read_at) ?? new Date(Number.NaN),
    };
  }

  /** What `read()` reported before when even the second select found nothing: a free lease. */
  private static absent(): LeaseRow {
    return {
      holderIdentity: null,
      holderInstance: null,
      token: 0,
      durationMs: 0,
      acquiredAt: null,
      renewedAt: null,
      readAt: new Date(Number.NaN),
    };
  }

  /**
   * Whether `row` looks expired at the time it was read. Only a hint for whether to try a
   * takeover: the takeover statement itself re-checks expiry by the database clock.
   */
  static looksExpired(row: LeaseRow): boolean {
    if (row.holderInstance === null || row.renewedAt === null) return true;
    return !(row.renewedAt.getTime() + row.durationMs > row.readAt.getTime());
  }

  /** Extends the lease from now, if `me` still holds it under `token`. */
  async renew(me: LeaseClaimant, token: number, durationMs: number): Promise<boolean> {
    const now = this.sql.store.clockSql(0);
    const updated = await this.bounded(
      this.row().where({ holder_instance: me.instanceId, token }).update({ renewed_at: now, duration_ms: durationMs }),
    );
    return updated > 0;
  }

  /**
   * Takes the lease if it is still as `seen`: free (`'free'`), or held by the same holder and
   * expired by the database clock (`'expired'`), or in any state (`'force'`, a fixed role).
   */
  async take(me: LeaseClaimant, seen: LeaseRow, durationMs: number, mode: 'free' | 'expired' | 'force'): Promise<boolean> {
    const now = this.sql.store.clockSql(0);
    let query = this.row().where('token', seen.token);
    if (mode === 'free') query = query.whereNull('holder_instance');
    if (mode === 'expired') {
      query = query.where('holder_instance', seen.holderInstance ?? '').where('renewed_at', '<', this.sql.store.clockSql(seen.durationMs));
    }
    const updated = await this.bounded(
      query.update({
        holder_identity: me.identity,
        holder_instance: me.instanceId,
        token: seen.token + 1,
        duration_ms: durationMs,
        acquired_at: now,
        renewed_at: now,
      }),
    );
    return updated > 0;
  }

  /** Gives the lease up at once, so another server takes it at its next heartbeat. */
  async release(me: LeaseClaimant): Promise<void> {
    await this.bounded(
      this.row().where('holder_instance', me.instanceId).update({ holder_identity: null, holder_instance: null, renewed_at: null }),
    );
  }

  /** The instance holding an unexpired lease, by the database clock; for `servers()`. */
  async holder(): Promise<string | null> {
    const row = await this.read();
    return LeaseTable.looksExpired(row) ? null : row.holderInstance;
  }
}
