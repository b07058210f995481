import type { Knex } from 'knex';
import { BaseStore, ROW_COLUMNS, toBool, toDate } from './base-store.js';
import type { InstructionPage, NewInstructionRow, PendingSummary, PruneChunkOptions, PruneChunkResult, StoredInstructionRow } from './store.js';

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
   * The instruction table as a scan in position order reads it. MySQL adds an index hint (see
   * MysqlStore); elsewhere it is the table.
   */
  protected positionScan(): Knex.Raw {
    return this.knex.raw('??', [this.t.instruction]);
  }

  /** Rows of this cluster past `after`, in position order, through `positionScan`. */
  private pastPosition(after: number) {
    return this.knex.from(this.positionScan()).where('cluster', this.cluster).where(this.positionColumn, '>', after).orderBy(this.positionColumn);
  }

  /** Inserts one row on `db` and returns its id. */
  protected abstract insertOne(db: Knex | Knex.Transaction, row: Record<string, unknown>): Promise<number>;

  async insert(rows: readonly NewInstructionRow[], trx?: Knex.Transaction): Promise<number[]> {
    const write = async (db: Knex | Knex.Transaction) => {
      const ids: number[] = [];
      for (const row of rows) {
        ids.push(
          await this.insertOne(db, {
            json_instruction: row.json,
            originated: row.originated,
            origin_instance: row.originInstance,
            instruction_count: row.instructionCount,
            cluster: this.cluster,
          }),
        );
      }
      return ids;
    };
    if (trx) return write(trx);
    // One row needs no transaction of its own: an autocommit insert is one round trip, and on
    // MySQL it holds the sequence lock for the shortest time.
    if (rows.length === 1) return write(this.knex);
    return this.knex.transaction(write);
  }

  async head(): Promise<string> {
    const raw = await this.bounded(this.knex(this.t.instruction).max({ head: this.positionColumn }).first());
    return String(raw?.head == null ? 0 : Number(raw.head));
  }

  async readPage(identity: string, from: string, token: string | null, limit: number): Promise<InstructionPage> {
    const after = Number(token ?? from);
    if (token !== null) return this.continuePage(token, after, limit);
    const nulls = ROW_COLUMNS.map(() => 'null').join(', ');
    // One statement: the page, plus one marker row carrying this server's cold-boot flag.
    const result = await this.bounded(
      this.knex.raw(
        `select * from (select ${ROW_COLUMNS.map((c) => `??`).join(', ')}, ?? as pos, null as cbr from ? where cluster = ? and ?? > ? order by ?? limit ?) page
         union all
         select ${nulls}, null, cold_boot_requested from ?? where cluster = ? and server_identity = ?`,
        [
          ...ROW_COLUMNS,
          this.positionColumn,
          this.positionScan(),
          this.cluster,
          this.positionColumn,
          after,
          this.positionColumn,
          limit,
          this.t.cursor,
          this.cluster,
          identity,
        ],
      ),
    );
    const raws = rawRows(result);
    let coldBootRequested: boolean | null = null;
    const page: Array<{ row: StoredInstructionRow; pos: number }> = [];
    for (const raw of raws) {
      if (raw.id == null) coldBootRequested = toBool(raw.cbr);
      else page.push({ row: this.toRow(raw), pos: Number(raw.pos) });
    }
    page.sort((a, b) => a.pos - b.pos);
    const last = page[page.length - 1];
    return {
      rows: page.map((p) => p.row),
      token: last && page.length >= limit ? String(last.pos) : null,
      position: last ? String(last.pos) : null,
      coldBootRequested,
    };
  }

  /**
   * A later page of a catch-up: the rows alone, without the cursor flag the first page brought
   * (a union with the cursor table costs about a third more per page on SQLite).
   */
  private async continuePage(token: string, after: number, limit: number): Promise<InstructionPage> {
    const raws: Array<Record<string, unknown>> = await this.bounded(
      this.pastPosition(after).select(...ROW_COLUMNS, `${this.positionColumn} as pos`).limit(limit),
    );
    const page = raws.map((raw) => ({ row: this.toRow(raw), pos: Number(raw.pos) }));
    const last = page[page.length - 1];
    return {
      rows: page.map((p) => p.row),
      token: last && page.length >= limit ? String(last.pos) : null,
      position: last ? String(last.pos) : null,
      coldBootRequested: undefined,
    };
  }

  async pending(from: string): Promise<PendingSummary> {
    const raw = await this.bounded(
      this.instructions()
        .where(this.positionColumn, '>', Number(from))
        .select(this.knex.raw('count(*) as row_count'), this.knex.raw('coalesce(sum(instruction_count), 0) as total'), this.knex.raw('min(utc_stamp) as oldest'))
        .first(),
    );
    return { rows: Number(raw?.row_count ?? 0), instructions: Number(raw?.total ?? 0), oldest: toDate(raw?.oldest) };
  }

  async listPending(from: string, limit: number): Promise<StoredInstructionRow[]> {
    const raws = await this.bounded(
      this.pastPosition(Number(from)).select(...ROW_COLUMNS).limit(limit),
    );
    return raws.map((raw: Record<string, unknown>) => this.toRow(raw));
  }

  private doomed(db: Knex | Knex.Transaction, options: Omit<PruneChunkOptions, 'limit'>) {
    let query = this.instructions(db)
      .where('utc_stamp', '<', this.cutoffSql(options.olderThanMs))
      // The newest row (in commit order) stays, so the head never goes backwards.
      .where(this.positionColumn, '<', this.knex(this.t.instruction).where('cluster', this.cluster).max(this.positionColumn));
    if (options.coveredBy !== undefined) {
      const floor = Math.min(...options.coveredBy.map(Number));
      if (options.coveredBy.length > 0) query = query.where(this.positionColumn, '<=', floor);
    }
    return query;
  }

  async pruneChunk(options: PruneChunkOptions): Promise<PruneChunkResult> {
    return this.knex.transaction(async (trx) => {
      const doomed: Array<{ id: number; pos: number }> = (
        await this.bounded(this.doomed(trx, options).select('id', `${this.positionColumn} as pos`).orderBy('id').limit(options.limit))
      ).map((r: Record<string, unknown>) => ({ id: Number(r.id), pos: Number(r.pos) }));
      if (doomed.length === 0) return { deleted: 0, marked: [] };
      const highest = Math.max(...doomed.map((d) => d.pos));
      // A cursor below the highest doomed position has not read at least one doomed row.
      const cursors = await this.bounded(this.cursors(trx).select('server_identity', 'position', 'cold_boot_requested'));
      const marked = cursors
        .filter((c: Record<string, unknown>) => Number(c.position) < highest && !toBool(c.cold_boot_requested))
        .map((c: Record<string, unknown>) => String(c.server_identity));
      if (marked.length > 0) await this.bounded(this.cursors(trx).whereIn('server_identity', marked).update({ cold_boot_requested: true }));
      const deleted = await this.bounded(this.instructions(trx).whereIn('id', doomed.map((d) => d.id)).delete());
      return { deleted, marked };
    });
  }

  async prunePreview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }> {
    const raw = await this.bounded(this.doomed(this.knex, options).select(this.knex.raw('count(*) as n'), this.knex.raw('min(id) as lo'), this.knex.raw('max(id) as hi')).first());
    return { rows: Number(raw?.n ?? 0), minId: raw?.lo == null ? null : Number(raw.lo), maxId: raw?.hi == null ? null : Number(raw.hi) };
  }
}

/** knex.raw returns driver-shaped results: an array (sqlite), `{ rows }` (pg) or `[rows, fields]` (mysql). */
export function rawRows(result: unknown): Array<Record<string, unknown>> {
  if (Array.isArray(result)) {
    if (Array.isArray(result[0])) return result[0] as Array<Record<string, unknown>>;
    return result as Array<Record<string, unknown>>;
  }
  if (result && typeof result === 'object' && Array.isArray((result as { rows?: unknown }).rows)) {
    return (result as { rows: Array<Record<string, unknown>> }).rows;
  }
  return [];
}
