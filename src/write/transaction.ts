import type { Knex } from 'knex';

interface Transactor {
  executionPromise?: Promise<unknown>;
  parentTransaction?: Transactor;
  isCompleted?: () => boolean;
  rollback?: (...args: unknown[]) => unknown;
}

/** Transaction levels whose `rollback()` was called. */
const rolledBack = new WeakSet<object>();
const watched = new WeakSet<object>();

/**
 * Notes a call of `level.rollback()`. A transaction made without a handler (`await
 * knex.transaction()`, as MikroORM and Objection make them) resolves its executionPromise on a
 * plain `trx.rollback()` just as on a commit (knex's doNotRejectOnRollback), so the promise alone
 * cannot tell them apart. knex's own handler path calls the same property on a throw.
 */
function watchRollback(level: Transactor): void {
  if (watched.has(level) || typeof level.rollback !== 'function') return;
  watched.add(level);
  const original = level.rollback;
  level.rollback = function (this: unknown, ...args: unknown[]) {
    rolledBack.add(level);
    return original.apply(this, args);
  };
}

/**
 * Resolves true when `trx` and every transaction around it committed, false when any rolled
 * back. A savepoint that is released can still be rolled back by its parent, so every level
 * must commit before the instruction exists for anyone else.
 */
export function whenCommitted(trx: Knex.Transaction): Promise<boolean> {
  const levels: Transactor[] = [];
  for (let level: Transactor | undefined = trx as unknown as Transactor; level; level = level.parentTransaction) {
    watchRollback(level);
    levels.push(level);
  }
  return Promise.all(levels.map((level) => level.executionPromise ?? Promise.resolve())).then(
    () => !levels.some((level) => rolledBack.has(level)),
    () => false,
  );
}

export function isTransaction(value: unknown): value is Knex.Transaction {
  return typeof value === 'function' && typeof (value as Transactor).isCompleted === 'function' && 'executionPromise' in (value as object);
}
