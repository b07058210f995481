/**
 * Issue 22, "No trust boundary between writers", and docs/security.md's three roles: each is
 * created with exactly the GRANTs the doc gives (rolesSql and mysqlRolesSql, the same text), does
 * its work, and each attempt outside them is refused by the database itself, on PostgreSQL and MariaDB.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import knexFactory, { type Knex } from 'knex';
import { harness } from '../conformance/harness.js';
import { Admin } from '../../src/admin/index.js';
import { DistributedCache, migrate } from '../../src/index.js';
import { silentLogger } from '../../src/logger.js';
import { MYSQL_URL, PG_URL } from '../support/databases.js';
import { recorder } from '../support/recorder.js';

/** docs/security.md's PostgreSQL GRANTs for prefix `p` (the doc shows them for the empty prefix); keep the two identical. */
export function rolesSql(p: string, roles: { app: string; writer: string; operator: string }): string[] {
  const t = (name: string) => `"${p}${name}"`;
  const fn = (name: string, args: string) => `"${p}distcache_${name}"(${args})`;
  const writerFunctions = [fn('refresh', 'text, jsonb, text'), fn('remove', 'text, jsonb, text'), fn('refresh_all', 'text, text')];
  const q = (role: string) => `"${role}"`;
  return [
    // The app server.
    `create role ${q(roles.app)} login`,
    `grant usage on schema public to ${q(roles.app)}`,
    `grant select, insert, delete on ${t('cache_instruction')} to ${q(roles.app)}`,
    `grant update (txid) on ${t('cache_instruction')} to ${q(roles.app)}`,
    `grant select, insert, update, delete on ${t('cache_cursor')}, ${t('cache_server')}, ${t('cache_lease')} to ${q(roles.app)}`,
    `grant select, insert, delete on ${t('cache_failure')} to ${q(roles.app)}`,
    `grant usage on sequence ${t('cache_instruction_id_seq')}, ${t('cache_failure_id_seq')} to ${q(roles.app)}`,
    // Servers with \`replicas\` write the replicated tick (migration 009).
    `grant select, insert, update on ${t('cache_tick')} to ${q(roles.app)}`,
    // The writer: the SQL functions alone.
    `create role ${q(roles.writer)} login`,
    `grant usage on schema public to ${q(roles.writer)}`,
    ...writerFunctions.map((f) => `grant execute on function ${f} to ${q(roles.writer)}`),
    `grant execute on function ${fn('wake', 'text')} to ${q(roles.writer)}`,
    // The read-only operator (the CLI's status, tail, show, pending, failures, servers).
    `create role ${q(roles.operator)} login`,
    `grant usage on schema public to ${q(roles.operator)}`,
    `grant select on ${['cache_instruction', 'cache_cursor', 'cache_server', 'cache_lease', 'cache_failure', 'distcache_migrations']
      .map(t)
      .join(', ')} to ${q(roles.operator)}`,
  ];
}

/** A server as the app role: it starts, writes, reads others' rows and prunes. */
async function appServer(app: Knex, tablePrefix: string, product: ReturnType<typeof recorder>): Promise<DistributedCache> {
  const cache = new DistributedCache({
    knex: app,
    tablePrefix,
    serverIdentity: 'app-1',
    refreshers: [product],
    notify: false,
    pruneSchedule: false,
    logger: silentLogger,
    syncInterval: 60_000,
  });
  await cache.start();
  await cache.refresh('product', [1]);
  await cache.prune();
  return cache;
}

const as = (role: string): Knex =>
  knexFactory({ client: 'pg', connection: PG_URL.replace(/\/\/[^@/]*@/, `//${role}@`), pool: { min: 0, max: 4 } });
const denied = /permission denied/;

export function rolesTests(dialect: 'postgres' | 'mysql'): void {
  if (dialect === 'mysql') return mysqlRolesTests();
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
    // The functions' owner: created NOLOGIN by migrate and given INSERT on the log and nothing else.
    const { ownedFunctions } = await migrate(h.knex, { tablePrefix: h.prefix, functionOwner: roles.definer });
    assert.equal(ownedFunctions?.length, 5);
    for (const statement of rolesSql(h.prefix, roles)) await h.knex.raw(statement);
    const app = as(roles.app);
    const writer = as(roles.writer);
    const operator = as(roles.operator);
    opened.push(app, writer, operator);
    const instruction = h.table('cache_instruction');

    // The app server: a cache starts, writes, reads others' rows, prunes, stops.
    const product = recorder();
    const cache = (held.cache = await appServer(app, h.prefix, product));
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

/**
 * docs/security.md's MariaDB/MySQL GRANTs for database `db` and prefix `p` (the doc shows database
 * `app`, empty prefix); keep the two identical.
 */
export function mysqlRolesSql(db: string, p: string, users: { app: string; writer: string; operator: string }, password: string): string[] {
  const t = (name: string) => `\`${db}\`.\`${p}${name}\``;
  const proc = (name: string) => `procedure \`${db}\`.\`${p}distcache_${name}\``;
  const u = (user: string) => `'${user}'@'%'`;
  return [
    // 1. The app server.
    `create user ${u(users.app)} identified by '${password}'`,
    `grant select, insert, delete on ${t('cache_instruction')} to ${u(users.app)}`,
    `grant select on ${t('cache_sequence')} to ${u(users.app)}`,
    ...['cache_cursor', 'cache_server', 'cache_lease'].map(
      (name) => `grant select, insert, update, delete on ${t(name)} to ${u(users.app)}`,
    ),
    `grant select, insert, delete on ${t('cache_failure')} to ${u(users.app)}`,
    // 2. A writer: the procedures alone.
    `create user ${u(users.writer)} identified by '${password}'`,
    ...['refresh', 'remove', 'refresh_all'].map((name) => `grant execute on ${proc(name)} to ${u(users.writer)}`),
    // 3. A read-only operator.
    `create user ${u(users.operator)} identified by '${password}'`,
    ...['cache_instruction', 'cache_cursor', 'cache_server', 'cache_lease', 'cache_failure', 'distcache_migrations'].map(
      (name) => `grant select on ${t(name)} to ${u(users.operator)}`,
    ),
  ];
}

function mysqlRolesTests(): void {
  test('mysql: the app, writer and operator users of docs/security.md can do their work and nothing more', async (t) => {
    const tag = randomBytes(4).toString('hex');
    const users = { app: `dc_app_${tag}`, writer: `dc_writer_${tag}`, operator: `dc_operator_${tag}` };
    const password = randomBytes(12).toString('hex');
    const opened: Knex[] = [];
    const held: { cache?: DistributedCache } = {};
    // Registered before the harness's clean-up, so the users go while its connection is still open.
    t.after(async () => {
      await held.cache?.stop();
      await Promise.all(opened.map((k) => k.destroy()));
      for (const user of Object.values(users)) await h.knex.raw(`drop user if exists '${user}'@'%'`);
    });
    const h = await harness(t, 'mysql');
    const url = new URL(MYSQL_URL);
    const db = url.pathname.slice(1);
    for (const statement of mysqlRolesSql(db, h.prefix, users, password)) await h.knex.raw(statement);
    const as = (user: string): Knex => {
      const login = new URL(MYSQL_URL);
      login.username = user;
      login.password = password;
      const k = knexFactory({ client: 'mysql2', connection: login.toString(), pool: { min: 0, max: 4 } });
      opened.push(k);
      return k;
    };
    const app = as(users.app);
    const writer = as(users.writer);
    const operator = as(users.operator);
    const instruction = h.table('cache_instruction');
    const refused = /denied/;

    // The app server: a cache starts, writes, reads others' rows, prunes, stops.
    const product = recorder();
    const cache = (held.cache = await appServer(app, h.prefix, product));
    // ...but it cannot change the schema, the triggers or the procedures, nor call them.
    await assert.rejects(app.raw(`drop trigger \`${instruction}_bounded_ins\``), refused);
    await assert.rejects(app.raw(`alter table \`${instruction}\` add column x int`), refused);
    await assert.rejects(app.raw(`call \`${h.prefix}distcache_payload\`('product', '{"price": 0}', null)`), refused);
    await assert.rejects(app(`${h.prefix}cache_sequence`).update({ id: 1 }), refused);

    // The writer: the procedures, which run as their definer; no table at all.
    await writer.raw(`call \`${h.prefix}distcache_refresh\`('product', '[2]', null)`);
    await cache.sync();
    await writer.raw(`call \`${h.prefix}distcache_refresh_all\`('product', null)`);
    await cache.sync();
    assert.deepEqual(product.calls.slice(-2), [{ kind: 'refresh', ids: [2] }, { kind: 'refresh-all' }]);
    const [row] = await h.knex(instruction).where('originated', 'like', 'sql:%');
    assert.match(row.originated, new RegExp(`^sql:${users.writer}@`), 'originated names the caller, not the definer');
    await assert.rejects(
      writer(instruction).insert({ json_instruction: '{}', originated: 'cli:root@ops-bastion', instruction_count: 2147483647 }),
      refused,
    );
    await assert.rejects(writer(instruction).select('id'), refused);
    await assert.rejects(
      writer.raw(`call \`${h.prefix}distcache_payload\`('product', '{"price": 0}', null)`),
      refused,
      'payload is not granted',
    );
    await assert.rejects(writer.raw(`call \`${h.prefix}distcache_write\`('refresh', 'product', '[1]', null)`), refused);

    // The operator: every read command; no write.
    const admin = new Admin({ knex: operator, tablePrefix: h.prefix });
    assert.ok((await admin.status()).log.rows >= 3);
    assert.ok((await admin.tail({ limit: 5 })).length >= 3);
    await admin.failures();
    await admin.servers();
    await assert.rejects(admin.send({ refresher: 'product', kind: 'refresh-all', force: true }), refused);
    await assert.rejects(admin.resync('app-1'), refused);
    await assert.rejects(operator(instruction).delete(), refused);
    await assert.rejects(operator.raw(`call \`${h.prefix}distcache_refresh\`('product', '[3]', null)`), refused);
  });
}
