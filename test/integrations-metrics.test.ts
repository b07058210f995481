import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import { registerMetrics, METRIC_NAMES } from '../src/integrations/prometheus.js';
import { errors } from '../src/index.js';
import { availability, type DialectName } from './support/databases.js';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Parses the text exposition format into { 'name{a="x",b="y"}': value }, labels sorted by name. */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels = match[2] ? [...match[2].matchAll(/([a-zA-Z_]\w*)="((?:[^"\\]|\\.)*)"/g)].map((m) => `${m[1]}="${m[2]}"`).sort() : [];
    samples.set(`${match[1]}${labels.length ? `{${labels.join(',')}}` : ''}`, Number(match[3]));
  }
  return samples;
}

async function scrape(registry: Registry): Promise<Map<string, number>> {
  return parse(await registry.metrics());
}

function key(name: string, labels: Record<string, string> = {}): string {
  const list = Object.entries(labels)
    .map(([k, v]) => `${k}="${v}"`)
    .sort();
  return `distcache_${name}${list.length ? `{${list.join(',')}}` : ''}`;
}

/** The same assertions on every dialect: SQLite always, PostgreSQL when reachable. */
function suite(dialect: DialectName): void {
  test('writes, applies, durations and sync are counted per refresher, as the registry shows them', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder('product'), recorder('member')] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder('product'), recorder('member')] });
    const ra = new Registry();
    const rb = new Registry();
    const ma = registerMetrics(a, { registry: ra });
    registerMetrics(b, { registry: rb });
    await a.start();
    await b.start();

    await a.refresh('product', [1, 2]);
    await a.batch(async () => {
      await a.remove('product', 3);
      await a.refreshAll('member');
    });
    let sa = await scrape(ra);
    assert.equal(sa.get(key('instructions_written_total', { refresher: 'product' })), 3);
    assert.equal(sa.get(key('instructions_written_total', { refresher: 'member' })), 1);
    assert.equal(sa.get(key('rows_written_total')), 2);
    assert.equal(sa.get(key('instructions_applied_total', { refresher: 'product', kind: 'refresh', source: 'local' })), 2);
    assert.equal(sa.get(key('instructions_applied_total', { refresher: 'product', kind: 'remove', source: 'local' })), 1);
    assert.equal(sa.get(key('apply_duration_seconds_count', { refresher: 'member', kind: 'refresh-all', source: 'local' })), 1);

    await b.sync();
    const sb = await scrape(rb);
    assert.equal(sb.get(key('instructions_applied_total', { refresher: 'product', kind: 'refresh', source: 'remote' })), 2);
    assert.equal(sb.get(key('instructions_applied_total', { refresher: 'member', kind: 'refresh-all', source: 'remote' })), 1);
    assert.ok((sb.get(key('apply_duration_seconds_sum', { refresher: 'product', kind: 'refresh', source: 'remote' })) ?? -1) >= 0);
    assert.ok((sb.get(key('sync_duration_seconds_count')) ?? 0) >= 2, 'the start and the sync() were timed');
    assert.ok(Math.abs((sb.get(key('last_sync_timestamp_seconds')) ?? 0) - Date.now() / 1000) < 60);
    assert.equal(sb.get(key('instructions_written_total', { refresher: 'product' })), undefined, 'b wrote nothing');

    ma.close();
    ma.close();
    assert.equal((await ra.metrics()).trim(), '', 'close() removes the metrics');
    await a.refresh('product', 9);
    assert.equal((await ra.metrics()).trim(), '', 'and stops listening');
    sa = parse(await ra.metrics());
    assert.equal(sa.size, 0);
  });

  test('sync lag is scraped in instructions and seconds, and falls to 0 after a sync', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    const registry = new Registry();
    registerMetrics(b, { registry });
    await b.start();
    await a.refresh('product', [1, 2, 3]);
    await a.refresh('product', 4);
    let samples = await scrape(registry);
    assert.equal(samples.get(key('sync_lag_instructions')), 4);
    const lagSeconds = samples.get(key('sync_lag_seconds'));
    assert.ok(lagSeconds !== undefined && lagSeconds >= 0 && lagSeconds < 60, `lag seconds ${lagSeconds}`);
    await b.sync();
    samples = await scrape(registry);
    assert.equal(samples.get(key('sync_lag_instructions')), 0);
    assert.equal(samples.get(key('sync_lag_seconds')), 0);
  });

  test('a write is counted for its refreshers even when its local apply fails', async (t) => {
    const h = await harness(t, dialect);
    const down = () => {
      throw new Error('backend down');
    };
    const a = h.cache({ serverIdentity: 'a', refreshers: [{ id: 'product', refreshAll: down, refresh: down }] });
    const registry = new Registry();
    registerMetrics(a, { registry });
    await a.refresh('product', [1, 2]);
    const samples = await scrape(registry);
    assert.equal(samples.get(key('instructions_written_total', { refresher: 'product' })), 2);
    assert.equal(samples.get(key('rows_written_total')), 1);
    assert.equal(samples.get(key('instructions_applied_total', { refresher: 'product', kind: 'refresh', source: 'local' })), undefined);
    assert.equal(samples.get(key('failures_total', { refresher: 'product', action: 'gave-up' })), 1);
  });

  test('cold boots, recorded failures and write errors are counted', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    await a.refresh('product', 1); // a non-empty log: a server without a cursor cold-boots
    const failing = {
      id: 'product',
      refreshAll() {},
      refresh() {
        throw new Error('backend down');
      },
    };
    const b = h.cache({ serverIdentity: 'b', refreshers: [failing] });
    const registry = new Registry();
    registerMetrics(b, { registry });
    await b.start();
    // The malformed row first: its refreshAll() in place would supersede the refresh before it.
    await h
      .knex(h.table('cache_instruction'))
      .insert({ json_instruction: '{"v":1,"instructions":"nope"}', originated: 'sql', instruction_count: 1 });
    await a.refresh('product', 2);
    await b.sync();
    await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
    try {
      await assert.rejects(b.refreshAll('product'), errors.WriteFailedError);
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
    }
    const samples = await scrape(registry);
    assert.equal(samples.get(key('cold_boots_total', { reason: 'no-cursor' })), 1);
    assert.equal(samples.get(key('failures_total', { refresher: 'product', action: 'fell-back-to-refresh-all' })), 1);
    assert.equal(samples.get(key('failures_total', { refresher: '', action: 'skipped-malformed-row' })), 1);
    assert.equal(samples.get(key('write_errors_total')), 1);
  });

  test('the role gauge shows the current role as 1 and every other role as 0', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const registry = new Registry();
    registerMetrics(a, { registry });
    await a.start();
    const role = a.role;
    const samples = await scrape(registry);
    const roles = [...samples].filter(([k]) => k.startsWith('distcache_role{'));
    assert.deepEqual(
      roles.filter(([, v]) => v === 1).map(([k]) => k),
      [key('role', { role })],
    );
    for (const r of ['single', 'scheduling-publisher', 'subscriber', 'unknown'])
      assert.ok(samples.has(key('role', { role: r })), `role ${r} is listed`);
    await a.stop();
    assert.equal((await scrape(registry)).get(key('role', { role: a.role })), 1, 'read at scrape time');
  });

  test('waitFor calls are counted by outcome with their durations; a text that is not a token is not counted', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    const registry = new Registry();
    registerMetrics(b, { registry });
    const outcomes = (samples: Map<string, number>) =>
      Object.fromEntries(['applied', 'waited', 'timed-out', 'stopped'].map((o) => [o, samples.get(key('wait_for_total', { outcome: o }))]));
    assert.deepEqual(outcomes(await scrape(registry)), { applied: 0, waited: 0, 'timed-out': 0, stopped: 0 }, 'listed from the start');

    const first = await a.refresh('product', 1);
    assert.equal(await b.waitFor(first), false, 'B is not started');
    await a.start();
    await b.start();
    const second = await a.refresh('product', 2);
    assert.equal(await b.waitFor(second, { timeout: 0 }), false, 'behind, and no time to poll');
    assert.equal(await b.waitFor(second, { timeout: '5s' }), true, 'B polls, then has it');
    assert.equal(await b.waitFor(second), true, 'applied at the first look');
    assert.equal(await b.waitFor(''), true);
    await assert.rejects(b.waitFor('not-a-token'), errors.InvalidPositionError);

    const samples = await scrape(registry);
    assert.deepEqual(outcomes(samples), { applied: 2, waited: 1, 'timed-out': 1, stopped: 1 });
    for (const outcome of ['applied', 'waited', 'timed-out', 'stopped']) {
      assert.equal(samples.get(key('wait_for_duration_seconds_count', { outcome })), outcomes(samples)[outcome], outcome);
    }
    const waited = samples.get(key('wait_for_duration_seconds_sum', { outcome: 'waited' }))!;
    assert.ok(waited > 0 && waited < 5, `in seconds: ${waited}`);
    const labels = [...samples.keys()].filter((k) => k.startsWith('distcache_wait_for')).map((k) => /\{(.*)\}/.exec(k)?.[1] ?? '');
    for (const l of labels)
      assert.match(l, /^(le="[^"]+",)?outcome="(applied|waited|timed-out|stopped)"$/, 'only the outcome (and le) as labels');
  });

  test('every metric is listed, a second registration is refused, and a prefix separates caches', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [recorder()] });
    const registry = new Registry();
    const first = registerMetrics(a, { registry });
    assert.deepEqual(
      first.names,
      Object.values(METRIC_NAMES).map((n) => `distcache_${n}`),
    );
    assert.throws(
      () => registerMetrics(b, { registry }),
      (err: Error) => err instanceof errors.InvalidOptionError && /already registered/.test(err.message),
    );
    const second = registerMetrics(b, { registry, prefix: 'orders_cache_' });
    const text = await registry.metrics();
    for (const name of [...first.names, ...second.names]) assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'));
    assert.throws(() => registerMetrics(b, { registry, prefix: 'bad prefix' }), errors.InvalidOptionError);
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`prometheus on ${dialect}`, { skip: await availability(dialect) }, () => suite(dialect));
}
