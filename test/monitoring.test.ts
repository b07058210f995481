import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { registerMetrics } from '../src/integrations/prometheus.js';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const MONITORING = fileURLToPath(new URL('../../docs/monitoring/', import.meta.url));
const RULES = `${MONITORING}distcache-alerts.yml`;
const GRAFANA = `${MONITORING}distcache-grafana.json`;
const PROMTOOL = process.env.DISTCACHE_PROMTOOL ?? '/usr/bin/promtool';

function promtoolSkip(): string | false {
  if (existsSync(PROMTOOL)) return false;
  const line = `no promtool at ${PROMTOOL}; the rules check is skipped (apt-get install prometheus)`;
  if (process.env.CI === 'true') throw new Error(`CI=true: ${line}`);
  console.log(`# ${line}`);
  return line;
}

test('the alert rules pass promtool check rules', { skip: promtoolSkip() }, async () => {
  const { stdout } = await promisify(execFile)(PROMTOOL, ['check', 'rules', RULES]);
  assert.match(stdout, /SUCCESS: 7 rules found/);
});

test('every metric the Grafana dashboard and the alert rules name is one a running server exports', async (t) => {
  const h = await harness(t, 'sqlite');
  const cache = h.cache({ serverIdentity: 'web-1', refreshers: [recorder('product')] });
  cache.region<number>('price', { load: (k) => Number(k) });
  const registry = new Registry();
  const metrics = registerMetrics(cache, { registry });
  t.after(() => metrics.close());
  await cache.start();
  const server = createServer((_req, res) => {
    void registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => server.close(resolve)));
  const scrape = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`)).text();
  const families = new Map([...scrape.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map(([, name, type]) => [name!, type!]));
  assert.ok(families.size >= 20, scrape);

  const named = new Set<string>();
  const dashboard = JSON.parse(readFileSync(GRAFANA, 'utf8')) as { panels: Array<{ targets: Array<{ expr: string }> }> };
  const texts = [readFileSync(RULES, 'utf8'), ...dashboard.panels.flatMap((p) => p.targets.map((x) => x.expr))];
  for (const text of texts) for (const [name] of text.matchAll(/\bdistcache_[a-z_]+\b/g)) named.add(name);
  assert.ok(named.size >= 15, [...named].join(' '));
  const missing = [...named].filter((name) => {
    if (families.has(name)) return false;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return families.get(base) !== 'histogram';
  });
  assert.deepEqual(missing, [], 'named in docs/monitoring but not exported');
});
