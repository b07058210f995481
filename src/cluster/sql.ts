import type { Knex } from 'knex';
import type { InstructionStore } from '../store/store.js';
import type { TableNames } from '../store/tables.js';

/**
 * What the cluster tables' queries need: knex, the table names, the cluster they are scoped to,
 * and from the store the database clock and the query timeout. The queries themselves are plain
 * knex query builder code, the same on every dialect; the only dialect-specific piece, "the
 * database clock minus N ms", comes from the store (`clockSql`).
 */
export interface ClusterSql {
  readonly knex: Knex;
  readonly tables: TableNames;
  readonly cluster: string;
  readonly store: Pick<InstructionStore, 'clockSql' | 'bounded' | 'now' | 'replicaForReads' | 'lazyCommit' | 'capabilities'>;
}
