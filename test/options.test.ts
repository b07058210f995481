import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { DistributedCache, errors, resolveOptions } from '../src/index.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
const refreshAll = () => undefined;

test('defaults are applied and frozen', () => {
  const o = resolveOptions({ knex, serverIdentity: 'web-1' });
  assert.equal(o.syncInterval, 1000);
  assert.equal(o.maxPendingInstructions, 1000);
  assert.equal(o.retention, 2 * 24 * 3600 * 1000);
  assert.equal(o.pruneSchedule, '* * * * *');
  assert.equal(o.cluster, 'default');
  assert.equal(o.preparedStatements, true);
  assert.equal(o.pruneDutyCycle, 0.1);
  assert.ok(Object.isFrozen(o));
  assert.equal(resolveOptions({ knex, syncInterval: '5s' }).syncInterval, 5000);
});

const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['missing knex', { knex: undefined }, /knex: a Knex instance is required/],
  ['bad interval', { syncInterval: 'soon' }, /syncInterval: "soon" is not a duration/],
  ['negative interval', { syncInterval: -5 }, /syncInterval/],
  ['bad prefix', { tablePrefix: 'a;drop' }, /tablePrefix: .* lower-case letters/],
  ['quoted cluster', { cluster: "x' or 1=1" }, /cluster: .*no spaces, quotes or semicolons/],
  ['sql identity', { serverIdentity: 'a; drop table x' }, /serverIdentity/],
  ['bad cron', { pruneSchedule: 'every minute' }, /pruneSchedule: .* node-cron/],
  ['bad page size', { pageSize: 0 }, /pageSize: 0 must be a whole number/],
  ['a notify string that is not a URL', { notify: 'yes' }, /notify: a connection URL must start with postgres:\/\//],
  ['a notify connection on SQLite', { notify: 'postgres://app@db:5432/app' }, /notify: a connection is for PostgreSQL's listener; on sqlite use true or false/],
  ['a notify number', { notify: 5 }, /notify: must be true, false, a postgres:\/\/ URL or pg connection settings/],
  ['non-boolean preparedStatements', { preparedStatements: 'off' }, /preparedStatements/],
  ['duty cycle above 1', { pruneDutyCycle: 1.5 }, /pruneDutyCycle: 1.5 must be a number above 0 and at most 1/],
  ['duty cycle of 0', { pruneDutyCycle: 0 }, /pruneDutyCycle/],
];
for (const [name, extra, message] of invalid) {
  test(`refuses ${name} with E_INVALID_OPTION naming the option`, () => {
    assert.throws(
      () => new DistributedCache({ knex, ...extra } as never),
      (err: Error) => err instanceof errors.InvalidOptionError && (err as { code?: string }).code === 'E_INVALID_OPTION' && message.test(err.message),
    );
  });
}

test('notify takes the listener connection as a URL or settings, kept apart from the flag', () => {
  assert.deepEqual([resolveOptions({ knex }).notify, resolveOptions({ knex }).notifyConnection], [true, undefined]);
  assert.deepEqual([resolveOptions({ knex, notify: false }).notify, resolveOptions({ knex, notify: false }).notifyConnection], [false, undefined]);
  const url = resolveOptions({ knex, notify: 'postgres://app@db:5432/app' });
  assert.deepEqual([url.notify, url.notifyConnection], [true, 'postgres://app@db:5432/app']);
  const settings = resolveOptions({ knex, notify: { host: 'db', port: 5432 } });
  assert.equal(settings.notify, true);
  assert.deepEqual(settings.notifyConnection, { host: 'db', port: 5432 });
  assert.ok(Object.isFrozen(settings.notifyConnection));
});

test('refuses duplicate refresher ids and refreshers without refreshAll', () => {
  assert.throws(() => new DistributedCache({ knex, refreshers: [{ id: 'a', refreshAll }, { id: 'a', refreshAll }] }), errors.DuplicateRefresherError);
  assert.throws(() => new DistributedCache({ knex, refreshers: [{ id: 'a' } as never] }), /refreshAll\(\) method/);
  assert.throws(() => new DistributedCache({ knex, refreshers: [{ id: 'bad id!', refreshAll }] }), /id "bad id!" is not valid/);
});

test('refuses a knex client it does not support', () => {
  const other = knexFactory({ client: 'mssql' });
  assert.throws(() => new DistributedCache({ knex: other }), (err: Error) => err instanceof errors.UnsupportedDialectError && /mssql/.test(err.message));
});

test.after(() => knex.destroy());
