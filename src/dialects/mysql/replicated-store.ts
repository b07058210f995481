import type { Knex } from 'knex';
import { describeError, errors } from '../../errors.js';
import { rawRows } from '../../store/columns.js';
import type { StoreConfig } from '../../store/store-config.js';
import type { InstructionPage, ReplicaReport } from '../../store/store.js';
import type { ReplicaSettings } from '../types.js';
import { ReplicaSet, type Replica } from '../replica-set.js';
import { applierStopped, inexactReason, readReplicaVariables } from './replica-exactness.js';
import { runExecuted } from './statements.js';
import { MysqlStore } from './store.js';
import { tickAgeSql, tickSql } from './sql/tick.js';

/** How often a replica that served reads has its settings checked again; one that did not, at every try. */
const SETTINGS_RECHECK_MS = 30_000;

/**
 * MySQL/MariaDB with replicas: page reads go to a replica; writes, cursors, heartbeats, the lease
 * and pruning stay on the primary (the parent store), and so do pending counts (a catch-up's
 * threshold and health(), both rare).
 *
 * A replica is read only while its settings keep the primary's commit order (replica-exactness.ts):
 * then it shows a prefix of the primary's commit history, and a page of `seq > position` there is
 * as exact as on the primary, only older. A replica behind the position (its sequence head below
 * it) does not serve that page; the next replica or the primary does. The tick (migration 013)
 * gives the lag, and tells when a replica has applied this server's own cursor reset. See
 * docs/design.md, "MySQL and MariaDB replicas".
 */
export class MysqlReplicatedStore extends MysqlStore {
  private readonly replicaSet: ReplicaSet;
  /** The primary's tick count after this server's last cursor reset; null: none in this process. */
  private resetTick: number | null = null;
  /** Pages read from the primary because no replica could serve them; for health and tests. */
  primaryReads = 0;

  constructor(config: StoreConfig, settings: ReplicaSettings) {
    super(config);
    this.replicaSet = new ReplicaSet(settings.replicas, settings.maxReplicaLag, settings.retryAfter, 3306);
  }

  replicaForReads(): Knex | undefined {
    return this.replicaSet.healthy()?.knex;
  }

  get replicaReports(): ReplicaReport[] {
    return this.replicaSet.reports();
  }

  async tick(): Promise<void> {
    await this.runStatement(tickSql(this.quote(this.t.tick)), [this.cluster], 'run');
  }

  /** Refuses a start where a replica's settings cannot keep the primary's commit order. */
  async verifyReplicas(): Promise<void> {
    const refused: string[] = [];
    for (const replica of this.replicaSet.all()) {
      if (!(await this.settingsAllow(replica)) && replica.report.state === 'not-exact') refused.push(replica.report.lastError!);
    }
    if (refused.length > 0) throw new errors.ReplicaNotExactError(refused.join('; '));
  }

  /**
   * A tick after the reset, counted: until a replica shows that many ticks it has not applied the
   * reset, and its copy of this server's cursor flags is older than what this server wrote.
   */
  override async resetCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    await super.resetCursor(identity, position, databaseIdentity);
    await this.tick();
    this.resetTick = (await this.tickOn(this.knex))?.n ?? null;
  }

  override async readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage> {
    for (const replica of this.replicaSet.candidates()) {
      try {
        if (!(await this.settingsAllow(replica))) continue;
        // Read before the page: the page then shows at least what this tick does.
        const tick = await this.tickOn(replica.knex);
        if (!replica.answered(tick?.ageMs ?? null, true)) continue;
        const page = await super.readPage(identity, from, token, limit, replica.knex);
        // The replica's head is below the position: it is behind where this server read (the primary, another
        // replica). It serves nothing; the primary's page also checks the history for real.
        if (page.historyBroken !== null) continue;
        if (token === null && this.resetTick !== null && tick!.n < this.resetTick) page.coldBootRequested = false;
        return page;
      } catch (err) {
        replica.failed(describeError(err));
      }
    }
    this.primaryReads += 1;
    return super.readPage(identity, from, token, limit);
  }

  /** Checks the replica's settings when due; false (and the replica passed over, reported) when it must not be read. */
  private async settingsAllow(replica: Replica): Promise<boolean> {
    const due = replica.report.state !== 'ok' || Date.now() - replica.settingsCheckedAt > SETTINGS_RECHECK_MS;
    if (!due) return true;
    const bounded = <T>(query: Knex.Raw<T>) => replica.bounded(query, this.queryTimeout);
    try {
      const inexact = inexactReason(await readReplicaVariables(replica.knex, bounded));
      if (inexact) {
        replica.failed(`E_REPLICA_NOT_EXACT: ${replica.report.name} is not read: ${inexact}`, 'not-exact');
        return false;
      }
      const stopped = await applierStopped(replica.knex, bounded);
      if (stopped) {
        replica.failed(stopped, 'stopped');
        return false;
      }
    } catch (err) {
      replica.failed(describeError(err));
      return false;
    }
    replica.settingsCheckedAt = Date.now();
    return true;
  }

  private async tickOn(knex: Knex): Promise<{ n: number; ageMs: number } | null> {
    const sql = tickAgeSql(this.quote(this.t.tick));
    const result = (await runExecuted(knex, sql, [this.cluster], this.queryTimeout)) ?? (await this.bounded(knex.raw(sql, [this.cluster])));
    const [row] = rawRows(result);
    return row ? { n: Number(row.n), ageMs: Number(row.age_ms) } : null;
  }
}
