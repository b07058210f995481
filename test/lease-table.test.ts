import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { LeaseTable } from '../src/cluster/lease-table.js';
import { dialectFor } from '../src/dialects/dialect.js';
import { migrate, tableNames } from '../src/index.js';
import { availability, DATABASES, dropPrefixed, freshPrefix, selectedDialects } from './support/databases.js';

/**
 * `peek()` is the lease read for read-only callers (admin/, the CLI): it must never create the
 * row, which `read()` does for the first server of a cluster.
 */
for (const dialect of selectedDialects()) {
  test(
    `${dialect}: LeaseTable.peek() reads the lease without creating it; read() creates it once`,
    { skip: await availability(dialect) },
    async (t) => {
      const knex = knexFactory(DATABASES[dialect].config());
      const prefix = freshPrefix();
      t.after(async () => {
        await dropPrefixed(knex, prefix);
        await knex.destroy();
      });
      await migrate(knex, { tablePrefix: prefix });
      const tables = tableNames(prefix);
      const store = dialectFor(knex).createStore({ knex, tables, cluster: 'peek', queryTimeout: 10_000 });
      const lease = new LeaseTable({ knex, tables, cluster: 'peek', store });
      const rows = async () => Number((await knex(tables.lease).count({ n: '*' }).first())?.n ?? -1);

      assert.equal(await lease.peek(), undefined);
      assert.equal(await rows(), 0, 'peek() inserted nothing');
      assert.equal(await lease.holder(), null);

      const created = await lease.read();
      assert.equal(await rows(), 1, 'read() created the row');
      assert.equal(created.holderInstance, null);
      assert.ok(await lease.take({ identity: 'a', instanceId: 'i-a' }, created, 30_000, 'free'));

      const seen = await lease.peek();
      assert.equal(seen?.holderIdentity, 'a');
      assert.equal(seen?.holderInstance, 'i-a');
      assert.equal(seen?.token, created.token + 1);
      assert.ok(seen?.acquiredAt instanceof Date, 'peek() reads when the lease was taken');
      assert.equal(LeaseTable.looksExpired(seen), false);
      assert.equal(await rows(), 1);
    },
  );
}
