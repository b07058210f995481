import type { Knex } from 'knex';
import { toBool } from './columns.js';
import type { PruneChunkOptions, PruneChunkResult } from './store.js';
import type { TableAccess } from './table-access.js';
import type { TableNames } from './tables.js';

/**
 * The prune of a commit-ordered store (commit-ordered-store.ts), where a position is the largest
 * `positionColumn` read: a row is doomed when it is old, below every position that must still
 * read it, and not the newest. A chunk marks the cursors that had not read it and deletes it, in
 * one transaction.
 */
export class CommitOrderedPrune {
  private readonly knex: Knex;
  private readonly t: TableNames;
  private readonly cluster: string;

  constructor(
    private readonly db: TableAccess,
    private readonly positionColumn: string,
  ) {
    this.knex = db.knex;
    this.t = db.tables;
    this.cluster = db.cluster;
  }

  private instructions(db: Knex | Knex.Transaction) {
    return db(this.t.instruction).where('cluster', this.cluster);
  }

  private cursors(db: Knex | Knex.Transaction) {
    return db(this.t.cursor).where('cluster', this.cluster);
  }

  private doomed(db: Knex | Knex.Transaction, options: Omit<PruneChunkOptions, 'limit'>) {
    let query = this.instructions(db)
      .where('utc_stamp', '<', this.db.cutoffSql(options.olderThanMs))
      // The newest row (in commit order) stays, so the head never goes backwards.
      .where(this.positionColumn, '<', this.knex(this.t.instruction).where('cluster', this.cluster).max(this.positionColumn));
    if (options.coveredBy !== undefined) {
      const floor = Math.min(...options.coveredBy.map(Number));
      if (options.coveredBy.length > 0) query = query.where(this.positionColumn, '<=', floor);
    }
    return query;
  }

  async chunk(options: PruneChunkOptions): Promise<PruneChunkResult> {
    return this.knex.transaction(async (trx) => {
      const doomed: Array<{ id: number; pos: number }> =
        // Oldest first, in the utc_stamp index's order, so the read ends after `limit` rows: by id,
        // the database read every row past retention and sorted them, for each chunk (issue 21).
        (
          await this.db.bounded(
            this.doomed(trx, options).select('id', `${this.positionColumn} as pos`).orderBy('utc_stamp').limit(options.limit),
          )
        ).map((r: Record<string, unknown>) => ({ id: Number(r.id), pos: Number(r.pos) }));
      if (doomed.length === 0) return { deleted: 0, marked: [] };
      const highest = Math.max(...doomed.map((d) => d.pos));
      // A cursor below the highest doomed position has not read at least one doomed row.
      const cursors = await this.db.bounded(this.cursors(trx).select('server_identity', 'position', 'cold_boot_requested'));
      const marked = cursors
        .filter((c: Record<string, unknown>) => Number(c.position) < highest && !toBool(c.cold_boot_requested))
        .map((c: Record<string, unknown>) => String(c.server_identity));
      if (marked.length > 0) {
        await this.db.bounded(this.cursors(trx).whereIn('server_identity', marked).update({ cold_boot_requested: true }));
      }
      const deleted = await this.db.bounded(
        this.instructions(trx)
          .whereIn(
            'id',
            doomed.map((d) => d.id),
          )
          .delete(),
      );
      return { deleted, marked };
    });
  }

  async preview(options: Omit<PruneChunkOptions, 'limit'>): Promise<{ rows: number; minId: number | null; maxId: number | null }> {
    const raw = await this.db.bounded(
      this.doomed(this.knex, options)
        .select(this.knex.raw('count(*) as n'), this.knex.raw('min(id) as lo'), this.knex.raw('max(id) as hi'))
        .first(),
    );
    return { rows: Number(raw?.n ?? 0), minId: raw?.lo == null ? null : Number(raw.lo), maxId: raw?.hi == null ? null : Number(raw.hi) };
  }
}
