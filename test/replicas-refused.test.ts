import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import knexFactory from 'knex';
import { DistributedCache } from '../src/index.js';
import { Admin } from '../src/admin/index.js';
import { silentLogger } from '../src/logger.js';
import { availability, DATABASES } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';

/** Issue 25: the `replicas` option is PostgreSQL's only; elsewhere it is refused with a code, never ignored. */
checkLeaksAfterEach();

const mysqlSkip = await availability('mysql');

describe('replicas outside PostgreSQL', () => {
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

  test('MySQL/MariaDB replicas are refused: exactness cannot be proven from the reader', { skip: mysqlSkip }, async () => {
    const knex = knexFactory(DATABASES.mysql.config());
    try {
      assert.throws(() => new DistributedCache({ knex, replicas: [knex], logger: silentLogger }), {
        code: 'E_REPLICAS_UNSUPPORTED',
        message: /cannot prove those reads exact/,
      });
    } finally {
      await knex.destroy();
    }
  });
});
