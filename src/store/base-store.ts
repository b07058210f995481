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
import { idOf, syncRows } from './executor-rows.js';
import { CURSOR_COLUMNS, insertSql, insertValueList, ROW_COLUMNS, toCursor, toDate, toRow } from './columns.js';
import { DEFAULT_PAGE_BYTES, isOversize, type PageBytes } from './row-bytes.js';

// Kept where they were first exported, so imports of them from here go on working.
export { ROW_COLUMNS, toBool, toDate } from './columns.js';

export interface StoreConfig {
  knex: Knex;
  tables: TableNames;
  cluster: string;
  /** Every query is bounded by this many milliseconds. */
  queryTimeout: number;
  /** PostgreSQL: the poll as a named prepared statement (see postgres/prepared.ts). @default true */
  preparedStatements?: boolean;
  /** Told once, at warn level, when prepared statements are given up. */
  logger?: Logger;
  /** A row whose JSON is larger is read without its body (see store/row-bytes.ts). @default MAX_ROW_BYTES (16 MiB) */
  maxRowBytes?: number;
  /** A page's bodies stop before this many bytes (its first row always comes). @default 2 × MAX_ROW_BYTES */
  maxPageBytes?: number;
}

/**
 * The body of a row only up to `maxRowBytes`, and its size, so no dialect sends the text of a row
 * over the bound. `quoted` is the column's quoted name. SQLite measures a blob's length (its
 * octet_length is new in 3.43); the others' octet_length reads a large value's size without its text.
 */
export function bodyColumns(quoted: string, maxRowBytes: number, dialect: 'postgres' | 'sqlite' | 'mysql' = 'postgres'): string[] {
  const bytes = dialect === 'sqlite' ? `length(cast(${quoted} as blob))` : `octet_length(${quoted})`;
  return [`case when ${bytes} <= ${Math.trunc(maxRowBytes)} then ${quoted} end as json_instruction`, `${bytes} as json_bytes`];
}

/**
 * What every dialect does the same way, through the knex query builder: cursors, failures,
 * single rows. Each dialect adds how positions work (reading, pending, pruning).
 */
/** Positions counted per pendingMany statement: each is one index range, so the statement stays small. */
export const PENDING_BATCH = 250;

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
  }

  abstract insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]>;
  abstract head(): Promise<string>;

  /**
   * How a row goes in through an executor: one INSERT per row with `?` placeholders, then (where
   * the INSERT cannot return it) a statement that reads the id on the same connection. One row
   * per statement: every dialect then returns ids in order, and a write is nearly always one row.
   */
  protected abstract executorSql(): { insert: string; readId?: string };

  private executorValues(row: NewInstructionRow): unknown[] {
    return insertValueList(row, this.cluster);
  }

  protected insertColumns(): string {
    return insertSql(this.knex, this.t.instruction);
  }

  async insertVia(executor: Executor, rows: readonly NewInstructionRow[]): Promise<number[]> {
    const { insert, readId } = this.executorSql();
    const ids: number[] = [];
    for (const row of rows) {
      const inserted = await executor.query(insert, this.executorValues(row));
      ids.push(idOf(readId === undefined ? inserted : await executor.query(readId, [])));
    }
    return ids;
  }

  insertViaSync(executor: SyncExecutor, rows: readonly NewInstructionRow[]): number[] {
    const { insert, readId } = this.executorSql();
    const ids: number[] = [];
    for (const row of rows) {
      const inserted = syncRows(executor.query(insert, this.executorValues(row)));
      ids.push(idOf(readId === undefined ? inserted : syncRows(executor.query(readId, []))));
    }
    return ids;
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
  abstract listPending(from: string, limit: number): Promise<StoredInstructionRow[]>;
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
    return boundQuery(query, this.queryTimeout, this.capabilities.dialect !== 'sqlite');
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

  /** The row columns for the query builder, the body bounded (see bodyColumns). */
  protected rowColumns(): Array<string | Knex.Raw> {
    const body = bodyColumns(this.knex.raw('??', ['json_instruction']).toQuery(), this.bytes.maxRowBytes, this.capabilities.dialect);
    return [...ROW_COLUMNS.filter((c) => c !== 'json_instruction'), ...body.map((c) => this.knex.raw(c))];
  }

  protected toRow(raw: Record<string, unknown>): StoredInstructionRow {
    // A row over maxRowBytes came without its body: its size stands in for it (see store/row-bytes.ts).
    if (isOversize(raw, this.bytes)) return { ...toRow({ ...raw, json_instruction: '' }), oversizeBytes: Number(raw.json_bytes) };
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

  async logSummary(retentionMs: number): Promise<LogSummary> {
    const raw = await this.bounded(
      this.instructions()
        .select(
          this.knex.raw('count(*) as row_count'),
          this.knex.raw('coalesce(sum(instruction_count), 0) as instruction_total'),
          this.knex.raw('min(id) as min_id'),
          this.knex.raw('max(id) as max_id'),
          this.knex.raw('min(utc_stamp) as oldest'),
          this.knex.raw('max(utc_stamp) as newest'),
          this.knex.raw('sum(case when utc_stamp < ? then 1 else 0 end) as past_retention', [this.cutoffSql(retentionMs)]),
        )
        .first(),
    );
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

  async loadCursor(identity: string): Promise<CursorState | undefined> {
    const raw = await this.bounded(
      this.cursors()
        .select(...CURSOR_COLUMNS)
        .where('server_identity', identity)
        .first(),
    );
    return raw ? toCursor(raw) : undefined;
  }

  async saveCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    const identityColumn = databaseIdentity === undefined ? {} : { database_identity: databaseIdentity };
    const values = { position, last_synced: this.nowSql(), ...identityColumn };
    const updated = await this.bounded(this.cursors().where('server_identity', identity).update(values));
    if (updated > 0) return;
    await this.bounded(
      this.knex(this.t.cursor)
        .insert({ cluster: this.cluster, server_identity: identity, cold_boot_requested: false, database_identity: null, ...values })
        .onConflict(['cluster', 'server_identity'])
        .merge(Object.keys(values)),
    );
  }

  async resetCursor(identity: string, position: string, databaseIdentity?: string | null): Promise<void> {
    const values = {
      position,
      cold_boot_requested: false,
      last_synced: this.nowSql(),
      ...(databaseIdentity === undefined ? {} : { database_identity: databaseIdentity }),
    };
    await this.bounded(
      this.knex(this.t.cursor)
        .insert({ cluster: this.cluster, server_identity: identity, database_identity: databaseIdentity ?? null, ...values })
        .onConflict(['cluster', 'server_identity'])
        .merge(Object.keys(values)),
    );
  }

  async requestColdBoot(identity: string): Promise<boolean> {
    const updated = await this.bounded(this.cursors().where('server_identity', identity).update({ cold_boot_requested: true }));
    return updated > 0;
  }

  async requestColdBootAll(): Promise<number> {
    return this.bounded(this.cursors().update({ cold_boot_requested: true }));
  }

  /** No identity by default: commit-ordered stores compare the position with the log's head in `readPage` instead. */
  async databaseIdentity(): Promise<string | null> {
    return null;
  }

  /** Commit-ordered positions have no rows "of another history": a restored log is found by its head instead. */
  async foreignRows(_settle: boolean): Promise<number> {
    return 0;
  }

  async listCursors(): Promise<Array<CursorState & { identity: string }>> {
    const raws = await this.bounded(
      this.cursors()
        .select('server_identity', ...CURSOR_COLUMNS)
        .orderBy('server_identity'),
    );
    return raws.map((raw: Record<string, unknown>) => ({ identity: String(raw.server_identity), ...toCursor(raw) }));
  }

  async deleteCursor(identity: string): Promise<boolean> {
    return (await this.bounded(this.cursors().where('server_identity', identity).delete())) > 0;
  }

  async pruneFailures(olderThanMs: number, limit: number): Promise<number> {
    // Ids first, then a delete by id: MySQL allows no LIMIT in a subquery of IN.
    const rows = (await this.bounded(
      this.knex(this.t.failure)
        .where('cluster', this.cluster)
        .where('created_at', '<', this.cutoffSql(olderThanMs))
        .select('id')
        .orderBy('id')
        .limit(limit),
    )) as Array<{ id: unknown }>;
    if (rows.length === 0) return 0;
    return Number(
      await this.bounded(
        this.knex(this.t.failure)
          .whereIn(
            'id',
            rows.map((r) => Number(r.id)),
          )
          .delete(),
      ),
    );
  }

  async recordFailure(failure: NewFailure): Promise<void> {
    await this.bounded(
      this.knex(this.t.failure).insert({
        cluster: this.cluster,
        server_identity: failure.identity,
        instruction_id: failure.instructionId,
        refresher: failure.refresher,
        kind: failure.kind,
        action: failure.action,
        error: failure.error.slice(0, 2000),
        detail: failure.detail === null ? null : failure.detail.slice(0, 2000),
      }),
    );
  }

  async listFailures(filter: { identity?: string; limit: number }): Promise<StoredFailure[]> {
    let query = this.knex(this.t.failure).where('cluster', this.cluster).select('*').orderBy('id', 'desc').limit(filter.limit);
    if (filter.identity !== undefined) query = query.where('server_identity', filter.identity);
    const raws = await this.bounded(query);
    return raws.map((raw: Record<string, unknown>) => ({
      id: Number(raw.id),
      createdAt: toDate(raw.created_at) ?? new Date(0),
      identity: String(raw.server_identity),
      instructionId: raw.instruction_id == null ? null : Number(raw.instruction_id),
      refresher: raw.refresher == null ? null : String(raw.refresher),
      kind: raw.kind == null ? null : String(raw.kind),
      action: String(raw.action) as StoredFailure['action'],
      error: String(raw.error),
      detail: raw.detail == null ? null : String(raw.detail),
    }));
  }

  async countFailures(): Promise<number> {
    const raw = await this.bounded(this.knex(this.t.failure).where('cluster', this.cluster).count({ n: '*' }).first());
    return Number(raw?.n ?? 0);
  }
}
