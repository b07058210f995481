import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isDistcacheError, type DistributedCache, type JsonValue } from '../conformance/exports.js';
import { harness } from '../conformance/harness.js';
import type { DialectName } from '../support/databases.js';
import { loggingRefreshers, type LoggedCall } from './log-refresher.js';

type Op = { kind: 'refresh' | 'remove'; ids: unknown } | { kind: 'payload'; value: unknown; single: boolean } | { kind: 'refresh-all' };

/** Ids of every sort a caller might pass: good ones, and -0, NaN, huge, BigInt, undefined, too long, sparse. */
const anyId = fc.oneof(
  { weight: 4, arbitrary: fc.integer() },
  { weight: 2, arbitrary: fc.double() },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom<unknown>(
      -0,
      Number.MAX_VALUE,
      2 ** 53 + 2,
      undefined,
      null,
      true,
      'x'.repeat(1024),
      'y'.repeat(1025),
      '__proto__',
      'constructor',
    ),
  },
  { weight: 1, arbitrary: fc.bigInt() },
);
const ids = fc.oneof(anyId, fc.array(anyId, { maxLength: 5 }), fc.sparseArray(anyId, { maxLength: 5 }));

/** Payload keys, the dangerous ones often. */
const key = fc.oneof(
  fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'a', 'é', '🚀', ''),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const leaf = fc.oneof(
  { weight: 3, arbitrary: fc.integer() },
  { weight: 3, arbitrary: fc.double() },
  { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 10 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 6 }) },
  { weight: 2, arbitrary: fc.constantFrom<unknown>(true, false, null, -0, 1e308, 2 ** 53 + 1, undefined) },
  { weight: 1, arbitrary: fc.date({ noInvalidDate: false }) },
  { weight: 1, arbitrary: fc.bigInt() },
);
const { value: payloadValue } = fc.letrec<{ value: unknown; array: unknown[]; object: Record<string, unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  // Own data properties, __proto__ included, as JSON.parse would make them.
  object: fc.array(fc.tuple(key, tie('value')), { maxLength: 4 }).map((entries) => {
    const o: Record<string, unknown> = {};
    for (const [k, v] of entries) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
    return o;
  }),
}));

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constantFrom('refresh' as const, 'remove' as const), ids }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('payload' as const), value: payloadValue, single: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'refresh-all' as const }) },
);

/** The model: whether every reader can take the id, or the payload exactly as sent. Written apart from the code under test. */
const isId = (id: unknown) => (typeof id === 'number' && Number.isFinite(id)) || (typeof id === 'string' && id.length <= 1024);
function idsValid(list: unknown): boolean {
  if (!Array.isArray(list)) return isId(list);
  return list.length > 0 && Object.keys(list).length === list.length && list.every(isId);
}
function carried(v: unknown, inArray: boolean): boolean {
  if (v === undefined) return !inArray;
  if (typeof v === 'number') return Number.isFinite(v);
  if (typeof v === 'bigint' || typeof v === 'function') return false;
  if (v === null || typeof v !== 'object' || v instanceof Date) return true;
  if (Array.isArray(v)) return Object.keys(v).length === v.length && v.every((x) => carried(x, true));
  return Object.values(v).every((x) => carried(x, false));
}

let counter = 0;

/**
 * The property of issue 12 through the public API: random ids, payloads (prototype-style keys,
 * nested, unicode, -0, huge numbers, NaN, BigInt, undefined), kinds and batch() mixes from a writer
 * `a` to a reader `b` on one database. Each call either rejects with E_INVALID_INSTRUCTION, exactly
 * when the model says a reader could not take it, and then nothing of it is applied anywhere; or
 * `b` applies exactly what `a` applied locally (deepStrictEqual: -0 is not 0). A sentinel refresh
 * in the same batch always arrives.
 */
export function propertyEdgeTest(dialect: DialectName, numRuns: number): void {
  test(
    `property: a call is refused with a coded error and applied nowhere, or the reader applies exactly what the writer applied ` +
      `(${numRuns} runs)`,
    { timeout: 120_000 },
    async (t) => {
      const h = await harness(t, dialect);
      const onA = loggingRefreshers(['product', 'other']);
      const onB = loggingRefreshers(['product', 'other']);
      const a = h.cache({ serverIdentity: 'a', refreshers: onA.refreshers });
      const b = h.cache({ serverIdentity: 'b', refreshers: onB.refreshers });
      await b.start();
      let refused = 0;
      let accepted = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 6 }), fc.boolean(), async (ops, inBatch) => {
          const run = (counter += 1);
          const fromA = onA.log.calls.length;
          const fromB = onB.log.calls.length;
          const markers: string[] = [];
          const outcomes: Array<{ op: Op; marker: string; error?: unknown }> = [];
          const call = async (o: Op, index: number) => {
            const marker = `m${run}-${index}`;
            try {
              await send(a, o, marker);
              outcomes.push({ op: o, marker });
            } catch (error) {
              outcomes.push({ op: o, marker, error });
            }
            markers.push(marker);
          };
          const sentinel = `sentinel-${run}`;
          if (inBatch) {
            await a.batch(async () => {
              for (const [i, o] of ops.entries()) await call(o, i);
              await a.refresh('other', sentinel);
            });
            await b.sync();
          } else {
            // One write per poll, so the reader's calls line up with the writer's one by one.
            for (const [i, o] of ops.entries()) {
              await call(o, i);
              await b.sync();
            }
            await a.refresh('other', sentinel);
            await b.sync();
          }
          const local = onA.log.since(fromA);
          const remote = onB.log.since(fromB);
          for (const { op: o, error } of outcomes) {
            // A payload's value is sent as a property of { marker, v }, where undefined is left out.
            const valid =
              o.kind === 'refresh-all' ||
              (o.kind === 'payload' ? carried(o.value, false) : idsValid(Array.isArray(o.ids) ? withMarker(o.ids, 'marker') : o.ids));
            if (error) {
              refused += 1;
              assert.ok(isDistcacheError(error, 'E_INVALID_INSTRUCTION'), `refused with a coded error: ${String(error)}`);
              assert.ok(!valid, `refused although every reader could take it: ${(error as Error).message}`);
            } else {
              accepted += 1;
              assert.ok(valid, `accepted although JSON cannot carry it as it is: ${describe(o)}`);
            }
          }
          assert.deepStrictEqual(remote, local, 'the reader applied exactly what the writer applied locally');
          const text = JSON.stringify(local);
          for (const { marker, error } of outcomes)
            if (error) assert.ok(!text.includes(`"${marker}"`), `nothing of refused call ${marker} was applied`);
          assert.deepStrictEqual(
            remote.filter((c) => c.refresher === 'other').at(-1),
            { refresher: 'other', kind: 'refresh', ids: [sentinel] },
            'the sentinel arrived',
          );
          for (const c of remote)
            if (c.kind === 'refresh' || c.kind === 'remove') assert.ok(c.ids.every(isId), 'only valid ids are ever applied');
        }),
        { numRuns },
      );
      t.diagnostic(`${dialect}: ${accepted} calls accepted, ${refused} refused`);
      assert.ok(refused > 0 && accepted > 0, 'both outcomes were exercised');
    },
  );
}

/** Sends `o`; an id array carries a marker id, a payload a marker field, so a refused call's parts can be looked for later. */
function send(cache: DistributedCache, o: Op, marker: string): Promise<unknown> {
  switch (o.kind) {
    case 'refresh-all':
      return cache.refreshAll('product');
    case 'refresh':
    case 'remove': {
      const list = Array.isArray(o.ids) ? withMarker(o.ids, marker) : o.ids;
      return o.kind === 'refresh' ? cache.refresh('product', list as never) : cache.remove('product', list as never);
    }
    case 'payload':
      return cache.refreshPayload('product', (o.single ? { marker, v: o.value } : [{ marker, v: o.value }]) as JsonValue);
  }
}

/** The array with the marker appended, holes kept. */
function withMarker(list: unknown[], marker: string): unknown[] {
  const copy = list.slice();
  copy.length = list.length + 1;
  copy[list.length] = marker;
  return copy;
}

function describe(o: Op): string {
  return JSON.stringify(o, (_k, v: unknown) =>
    typeof v === 'bigint' ? `${v}n` : v === undefined ? '(undefined)' : typeof v === 'number' && !Number.isFinite(v) ? String(v) : v,
  );
}

export type { LoggedCall };
