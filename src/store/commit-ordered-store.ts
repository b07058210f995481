import type { Knex } from 'knex';
import { BaseStore } from './base-store.js';
import { commitOrderedPageSql, maxPositionHeadSql, subqueryUnionAllSql, type CommitOrderedPageParts } from './sql/commit-ordered-page.js';
import { pendingBranchesSql } from './sql/commit-ordered-pending.js';
import { INSERT_COLUMN_LIST, insertRecord, insertSql, quoteIdentifier, rawRows, toBool, toDate } from './columns.js';
import { bodyColumns, isOversize, withinBudget } from './row-bytes.js';
import { CommitOrderedPrune } from './commit-ordered-prune.js';

/** Ids per statement when readPage fetches the bodies its page statement left out. */
const BODY_SLICE = 1000;

// Kept where it was first exported, so imports of it from here go on working.
export { rawRows } from './columns.js';
import type {
  InstructionPage,
  NewInstructionRow,
  PendingSummary,
  PruneChunkOptions,
  PruneChunkResult,
  StoredInstructionRow,
} from './store.js';

/**
 * A store for dialects where each row carries an integer that grows in commit order, so a
 * position is just "the largest such integer read". SQLite gets that from its single writer
 * (the row id); MySQL from a sequence row locked until commit (the `seq` column). Neither can
 * skip a row: a row with a smaller number is always committed before one with a larger number.
 */
export abstract class CommitOrderedStore extends BaseStore {
  /** The column that grows in commit order. */
  protected abstract readonly positionColumn: string;

  /**
   * The instruction table as a scan in position order reads it, as SQL. MySQL adds an index hint
   * (see MysqlStore); elsewhere it is the table.
   */
  protected positionScan(): string {
    return this.quote(this.t.instruction);
  }

  /** An identifier quoted the way this knex client quotes it. */
  protected quote(name: string): string {
    return quoteIdentifier(this.knex, name);
  }

  /**
   * Runs one of this store's own statements (`?` placeholders) outside any transaction, on `db`
   * (a replica's, for MySQL's replica pages); SQLite overrides it to keep the statement prepared.
   */
  protected async runStatement(sql: string, params: unknown[], mode: 'all' | 'run', db: Knex = this.knex): Promise<unknown> {
    const result = await this.bounded(db.raw(sql, params as Knex.RawBinding[]));
    return mode === 'all' ? rawRows(result) : result;
  }

  /** Inserts one row on `db` and returns its id. */
  protected abstract insertOne(db: Knex | Knex.Transaction, row: Record<string, unknown>): Promise<number>;

  /** Built once: one autocommit row, for `runStatement`. */
  protected get insertSql(): string {
    return (this.insertText ??= insertSql(this.knex, this.t.instruction));
  }
  private insertText: string | undefined;

  /** One autocommit row, outside a transaction: prepared where the dialect can, else through knex. */
  private async insertAlone(row: Record<string, unknown>): Promise<number> {
    const values = INSERT_COLUMN_LIST.split(', ').map((column) => row[column]);
    return (await this.insertPrepared(values)) ?? this.insertOne(this.knex, row);
  }

  /** Runs `insertSql` as a kept statement and returns the new id; undefined when this driver cannot. */
  protected async insertPrepared(_values: unknown[]): Promise<number | undefined> {
    return undefined;
  }

  async insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]> {
    const values = (row: NewInstructionRow) => insertRecord(row, this.cluster);
    const write = async (db: Knex | Knex.Transaction) => {
      const ids: number[] = [];
      for (const row of rows) ids.push(await this.insertOne(db, values(row)));
      return ids;
    };
    if (trx) return write(trx);
    // One row needs no transaction of its own: an autocommit insert is one round trip, and on
    // MySQL it holds the sequence lock for the shortest time.
    if (rows.length === 1) return [await this.insertAlone(values(rows[0]!))];
    return this.knex.transaction(write);
  }

  async head(): Promise<string> {
    const raw = await this.bounded(this.knex(this.t.instruction).max({ head: this.positionColumn }).first());
    return String(raw?.head == null ? 0 : Number(raw.head));
  }

  async covers(position: string, id: number): Promise<boolean | null> {
    const raw = await this.bounded(this.instructions().first({ pos: this.positionColumn }).where('id', id));
    return raw ? Number(raw.pos) <= Number(position) : null;
  }

  /** The statement for one page (sql/commit-ordered-page.ts), built once per page size and kind. */
  private pageSql(limit: number, first: boolean): string {
    const key = `${first ? 'first' : 'later'}:${limit}`;
    let sql = this.pageTexts.get(key);
    if (sql === undefined) {
      const parts: CommitOrderedPageParts = {
        quote: (name) => this.quote(name),
        positionColumn: this.positionColumn,
        scan: this.positionScan(),
        cursorTable: this.quote(this.t.cursor),
        head: this.logHeadSql(),
        bodyBytes: this.inlineBytes(limit),
        byteLength: this.byteLength,
        unionAll: (a, b) => this.unionAll(a, b),
      };
      sql = commitOrderedPageSql(parts, limit, first);
      this.pageTexts.set(key, sql);
    }
    return sql;
  }
  private readonly pageTexts = new Map<string, string>();

  /** The largest body a page statement of `limit` rows sends: `limit` of them fit in maxPageBytes. */
  private inlineBytes(limit: number): number {
    return Math.min(this.bytes.maxRowBytes, Math.max(1, Math.floor(this.bytes.maxPageBytes / Math.max(1, limit))));
  }

  /** The bodies of rows the page statement left out (larger than inlineBytes), each still bounded by maxRowBytes. */
  private async bodies(ids: number[], db: Knex): Promise<Map<number, Record<string, unknown>>> {
    const body = bodyColumns(this.quote('json_instruction'), this.bytes.maxRowBytes, this.byteLength);
    const found = new Map<number, Record<string, unknown>>();
    // In slices: SQLite allows 32,766 bound values a statement, and a page may hold up to 100,000 rows.
    for (let i = 0; i < ids.length; i += BODY_SLICE) {
      const raws = (await this.bounded(
        db(this.t.instruction)
          .select('id', ...body.map((c) => this.knex.raw(c)))
          .whereIn('id', ids.slice(i, i + BODY_SLICE)),
      )) as Array<Record<string, unknown>>;
      for (const { id, ...rest } of raws) found.set(Number(id), rest);
    }
    return found;
  }

  /** The log's head as a scalar subquery, for the marker row (see maxPositionHeadSql; MySQL overrides it). */
  protected logHeadSql(): string {
    return maxPositionHeadSql(this.quote(this.positionColumn), this.quote(this.t.instruction));
  }

  /** `first` then `second`, as one statement the dialect allows (see subqueryUnionAllSql; MySQL overrides it). */
  protected unionAll(first: string, second: string): string {
    return subqueryUnionAllSql(first, second);
  }

  /** `db`: the primary's knex, or a replica's that keeps the primary's commit order (MySQL's replicated store). */
  async readPage(identity: string, from: string, token: string | null, limit: number, db: Knex = this.knex): Promise<InstructionPage> {
    const after = Number(token ?? from);
    // Later pages of a catch-up skip the cursor flag the first page brought: the union with the
    // cursor table costs about a third more per page on SQLite, and the poller reads it once.
    const raws = (
      token === null
        ? await this.runStatement(this.pageSql(limit, true), [this.cluster, after, this.cluster, identity], 'all', db)
        : await this.runStatement(this.pageSql(limit, false), [this.cluster, after], 'all', db)
    ) as Array<Record<string, unknown>>;
    let coldBootRequested: boolean | null | undefined = token === null ? null : undefined;
    let historyBroken: string | null = null;
    const page: Array<{ pos: number; raw: Record<string, unknown> }> = [];
    for (const raw of raws) {
      if (raw.id == null) {
        coldBootRequested = toBool(raw.cbr);
        const head = raw.head == null ? 0 : Number(raw.head);
        if (head < after) {
          historyBroken = `the position ${after} is past the log's head ${head}: the log went back in time (an older copy restored?)`;
        }
      } else page.push({ pos: Number(raw.pos), raw });
    }
    // A union promises no order of its own.
    if (token === null) page.sort((a, b) => a.pos - b.pos);
    const kept = withinBudget(
      page.map((p) => p.raw),
      this.bytes,
    );
    let cut = kept < page.length;
    page.length = kept;
    const missing = page.filter((p) => p.raw.json_instruction == null && !isOversize(p.raw, this.bytes));
    if (missing.length > 0) {
      const bodies = await this.bodies(
        missing.map((p) => Number(p.raw.id)),
        db,
      );
      const vanished = page.findIndex(
        (p) => p.raw.json_instruction == null && !isOversize(p.raw, this.bytes) && !bodies.has(Number(p.raw.id)),
      );
      // Pruned between the two statements: the page ends before it (the next read starts there again).
      if (vanished >= 0) {
        page.length = vanished;
        cut = true;
      }
      for (const p of page) Object.assign(p.raw, bodies.get(Number(p.raw.id)));
    }
    const last = page[page.length - 1];
    return {
      rows: page.map((p) => this.toRow(p.raw)),
      token: last && (page.length >= limit || cut) ? String(last.pos) : null,
      position: last ? String(last.pos) : null,
      coldBootRequested,
      historyBroken,
    };
  }

  async pending(from: string): Promise<PendingSummary> {
    const raw = await this.bounded(
      this.instructions()
        .where(this.positionColumn, '>', Number(from))
        .select(
          this.knex.raw('count(*) as row_count'),
          this.knex.raw('coalesce(sum(instruction_count), 0) as total'),
          this.knex.raw('min(utc_stamp) as oldest'),
        )
        .first(),
    );
    return { rows: Number(raw?.row_count ?? 0), instructions: Number(raw?.total ?? 0), oldest: toDate(raw?.oldest) };
  }

  protected async pendingBatch(positions: readonly string[]): Promise<PendingSummary[]> {
    // One index range per position, in one statement (SQLite; MariaDB scans once, see MysqlStore).
    const sql = pendingBranchesSql(this.positionScan(), this.quote(this.positionColumn), positions.length);
    const raws = await this.bounded(
      this.knex.raw(
        sql,
        positions.flatMap((p) => [this.cluster, Number(p)]),
      ),
    );
    return this.pendingRowsByBranch(rawRows(raws), positions.length);
  }

  async listPending(from: string, limit: number, maxRowBytes = this.bytes.maxRowBytes): Promise<StoredInstructionRow[]> {
    const raws = await this.bounded(
      this.knex
        .from(this.knex.raw(this.positionScan()))
        .select(...this.rowColumns(maxRowBytes))
        .where('cluster', this.cluster)
        .where(this.positionColumn, '>', Number(from))
        .orderBy(this.positionColumn)
        .limit(limit),
    );
    return raws.map((raw: Record<string, unknown>) => this.toRow(raw, maxRowBytes));
  }

  /** The prune (commit-ordered-prune.ts), made on first use: the subclass sets positionColumn after this constructor. */
  private get pruner(): CommitOrderedPrune {
    return (this.prune ??= new CommitOrderedPrune(this.access, this.positionColumn));
  }
  private prune: CommitOrderedPrune | undefined;

  pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult> {
    return this.pruner.chunk(options);
  }

  prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }> {
    return this.pruner.preview(options);
  }
}
