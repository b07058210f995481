import type { Knex } from 'knex';
import { describeError } from '../../errors.js';
import { rawRows } from '../../store/commit-ordered-store.js';
import type { StoreConfig } from '../../store/store-config.js';
import { toBool, toDate } from '../../store/columns.js';
import type { InstructionPage, LogSummary, PendingSummary, ReplicaReport } from '../../store/store.js';
import { decodeToken, encodeToken } from './page-token.js';
import { poolerLostStatement, PreparedStatement, runPrepared } from './prepared.js';
import { replicaPageSql, tickSql } from './sql/replica.js';
import { PostgresStore } from './store.js';
import { quoteIdentifier } from '../../store/columns.js';
import { ReplicaSet } from '../replica-set.js';
import { useProtocolCancel } from './cancel.js';
import { onFreshReplica } from './fresh-replica.js';

export interface ReplicatedStoreConfig extends StoreConfig {
  /** Streaming standbys of `knex`'s primary (or of one another: cascading works the same). */
  replicas: readonly Knex[];
  /** A replica whose newest tick is older than this is passed over (reads go to another, or the primary). */
  maxReplicaLag: number;
  /** How long a replica that failed is left alone before it is tried again. */
  retryAfter: number;
}

/**
 * PostgreSQL with streaming replicas: page reads and pending counts go to a replica; writes,
 * cursors, heartbeats, the lease and pruning stay on the primary (the parent store).
 *
 * A replica's own `pg_current_snapshot()` is never a target: in recovery it leaves running
 * transactions out of its in-progress list, so a cursor stored from it skips their rows for good.
 * Instead the primary writes its own snapshot into a tick row (tick(), after writes and once per
 * interval), and a replica's page takes its target from the tick it has replayed: a replica that
 * can see tick T has replayed the commit of every transaction T counts as committed, because
 * those commits precede T's in the WAL it replays in order. See docs/design.md, "Reading from replicas".
 */
export class ReplicatedStore extends PostgresStore {
  private readonly q = (name: string) => quoteIdentifier(this.knex, name);
  private readonly replicaSet: ReplicaSet;
  private readonly replicaPages = new Map<number, PreparedStatement>();
  private tickStatement: PreparedStatement | undefined;
  /** The primary's WAL insert position after this server's last cursor reset; see replicaPageSql's cursor_seen. */
  private resetLsn: string | null = null;
  /** Pages read from the primary because no replica could serve them; for health and tests. */
  primaryReads = 0;

  constructor(config: ReplicatedStoreConfig) {
    super(config);
    this.replicaSet = new ReplicaSet(config.replicas, config.maxReplicaLag, config.retryAfter, 5432);
    // Timed-out statements are cancelled through the protocol, as on the primary (see cancel.ts).
    for (const knex of config.replicas) useProtocolCancel(knex);
  }

  replicaForReads(): Knex | undefined {
    return this.replicaSet.healthy()?.knex;
  }

  /** Each replica's state as the last reads found it; for health(). */
  get replicaReports(): ReplicaReport[] {
    return this.replicaSet.reports();
  }

  /**
   * Writes the primary's snapshot into the tick row. Run after a commit, it counts that commit, so
   * a replica that has replayed this tick also delivers that write.
   */
  async tick(): Promise<void> {
    this.tickStatement ??= new PreparedStatement(tickSql(this.q(this.t.tick)));
    await this.runStatement(this.tickStatement, [this.cluster]);
  }

  override async resetCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    await super.resetCursor(identity, position, databaseIdentity);
    const [raw] = rawRows(await this.bounded(this.knex.raw('select pg_current_wal_insert_lsn()::text as lsn')));
    this.resetLsn = raw?.lsn == null ? null : String(raw.lsn);
  }

  /**
   * The page from the first replica that can serve it exactly, else from the primary. A page
   * continuing a window (a token) is served by any replica that has replayed its target, whoever
   * began the window.
   */
  override async readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage> {
    for (const replica of this.replicaSet.candidates()) {
      let raws: Array<Record<string, unknown>>;
      try {
        raws = await this.onReplica(replica.knex, this.replicaPage(limit), this.pageValues(identity, from, token));
      } catch (err) {
        replica.failed(describeError(err));
        continue;
      }
      const head = raws[0];
      if (!head) throw new Error('readPage returned no row'); // `w` always yields one
      const ageMs = head.tick_age_ms == null ? null : Number(head.tick_age_ms);
      if (!replica.answered(ageMs, toBool(head.served))) continue;
      return this.replicaPageResult(raws, head, limit, token);
    }
    this.primaryReads += 1;
    return super.readPage(identity, from, token, limit);
  }

  private pageValues(identity: string, from: string, token: string | null): unknown[] {
    const resume = token === null ? null : decodeToken(token);
    return [from, resume?.target ?? null, resume?.txid ?? '0', resume?.id ?? '0', this.cluster, identity, this.resetLsn];
  }

  private replicaPageResult(raws: Array<Record<string, unknown>>, head: Record<string, unknown>, limit: number, token: string | null) {
    const { found, resumeAfter } = this.pageRows(raws, limit);
    const targetText = String(head.target);
    // Until this replica has replayed our own cursor reset, its cursor row is older than what we wrote.
    const seen = toBool(head.cursor_seen);
    const flag = head.cbr == null ? null : toBool(head.cbr);
    return {
      rows: found.map((r) => this.toRow(r)),
      token: resumeAfter ? encodeToken({ target: targetText, txid: String(resumeAfter.txid), id: String(resumeAfter.id) }) : null,
      position: resumeAfter ? null : targetText,
      coldBootRequested: token !== null ? undefined : seen ? flag : false,
      // The history checks compare with the primary's counter, which a lagging replica is behind by
      // design; the identity check (primary's system identifier and timeline) runs when the epoch changes.
      historyBroken: null,
      databaseEpoch: `replica:${String(head.epoch)}`,
    } satisfies InstructionPage;
  }

  /**
   * Counted on a replica whose tick is young (an estimate for health and the catch-up threshold;
   * see onFreshReplica), else on the primary.
   */
  override async pending(from: string): Promise<PendingSummary> {
    const read = await this.onFresh(async (knex, bounded) => this.toPending(rawRows(await bounded(this.pendingQuery(knex, from)))[0]));
    return read ? read.value : super.pending(from);
  }

  /** Counted on a replica whose tick is young, like pending(): `status`'s and the dashboard's counts of every server. */
  protected override async pendingBatch(positions: readonly string[]): Promise<PendingSummary[]> {
    const read = await this.onFresh((knex, bounded) => this.pendingBatchOn(knex, positions, bounded));
    return read ? read.value : super.pendingBatch(positions);
  }

  /** The log's size for `status`, counted on a replica whose tick is young: a scan of the whole log the primary is spared. */
  override async logSummary(retentionMs: number): Promise<LogSummary> {
    const read = await this.onFresh((knex, bounded) => this.logSummaryOn(knex, bounded, retentionMs));
    return read ? read.value : super.logSummary(retentionMs);
  }

  /**
   * The clock for ages (health()'s lag, beside a pending count read there): a young replica's, else
   * the primary's. The tick's age already compares the two clocks, so this assumes no more.
   */
  override async now(): Promise<Date> {
    const read = await this.onFresh(async (knex, bounded) => toDate(rawRows(await bounded(knex.raw('select now() as now')))[0]?.now));
    return read?.value ?? super.now();
  }

  private onFresh<T>(work: Parameters<typeof onFreshReplica<T>>[4]) {
    return onFreshReplica(this.replicaSet, this.q(this.t.tick), this.cluster, this.queryTimeout, work);
  }

  private replicaPage(limit: number): PreparedStatement {
    let statement = this.replicaPages.get(limit);
    if (!statement) {
      const sql = replicaPageSql(this.q(this.t.instruction), this.q(this.t.cursor), this.q(this.t.tick), limit, this.bytes.maxRowBytes);
      this.replicaPages.set(limit, (statement = new PreparedStatement(sql)));
    }
    return statement;
  }

  private async onReplica(knex: Knex, statement: PreparedStatement, values: unknown[]): Promise<Array<Record<string, unknown>>> {
    try {
      return await runPrepared(knex, statement, values, { timeoutMs: this.queryTimeout, prepare: this.prepare });
    } catch (err) {
      if (!this.prepare || !poolerLostStatement(err)) throw err;
      return runPrepared(knex, statement, values, { timeoutMs: this.queryTimeout, prepare: false });
    }
  }
}
