import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import knexFactory from 'knex';
import { DistributedCache } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { silentLogger } from '../src/logger.js';
import { inexactReason } from '../src/dialects/mysql/replica-exactness.js';
import { checkLeaksAfterEach } from './support/leaks.js';

/**
 * Issue 25: the `replicas` option is refused where it cannot be exact, with a code, never ignored.
 * SQLite has no replicas; a MySQL/MariaDB replica is read only with settings that keep the
 * primary's commit order (the rules here; test/replicas-mariadb.test.ts runs them on a real replica).
 */
checkLeaksAfterEach();

describe('replicas refused where they cannot be exact', () => {
  test('SQLite has no replicas: E_REPLICAS_UNSUPPORTED at construction', async () => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    try {
      assert.throws(() => new DistributedCache({ knex, replicas: [knex], logger: silentLogger }), {
        code: 'E_REPLICAS_UNSUPPORTED',
        message: /SQLite has no replicas/,
      });
    } finally {
      await knex.destroy();
    }
  });

  test('Admin on SQLite refuses replicas too, and a replicas value that is not Knex instances', async () => {
    const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
    try {
      assert.throws(() => new Admin({ knex, replicas: [knex] }), { code: 'E_REPLICAS_UNSUPPORTED', message: /SQLite has no replicas/ });
      assert.throws(() => new Admin({ knex, replicas: ['postgres://replica'] as never }), {
        code: 'E_INVALID_OPTION',
        message: /replicas/,
      });
      assert.throws(() => new Admin({ knex, maxReplicaLag: -1 }), { code: 'E_INVALID_OPTION', message: /maxReplicaLag/ });
    } finally {
      await knex.destroy();
    }
  });

  test('MariaDB: serial apply, or in-order parallel apply within one GTID domain, is exact', () => {
    for (const mode of ['none', 'minimal', 'conservative', 'optimistic', 'aggressive']) {
      assert.equal(inexactReason({ slave_parallel_threads: '8', slave_parallel_mode: mode, gtid_slave_pos: '0-1-42' }), null, mode);
      assert.equal(inexactReason({ slave_parallel_threads: '0', slave_parallel_mode: mode, gtid_slave_pos: '0-1-42,7-1-3' }), null);
    }
    assert.equal(inexactReason({ slave_parallel_threads: '8', slave_parallel_mode: 'none', gtid_slave_pos: '0-1-42,7-1-3' }), null);
    assert.equal(inexactReason({ slave_parallel_threads: '8', slave_parallel_mode: 'optimistic', gtid_slave_pos: '' }), null);
  });

  test('MariaDB: parallel apply with two GTID domains is refused, naming the settings and the fix', () => {
    const reason = inexactReason({ slave_parallel_threads: '4', slave_parallel_mode: 'conservative', gtid_slave_pos: '0-1-42,7-1-3' });
    assert.match(reason ?? '', /slave_parallel_threads = 4 with slave_parallel_mode = conservative .* domains 0, 7/);
    assert.match(reason ?? '', /SET GLOBAL slave_parallel_threads = 0/);
  });

  test('MySQL: more than one applier worker needs replica_preserve_commit_order (or the pre-8.0.26 names)', () => {
    assert.equal(inexactReason({ replica_parallel_workers: '0', replica_preserve_commit_order: 'OFF' }), null);
    assert.equal(inexactReason({ replica_parallel_workers: '1', replica_preserve_commit_order: 'OFF' }), null);
    assert.equal(inexactReason({ replica_parallel_workers: '4', replica_preserve_commit_order: 'ON' }), null);
    assert.match(
      inexactReason({ replica_parallel_workers: '4', replica_preserve_commit_order: 'OFF' }) ?? '',
      /replica_parallel_workers = 4 with replica_preserve_commit_order = OFF .* SET GLOBAL replica_preserve_commit_order = ON/,
    );
    assert.match(
      inexactReason({ slave_parallel_workers: '4', slave_preserve_commit_order: 'OFF' }) ?? '',
      /slave_parallel_workers = 4 with slave_preserve_commit_order = OFF/,
    );
    assert.equal(inexactReason({ slave_parallel_workers: '4', slave_preserve_commit_order: 'ON' }), null);
  });
});
