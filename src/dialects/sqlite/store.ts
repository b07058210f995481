import type { Knex } from 'knex';
import { CommitOrderedStore } from '../../store/commit-ordered-store.js';
import { runCached } from './statements.js';
import type { StoreCapabilities } from '../../store/store.js';
import { SQLITE_CUTOFF, SQLITE_NOW } from './sql/clock.js';

/**
 * SQLite allows one writer at a time, so a row's id (AUTOINCREMENT, never reused) is also its
 * commit order: an `id > cursor` poll cannot skip a row.
 */
export class SqliteStore extends CommitOrderedStore {
  readonly capabilities: StoreCapabilities = Object.freeze({ dialect: 'sqlite', notify: true, serverCancel: false });
  protected readonly positionColumn = 'id';
  /** A blob's length: SQLite's length() of text counts characters, and its octet_length is new in 3.43. */
  protected override readonly byteLength = (quoted: string) => `length(cast(${quoted} as blob))`;

  protected async insertOne(db: Knex | Knex.Transaction, row: Record<string, unknown>): Promise<number> {
    // Without RETURNING, knex resolves a better-sqlite3 insert to [lastInsertRowid]: the same id,
    // and a cheaper statement.
    const [id] = await this.bounded(db(this.t.instruction).insert(row));
    return Number(id);
  }

  protected override async runStatement(sql: string, params: unknown[], mode: 'all' | 'run'): Promise<unknown> {
    return (await runCached(this.knex, sql, params, mode)) ?? super.runStatement(sql, params, mode);
  }

  protected override async insertPrepared(values: unknown[]): Promise<number | undefined> {
    const result = (await runCached(this.knex, this.insertSql, values, 'run')) as { lastInsertRowid: number | bigint } | undefined;
    return result && Number(result.lastInsertRowid);
  }

  // RETURNING (SQLite 3.35+): one statement, and no reliance on the connection's last row id.
  protected executorSql(): { insert: string } {
    return { insert: `${this.insertColumns()} returning id` };
  }

  protected override nowSql(): Knex.Raw {
    return this.knex.raw(SQLITE_NOW);
  }

  protected cutoffSql(ms: number): Knex.Raw {
    return this.knex.raw(SQLITE_CUTOFF, [`-${(ms / 1000).toFixed(3)} seconds`]);
  }

  async now(): Promise<Date> {
    const raw = await this.bounded(this.knex.select(this.knex.raw(`${SQLITE_NOW} as now`)).first());
    return new Date(String(raw.now));
  }
}
