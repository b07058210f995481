import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { coalesce } from '../src/instructions/coalesce.js';
import { decodeInstructions, encodeInstructions } from '../src/instructions/codec.js';
import { packRows } from '../src/instructions/pack.js';
import { totalWeight, type Instruction } from '../src/instructions/types.js';
import { errors } from '../src/errors.js';

describe('codec', () => {
  test('round-trips every kind', () => {
    const list: Instruction[] = [
      { refresher: 'p', kind: 'refresh-all' },
      { refresher: 'p', kind: 'refresh', ids: [1, 'a'] },
      { refresher: 'p', kind: 'remove', ids: [2] },
      { refresher: 'p', kind: 'payload', payloads: [{ id: 1, nested: [true, null] }] },
    ];
    assert.deepEqual(decodeInstructions(encodeInstructions(list)), list);
    assert.equal(encodeInstructions([{ refresher: 'p', kind: 'refresh', ids: [42] }]), '{"v":1,"instructions":[{"refresher":"p","kind":"refresh","ids":[42]}]}');
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
    ['__proto__ key', '{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[{"__proto__":{"polluted":true}}]}]}'],
    ['constructor key', '{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[{"constructor":{"prototype":1}}]}]}'],
    ['deep nesting', `{"v":1,"instructions":[{"refresher":"p","kind":"payload","payloads":[${'['.repeat(200_000)}${']'.repeat(200_000)}]}]}`],
  ];
  for (const [name, json] of bad) {
    test(`refuses ${name} with E_MALFORMED_ROW`, () => {
      assert.throws(() => decodeInstructions(json), (err: Error) => err instanceof errors.MalformedRowError);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  }
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
});

describe('packRows', () => {
  test('cuts at the row limit by weight, keeping order', () => {
    const ids = Array.from({ length: 2500 }, (_, i) => i);
    const rows = packRows([{ refresher: 'p', kind: 'refresh', ids }, { refresher: 'p', kind: 'refresh-all' }], 1000);
    assert.deepEqual(rows.map(totalWeight), [1000, 1000, 501]);
    assert.deepEqual(rows.flat().flatMap((i) => (i.kind === 'refresh' ? i.ids : [])), ids);
  });

  test('a full row is closed before the next instruction', () => {
    const rows = packRows([{ refresher: 'p', kind: 'refresh', ids: [1, 2] }, { refresher: 'p', kind: 'remove', ids: [3, 4, 5] }], 2);
    assert.deepEqual(rows.map(totalWeight), [2, 2, 1]);
    assert.equal(rows[1]!.length, 1);
  });
});
