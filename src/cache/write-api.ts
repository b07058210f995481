import type { CacheId, JsonValue } from '../instructions/types.js';
import { runInCommitScope } from '../write/commit-scope.js';
import { isGathered, type WrittenRow } from '../write/written.js';
import type { CacheParts } from './parts.js';
import type { Positions } from './positions.js';
import type { SyncWriteOptions, WriteOptions, WriteRequests } from './write-requests.js';

/** What a write inside `batch()` resolves to: nothing is written yet, so there is no position to wait for. */
const NOTHING_WRITTEN: Promise<string> = Promise.resolve('');

/**
 * The write half of the public API: refresh, remove, their payload and `*Sync` forms, transaction
 * and batch. DistributedCache (src/cache.ts) extends it and owns the state it reads: a class of its
 * own only so the facade's file stays one concept long.
 */
export abstract class CacheWriteApi {
  protected abstract readonly parts: CacheParts;
  protected abstract readonly requests: WriteRequests;
  protected abstract readonly positions: Positions;

  /** The position token of what `written` inserted; calls gathered into a batch share one settled promise. */
  private position(written: Promise<WrittenRow>): Promise<string> {
    if (isGathered(written)) return NOTHING_WRITTEN;
    const tokens = this.positions.tokens;
    return written.then((rowId) => tokens.make(rowId));
  }

  /**
   * Every server's refresher `refresher` refreshes these ids. Resolves to a position token once
   * written (valid once the write commits; '' inside batch(), see runInRequest): another server's
   * `waitFor(token)` waits until it has applied it.
   */
  refresh(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.ids(refresher, 'refresh', ids, options));
  }

  /** Every server's refresher `refresher` refreshes everything. */
  refreshAll(refresher: string, options?: WriteOptions): Promise<string> {
    return this.position(this.requests.send({ refresher, kind: 'refresh-all' }, options));
  }

  /** Every server's refresher `refresher` removes these ids. */
  remove(refresher: string, ids: CacheId | CacheId[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.ids(refresher, 'remove', ids, options));
  }

  /** Every server's refresher `refresher` receives these JSON payloads. */
  refreshPayload(refresher: string, payloads: JsonValue | JsonValue[], options?: WriteOptions): Promise<string> {
    return this.position(this.requests.payloads(refresher, payloads, options));
  }

  /** `refresh` inside a synchronous transaction (better-sqlite3): throws on failure, so the transaction rolls back. */
  refreshSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.idsSync(refresher, 'refresh', ids, options));
  }

  refreshAllSync(refresher: string, options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.sendSync({ refresher, kind: 'refresh-all' }, options));
  }

  removeSync(refresher: string, ids: CacheId | CacheId[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.idsSync(refresher, 'remove', ids, options));
  }

  refreshPayloadSync(refresher: string, payloads: JsonValue | JsonValue[], options: SyncWriteOptions): string {
    return this.positions.tokens.make(this.requests.payloadsSync(refresher, payloads, options));
  }

  /**
   * Runs `work`, the call that runs a client library's transaction, and applies the writes made
   * inside it through executors locally (and announces them) once it resolves: never if it
   * rejects. For libraries that report no commits (Prisma, Kysely, postgres.js, node-postgres).
   * `work` must resolve only when the transaction committed, as `prisma.$transaction()` does.
   *
   * @example
   * import { kyselyExecutor } from 'distcache/executors';
   * await cache.transaction(() => db.transaction().execute(async (trx) => {
   *   await trx.updateTable('product').set({ price: 10 }).where('id', '=', 42).execute();
   *   await cache.refresh('product', [42], { trx: kyselyExecutor(trx, 'postgres') });
   * }));
   */
  transaction<T>(work: () => T | Promise<T>): Promise<T> {
    return runInCommitScope(this.parts.writer, work);
  }

  /**
   * Writes every instruction made inside `work` as one row when it resolves; nothing if it rejects.
   * Resolves to that row's position token (valid once it commits; '' when nothing was written, or
   * inside another batch, which writes the row). `work`'s own result is not returned: capture it.
   *
   * @example
   * const position = await cache.batch(() => { for (const id of [1, 2, 3]) void cache.refresh('product', id); });
   */
  batch(work: () => unknown): Promise<string> {
    return this.position(this.parts.writer.batch(work));
  }
}
