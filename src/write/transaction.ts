import type { Knex } from 'knex';

interface Transactor {
  executionPromise?: Promise<unknown>;
  parentTransaction?: Transactor;
  isCompleted?: () => boolean;
}

/**
 * Resolves true when `trx` and every transaction around it committed, false when any rolled
 * back. A savepoint that is released can still be rolled back by its parent, so every level
 * must commit before the instruction exists for anyone else.
 */
export function whenCommitted(trx: Knex.Transaction): Promise<boolean> {
  const levels: Promise<unknown>[] = [];
  for (let level: Transactor | undefined = trx as unknown as Transactor; level; level = level.parentTransaction) {
    if (level.executionPromise) levels.push(level.executionPromise);
  }
  return Promise.all(levels).then(
    () => true,
    () => false,
  );
}

export function isTransaction(value: unknown): value is Knex.Transaction {
  return typeof value === 'function' && typeof (value as Transactor).isCompleted === 'function' && 'executionPromise' in (value as object);
}
