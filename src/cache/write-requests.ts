import type { Knex } from 'knex';
import { errors } from '../errors.js';
import type { CacheId, Instruction, InstructionKind, JsonValue } from '../instructions/types.js';
import type { RefresherRegistry } from '../refreshers/registry.js';
import { toIds, toPayloads } from '../write/arguments.js';
import { isExecutor, type Executor, type SyncExecutor } from '../store/executor.js';
import { isTransaction } from '../write/transaction.js';
import type { Writer } from '../write/writer.js';
import type { WrittenRow } from '../write/written.js';

export interface WriteOptions {
  /**
   * Write inside this transaction: a knex transaction, or an executor over another library's
   * transaction (`distcache/executors`). The local apply and NOTIFY wait for its commit; see
   * docs/clients.md for how each library's commit is detected.
   */
  trx?: Knex.Transaction | Executor;
}

/** Options of the `*Sync` writes: a synchronous executor is required. */
export interface SyncWriteOptions {
  trx: SyncExecutor;
}

/**
 * The write API's arguments, checked before anything reaches the Writer: ids and payloads, the
 * refresher, and the transaction or executor. The promise-returning writes reject (never throw)
 * on bad input; the `*Sync` writes throw, so the caller's transaction rolls back.
 */
export class WriteRequests {
  constructor(
    private readonly registry: RefresherRegistry,
    private readonly writer: Writer,
    /** The cache's database: an executor must write to the same one. */
    private readonly dialect: string,
  ) {}

  /** A refresh or remove of ids. */
  ids(refresher: string, kind: 'refresh' | 'remove', ids: CacheId | CacheId[], options: WriteOptions | undefined): Promise<WrittenRow> {
    let list: CacheId[];
    try {
      if (options === undefined && typeof ids === 'number' && Number.isFinite(ids)) {
        // One id and no transaction, inside batch(): joins the batch without the general path's objects.
        const gathered = this.writer.gatherId(refresher, kind, ids, this.requireRefresher);
        if (gathered) return gathered;
      }
      list = toIds(kind, refresher, ids);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send({ refresher, kind, ids: list }, options);
  }

  /** A payload write; bad payloads reject. */
  payloads(refresher: string, payloads: JsonValue | JsonValue[], options: WriteOptions | undefined): Promise<WrittenRow> {
    let instruction: Instruction;
    try {
      instruction = { refresher, kind: 'payload', payloads: toPayloads(refresher, payloads) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.send(instruction, options);
  }

  /** A refresh or remove of ids inside a synchronous transaction; throws on bad input. */
  idsSync(refresher: string, kind: 'refresh' | 'remove', ids: CacheId | CacheId[], options: SyncWriteOptions): WrittenRow {
    return this.sendSync({ refresher, kind, ids: toIds(kind, refresher, ids) }, options);
  }

  payloadsSync(refresher: string, payloads: JsonValue | JsonValue[], options: SyncWriteOptions): WrittenRow {
    return this.sendSync({ refresher, kind: 'payload', payloads: toPayloads(refresher, payloads) }, options);
  }

  private readonly requireRefresher = (refresher: string, kind: InstructionKind): void => void this.registry.require(refresher, kind);

  /** Checks a built instruction and hands it to the writer; rejects (never throws) on bad input. */
  send(instruction: Instruction, options: WriteOptions | undefined): Promise<WrittenRow> {
    try {
      this.registry.require(instruction.refresher, instruction.kind as InstructionKind);
      if (options?.trx !== undefined) this.checkTrx(options.trx);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.writer.write([instruction], options?.trx);
  }

  sendSync(instruction: Instruction, options: SyncWriteOptions): WrittenRow {
    this.registry.require(instruction.refresher, instruction.kind as InstructionKind);
    if (!isExecutor(options?.trx)) {
      throw new errors.InvalidOptionError(
        'trx: a *Sync write needs a synchronous executor, e.g. { trx: betterSqliteExecutor(db) } from distcache/executors',
      );
    }
    this.checkTrx(options.trx);
    return this.writer.writeSync([instruction], options.trx);
  }

  private checkTrx(trx: unknown): void {
    if (isExecutor(trx)) {
      const dialect = this.dialect;
      if (trx.dialect !== dialect) {
        throw new errors.InvalidOptionError(
          `trx: this executor writes to ${trx.dialect} but this cache's database is ${dialect}; use an executor of the same database`,
        );
      }
      return;
    }
    if (!isTransaction(trx)) {
      throw new errors.InvalidOptionError(
        'trx: pass the transaction object knex gives you (knex.transaction(async (trx) => cache.refresh(..., { trx })))' +
          ' or an executor from distcache/executors',
      );
    }
  }
}
