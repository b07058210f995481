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
  [
    'a notify connection on SQLite',
    { notify: 'postgres://app@db:5432/app' },
    /notify: a connection is for PostgreSQL's listener; on sqlite use true or false/,
  ],
  [
    'notify: relay on SQLite (only PostgreSQL has a listener to share)',
    { notify: 'relay' },
    /notify: a connection \(or 'relay'\) is for PostgreSQL's listener; on sqlite/,
  ],
  ['a notify number', { notify: 5 }, /notify: must be true, false, a postgres:\/\/ URL or pg connection settings/],
  ['non-boolean preparedStatements', { preparedStatements: 'off' }, /preparedStatements/],
  ['duty cycle above 1', { pruneDutyCycle: 1.5 }, /pruneDutyCycle: 1.5 must be a number above 0 and at most 1/],
  ['duty cycle of 0', { pruneDutyCycle: 0 }, /pruneDutyCycle/],
  // Past 2^31 - 1 ms a Node.js timer fires after 1 ms: '30d' polled hundreds of times a second.
  [
    'a sync interval longer than a timer can wait',
    { syncInterval: '30d' },
    /syncInterval: "30d" is too large; the maximum is 2147483647ms \(2\^31 − 1 ms/,
  ],
  ['a refresher timeout longer than a timer can wait', { refresherTimeout: '30d' }, /refresherTimeout: "30d" is too large/],
  ['a query timeout longer than a timer can wait', { queryTimeout: '30d' }, /queryTimeout: "30d" is too large/],
  ['a stop timeout longer than a timer can wait', { stopTimeout: 2 ** 31 }, /stopTimeout: 2147483648 is too large/],
  ['an error backoff longer than a timer can wait', { maxErrorBackoff: '25d' }, /maxErrorBackoff: "25d" is too large/],
  [
    'a retry delay whose doublings outgrow a timer',
    { retryDelay: '10d', refresherRetries: 3 },
    /retryDelay: 10d doubled for each of 3 refresherRetries waits 40d/,
  ],
  ['a misspelled option', { syncIntreval: '5s' }, /syncIntreval: unknown option; did you mean 'syncInterval'\?/],
  ['a misspelled health threshold', { health: { maxlag: '1m' } }, /health\.maxlag: unknown option; did you mean 'maxLag'\?/],
  ['an unknown option', { colour: 'blue' }, /colour: unknown option\. The options are: knex, connection, refreshers/],
  [
    'a heartbeat too long for the stale timeout, both set',
    { heartbeatInterval: '1m', staleServerTimeout: '2m' },
    /^heartbeatInterval: 1m is too long for staleServerTimeout \(2m\).*lower heartbeatInterval or raise staleServerTimeout/,
  ],
];
for (const [name, extra, message] of invalid) {
  test(`refuses ${name} with E_INVALID_OPTION naming the option`, () => {
    assert.throws(
      () => new DistributedCache({ knex, ...extra } as never),
      (err: Error) =>
        err instanceof errors.InvalidOptionError && (err as { code?: string }).code === 'E_INVALID_OPTION' && message.test(err.message),
    );
  });
}

test('notify takes the listener connection as a URL or settings, kept apart from the flag', () => {
  assert.deepEqual([resolveOptions({ knex }).notify, resolveOptions({ knex }).notifyConnection], [true, undefined]);
  assert.deepEqual(
    [resolveOptions({ knex, notify: false }).notify, resolveOptions({ knex, notify: false }).notifyConnection],
    [false, undefined],
  );
  const url = resolveOptions({ knex, notify: 'postgres://app@db:5432/app' });
  assert.deepEqual([url.notify, url.notifyConnection], [true, 'postgres://app@db:5432/app']);
  const settings = resolveOptions({ knex, notify: { host: 'db', port: 5432 } });
  assert.equal(settings.notify, true);
  assert.deepEqual(settings.notifyConnection, { host: 'db', port: 5432 });
  assert.ok(Object.isFrozen(settings.notifyConnection));
});

test('durations a timer waits on may be up to 2^31 - 1 ms; retention-like ones, compared in the database, longer', () => {
  const o = resolveOptions({ knex, syncInterval: 2 ** 31 - 1, stopTimeout: '24d', retention: '60d', maxRetention: '90d' });
  assert.equal(o.syncInterval, 2 ** 31 - 1);
  assert.equal(o.retention, 60 * 86_400_000);
});

test("heartbeatInterval alone ('5m') gives a consistent set: the stale timeout and lease follow it", () => {
  const o = resolveOptions({ knex, heartbeatInterval: '5m' });
  assert.equal(o.heartbeatInterval, 300_000);
  assert.equal(o.staleServerTimeout, 12 * 300_000);
  assert.ok(o.leaseDuration >= 2 * o.heartbeatInterval && o.leaseDuration + o.heartbeatInterval <= o.staleServerTimeout, JSON.stringify(o));
  // A short heartbeat alone keeps the defaults.
  const short = resolveOptions({ knex, heartbeatInterval: '2s' });
  assert.equal(short.staleServerTimeout, 120_000);
  assert.equal(short.leaseDuration, 30_000);
});

test('refuses duplicate refresher ids and refreshers without refreshAll', () => {
  assert.throws(
    () =>
      new DistributedCache({
        knex,
        refreshers: [
          { id: 'a', refreshAll },
          { id: 'a', refreshAll },
        ],
      }),
    errors.DuplicateRefresherError,
  );
  assert.throws(() => new DistributedCache({ knex, refreshers: [{ id: 'a' } as never] }), /refreshAll\(\) method/);
  assert.throws(() => new DistributedCache({ knex, refreshers: [{ id: 'bad id!', refreshAll }] }), /id "bad id!" is not valid/);
});

test('refuses a knex client it does not support', () => {
  const other = knexFactory({ client: 'mssql' });
  assert.throws(
    () => new DistributedCache({ knex: other }),
    (err: Error) => err instanceof errors.UnsupportedDialectError && /mssql/.test(err.message),
  );
});

test.after(() => knex.destroy());
