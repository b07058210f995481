import type { Knex } from 'knex';
import type {
  CursorState,
  InstructionPage,
  InstructionStore,
  LogSummary,
  NewFailure,
  NewInstructionRow,
  PendingSummary,
  PruneChunkOptions,
  PruneChunkResult,
  StoreCapabilities,
  StoredFailure,
  StoredInstructionRow,
} from './store.js';
import type { TableNames } from './tables.js';
import type { Logger } from '../logger.js';
import { boundQuery, type BoundableQuery } from './bound-query.js';
import type { Executor, SyncExecutor } from './executor.js';
import { insertThrough, insertThroughSync, type ExecutorInsertSql } from './executor-insert.js';
import { insertSql, ROW_COLUMNS, toDate, toRow } from './columns.js';
import { bodyColumns, DEFAULT_PAGE_BYTES, isOversize, octetLength, type ByteLengthSql, type PageBytes } from './row-bytes.js';
import type { StoreConfig } from './store-config.js';
import type { TableAccess } from './table-access.js';
import { CursorTable } from './cursor-table.js';
import { FailureTable } from './failure-table.js';

/** Positions counted per pendingMany statement: each is one index range, so the statement stays small. */
export const PENDING_BATCH = 250;

/**
 * What every dialect does the same way, through the knex query builder: single rows and the log's
 * summary here, the cursor and failure tables through CursorTable and FailureTable, executor
 * inserts through executor-insert.ts. Each dialect adds how positions work (reading, pending, pruning).
 */
export abstract class BaseStore implements InstructionStore {
  abstract readonly capabilities: StoreCapabilities;
  protected readonly knex: Knex;
  protected readonly t: TableNames;
  protected readonly cluster: string;
  protected readonly queryTimeout: number;
  /** Cleared for good when a pooler shows it cannot keep prepared statements. */
  protected prepare: boolean;
  protected readonly logger: Logger | undefined;
  protected readonly bytes: PageBytes;
  /** How this dialect measures a body in bytes (see bodyColumns). */
  protected readonly byteLength: ByteLengthSql = octetLength;
  /** What the statements of one table need from this store (table-access.ts). */
  protected readonly access: TableAccess;
  private readonly cursorTable: CursorTable;
  private readonly failureTable: FailureTable;

  constructor(config: StoreConfig) {
    this.bytes = Object.freeze({
      maxRowBytes: config.maxRowBytes ?? DEFAULT_PAGE_BYTES.maxRowBytes,
      maxPageBytes: config.maxPageBytes ?? DEFAULT_PAGE_BYTES.maxPageBytes,
    });
    this.logger = config.logger;
    this.knex = config.knex;
    this.t = config.tables;
    this.cluster = config.cluster;
    this.queryTimeout = config.queryTimeout;
    this.prepare = config.preparedStatements ?? true;
    this.access = {
      knex: this.knex,
      tables: this.t,
      cluster: this.cluster,
      bounded: (query) => this.bounded(query),
      nowSql: () => this.nowSql(),
      cutoffSql: (ms) => this.cutoffSql(ms),
    };
    this.cursorTable = new CursorTable(this.access);
    this.failureTable = new FailureTable(this.access);
  }

  abstract insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]>;
  abstract head(): Promise<string>;
  abstract covers(position: string, id: number): Promise<boolean | null>;

  /** The executor INSERT (and, where it returns no id, the id read after it): see executor-insert.ts. */
  protected abstract executorSql(): ExecutorInsertSql;

  protected insertColumns(): string {
    return insertSql(this.knex, this.t.instruction);
  }

  insertVia(executor: Executor, rows: readonly NewInstructionRow[]): Promise<number[]> {
    return insertThrough(executor, this.executorSql(), this.cluster, rows);
  }

  insertViaSync(executor: SyncExecutor, rows: readonly NewInstructionRow[]): number[] {
    return insertThroughSync(executor, this.executorSql(), this.cluster, rows);
  }

  abstract readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage>;
  abstract pending(from: string): Promise<PendingSummary>;

  async pendingMany(positions: readonly string[]): Promise<Map<string, PendingSummary>> {
    const distinct = [...new Set(positions)];
    const found = new Map<string, PendingSummary>();
    // A statement's size is bounded: 200 servers (issue 26's cluster) is one statement.
    for (let i = 0; i < distinct.length; i += PENDING_BATCH) {
      const batch = distinct.slice(i, i + PENDING_BATCH);
      const summaries = await this.pendingBatch(batch);
      batch.forEach((position, k) => found.set(position, summaries[k]!));
    }
    return found;
  }

  /** One statement counting what is pending past each of `positions`; the answers in the same order. */
  protected abstract pendingBatch(positions: readonly string[]): Promise<PendingSummary[]>;

  /**
   * Reads a pendingBatch statement's rows, each tagged with its branch number `k`: a union
   * promises no order of its own.
   */
  protected pendingRowsByBranch(raws: ReadonlyArray<Record<string, unknown>>, n: number): PendingSummary[] {
    const out: PendingSummary[] = Array.from({ length: n }, () => ({ rows: 0, instructions: 0, oldest: null }));
    for (const raw of raws) {
      out[Number(raw.k)] = { rows: Number(raw.row_count ?? 0), instructions: Number(raw.total ?? 0), oldest: toDate(raw.oldest) };
    }
    return out;
  }
  abstract listPending(from: string, limit: number, maxRowBytes?: number): Promise<StoredInstructionRow[]>;
  abstract pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult>;
  abstract prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }>;
  abstract now(): Promise<Date>;
  /** SQL for "now" by the database clock, in the same form as the dialect's timestamp columns. */
  protected nowSql(): Knex.Raw | ReturnType<Knex['fn']['now']> {
    return this.knex.fn.now();
  }

  /** SQL for "the database clock minus `ms`", comparable with utc_stamp. */
  protected abstract cutoffSql(ms: number): Knex.Raw;

  /** Bounds a query, waiting for a connection included, by the query timeout; cancels it server-side where the driver can. */
  bounded<T extends BoundableQuery>(query: T): Promise<Awaited<T>> {
    return boundQuery(query, this.queryTimeout, this.capabilities.serverCancel);
  }

  /** `cutoffSql` serves every dialect: it is written in the same form as the timestamp columns. */
  clockSql(agoMs: number): Knex.Raw {
    return this.cutoffSql(agoMs);
  }

  protected instructions(db: Knex | Knex.Transaction = this.knex) {
    return db(this.t.instruction).where('cluster', this.cluster);
  }

  protected cursors(db: Knex | Knex.Transaction = this.knex) {
    return db(this.t.cursor).where('cluster', this.cluster);
  }

  bodyColumns(quoted: string, maxRowBytes: number): string[] {
    return bodyColumns(quoted, maxRowBytes, this.byteLength);
  }

  /** The row columns for the query builder, the body bounded (see bodyColumns). */
  protected rowColumns(maxRowBytes = this.bytes.maxRowBytes): Array<string | Knex.Raw> {
    const body = bodyColumns(this.knex.raw('??', ['json_instruction']).toQuery(), maxRowBytes, this.byteLength);
    return [...ROW_COLUMNS.filter((c) => c !== 'json_instruction'), ...body.map((c) => this.knex.raw(c))];
  }

  protected toRow(raw: Record<string, unknown>, maxRowBytes = this.bytes.maxRowBytes): StoredInstructionRow {
    // A row over maxRowBytes came without its body: its size stands in for it (see store/row-bytes.ts).
    if (isOversize(raw, { ...this.bytes, maxRowBytes }))
      return { ...toRow({ ...raw, json_instruction: '' }), oversizeBytes: Number(raw.json_bytes) };
    return toRow(raw);
  }

  async getRow(id: number): Promise<StoredInstructionRow | undefined> {
    const raw = await this.bounded(
      this.instructions()
        .select(...this.rowColumns())
        .where('id', id)
        .first(),
    );
    return raw ? this.toRow(raw) : undefined;
  }

  async newest(limit: number): Promise<StoredInstructionRow[]> {
    const raws = await this.bounded(
      this.instructions()
        .select(...this.rowColumns())
        // Bounded above by the cluster's newest id, an index probe: without it SQLite with
        // statistics scans the table backwards by rowid, filtering on cluster, which EXPLAIN
        // QUERY PLAN reports as a SCAN of the whole log (issue 21, the plan gate).
        .where('id', '<=', this.instructions().max('id'))
        .orderBy('id', 'desc')
        .limit(limit),
    );
    return raws.map((r: Record<string, unknown>) => this.toRow(r)).reverse();
  }

  /** Lets a transaction commit without waiting for its WAL flush, where the dialect can (PostgreSQL); see lazyCommit. */
  protected readonly lazyCommitSql: string | undefined = undefined;

  /** For the heartbeat that carries a cursor save: a save lost in a crash only applies those rows again. */
  async lazyCommit(trx: Knex.Transaction): Promise<void> {
    if (this.lazyCommitSql !== undefined) await this.bounded(trx.raw(this.lazyCommitSql));
  }

  logSummary(retentionMs: number): Promise<LogSummary> {
    return this.logSummaryOn(this.knex, (query) => this.bounded(query), retentionMs);
  }

  /** logSummary's statement on `knex`: the primary, or a PostgreSQL replica (see ReplicatedStore). */
  protected async logSummaryOn(
    knex: Knex,
    bounded: (query: Knex.QueryBuilder) => Promise<unknown>,
    retentionMs: number,
  ): Promise<LogSummary> {
    const raw = (await bounded(
      this.instructions(knex)
        .select(
          knex.raw('count(*) as row_count'),
          knex.raw('coalesce(sum(instruction_count), 0) as instruction_total'),
          knex.raw('min(id) as min_id'),
          knex.raw('max(id) as max_id'),
          knex.raw('min(utc_stamp) as oldest'),
          knex.raw('max(utc_stamp) as newest'),
          knex.raw('sum(case when utc_stamp < ? then 1 else 0 end) as past_retention', [this.cutoffSql(retentionMs)]),
        )
        .first(),
    )) as Record<string, unknown> | undefined;
    return {
      rows: Number(raw?.row_count ?? 0),
      instructions: Number(raw?.instruction_total ?? 0),
      minId: raw?.min_id == null ? null : Number(raw.min_id),
      maxId: raw?.max_id == null ? null : Number(raw.max_id),
      oldest: toDate(raw?.oldest),
      newest: toDate(raw?.newest),
      pastRetention: Number(raw?.past_retention ?? 0),
    };
  }

  loadCursor(identity: string): Promise<CursorState | undefined> {
    return this.cursorTable.load(identity);
  }

  saveCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    return this.cursorTable.save(identity, position, databaseIdentity);
  }

  resetCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    return this.cursorTable.reset(identity, position, databaseIdentity);
  }

  requestColdBoot(identity: string): Promise<boolean> {
    return this.cursorTable.requestColdBoot(identity);
  }

  requestColdBootAll(): Promise<number> {
    return this.cursorTable.requestColdBootAll();
  }

  listCursors(): Promise<Array<CursorState & { identity: string }>> {
    return this.cursorTable.list();
  }

  deleteCursor(identity: string): Promise<boolean> {
    return this.cursorTable.delete(identity);
  }

  /** No identity by default: commit-ordered stores compare the position with the log's head in `readPage` instead. */
  async databaseIdentity(): Promise<string | null> {
    return null;
  }

  /** Commit-ordered positions have no rows "of another history": a restored log is found by its head instead. */
  async foreignRows(_settle: boolean): Promise<number> {
    return 0;
  }

  recordFailure(failure: NewFailure): Promise<void> {
    return this.failureTable.record(failure);
  }

  pruneFailures(olderThanMs: number, limit: number): Promise<number> {
    return this.failureTable.prune(olderThanMs, limit);
  }

  listFailures(filter: { identity?: string; limit: number }): Promise<StoredFailure[]> {
    return this.failureTable.list(filter);
  }

  countFailures(): Promise<number> {
    return this.failureTable.count();
  }
}
