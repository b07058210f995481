import { errors } from '../errors.js';

/**
 * The `replicas` option on a database whose replicas distcache cannot read exactly. SQLite has
 * none. MySQL/MariaDB: a replica applies transactions in the primary's binlog order, and the
 * commit-ordered `seq` would make a position exact there only with parallel replication kept in
 * commit order, which nothing lets distcache verify from a read-only session on every version;
 * rather than read what it cannot prove, it refuses (see docs/scaling.md).
 */
export function refuseReplicas(dialect: 'sqlite' | 'mysql'): never {
  throw new errors.ReplicasUnsupportedError(
    dialect === 'sqlite'
      ? 'replicas: SQLite has no replicas (one file, one writer); remove the option'
      : 'replicas: distcache does not read MySQL/MariaDB replicas, as it cannot prove those reads exact (see docs/scaling.md); ' +
          'remove the option: every server reads the primary',
  );
}
