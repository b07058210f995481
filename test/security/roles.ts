/**
 * Issue 22, "No trust boundary between writers", and docs/security.md's three roles: each is
 * created with exactly the GRANTs the doc gives (rolesSql, the same text), and each attempt outside
 * them is refused by PostgreSQL itself.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { harness } from '../conformance/harness.js';
import { Admin } from '../../src/admin/index.js';
import { DistributedCache } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { PG_URL } from '../support/databases.js';
import { recorder } from '../support/recorder.js';

/** docs/security.md's PostgreSQL GRANTs for prefix `p` (the doc shows them for the empty prefix); keep the two identical. */
export function rolesSql(p: string, roles: { app: string; writer: string; operator: string; definer: string }): string[] {
  const t = (name: string) => `"${p}${name}"`;
  const fn = (name: string, args: string) => `"${p}distcache_${name}"(${args})`;
  const functions = [
    fn('write', 'text, text, jsonb, text'),
    fn('refresh', 'text, jsonb, text'),
    fn('remove', 'text, jsonb, text'),
    fn('refresh_all', 'text, text'),
    fn('payload', 'text, jsonb, text'),
  ];
  const q = (role: string) => `"${role}"`;
  return [
    // The functions' owner: NOLOGIN, allowed to insert rows and nothing else.
    `create role ${q(roles.definer)} nologin`,
    `grant usage on schema public to ${q(roles.definer)}`,
    // select (id): the functions return the new row's id (INSERT ... RETURNING reads it).
    `grant insert, select (id) on ${t('cache_instruction')} to ${q(roles.definer)}`,
    `grant usage on sequence ${t('cache_instruction_id_seq')} to ${q(roles.definer)}`,
    ...functions.map((f) => `alter function ${f} owner to ${q(roles.definer)}`),
    // The app server.
    `create role ${q(roles.app)} login`,
    `grant usage on schema public to ${q(roles.app)}`,
    `grant select, insert, delete on ${t('cache_instruction')} to ${q(roles.app)}`,
    `grant update (txid) on ${t('cache_instruction')} to ${q(roles.app)}`,
    `grant select, insert, update, delete on ${t('cache_cursor')}, ${t('cache_server')}, ${t('cache_lease')} to ${q(roles.app)}`,
    `grant select, insert, delete on ${t('cache_failure')} to ${q(roles.app)}`,
    `grant usage on sequence ${t('cache_instruction_id_seq')}, ${t('cache_failure_id_seq')} to ${q(roles.app)}`,
    // The writer: the SQL functions alone.
    `create role ${q(roles.writer)} login`,
    `grant usage on schema public to ${q(roles.writer)}`,
    ...functions.slice(1, 4).map((f) => `grant execute on function ${f} to ${q(roles.writer)}`),
    `grant execute on function ${fn('wake', 'text')} to ${q(roles.writer)}`,
    // The read-only operator (the CLI's status, tail, show, pending, failures, servers).
    `create role ${q(roles.operator)} login`,
    `grant usage on schema public to ${q(roles.operator)}`,
    `grant select on ${['cache_instruction', 'cache_cursor', 'cache_server', 'cache_lease', 'cache_failure', 'distcache_migrations']
      .map(t)
      .join(', ')} to ${q(roles.operator)}`,
  ];
}

const as = (role: string): Knex =>
  knexFactory({ client: 'pg', connection: PG_URL.replace(/\/\/[^@/]*@/, `//${role}@`), pool: { min: 0, max: 4 } });
const denied = /permission denied/;

export function rolesTests(): void {
  test('postgres: the app, writer and operator roles of docs/security.md can do their work and nothing more', async (t) => {
    const tag = randomBytes(4).toString('hex');
    const roles = { app: `dc_app_${tag}`, writer: `dc_writer_${tag}`, operator: `dc_operator_${tag}`, definer: `dc_definer_${tag}` };
    const opened: Knex[] = [];
    const held: { cache?: DistributedCache } = {};
    // Registered before the harness's own clean-up, so it runs first (hooks run in order): the
    // roles go while the harness's connection and tables are still there.
    t.after(async () => {
      await held.cache?.stop();
      await Promise.all(opened.map((k) => k.destroy()));
      // Back to the migrating user, so the prefix's tables and functions can be dropped.
      for (const f of ['write', 'refresh', 'remove', 'refresh_all', 'payload']) {
        await h.knex.raw(`alter function if exists "${h.prefix}distcache_${f}" owner to current_user`).catch(() => undefined);
      }
      for (const role of Object.values(roles)) {
        await h.knex.raw(`drop owned by "${role}"`).catch(() => undefined);
        await h.knex.raw(`drop role if exists "${role}"`);
      }
    });
    const h = await harness(t, 'postgres');
    for (const statement of rolesSql(h.prefix, roles)) await h.knex.raw(statement);
    const app = as(roles.app);
    const writer = as(roles.writer);
    const operator = as(roles.operator);
    opened.push(app, writer, operator);
    const instruction = h.table('cache_instruction');

    // The app server: a cache starts, writes, reads others' rows, prunes, stops.
    const product = recorder();
    const cache = (held.cache = new DistributedCache({
      knex: app,
      tablePrefix: h.prefix,
      serverIdentity: 'app-1',
      refreshers: [product],
      notify: false,
      pruneSchedule: false,
      logger: silentLogger,
      syncInterval: 60_000,
    }));
    await cache.start();
    await cache.refresh('product', [1]);
    await cache.prune();
    // ...but it cannot change the schema or the functions.
    await assert.rejects(app.raw(`alter table "${instruction}" drop constraint "${instruction}_bounded"`), /must be owner/);
    await assert.rejects(app.raw(`select "${h.prefix}distcache_payload"('product', '{"price": 0}')`), denied);

    // The writer: the functions, as the NOLOGIN definer; no table at all.
    const [{ id }] = (await writer.raw(`select "${h.prefix}distcache_refresh"('product', '[2]') as id`)).rows;
    await writer.raw(`select "${h.prefix}distcache_wake"()`);
    await cache.sync();
    assert.deepEqual(product.refreshedIds(), [1, 2]);
    const [row] = await h.knex(instruction).where('id', Number(id));
    assert.equal(row.originated, `sql:${roles.writer}`, 'originated names the caller, not the definer');
    await assert.rejects(
      writer(instruction).insert({ json_instruction: '{}', originated: 'cli:root@ops-bastion', instruction_count: 2147483647 }),
      denied,
    );
    await assert.rejects(writer(instruction).select('id'), denied);
    await assert.rejects(writer.raw(`select "${h.prefix}distcache_payload"('product', '{"price": 0}')`), denied, 'payload is not granted');
    await assert.rejects(writer.raw(`select "${h.prefix}distcache_write"('refresh', 'product', '[1]', 'default')`), denied);

    // The operator: every read command; no write.
    const admin = new Admin({ knex: operator, tablePrefix: h.prefix });
    assert.ok((await admin.status()).log.rows >= 2);
    assert.ok((await admin.tail({ limit: 5 })).length >= 2);
    await admin.failures();
    await admin.servers();
    await assert.rejects(admin.send({ refresher: 'product', kind: 'refresh-all', force: true }), denied);
    await assert.rejects(admin.resync('app-1'), denied);
    await assert.rejects(operator(instruction).delete(), denied);
    await assert.rejects(operator.raw(`select "${h.prefix}distcache_refresh"('product', '[3]')`), denied);
  });
}
