import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { coalesce } from '../src/instructions/coalesce.js';
import { decodeInstructions, decodeRow, encodeInstructions } from '../src/instructions/codec.js';
import { packRows } from '../src/instructions/pack.js';
import { totalWeight, type Instruction } from '../src/instructions/types.js';
import { errors } from '../src/errors.js';
import { gather, type OpenBatch } from '../src/write/batch.js';

/** Short lists over two refreshers and a few ids (numbers and strings that look alike), every kind. */
const anId = fc.oneof(fc.integer({ min: 0, max: 6 }), fc.constantFrom('1', '2', 'x'));
const anInstruction: fc.Arbitrary<Instruction> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      refresher: fc.constantFrom('p', 'q'),
      kind: fc.constant('refresh' as const),
      ids: fc.array(anId, { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      refresher: fc.constantFrom('p', 'q'),
      kind: fc.constant('remove' as const),
      ids: fc.array(anId, { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      refresher: fc.constantFrom('p', 'q'),
      kind: fc.constant('payload' as const),
      payloads: fc.array(fc.integer(), { minLength: 1, maxLength: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ refresher: fc.constantFrom('p', 'q'), kind: fc.constant('refresh-all' as const) }) },
);

describe('codec', () => {
  test('round-trips every kind', () => {
    const list: Instruction[] = [
      { refresher: 'p', kind: 'refresh-all' },
      { refresher: 'p', kind: 'refresh', ids: [1, 'a'] },
      { refresher: 'p', kind: 'remove', ids: [2] },
      { refresher: 'p', kind: 'payload', payloads: [{ id: 1, nested: [true, null] }] },
    ];
    assert.deepEqual(decodeInstructions(encodeInstructions(list)), list);
    assert.equal(
      encodeInstructions([{ refresher: 'p', kind: 'refresh', ids: [42] }]),
      '{"v":1,"instructions":[{"refresher":"p","kind":"refresh","ids":[42]}]}',
    );
  });

  const bad: Array<[string, unknown]> = [
    ['not text', 42],
    ['random bytes', '\u0000\u00ff{{'],
    ['not an object', '[1,2]'],
    ['unknown version', '{"v":2,"instructions":[]}'],
    ['no instructions', '{"v":1}'],
    ['unknown kind', '{"v":1,"instructions":[{"refresher":"p","kind":"explode"}]}'],
    ['ids not an array', '{"v":1,"instructions":[{"refresher":"p","kind":"refresh","ids":42}]}'],
    ['ids of the wrong type', '{"v":1,"instructions":[{"refresher":"p","kind":"refresh","ids":[{"a":1}]}]}'],
    ['no refresher', '{"v":1,"instructions":[{"kind":"refresh-all"}]}'],
    [
      'deep nesting',
      `{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}]}`,
    ],
  ];
  for (const [name, json] of bad) {
    test(`refuses ${name} with E_MALFORMED_ROW`, () => {
      assert.throws(
        () => decodeInstructions(json),
        (err: Error) => err instanceof errors.MalformedRowError,
      );
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
});

test('payloads nest up to 2,000 levels, and no deeper', () => {
  const nested = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
  const row = (depth: number) => `{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[${nested(depth)}]}]}`;
  assert.equal(decodeInstructions(row(1999)).length, 1);
  assert.throws(() => decodeInstructions(row(2000)), /nest deeper than 2000 levels/);
});

test('the words __proto__, constructor and prototype, as values or as keys, are carried as plain data', () => {
  const json =
    '{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[{"note":"constructor prototype __proto__ \\u00e9"}]}]}';
  assert.deepEqual(decodeInstructions(json), [
    { refresher: 'p', kind: 'payload', payloads: [{ note: 'constructor prototype __proto__ é' }] },
  ]);
  const cases: Array<[string, string]> = [
    ['{"__proto__":{"polluted":true}}', '__proto__'],
    ['{"\\u005f_proto__":{"polluted":true}}', '__proto__'],
    ['{"proto\\u0074ype":1}', 'prototype'],
    ['{"constructor":{"prototype":{"polluted":true}}}', 'constructor'],
  ];
  for (const [payload, key] of cases) {
    const [decoded] = decodeInstructions(`{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[${payload}]}]}`) as Array<{
      payloads: object[];
    }>;
    const value = decoded!.payloads[0]!;
    assert.equal(Object.getPrototypeOf(value), Object.prototype, `${payload}: no prototype was set`);
    assert.deepEqual(Object.keys(value), [key], `${payload}: the key is an own data property`);
    assert.ok(Object.getOwnPropertyDescriptor(value, key)!.writable);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  }
});

describe('decodeRow: readers degrade per instruction', () => {
  const row = (...instructions: unknown[]) => JSON.stringify({ v: 1, instructions });

  test('a bad instruction costs only itself; the good ones around it are decoded', () => {
    const decoded = decodeRow(
      row(
        { refresher: 'p', kind: 'refresh', ids: [1] },
        { refresher: 'q', kind: 'refresh', ids: [null] },
        { refresher: 'p', kind: 'remove', ids: ['x'] },
      ),
    );
    assert.ok(decoded.readable);
    assert.deepEqual(decoded.instructions, [
      { refresher: 'p', kind: 'refresh', ids: [1] },
      { refresher: 'p', kind: 'remove', ids: ['x'] },
    ]);
    assert.deepEqual(decoded.bad, [
      {
        index: 1,
        before: 1,
        refresher: 'q',
        reason: 'instructions[1].ids[0] must be a finite number or a string of at most 1024 characters',
      },
    ]);
  });

  test('an instruction of a kind from a newer version names its refresher; one without a readable refresher names none', () => {
    const decoded = decodeRow(row({ refresher: 'p', kind: 'explode' }, { refresher: 5, kind: 'refresh', ids: [1] }, 'refresh'));
    assert.ok(decoded.readable);
    assert.deepEqual(
      decoded.bad.map((b) => [b.index, b.refresher]),
      [
        [0, 'p'],
        [1, null],
        [2, null],
      ],
    );
  });

  test('a row that cannot be read at all names the refreshers it can, or none', () => {
    assert.deepEqual(
      decodeRow(JSON.stringify({ v: 2, instructions: [{ refresher: 'p' }, { refresher: 'q', kind: 'x' }, { refresher: 'p' }] })),
      {
        readable: false,
        reason: 'unsupported format version 2; this build reads version 1',
        refreshers: ['p', 'q'],
      },
    );
    for (const json of ['{not json', '[1]', '{"v":1}', '{"v":2,"instructions":[{"refresher":"p"},{}]}', '{"v":2,"instructions":[]}', 42]) {
      const decoded = decodeRow(json);
      assert.ok(!decoded.readable && decoded.refreshers === null, String(json));
    }
  });

  test('unknown fields, in the document or in an instruction, are ignored', () => {
    const decoded = decodeRow(
      '{"v":1,"__proto__":{"instructions":[]},"note":1,"instructions":[{"refresher":"p","kind":"refresh","ids":[1],"prototype":1}]}',
    );
    assert.deepEqual(decoded, { readable: true, instructions: [{ refresher: 'p', kind: 'refresh', ids: [1] }], bad: [] });
  });
});

describe('coalesce', () => {
  const r = (ids: (number | string)[]): Instruction => ({ refresher: 'p', kind: 'refresh', ids });
  const m = (ids: (number | string)[]): Instruction => ({ refresher: 'p', kind: 'remove', ids });

  test('refreshing 42 twice writes it once', () => {
    assert.deepEqual(coalesce([r([42]), r([42])]), [r([42])]);
  });

  test('10,000 refreshes of one id become one call', () => {
    assert.deepEqual(coalesce(Array.from({ length: 10_000 }, () => r([7]))), [r([7])]);
  });

  test('refresh 5, remove 5, refresh 5 keeps its meaning', () => {
    assert.deepEqual(coalesce([r([5]), m([5]), r([5])]), [r([5]), m([5]), r([5])]);
  });

  test('different ids commute into rounds; per-id order is kept', () => {
    assert.deepEqual(coalesce([r([1]), m([1]), r([2]), r([1]), m([3])]), [r([1, 2]), m([3]), m([1]), r([1])]);
  });

  test('42 and "42" are different ids', () => {
    assert.deepEqual(coalesce([r([42]), r(['42'])]), [r([42, '42'])]);
  });

  test('a refresh-all supersedes what came before for that refresher only', () => {
    const other: Instruction = { refresher: 'q', kind: 'refresh', ids: [1] };
    assert.deepEqual(coalesce([r([1]), other, { refresher: 'p', kind: 'refresh-all' }, r([2])]), [
      { refresher: 'p', kind: 'refresh-all' },
      r([2]),
      other,
    ]);
  });

  test('payloads are barriers; adjacent payloads join', () => {
    const p = (x: number): Instruction => ({ refresher: 'p', kind: 'payload', payloads: [x] });
    assert.deepEqual(coalesce([r([1]), p(1), p(2), r([1])]), [r([1]), { refresher: 'p', kind: 'payload', payloads: [1, 2] }, r([1])]);
  });

  test('a list of only refreshes keeps each id once, in first-appearance order, and leaves its input alone', () => {
    const input = [r([3, 1, 3]), r([2, 1]), r([4, 3])];
    const copy = structuredClone(input);
    assert.deepEqual(coalesce(input), [r([3, 1, 2, 4])]);
    assert.deepEqual(input, copy);
  });

  // The meaning of a list, per refresher: whether a refresh-all starts it, then the segments between
  // payloads, each as every id's sequence of steps with repeats of the same step collapsed.
  function meaning(list: readonly Instruction[]): unknown {
    const out: Record<string, { all: boolean; segments: Array<Record<string, string[]> | unknown[]> }> = {};
    for (const i of list) {
      const m = (out[i.refresher] ??= { all: false, segments: [{}] });
      if (i.kind === 'refresh-all') {
        out[i.refresher] = { all: true, segments: [{}] };
      } else if (i.kind === 'payload') {
        const last = m.segments[m.segments.length - 1]!;
        if (Array.isArray(last)) last.push(...i.payloads);
        else if (Object.keys(last).length === 0 && m.segments.length > 1) m.segments[m.segments.length - 1] = [...i.payloads];
        else m.segments.push([...i.payloads]);
      } else {
        let last = m.segments[m.segments.length - 1]!;
        if (Array.isArray(last)) m.segments.push((last = {}));
        for (const id of i.ids) {
          const key = `${typeof id}:${id}`;
          const steps = ((last as Record<string, string[]>)[key] ??= []);
          if (steps[steps.length - 1] !== i.kind) steps.push(i.kind);
        }
      }
    }
    return out;
  }

  test('ids in ascending order skip the set and come out as they went in; any repeat or mixed types still dedupes', () => {
    const ascending = Array.from({ length: 1000 }, (_, i) => i * 2);
    const out = coalesce([{ refresher: 'p', kind: 'refresh', ids: ascending }]);
    assert.deepEqual(out, [{ refresher: 'p', kind: 'refresh', ids: ascending }]);
    assert.notEqual((out[0] as { ids: number[] }).ids, ascending, "a copy, not the caller's array");
    assert.deepEqual(coalesce([{ refresher: 'p', kind: 'refresh', ids: ['a', 'b', 'c'] }]), [
      { refresher: 'p', kind: 'refresh', ids: ['a', 'b', 'c'] },
    ]);
    assert.deepEqual(coalesce([{ refresher: 'p', kind: 'refresh', ids: [1, 2, 2, 3] }]), [
      { refresher: 'p', kind: 'refresh', ids: [1, 2, 3] },
    ]);
    assert.deepEqual(coalesce([{ refresher: 'p', kind: 'refresh', ids: [1, '2', 3, '2'] }]), [
      { refresher: 'p', kind: 'refresh', ids: [1, '2', 3] },
    ]);
    assert.deepEqual(coalesce([{ refresher: 'p', kind: 'remove', ids: [3, 2, 3] }]), [{ refresher: 'p', kind: 'remove', ids: [3, 2] }]);
  });

  test('property: coalescing keeps the meaning, is idempotent, and names an id at most once per instruction', () => {
    fc.assert(
      fc.property(fc.array(anInstruction, { maxLength: 30 }), (list) => {
        const once = coalesce(list);
        assert.deepEqual(meaning(once), meaning(list));
        assert.deepEqual(coalesce(once), once);
        for (const i of once) if (i.kind === 'refresh' || i.kind === 'remove') assert.equal(new Set(i.ids).size, i.ids.length);
      }),
      { numRuns: 2000, seed: 5 },
    );
  });
});

describe('gathering a batch', () => {
  test("property: joining runs while gathering writes the same row as coalescing the calls, and never touches the callers' arrays", () => {
    fc.assert(
      fc.property(fc.array(anInstruction, { maxLength: 30 }), (list) => {
        const before = JSON.stringify(list);
        const open: OpenBatch = { instructions: [], closed: false };
        for (const i of list) gather(open, i);
        assert.deepEqual(coalesce(open.instructions), coalesce(list));
        assert.ok(open.instructions.length <= list.length);
        assert.equal(JSON.stringify(list), before);
      }),
      { numRuns: 2000, seed: 7 },
    );
  });

  test('a run of one refresher and kind becomes one instruction; a new kind or refresher starts another', () => {
    const open: OpenBatch = { instructions: [], closed: false };
    const mine = [3, 4];
    for (const i of [
      { refresher: 'p', kind: 'refresh', ids: [1] },
      { refresher: 'p', kind: 'refresh', ids: mine },
      { refresher: 'p', kind: 'remove', ids: [1] },
      { refresher: 'q', kind: 'remove', ids: [1] },
      { refresher: 'q', kind: 'remove', ids: [2] },
    ] as Instruction[])
      gather(open, i);
    assert.deepEqual(open.instructions, [
      { refresher: 'p', kind: 'refresh', ids: [1, 3, 4] },
      { refresher: 'p', kind: 'remove', ids: [1] },
      { refresher: 'q', kind: 'remove', ids: [1, 2] },
    ]);
    assert.deepEqual(mine, [3, 4]);
  });
});

describe('packRows', () => {
  test('cuts at the row limit by weight, keeping order', () => {
    const ids = Array.from({ length: 2500 }, (_, i) => i);
    const rows = packRows(
      [
        { refresher: 'p', kind: 'refresh', ids },
        { refresher: 'p', kind: 'refresh-all' },
      ],
      1000,
    );
    assert.deepEqual(rows.map(totalWeight), [1000, 1000, 501]);
    assert.deepEqual(
      rows.flat().flatMap((i) => (i.kind === 'refresh' ? i.ids : [])),
      ids,
    );
  });

  test('a full row is closed before the next instruction', () => {
    const rows = packRows(
      [
        { refresher: 'p', kind: 'refresh', ids: [1, 2] },
        { refresher: 'p', kind: 'remove', ids: [3, 4, 5] },
      ],
      2,
    );
    assert.deepEqual(rows.map(totalWeight), [2, 2, 1]);
    assert.equal(rows[1]!.length, 1);
  });
});
