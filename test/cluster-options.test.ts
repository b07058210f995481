import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import knexFactory from 'knex';
import { DistributedCache, errors, resolveOptions } from '../src/index.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const knex = knexFactory({ client: 'better-sqlite3', connection: { filename: ':memory:' }, useNullAsDefault: true });
after(() => knex.destroy());

const DAY = 24 * 3600_000;

test('cluster defaults: 10 s heartbeat, 2 min stale, 30 s lease, 7 d cap and forget, elected role', () => {
  const o = resolveOptions({ knex });
  assert.equal(o.role, 'auto');
  assert.equal(o.heartbeatInterval, 10_000);
  assert.equal(o.staleServerTimeout, 120_000);
  assert.equal(o.leaseDuration, 30_000);
  assert.equal(o.maxRetention, 7 * DAY);
  assert.equal(o.forgetServersAfter, 7 * DAY);
  assert.deepEqual({ ...o.health }, { maxLag: 60_000, maxPending: 1000, maxSyncAge: 60_000 });
  assert.ok(Object.isFrozen(o.health));
  assert.ok(o.leaseDuration + o.heartbeatInterval <= o.staleServerTimeout, 'a dead publisher is replaced within the stale timeout');
});

test('durations accept strings, and unset timings follow staleServerTimeout', () => {
  const o = resolveOptions({ knex, staleServerTimeout: '30s' });
  assert.equal(o.staleServerTimeout, 30_000);
  assert.equal(o.heartbeatInterval, 2500);
  assert.equal(o.leaseDuration, 7500);
  const slow = resolveOptions({ knex, heartbeatInterval: '1h', staleServerTimeout: '3h' });
  assert.equal(slow.leaseDuration, 2 * 3600_000, 'capped so that lease + heartbeat fits in the stale timeout');
  const long = resolveOptions({ knex, retention: '10d' });
  assert.equal(long.maxRetention, 10 * DAY, 'the cap is never below the retention');
  const health = resolveOptions({ knex, syncInterval: '1m', maxPendingInstructions: 50, health: { maxLag: '5m' } }).health;
  assert.deepEqual({ ...health }, { maxLag: 300_000, maxPending: 50, maxSyncAge: 180_000 });
});

const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
  ['an unknown role', { role: 'leader' }, /role: "leader" is not a role; use 'auto'/],
  ['a bad heartbeat interval', { heartbeatInterval: 'often' }, /heartbeatInterval: "often" is not a duration/],
  [
    'a lease shorter than two heartbeats',
    { heartbeatInterval: '10s', leaseDuration: '15s' },
    /leaseDuration: 15s must be at least twice heartbeatInterval \(10s\).*raise leaseDuration or lower heartbeatInterval/,
  ],
  [
    'a stale timeout that a dead publisher can outlast',
    { staleServerTimeout: '30s', leaseDuration: '30s' },
    /staleServerTimeout: 30s is shorter than leaseDuration \+ heartbeatInterval.*raise staleServerTimeout or lower leaseDuration/,
  ],
  ['a cap below the retention', { retention: '2d', maxRetention: '1d' }, /maxRetention: 1d is shorter than retention \(2d\)/],
  ['forgetting before a server is stale', { forgetServersAfter: '1m' }, /forgetServersAfter: 1m is shorter than staleServerTimeout \(2m\)/],
  ['a bad health threshold', { health: { maxPending: -1 } }, /health\.maxPending: -1 must be a whole number/],
  ['a bad health object', { health: 'strict' }, /health: pass an object/],
];
for (const [name, extra, message] of invalid) {
  test(`refuses ${name} with E_INVALID_OPTION naming the option and the fix`, () => {
    assert.throws(
      () => new DistributedCache({ knex, ...extra } as never),
      (err: Error) => err instanceof errors.InvalidOptionError && message.test(err.message),
    );
  });
}

test('constructing a cache starts nothing: no timer keeps the process alive', () => {
  const cache = new DistributedCache({ knex, heartbeatInterval: 20, staleServerTimeout: 200 });
  assert.equal(cache.role, 'unknown');
  assert.equal(cache.isSchedulingPublisher, false);
});
