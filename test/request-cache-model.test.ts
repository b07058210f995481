import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { RegionHost } from '../src/regions/region.js';
import { RequestCachedRegion } from '../src/regions/request-cached-region.js';
import { RequestScopes, type RequestScope } from '../src/regions/request-scope.js';
import { deferred, type Deferred } from './support/regions.js';

/**
 * The no-stale rule inside a request, as a model test: random interleavings of two requests
 * opening and closing, reads of one key or several (getMany) inside them, load completions and
 * failures, and writes of every kind, each applied on this server at once (as after its sync). The
 * model is the database: one version per key. Every read, memo hits included, must answer the
 * version that was current when it began: never what a request memoized before an invalidation.
 */

const KEYS = [1, 2, 3] as const;
const tagOf = (k: number) => `t${k % 2}`;
type Value = { k: number; version: number };
type Step =
  | { t: 'open' | 'close'; r: number }
  | { t: 'get'; r: number; k: number }
  | { t: 'getMany'; r: number; ks: number[] }
  | { t: 'complete'; pick: number; fail: boolean }
  | { t: 'write'; k: number; how: 'refresh' | 'payload' | 'tags' | 'all' };

const request = fc.integer({ min: 0, max: 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 1, arbitrary: fc.record({ t: fc.constantFrom('open' as const, 'close' as const), r: request }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('get' as const), r: request, k: fc.constantFrom(...KEYS) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('getMany' as const), r: request, ks: fc.subarray([...KEYS], { minLength: 1 }) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('complete' as const), pick: fc.nat(), fail: fc.boolean() }) },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('write' as const),
      k: fc.constantFrom(...KEYS),
      how: fc.constantFrom('refresh' as const, 'payload' as const, 'tags' as const, 'all' as const),
    }),
  },
);

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

async function play(steps: Step[]): Promise<void> {
  const scopes = new RequestScopes();
  // As cache.ts does: the region's invalidations reach the open requests' memos.
  const host: RegionHost = {
    refresh: async () => '',
    remove: async () => '',
    refreshAll: async () => '',
    refreshPayload: async () => '',
    emit: (event, payload) => {
      if (event !== 'region:invalidated') return;
      const p = payload as { region: string; keys: number[] | 'all'; tags: string[] | null };
      scopes.invalidated(p.region, p.keys, p.tags !== null);
    },
  };
  // max 2 of 3 keys: eviction too; a memo of 2 keys per request: its bound too.
  const region = new RequestCachedRegion<Value>('model', { max: 2, perRequest: { max: 2 } }, host, scopes);
  region.setStoring(true);
  const db = new Map<number, number>(KEYS.map((k) => [k, 0]));
  const open: (RequestScope | undefined)[] = [undefined, undefined];
  // A load the test settles by hand: one key's, or a bulk load's (answered with a map of the keys found).
  type Pending =
    | { bulk: false; k: number; version: number; done: Deferred<Value | undefined> }
    | { bulk: true; versions: Map<number, number>; done: Deferred<Map<number, Value>> };
  const pending: Pending[] = [];
  const settle = (load: Pending, fail: boolean) => {
    if (fail) load.done.reject(new Error('loader failed'));
    else if (!load.bulk) load.done.resolve(load.version === 0 ? undefined : { k: load.k, version: load.version });
    else load.done.resolve(new Map([...load.versions].filter(([, v]) => v !== 0).map(([k, version]) => [k, { k, version }])));
  };
  const reads: { k: number; expected: number; result: Promise<{ ok: boolean; value?: Value }> }[] = [];
  const loader = (k: number) => () => {
    const done = deferred<Value | undefined>();
    pending.push({ bulk: false, k, version: db.get(k)!, done });
    return done.promise;
  };
  const loadMany = (keys: (number | string)[]) => {
    const done = deferred<Map<number, Value>>();
    pending.push({ bulk: true, versions: new Map(keys.map((k) => [Number(k), db.get(Number(k))!])), done });
    return done.promise as Promise<Map<number | string, Value>>;
  };
  const inRequest = <T>(r: number, fn: () => T): T => {
    const scope = open[r];
    return scope ? scopes.run(scope, fn) : fn();
  };
  for (const s of steps) {
    if (s.t === 'open' && !open[s.r]) open[s.r] = scopes.openScope();
    else if (s.t === 'close' && open[s.r]) {
      scopes.close(open[s.r]!);
      open[s.r] = undefined;
    } else if (s.t === 'get') {
      const result = inRequest(s.r, () => region.getOrLoad(s.k, loader(s.k), { tags: [tagOf(s.k)] })).then(
        (value) => ({ ok: true, value }),
        () => ({ ok: false }),
      );
      reads.push({ k: s.k, expected: db.get(s.k)!, result });
    } else if (s.t === 'getMany') {
      // Tags are per call, as in regions-model: every key's tag, so a tag write reaches its key's load.
      const many = inRequest(s.r, () => region.getOrLoadMany(s.ks, loadMany, { tags: [...new Set(s.ks.map(tagOf))] }));
      for (const [i, k] of s.ks.entries()) {
        reads.push({
          k,
          expected: db.get(k)!,
          result: many.then(
            (values) => ({ ok: true, value: values[i] }),
            () => ({ ok: false }),
          ),
        });
      }
    } else if (s.t === 'complete' && pending.length > 0) {
      const [load] = pending.splice(s.pick % pending.length, 1);
      settle(load!, s.fail);
    } else if (s.t === 'write') {
      const version = db.get(s.k)! + 1;
      db.set(s.k, version);
      if (s.how === 'refresh') region.invalidate([s.k]);
      else if (s.how === 'payload') region.storeValue(s.k, { k: s.k, version }, [tagOf(s.k)]);
      else if (s.how === 'tags') region.invalidateTags([tagOf(s.k)]);
      else region.invalidateAll();
    }
    await tick();
  }
  for (const load of pending.splice(0)) settle(load, false);
  await tick();
  for (const read of reads) {
    const r = await read.result;
    if (!r.ok) continue;
    assert.equal(
      r.value?.version ?? 0,
      read.expected,
      `a read of key ${read.k} that began at version ${read.expected} answered ${JSON.stringify(r.value)}`,
    );
  }
}

test('model: inside requests, no interleaving of reads, loads, invalidations and request ends answers a stale value', async () => {
  await fc.assert(fc.asyncProperty(fc.array(step, { maxLength: 80, size: 'medium' }), play), { numRuns: 600 });
});
