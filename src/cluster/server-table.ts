import type { Knex } from 'knex';
import { refresherColumns } from './published-refreshers.js';
import { regionColumns } from './published-regions.js';
import type { WakeUpState } from './health.js';
import { toServerInfo, type PublishedServerInfo, type Registration, type ServerInfo } from './server-info.js';
import type { RegionStats } from '../regions/stats.js';
import type { BoundableQuery } from '../store/bound-query.js';
import { toBool, toDate } from '../store/columns.js';
import type { ServerRole } from './roles.js';
import type { ClusterSql } from './sql.js';

/**
 * A server that stopped cleanly is forgotten after this long (or forgetServersAfter, if shorter):
 * each rollout stops every pod, and their rows would otherwise stay for forgetServersAfter (7 days).
 * An hour keeps a just-stopped server visible to `status --all` while a rollout is looked into.
 */
export const STOPPED_FORGET_MS = 3600_000;

/** A cursor save carried by the heartbeat: the position, and the one the row must still hold. */
export interface HeartbeatCursor {
  position: string;
  previous: string;
}

export type TouchResult = { found: 'own' } | { found: 'none' } | { found: 'other'; instanceId: string; host: string; pid: number };

/** The `cache_server` table: one row per server identity and cluster. */
export class ServerTable {
  /**
   * Whether migration 010's wake_up column exists (a server on an older schema still heartbeats).
   * Asked once, in the background after a beat that succeeded: never on the way of a beat, which
   * must cost its statements alone against a database that does not answer.
   */
  private wakeUpColumn: boolean | undefined;
  private askingWakeUpColumn = false;

  constructor(private readonly sql: ClusterSql) {}

  private rows() {
    return this.sql.knex(this.sql.tables.server).where('cluster', this.sql.cluster);
  }

  private bounded<T extends BoundableQuery>(query: T): Promise<Awaited<T>> {
    return this.sql.store.bounded(query);
  }

  /**
   * The heartbeat. Updates the row only while it still belongs to this instance, so finding it
   * taken over by another instance is how a duplicate identity shows. Otherwise (first start, a
   * forgotten row, a row another instance took) registers this instance, and says what it found.
   *
   * With `cursor`, this server's cursor is stored in the same transaction (committed without
   * waiting for its flush where the store allows: a lost save only re-applies rows), so a busy
   * server's cursor costs the primary no transaction of its own. The update is conditional on the
   * stored position still being `cursor.previous`; `cursorWritten` says whether it was.
   */
  async touch(
    me: Registration,
    role: ServerRole,
    lastError: string | null,
    refresherIds: readonly string[],
    regions?: readonly RegionStats[],
    cursor?: HeartbeatCursor,
    wakeUp?: WakeUpState,
  ): Promise<TouchResult & { cursorWritten: boolean }> {
    const fields = {
      last_heartbeat: this.sql.store.clockSql(0),
      active: true,
      role,
      last_error: lastError,
      host: me.host,
      pid: me.pid,
      package_version: me.packageVersion,
      // Published so an operator's `distcache send` can refuse a refresher no server has.
      ...refresherColumns(refresherIds),
      // Regions and their figures, for `distcache status`.
      ...regionColumns(regions),
      // Its wake-up state, for the dashboard's and `status`'s view of every server.
      ...(wakeUp !== undefined && this.wakeUpColumn === true ? { wake_up: wakeUp } : {}),
    };
    if (!cursor) {
      const found = await this.register(this.sql.knex, me, fields);
      this.askWakeUpColumn();
      return { ...found, cursorWritten: false };
    }
    const result = await this.sql.knex.transaction(async (trx) => {
      await this.sql.store.lazyCommit?.(trx);
      const found = await this.register(trx, me, fields);
      const row = () =>
        trx(this.sql.tables.cursor).where({ cluster: this.sql.cluster, server_identity: me.identity, position: cursor.previous });
      // A cursor row another session holds locked is skipped, not waited for: the heartbeat (the
      // server's liveness, its lease) must not hang on it. The next poll then stores the cursor itself.
      const free =
        this.sql.store.capabilities.dialect === 'sqlite' || (await this.bounded(row().forUpdate().skipLocked().first('position')));
      const written = free ? await this.bounded(row().update({ position: cursor.position, last_synced: this.sql.knex.fn.now() })) : 0;
      return { ...found, cursorWritten: written > 0 };
    });
    this.askWakeUpColumn();
    return result;
  }

  /** touch()'s statements, on `db` (the knex, or the heartbeat's transaction). */
  private async register(db: Knex | Knex.Transaction, me: Registration, fields: Record<string, unknown>): Promise<TouchResult> {
    const rows = () => db(this.sql.tables.server).where('cluster', this.sql.cluster);
    const updated = await this.bounded(rows().where({ server_identity: me.identity, instance_id: me.instanceId }).update(fields));
    if (updated > 0) return { found: 'own' };
    const existing = await this.bounded(rows().where('server_identity', me.identity).select('instance_id', 'host', 'pid').first());
    await this.bounded(
      db(this.sql.tables.server)
        .insert({
          cluster: this.sql.cluster,
          server_identity: me.identity,
          instance_id: me.instanceId,
          registered_at: this.sql.store.clockSql(0),
          ...fields,
        })
        .onConflict(['cluster', 'server_identity'])
        .merge(['instance_id', 'registered_at', ...Object.keys(fields)]),
    );
    if (!existing) return { found: 'none' };
    return { found: 'other', instanceId: String(existing.instance_id), host: String(existing.host), pid: Number(existing.pid) };
  }

  /** Starts the one question about the wake_up column, unless answered or under way. */
  private askWakeUpColumn(): void {
    if (this.wakeUpColumn !== undefined || this.askingWakeUpColumn) return;
    this.askingWakeUpColumn = true;
    // A bounded select of the column rather than knex's schema.hasColumn, which no timeout bounds.
    void this.bounded(this.sql.knex(this.sql.tables.server).select('wake_up').limit(0))
      .then(
        () => (this.wakeUpColumn = true),
        (err: unknown) => {
          // Only a missing column is an answer; a timeout or a lost connection asks again later.
          if (isUndefinedColumn(err)) this.wakeUpColumn = false;
        },
      )
      .finally(() => (this.askingWakeUpColumn = false));
  }

  async setRole(me: Registration, role: ServerRole): Promise<void> {
    await this.bounded(this.rows().where({ server_identity: me.identity, instance_id: me.instanceId }).update({ role }));
  }

  /**
   * Marks every server not seen for `staleMs` inactive (the elected server's heartbeat does it), and
   * counts the active ones, this one included. One read; the update only when someone went stale.
   */
  async sweep(staleMs: number): Promise<{ active: number; wentStale: string[] }> {
    const cutoff = this.sql.store.clockSql(staleMs);
    const raws = await this.bounded(
      this.rows()
        .where('active', true)
        .select('server_identity', this.sql.knex.raw('case when ?? < ? then 1 else 0 end as stale', ['last_heartbeat', cutoff])),
    );
    const wentStale = raws
      .filter((r: Record<string, unknown>) => toBool(r.stale))
      .map((r: Record<string, unknown>) => String(r.server_identity));
    if (wentStale.length > 0) {
      // The condition is repeated: a server that beat in between stays active.
      await this.bounded(
        this.rows()
          .where('active', true)
          .where('last_heartbeat', '<', this.sql.store.clockSql(staleMs))
          .whereIn('server_identity', wentStale)
          .update({ active: false }),
      );
    }
    return { active: raws.length - wentStale.length, wentStale };
  }

  /** On clean stop; only this instance's row, so a newer process with the same identity is left alone. */
  async markInactive(me: Registration): Promise<void> {
    await this.bounded(
      this.rows()
        .where({ server_identity: me.identity, instance_id: me.instanceId })
        // 'stopped', not 'unknown': a clean stop is told apart from a server that went silent, so
        // ops views can hide it and it is forgotten sooner (STOPPED_FORGET_MS).
        .update({ active: false, role: 'stopped', last_heartbeat: this.sql.store.clockSql(0) }),
    );
  }

  /**
   * Cursor positions of the active servers, for pruning: rows they have not read must stay.
   * A cursor already marked for a cold boot is left out: that server reloads everything anyway.
   * A cursor is saved after the rows are applied, so it never claims more than was applied.
   */
  async activePositions(staleMs: number): Promise<string[]> {
    const { knex, tables, cluster } = this.sql;
    const raws = await this.bounded(
      knex(`${tables.cursor} as c`)
        .join(`${tables.server} as s`, function () {
          this.on('s.cluster', '=', 'c.cluster').andOn('s.server_identity', '=', 'c.server_identity');
        })
        .where('c.cluster', cluster)
        .where('s.active', true)
        .where('s.last_heartbeat', '>=', this.sql.store.clockSql(staleMs))
        .where('c.cold_boot_requested', false)
        .select('c.position'),
    );
    return raws.map((r: Record<string, unknown>) => String(r.position));
  }

  /**
   * Deletes the registration and cursor of every server inactive for longer than `goneMs`, and
   * cursors with no registration that have not synced for that long (left by a server whose row
   * an operator deleted). Returns the identities forgotten.
   */
  async forget(goneMs: number): Promise<string[]> {
    const { knex, tables, cluster } = this.sql;
    const stoppedMs = Math.min(goneMs, STOPPED_FORGET_MS);
    const gone = () =>
      this.rows()
        .where('active', false)
        .where((q) => {
          void q.where('last_heartbeat', '<', this.sql.store.clockSql(goneMs)).orWhere((s) => {
            void s.where('role', 'stopped').where('last_heartbeat', '<', this.sql.store.clockSql(stoppedMs));
          });
        });
    const servers: string[] = (await this.bounded(gone().select('server_identity'))).map((r: Record<string, unknown>) =>
      String(r.server_identity),
    );
    const registered = new Set<string>(
      (await this.bounded(this.rows().select('server_identity'))).map((r: Record<string, unknown>) => String(r.server_identity)),
    );
    const cursors = await this.bounded(knex(tables.cursor).where('cluster', cluster).select('server_identity', 'last_synced'));
    // Compared here rather than in SQL: last_synced is written by knex.fn.now(), whose text form
    // on SQLite differs from clockSql's, so only parsed Dates compare correctly.
    const cutoff = (await this.sql.store.now()).getTime() - goneMs;
    const orphans = cursors
      .filter(
        (c: Record<string, unknown>) => !registered.has(String(c.server_identity)) && (toDate(c.last_synced)?.getTime() ?? 0) < cutoff,
      )
      .map((c: Record<string, unknown>) => String(c.server_identity));
    const forgotten: string[] = [...orphans];
    for (const identity of servers) {
      // One transaction each, and the condition rechecked: a server that came back keeps its row.
      const deleted = await knex.transaction(async (trx) => {
        const n = await this.bounded(gone().transacting(trx).where('server_identity', identity).delete());
        if (n > 0) await this.bounded(trx(tables.cursor).where({ cluster, server_identity: identity }).delete());
        return n > 0;
      });
      if (deleted) forgotten.push(identity);
    }
    if (orphans.length > 0) await this.bounded(knex(tables.cursor).where('cluster', cluster).whereIn('server_identity', orphans).delete());
    return forgotten.sort();
  }

  async list(selfInstance: string, leaseHolder: string | null): Promise<ServerInfo[]> {
    return (await this.listPublished(selfInstance, leaseHolder)).map(({ refreshers: _r, regions: _g, ...info }) => info);
  }

  /**
   * Every row with what its server published, in one query: the row is read whole, so the
   * published columns cost nothing more (and a schema without them reads as null).
   */
  async listPublished(selfInstance: string, leaseHolder: string | null): Promise<PublishedServerInfo[]> {
    const raws = await this.bounded(this.rows().select('*').orderBy('server_identity'));
    return raws.map((r: Record<string, unknown>) => toServerInfo(r, selfInstance, leaseHolder));
  }
}

/** PostgreSQL 42703, MySQL/MariaDB ER_BAD_FIELD_ERROR (1054), SQLite "no such column". */
function isUndefinedColumn(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown; message?: unknown };
  return e?.code === '42703' || e?.errno === 1054 || e?.code === 'ER_BAD_FIELD_ERROR' || /no such column/i.test(String(e?.message));
}
