import assert from 'node:assert/strict';
import { test } from 'node:test';
import { errors, isDistcacheError, type JsonValue } from '../conformance/exports.js';
import { harness, rowIds, failures } from '../conformance/harness.js';
import type { DialectName } from '../support/databases.js';
import { waitFor } from '../support/wait.js';
import { loggingRefreshers, type LoggedCall } from './log-refresher.js';

/** One test per finding of issue 12 at the writer's edge; each failed on the code before the fix. */
export function focusedEdgeTests(dialect: DialectName): void {
  /** A writer `a` and a started reader `b`, each logging its calls. */
  async function pair(t: Parameters<typeof harness>[0], options: { fail?: Parameters<typeof loggingRefreshers>[1]; a?: object } = {}) {
    const h = await harness(t, dialect);
    const onA = loggingRefreshers(['product', 'other'], options.fail);
    const onB = loggingRefreshers(['product', 'other']);
    const a = h.cache({ serverIdentity: 'a', refreshers: onA.refreshers, ...options.a });
    const b = h.cache({ serverIdentity: 'b', refreshers: onB.refreshers });
    await b.start();
    return { h, a, b, onA: onA.log, onB: onB.log };
  }

  test('missing, sparse, BigInt and non-finite ids are refused by what they are, and nothing is written or applied', async (t) => {
    const { h, a, b, onA, onB } = await pair(t);
    const sparse = [1, 2, 3];
    delete sparse[1];
    const cases: Array<[() => Promise<unknown>, RegExp]> = [
      [() => a.refresh('product', undefined as never), /no ids given/],
      [() => (a.refresh as (r: string) => Promise<unknown>)('product'), /no ids given/],
      [() => a.refresh('product', [1, undefined as never]), /ids\[1\] is undefined/],
      [() => a.remove('product', sparse), /ids\[1\] is missing \(a sparse array\)/],
      [() => a.refresh('product', 12n as never), /the id is 12n; pass it as a string \('12'\)/],
      [() => a.refresh('product', [1, 2n as never]), /ids\[1\] is 2n/],
      [() => a.refresh('product', [Number.NaN]), /ids\[0\] is NaN/],
      [() => a.refresh('product', Number.POSITIVE_INFINITY), /the id is Infinity/],
      [() => a.refresh('product', [null as never]), /ids\[0\] is null/],
      [() => a.refresh('product', ['x'.repeat(1025)]), /a string of 1025 characters; .*at most 1024/],
    ];
    for (const [call, message] of cases) {
      await assert.rejects(
        call(),
        (err: Error) => isDistcacheError(err, 'E_INVALID_INSTRUCTION') && message.test(err.message),
        String(message),
      );
    }
    // Inside a batch the bad call is refused at once, and the rest of the batch goes out.
    await a.batch(async () => {
      await assert.rejects(a.refresh('product', [1, undefined as never]), errors.InvalidInstructionError);
      await a.refresh('other', 'sentinel');
    });
    await b.sync();
    assert.equal((await rowIds(h)).length, 1, 'only the batch with the sentinel was written');
    assert.deepEqual(onA.calls, [{ refresher: 'other', kind: 'refresh', ids: ['sentinel'] }]);
    assert.deepEqual(onB.calls, onA.calls);
  });

  test('payloads JSON would not carry as they are are refused with the path to the value', async (t) => {
    const { h, a } = await pair(t);
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /no payload given/],
      [{ price: Number.NaN }, /payloads\[0\]\.price is NaN, which JSON cannot carry/],
      [[{ a: [1, Number.NEGATIVE_INFINITY] }], /payloads\[0\]\.a\[1\] is -Infinity/],
      [[1, undefined], /payloads\[1\] is undefined/],
      [{ ids: new Set([1]) }, /payloads\[0\]\.ids is a Set, which JSON would send as \{\}/],
      [{ 'odd key': new Map() }, /payloads\[0\]\["odd key"\] is a Map/],
      [{ n: 5n }, /payloads\[0\]\.n is a BigInt \(5n\)/],
      [{ f: () => 1 }, /payloads\[0\]\.f is a function/],
      // eslint-disable-next-line no-sparse-arrays -- the hole is the input under test
      [{ list: [1, , 3] }, /payloads\[0\]\.list\[1\] is missing \(a sparse array\)/],
    ];
    for (const [payload, message] of cases) {
      await assert.rejects(
        a.refreshPayload('product', payload as JsonValue),
        (err: Error) => isDistcacheError(err, 'E_INVALID_INSTRUCTION') && message.test(err.message),
        String(message),
      );
    }
    assert.equal((await rowIds(h)).length, 0);
  });

  test('__proto__, constructor and prototype keys are carried as own data, the same locally and on every other server', async (t) => {
    const { a, b, onA, onB } = await pair(t);
    const proto = JSON.parse('{"id":7,"__proto__":{"admin":true}}') as JsonValue;
    await a.refreshPayload('product', [{ id: 7, constructor: 'Mercedes' }, { id: 8, prototype: { constructor: 'x' } }, proto]);
    await b.sync();
    assert.equal(onB.calls.length, 1, 'the row reached the other server');
    assert.deepStrictEqual(onB.calls, onA.calls);
    const [first, second, third] = (onB.calls[0] as { payloads: Array<Record<string, unknown>> }).payloads;
    assert.equal(first!.constructor, 'Mercedes');
    assert.deepEqual(Object.keys(second!), ['id', 'prototype']);
    assert.deepEqual(Object.keys(third!), ['id', '__proto__']);
    assert.equal(Object.getPrototypeOf(third), Object.prototype, 'no prototype was set');
    assert.equal(({} as Record<string, unknown>).admin, undefined);
  });

  test('-0 is applied as 0 here and on every other server', async (t) => {
    const { a, b, onA, onB } = await pair(t);
    // One write per poll, so the reader's calls line up with the writer's.
    for (const write of [
      () => a.refresh('product', -0),
      () => a.remove('product', [-0, 1]),
      () => a.refreshPayload('product', { x: -0 }),
      () => a.batch(() => a.refresh('product', -0)),
    ]) {
      await write();
      await b.sync();
    }
    assert.deepStrictEqual(onA.calls, [
      { refresher: 'product', kind: 'refresh', ids: [0] },
      { refresher: 'product', kind: 'remove', ids: [0, 1] },
      { refresher: 'product', kind: 'payload', payloads: [{ x: 0 }] },
      { refresher: 'product', kind: 'refresh', ids: [0] },
    ]);
    assert.deepStrictEqual(onB.calls, onA.calls, 'deepStrictEqual tells -0 from 0');
  });

  test('a refresher that empties its ids and throws gets the original ids on retry', async (t) => {
    let failures_ = 0;
    const fail = (call: LoggedCall, live: unknown[]) => {
      if (call.kind !== 'refresh' || failures_ >= 2) return;
      failures_ += 1;
      live.length = 0;
      live.push('junk');
      throw new Error('flaky');
    };
    const { a, onA } = await pair(t, { fail });
    await a.refresh('product', [3, 1, 2]);
    assert.deepEqual(onA.calls, [{ refresher: 'product', kind: 'refresh', ids: [3, 1, 2] }]);
  });

  const hungLocalRefresherTest =
    "the writer's caller waits at most one refresherTimeout for a hung " +
    'local refresher; the fallback goes on in the background and is recorded';
  test(hungLocalRefresherTest, async (t) => {
    const hang = (call: LoggedCall) => (call.kind === 'refresh' ? new Promise<void>(() => undefined) : undefined);
    const { h, a, onA } = await pair(t, { fail: hang, a: { refresherTimeout: 300, refresherRetries: 2, retryDelay: 10 } });
    const outcomes: string[] = [];
    a.on('instruction:failed', (e) => outcomes.push(e.action));
    await a.refresh('product', 1);
    // Three attempts of 300 ms each would come first on the old code.
    assert.deepEqual(outcomes, [], 'the call returned before the retries were over');
    await waitFor(() => outcomes.length > 0, { timeout: 10_000 });
    assert.deepEqual(outcomes, ['fell-back-to-refresh-all']);
    assert.deepEqual(onA.calls, [{ refresher: 'product', kind: 'refresh-all' }]);
    await waitFor(async () => (await failures(h)).length === 1, { timeout: 5_000 });
    assert.equal((await failures(h))[0]!.action, 'fell-back-to-refresh-all');
  });

  test('stop() abandons a local apply still retrying after stopTimeout, and leaves no timer behind', { timeout: 30_000 }, async (t) => {
    const hang = () => new Promise<void>(() => undefined);
    const { a } = await pair(t, { fail: hang, a: { refresherTimeout: 60_000, stopTimeout: 200 } });
    const timersBefore = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const outcomes: Error[] = [];
    a.on('instruction:failed', (e) => outcomes.push(e.error));
    const write = a.refresh('product', 1);
    await waitFor(() => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length > timersBefore, { timeout: 5_000 });
    const started = performance.now();
    await a.stop();
    const took = performance.now() - started;
    await write;
    assert.ok(took < 5_000, `stop() took ${Math.round(took)} ms with stopTimeout 200 ms and a refresherTimeout of 60 s`);
    assert.equal(outcomes.length, 1);
    assert.ok(isDistcacheError(outcomes[0], 'E_STOPPED'), outcomes[0]?.message);
    assert.equal(
      process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length,
      timersBefore,
      'no timer of the abandoned apply is left',
    );
  });
}
