import type { NewFailure, StoredFailure } from './failure-record.js';
import { toDate } from './columns.js';
import type { TableAccess } from './table-access.js';

/** A failure record's error and detail are cut to this many characters: a refresher's error text is not ours to bound. */
const MAX_FAILURE_TEXT = 2000;

/** `cache_failure`: what was done about instructions that could not be applied as written. */
export class FailureTable {
  constructor(private readonly db: TableAccess) {}

  private failures() {
    return this.db.knex(this.db.tables.failure).where('cluster', this.db.cluster);
  }

  async record(failure: NewFailure): Promise<void> {
    await this.db.bounded(
      this.db.knex(this.db.tables.failure).insert({
        cluster: this.db.cluster,
        server_identity: failure.identity,
        instruction_id: failure.instructionId,
        refresher: failure.refresher,
        kind: failure.kind,
        action: failure.action,
        error: failure.error.slice(0, MAX_FAILURE_TEXT),
        detail: failure.detail === null ? null : failure.detail.slice(0, MAX_FAILURE_TEXT),
      }),
    );
  }

  async prune(olderThanMs: number, limit: number): Promise<number> {
    // Ids first, then a delete by id: MySQL allows no LIMIT in a subquery of IN.
    const rows = (await this.db.bounded(
      this.failures().where('created_at', '<', this.db.cutoffSql(olderThanMs)).select('id').orderBy('id').limit(limit),
    )) as Array<{ id: unknown }>;
    if (rows.length === 0) return 0;
    const ids = rows.map((r) => Number(r.id));
    return Number(await this.db.bounded(this.db.knex(this.db.tables.failure).whereIn('id', ids).delete()));
  }

  async list(filter: { identity?: string; limit: number }): Promise<StoredFailure[]> {
    let query = this.failures().select('*').orderBy('id', 'desc').limit(filter.limit);
    if (filter.identity !== undefined) query = query.where('server_identity', filter.identity);
    const raws = await this.db.bounded(query);
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

  async count(): Promise<number> {
    const raw = await this.db.bounded(this.failures().count({ n: '*' }).first());
    return Number(raw?.n ?? 0);
  }
}
