/**
 * Run by test/leak-check.test.ts as its own `node --test` process: each test here leaves one kind
 * of distcache work behind, and the leak check must fail it. Not matched by `*.test.js`.
 */
import { test } from 'node:test';
import { harness } from '../../conformance/harness.js';
import { DistributedCache, silentLoggerForTests } from '../../conformance/exports.js';
import { withTimeout } from '../../../src/util/async.js';
import { checkLeaksAfterEach } from '../leaks.js';

checkLeaksAfterEach();

const refreshers = [{ id: 'product', refreshAll() {} }];

test('clean: stops its cache', async (t) => {
  const h = await harness(t, 'sqlite');
  const cache = h.cache({ serverIdentity: 'clean', refreshers });
  await cache.start();
});

test('leaky: starts a cache and never stops it', async (t) => {
  const h = await harness(t, 'sqlite');
  // Never stopped: its timers are unref'd, so the process still ends after the last test.
  const kept = new DistributedCache({
    knex: h.knex,
    tablePrefix: h.prefix,
    serverIdentity: 'leaky',
    refreshers,
    pruneSchedule: false,
    logger: silentLoggerForTests,
  });
  await kept.start();
});

test('leaky: leaves a distcache timer pending', () => {
  void withTimeout(
    () => new Promise(() => undefined),
    60_000,
    () => new Error('never'),
  );
});
