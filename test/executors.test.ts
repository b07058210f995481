import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { availability, selectedDialects } from './support/databases.js';
import { CLIENTS } from './executors/clients.js';
import { clientTests } from './executors/suite.js';
import { errors } from '../src/index.js';
import { pgExecutor } from '../src/executors/index.js';

/**
 * The drivers' executors (pg, mysql2, better-sqlite3) through test/executors/suite.ts on every
 * database they support here, then what no library decides: a knex transaction ended by hand, and
 * an executor of another database. The ORMs' executors run the same suite from test/orms.
 */
for (const dialect of selectedDialects()) {
  describe(`executors on ${dialect}`, { skip: await availability(dialect) }, () => {
    clientTests(CLIENTS.filter((c) => c.dialect === dialect));

    test('a knex transaction made without a handler and ended by trx.rollback() is applied nowhere; its commit is', async (t) => {
      const h = await harness(t, dialect);
      const local = recorder();
      const writer = h.cache({ serverIdentity: 'writer', refreshers: [local] });
      await writer.start();
      // knex resolves such a transaction's promise on a plain rollback() as on a commit.
      const rolled = await h.knex.transaction();
      await writer.refresh('product', ['r1'], { trx: rolled });
      await rolled.rollback();
      const kept = await h.knex.transaction();
      await writer.refresh('product', ['c1'], { trx: kept });
      await kept.commit();
      await waitFor(() => local.refreshedIds().length > 0);
      await writer.sync();
      assert.deepEqual(local.refreshedIds(), ['c1']);
    });

    test('an executor of another database is refused with E_INVALID_OPTION', async (t) => {
      const h = await harness(t, dialect);
      const cache = h.cache({ serverIdentity: 'w', refreshers: [recorder()] });
      const wrong =
        dialect === 'postgres' ? { dialect: 'mysql' as const, query: () => [] } : pgExecutor({ query: async () => ({ rows: [] }) });
      await assert.rejects(
        cache.refresh('product', [1], { trx: wrong }),
        (err: unknown) => err instanceof errors.InvalidOptionError && /executor writes to/.test(String(err)),
      );
      assert.throws(
        () => cache.refreshSync('product', [1], { trx: { dialect, query: () => Promise.resolve([]) } as never }),
        /synchronous executor|executor writes to/,
      );
    });
  });
}
