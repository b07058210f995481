import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Knex } from 'knex';
import { harness, type Harness } from './harness.js';
import { decodeInstructions } from './exports.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import pg from 'pg';
import { PG_NOTIFY_URL, PG_URL, type DialectName } from '../support/databases.js';
import { notifyChannel } from '../../src/dialects/postgres/channel.js';

type Kind = 'refresh' | 'remove' | 'refresh-all' | 'payload';

/** One call of migration 005's SQL entry point for `kind`, as a psql/mariadb/sqlite3 user writes it. */
export async function sqlCall(
  h: Harness,
  db: Knex | Knex.Transaction,
  kind: Kind,
  refresher: string,
  args: string | null,
  cluster?: string,
): Promise<unknown> {
  const p = h.prefix;
  if (h.dialect === 'postgres') {
    const name = `${p}distcache_${kind.replace('-', '_')}`;
    const params = kind === 'refresh-all' ? [refresher] : [refresher, args];
    const casts = kind === 'refresh-all' ? '?' : '?, ?::jsonb';
    return cluster === undefined
      ? db.raw(`select "${name}"(${casts}) as id`, params)
      : db.raw(`select "${name}"(${casts}, ?) as id`, [...params, cluster]);
  }
  if (h.dialect === 'mysql') {
    const name = `${p}distcache_${kind.replace('-', '_')}`;
    return kind === 'refresh-all'
      ? db.raw(`call \`${name}\`(?, ?)`, [refresher, cluster ?? null])
      : db.raw(`call \`${name}\`(?, ?, ?)`, [refresher, args, cluster ?? null]);
  }
  return db.raw(`insert into "${p}distcache_write" (kind, refresher, args, cluster) values (?, ?, ?, ?)`, [
    kind,
    refresher,
    args,
    cluster ?? null,
  ]);
}

/** The SQL functions (PostgreSQL), procedures (MySQL) and view (SQLite) of migration 005. */
export function sqlFunctionTests(dialect: DialectName): void {
  const sqlFunctionsTest =
    'SQL functions: committed calls reach every server as the same rows the writer writes; a rolled-back one reaches none';
  test(sqlFunctionsTest, async (t) => {
    const h = await harness(t, dialect);
    const servers = [0, 1].map((i) => {
      const r = recorder();
      return { r, cache: h.cache({ serverIdentity: `s-${i}`, refreshers: [r], knex: h.connection() }) };
    });
    for (const { cache } of servers) await cache.start();
    await h.knex.transaction(async (trx) => {
      await sqlCall(h, trx, 'refresh', 'product', '[42, "sku-1"]');
      await sqlCall(h, trx, 'remove', 'product', '[7]');
      await sqlCall(h, trx, 'payload', 'product', '{"price": 10}');
    });
    await assert.rejects(
      h.knex.transaction(async (trx) => {
        await sqlCall(h, trx, 'refresh', 'product', '["rolled-back"]');
        throw new Error('roll back');
      }),
      /roll back/,
    );
    for (const { r, cache } of servers) {
      await cache.sync();
      assert.deepEqual(r.calls, [
        { kind: 'refresh', ids: [42, 'sku-1'] },
        { kind: 'remove', ids: [7] },
        { kind: 'payload', payloads: [{ price: 10 }] },
      ]);
    }
    // Alone in its poll: a refresh-all absorbs the refreshes that share a poll with it.
    await h.knex.transaction((trx) => sqlCall(h, trx, 'refresh-all', 'product', null));
    for (const { r, cache } of servers) {
      await cache.sync();
      assert.deepEqual(r.calls.at(-1), { kind: 'refresh-all' });
      assert.equal(r.calls.length, 4);
    }
    const rows = await h
      .knex(h.table('cache_instruction'))
      .select('json_instruction', 'instruction_count', 'origin_instance', 'cluster')
      .orderBy('id');
    assert.deepEqual(
      rows.map((r: Record<string, unknown>) => [
        decodeInstructions(String(r.json_instruction)),
        Number(r.instruction_count),
        r.origin_instance,
        r.cluster,
      ]),
      [
        [[{ refresher: 'product', kind: 'refresh', ids: [42, 'sku-1'] }], 2, null, 'default'],
        [[{ refresher: 'product', kind: 'remove', ids: [7] }], 1, null, 'default'],
        [[{ refresher: 'product', kind: 'payload', payloads: [{ price: 10 }] }], 1, null, 'default'],
        [[{ refresher: 'product', kind: 'refresh-all' }], 1, null, 'default'],
      ],
    );
    // Another cluster's call reaches that cluster only.
    await sqlCall(h, h.knex, 'refresh', 'product', '[1]', 'eu');
    for (const { r, cache } of servers) {
      const before = r.calls.length;
      await cache.sync();
      assert.equal(r.calls.length, before);
    }
  });

  test('SQL functions refuse bad input with an error naming the fix, and write nothing', async (t) => {
    const h = await harness(t, dialect);
    const bad: Array<[Kind, string, string | null, string | undefined, RegExp]> = [
      ['refresh', 'product', '[]', undefined, /ids must be a non-empty JSON array/],
      ['refresh', 'product', '[{"a": 1}]', undefined, /ids must be a non-empty JSON array/],
      ['remove', 'product', 'not json', undefined, /ids must be|invalid input syntax for type json/],
      ['refresh', 'product', `["${'x'.repeat(1025)}"]`, undefined, /strings of at most 1024/],
      ['refresh', '', '[1]', undefined, /refresher must be/],
      ['refresh', 'product', '[1]', 'bad cluster!', /cluster must be/],
      ['payload', 'product', '[]', undefined, /payloads must be JSON/],
    ];
    for (const [kind, refresher, args, cluster, message] of bad) {
      await assert.rejects(
        sqlCall(h, h.knex, kind, refresher, args, cluster),
        message,
        `${kind} ${refresher} ${args?.slice(0, 20)} ${cluster}`,
      );
    }
    if (dialect === 'sqlite') {
      await assert.rejects(
        h.knex.raw(`insert into "${h.prefix}distcache_write" (kind, refresher, args) values ('purge', 'product', '[1]')`),
        /kind must be one of/,
      );
    } else if (dialect === 'postgres') {
      await assert.rejects(h.knex.raw(`select "${h.prefix}distcache_write"('purge', 'product', '[1]')`), /kind must be one of/);
    } else {
      await assert.rejects(h.knex.raw(`call \`${h.prefix}distcache_write\`('purge', 'product', '[1]', NULL)`), /kind must be one of/);
    }
    assert.equal(Number((await h.knex(h.table('cache_instruction')).count({ n: '*' }).first())?.n), 0);
  });

  if (dialect !== 'sqlite') {
    test('SQL functions stay exact: a call that commits after a later one is still read by a server that polled in between', async (t) => {
      const h = await harness(t, dialect);
      const r = recorder();
      const server = h.cache({ serverIdentity: 'reader', refreshers: [r], knex: h.connection() });
      await server.start();
      const early = await h.knex.transaction();
      await sqlCall(h, early, 'refresh', 'product', '["early"]');
      // On MySQL the later call waits for the earlier commit (the sequence row lock): that wait is the exactness.
      const late = sqlCall(h, h.connection(), 'refresh', 'product', '["late"]');
      if (dialect === 'postgres') await late;
      await server.sync();
      await early.commit();
      await late;
      await server.sync();
      assert.deepEqual(r.refreshedIds().sort(), ['early', 'late']);
    });
  }

  if (dialect === 'postgres') {
    test('distcache_wake() after COMMIT sends the NOTIFY the servers listen on, for short and hashed channel names', async (t) => {
      const h = await harness(t, dialect);
      // LISTEN needs a session of its own: through a transaction pooler, the direct URL the suite listens on.
      const raw = new pg.Client({ connectionString: PG_NOTIFY_URL ?? PG_URL });
      await raw.connect();
      t.after(() => raw.end());
      const heard: string[] = [];
      raw.on('notification', (n) => heard.push(n.channel));
      const long = `c${'x'.repeat(63)}`;
      for (const cluster of ['default', long]) await raw.query(`listen "${notifyChannel(h.prefix, cluster)}"`);
      await h.knex.raw(`select "${h.prefix}distcache_wake"()`);
      await h.knex.raw(`select "${h.prefix}distcache_wake"(?)`, [long]);
      await waitFor(() => heard.length === 2, { describe: () => JSON.stringify(heard) });
      assert.deepEqual(heard, [notifyChannel(h.prefix, 'default'), notifyChannel(h.prefix, long)]);
    });
  }
}
