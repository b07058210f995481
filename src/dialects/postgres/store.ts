import type { Knex } from 'knex';
import { BaseStore } from '../../store/base-store.js';
import { toBool, toDate } from '../../store/columns.js';
import { bodyColumns } from '../../store/row-bytes.js';
import { insertRecord, quoteIdentifier, rawRows } from '../../store/columns.js';
import { withinBudget } from '../../store/row-bytes.js';
import { poolerLostStatement, PreparedStatement, runPrepared } from './prepared.js';
import { useProtocolCancel } from './cancel.js';
import type { StoreConfig } from '../../store/store-config.js';
import type {
  InstructionPage,
  NewInstructionRow,
  PendingSummary,
  PruneChunkOptions,
  PruneChunkResult,
  StoreCapabilities,
  StoredInstructionRow,
} from '../../store/store.js';
import { historyOf, laterPageSql, pageSql } from './sql/page.js';
import { DATABASE_IDENTITY_SQL, foreignRowsSql } from './sql/history.js';
import { uncoveredBindings } from './sql/uncovered.js';
import { listPendingSql, PENDING_BATCH_SQL, PENDING_SQL } from './sql/pending.js';
import { PreparedInsert } from './prepared-insert.js';
import { doomedBindings, PRUNE_CHUNK_SQL, PRUNE_PREVIEW_SQL } from './sql/prune.js';
import { decodeToken, encodeToken } from './page-token.js';
import { errors, standbyMessage } from '../../errors.js';

/** Rows per INSERT statement, well under PostgreSQL's 65535 bind parameters. */
const INSERT_CHUNK = 1000;

/**
 * The exact cursor, PgQ's method. Ids are handed out at insert time but become visible at commit
 * time, so `id > last` skips a row whose transaction commits after a later id's. Instead each row
 * carries its writer's transaction id (`txid`, see dialect.ts) and a position is a `pg_snapshot`
 * ('xmin:xmax:xip,...'). A snapshot covers a row iff `pg_visible_in_snapshot(txid, snapshot)`:
 * its transaction had ended when the snapshot was taken. A rolled-back transaction leaves no rows,
 * so covered rows are exactly the committed ones.
 *
 * Rows a snapshot S does not cover are those with `txid >= xmax(S)` (started later) plus those
 * whose txid is in `xip(S)` (running then). We query exactly that, as a UNION ALL of an index
 * range scan and index point lookups, rather than the simpler `txid >= xmin(S)`: one long-open
 * transaction anywhere in the cluster (even another database) holds xmin back, and that range
 * would grow with every row written since.
 */
export class PostgresStore extends BaseStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ dialect: 'postgres', notify: true, serverCancel: true });
  protected override readonly lazyCommitSql = 'set local synchronous_commit = off';
  private readonly pageStatements = new Map<string, PreparedStatement>();
  private readonly preparedInsert: PreparedInsert;

  constructor(config: StoreConfig) {
    super(config);
    // Timed-out statements are cancelled in a way that also works through PgBouncer (see cancel.ts).
    useProtocolCancel(this.knex);
    this.preparedInsert = new PreparedInsert(this.knex, this.t.instruction);
  }

  async insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]> {
    const write = async (db: Knex | Knex.Transaction) => {
      const ids: number[] = [];
      for (let start = 0; start < rows.length; start += INSERT_CHUNK) {
        const values = rows.slice(start, start + INSERT_CHUNK).map((row) => insertRecord(row, this.cluster));
        // One multi-row INSERT: PostgreSQL assigns ids and returns them in VALUES order.
        const inserted: Array<{ id: unknown }> = await this.bounded(db(this.t.instruction).insert(values).returning('id'));
        ids.push(...inserted.map((r) => Number(r.id)));
      }
      return ids;
    };
    if (rows.length === 0) return [];
    if (trx) return write(trx);
    // Outside a transaction, the common case: one prepared statement on a pooled connection.
    if (rows.length <= INSERT_CHUNK) {
      const { statement, values } = this.preparedInsert.statement(rows, this.cluster);
      return (await this.runStatement(statement, values)).map((r) => Number(r.id));
    }
    // A single statement is atomic on its own; a batch split over statements needs a transaction.
    return this.knex.transaction(write);
  }

  protected executorSql(): { insert: string } {
    return { insert: `${this.insertColumns()} returning id` };
  }

  async head(): Promise<string> {
    const [raw] = rawRows(await this.bounded(this.knex.raw('select pg_current_snapshot()::text as head')));
    return String(raw?.head);
  }

  async covers(position: string, id: number): Promise<boolean | null> {
    const visible = this.knex.raw('pg_visible_in_snapshot(txid, ?::pg_snapshot) as covered', [position]);
    const raw = await this.bounded(this.instructions().first(visible).where('id', id));
    return raw ? toBool(raw.covered) : null;
  }

  /**
   * A window is the rows `from` does not cover but its target snapshot does. The first page takes
   * the target from `pg_current_snapshot()` in the same statement: that is the statement's own
   * snapshot, so the target covers exactly the committed rows the statement can see. Later pages
   * keep the target (in the token) and continue after the last (txid, id); every row the target
   * covers is committed, so later statements still see it (unless pruned, which marks the cursor).
   * Only the last page returns the target as a position, so a cursor never passes a row that a
   * later page of the same window would still deliver.
   */
  async readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage> {
    const resume = token === null ? null : decodeToken(token);
    const raws = resume
      ? await this.runStatement(this.pageStatement(limit, 'later'), [from, resume.target, resume.txid, resume.id, this.cluster])
      : // '0' and 0 sort before every real (txid, id): the first page starts at the window's beginning.
        await this.runStatement(this.pageStatement(limit, 'first'), [from, null, '0', '0', this.cluster, identity]);
    const head = raws[0];
    if (!head) throw new Error('readPage returned no row'); // `w` always yields one
    // The epoch's timeline part says 'standby' in recovery: a cursor taken from a standby's own snapshot loses rows.
    if (resume ? toBool(head.standby) : String(head.epoch).endsWith('/standby'))
      throw new errors.PrimaryIsStandbyError(standbyMessage('pg_is_in_recovery() is true'));
    const { found, resumeAfter } = this.pageRows(raws, limit);
    const targetText = resume ? resume.target : String(head.target);
    const rows = found.map((r) => this.toRow(r));
    const next = resumeAfter ? encodeToken({ target: targetText, txid: String(resumeAfter.txid), id: String(resumeAfter.id) }) : null;
    // Later pages leave the first page's checks out (see laterPageSql); InstructionPage allows it.
    if (resume) return { rows, token: next, position: next ? null : targetText, coldBootRequested: undefined, historyBroken: null };
    return {
      rows,
      token: next,
      position: next ? null : targetText,
      coldBootRequested: head.cbr == null ? null : toBool(head.cbr),
      historyBroken: historyOf(from, head),
      databaseEpoch: String(head.epoch),
    };
  }

  get preparedStatements(): boolean {
    return this.prepare;
  }

  /** The system identifier and the timeline; see InstructionStore.databaseIdentity and TIMELINE_SQL. */
  override async databaseIdentity(): Promise<string | null> {
    const [raw] = rawRows(await this.bounded(this.knex.raw(DATABASE_IDENTITY_SQL)));
    return raw?.identity == null ? null : String(raw.identity);
  }

  /**
   * A visible row's txid is always below the current snapshot's xmax (its transaction had ended),
   * so a row at or above it was written in another history: a dump of a cluster whose xid counter
   * was higher. Re-stamped with FrozenTransactionId (3), which every snapshot covers, such a row
   * can never be read as new, however far this counter later climbs; it stays for `tail` and is
   * pruned like any old row.
   */
  override async foreignRows(settle: boolean): Promise<number> {
    const [raw] = rawRows(await this.bounded(this.knex.raw(foreignRowsSql(settle), [this.t.instruction, this.cluster])));
    return Number(raw?.n ?? 0);
  }

  /**
   * Runs a statement, prepared unless a pooler has shown it cannot keep one; then it is retried
   * unnamed, and stays so. The retry is safe for writes too: both errors come before the
   * statement runs. Every call that ran prepared and met the error retries, whether or not
   * another call flipped the switch first: under concurrency many are in flight at that moment.
   */
  protected async runStatement(statement: PreparedStatement, values: unknown[]): Promise<Array<Record<string, unknown>>> {
    const prepare = this.prepare;
    try {
      return await runPrepared(this.knex, statement, values, { timeoutMs: this.queryTimeout, prepare });
    } catch (err) {
      if (!prepare || !poolerLostStatement(err)) throw err;
      if (this.prepare) {
        this.prepare = false;
        this.logger?.warn(
          { code: (err as { code?: unknown }).code },
          'distcache: prepared statements do not survive on this connection (a transaction-mode pooler such as PgBouncer before 1.21?); ' +
            'statements now run unprepared. Set preparedStatements: false to skip this, ' +
            'or enable max_prepared_statements on PgBouncer 1.21+',
        );
      }
      return runPrepared(this.knex, statement, values, { timeoutMs: this.queryTimeout, prepare: false });
    }
  }

  /**
   * A page statement's rows, within the page's byte budget (withinBudget), and whether more follow:
   * a page that is full, or cut by bytes, continues with a token. Shared with the replicas' page.
   */
  protected pageRows(raws: ReadonlyArray<Record<string, unknown>>, limit: number) {
    const rows = raws.filter((r) => r.id != null);
    const kept = withinBudget(rows, this.bytes);
    const found = rows.slice(0, kept);
    const last = found[found.length - 1];
    const more = last !== undefined && (found.length >= limit || kept < rows.length);
    // The last row read when more follow (the next page resumes after it); undefined when the window is done.
    return { found, resumeAfter: more ? last : undefined };
  }

  /** A window's first or later page statement for one page size (pageSql, laterPageSql), built once: it is prepared, see prepared.ts. */
  private pageStatement(limit: number, page: 'first' | 'later'): PreparedStatement {
    const key = `${page}:${limit}`;
    let statement = this.pageStatements.get(key);
    if (statement) return statement;
    const instruction = quoteIdentifier(this.knex, this.t.instruction);
    statement = new PreparedStatement(
      page === 'first'
        ? pageSql(instruction, quoteIdentifier(this.knex, this.t.cursor), limit, this.bytes)
        : laterPageSql(instruction, limit, this.bytes),
    );
    this.pageStatements.set(key, statement);
    return statement;
  }

  /** Everything committed now is visible to the statement, so no target snapshot is needed. */
  async pending(from: string): Promise<PendingSummary> {
    return this.toPending(rawRows(await this.bounded(this.pendingQuery(this.knex, from)))[0]);
  }

  /** The pending count past `from`, on `knex` (the primary, or a replica: see ReplicatedStore). */
  protected pendingQuery(knex: Knex, from: string) {
    return knex.raw(PENDING_SQL, [from, ...uncoveredBindings(this.t.instruction, this.cluster)]);
  }

  protected pendingBatch(positions: readonly string[]): Promise<PendingSummary[]> {
    return this.pendingBatchOn(this.knex, positions, (query) => this.bounded(query));
  }

  /**
   * pendingBatchQuery on `knex` (the primary, or a replica), with JIT off for it: the planner
   * guesses each position's range at a third of the log, so 200 positions on a 1,000,000-row log
   * were estimated past jit_optimize_above_cost, and compiling took 0.8 s of a 0.82 s statement.
   */
  protected pendingBatchOn(knex: Knex, positions: readonly string[], bounded: (query: Knex.Raw) => Promise<unknown>) {
    return knex.transaction(async (trx) => {
      await trx.raw('set local jit = off');
      return this.pendingRowsByBranch(rawRows(await bounded(this.pendingBatchQuery(trx, positions))), positions.length);
    });
  }

  /**
   * pendingQuery's count for every position in one plan: the positions as one array, the log's
   * uncovered rows found per position by the same lateral. Not a union of pendingQuery: 200
   * branches were 200 subplans to compile (see pendingBatchOn). Positions numbered from 0, in the
   * order given.
   */
  protected pendingBatchQuery(knex: Knex, positions: readonly string[]) {
    return knex.raw(PENDING_BATCH_SQL, [[...positions], ...uncoveredBindings(this.t.instruction, this.cluster)]);
  }

  protected toPending(raw: Record<string, unknown> | undefined): PendingSummary {
    return { rows: Number(raw?.row_count ?? 0), instructions: Number(raw?.total ?? 0), oldest: toDate(raw?.oldest) };
  }

  async listPending(from: string, limit: number, maxRowBytes = this.bytes.maxRowBytes): Promise<StoredInstructionRow[]> {
    const raws = rawRows(
      await this.bounded(
        this.knex.raw(listPendingSql(bodyColumns('u.json_instruction', maxRowBytes).join(', ')), [
          from,
          ...uncoveredBindings(this.t.instruction, this.cluster),
          limit,
        ]),
      ),
    );
    return raws.map((r) => this.toRow(r, maxRowBytes));
  }

  /**
   * One statement, so choosing, marking and deleting see one snapshot and commit together.
   * Several servers may prune at once. Two chunks that chose the same rows meet at the delete:
   * the later one waits for the earlier to commit, then finds those rows gone and skips them, so
   * `deleted` counts each row once (and a chunk that deleted nothing ends that pruner's pass). A
   * cursor row already marked by a concurrent pruner is re-checked after that pruner commits and
   * then skipped, so `marked` lists only cursors this chunk marked. The chosen rows are not locked
   * first (`for update skip locked` did that): a row lock per doomed row doubled the WAL a prune
   * writes (34.6 MB against 17.8 MB for 300,000 rows here), which every writer's commit waits to
   * flush. The delete looks ids up by primary key: `using doomed` plans as a
   * hash join over the whole table.
   */
  async pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult> {
    const [raw] = rawRows(
      await this.bounded(
        this.knex.raw(PRUNE_CHUNK_SQL, [...this.doomedBindings(options), options.limit, this.t.cursor, this.cluster, this.t.instruction]),
      ),
    );
    const marked = Array.isArray(raw?.marked) ? (raw.marked as unknown[]).map(String) : [];
    return { deleted: Number(raw?.deleted ?? 0), marked };
  }

  async prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }> {
    const [raw] = rawRows(await this.bounded(this.knex.raw(PRUNE_PREVIEW_SQL, this.doomedBindings(options))));
    return { rows: Number(raw?.n ?? 0), minId: raw?.lo == null ? null : Number(raw.lo), maxId: raw?.hi == null ? null : Number(raw.hi) };
  }

  async now(): Promise<Date> {
    const [raw] = rawRows(await this.bounded(this.knex.raw('select now() as now')));
    return toDate(raw?.now) ?? new Date(Number.NaN);
  }

  protected cutoffSql(ms: number): Knex.Raw {
    return this.knex.raw('(now() - make_interval(secs => ?::double precision))', [ms / 1000]);
  }

  /** Bindings of DOOMED_SQL: the rows a prune may delete (see there). */
  private doomedBindings(options: Omit<PruneChunkOptions, 'limit'>): Knex.RawBinding[] {
    return doomedBindings(this.t.instruction, this.cluster, this.cutoffSql(options.olderThanMs), options.coveredBy ?? []);
  }
}
