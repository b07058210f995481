import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { dashboard, type ActionRecord } from '../src/dashboard/index.js';
import { availability, selectedDialects, type DialectName } from './support/databases.js';
import { browserAvailability, launchBrowser } from './support/browser.js';
import { dashboardCluster, HOSTILE_ORIGIN, SECRET } from './support/dashboard-cluster.js';
import { host, type HostKind } from './support/dashboard-hosts.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const noBrowser = browserAvailability();
let browser: Browser | undefined;
before(async () => {
  if (!noBrowser) browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

/** Each database under another host, so every mount is driven in a real browser. */
const HOSTS: Record<DialectName, HostKind> = { sqlite: 'express', postgres: 'fastify', mysql: 'node:http' };

/**
 * Screenshots for the docs: into docs/images/ with DISTCACHE_SCREENSHOTS=1 (so an ordinary run
 * leaves the checkout clean), otherwise into the temporary folder.
 */
const SHOTS =
  process.env.DISTCACHE_SCREENSHOTS === '1'
    ? fileURLToPath(new URL('../../docs/images/', import.meta.url))
    : join(tmpdir(), 'distcache-shots');

for (const dialect of selectedDialects()) {
  test(
    `dashboard in Chromium on ${dialect} (${HOSTS[dialect]}): servers, chart, failure, regions; payloads hidden; actions guarded`,
    { skip: noBrowser || (await availability(dialect)) },
    async (t) => {
      const t0 = Date.now();
      const mark = (what: string) => console.log(`# ${dialect} ${what} at ${Date.now() - t0} ms`);
      const cluster = await dashboardCluster(dialect);
      mark('cluster');
      t.after(() => cluster.close());
      const records: ActionRecord[] = [];
      const options = { knex: cluster.db.knex, tablePrefix: cluster.db.prefix, refreshInterval: 1000 };
      const hosted = await host(
        HOSTS[dialect],
        dashboard(options),
        dashboard({ ...options, authorize: () => 'tester', onAction: (r) => records.push(r) }),
      );
      t.after(() => hosted.close());
      const context = await browser!.newContext({ viewport: { width: 1280, height: 800 } });
      t.after(() => context.close());
      const page = await context.newPage();
      const problems: string[] = [];
      // The refusals this test asks for are logged by the browser as failed loads, and Chromium asks for
      // /favicon.ico on its own; anything else (a CSP violation, a script error) is a problem.
      page.on('console', (m) => {
        const where = m.location().url;
        if (m.type() === 'error' && !/status of 40[13]/.test(m.text()) && !where.endsWith('/favicon.ico'))
          problems.push(`${m.text()} ${where}`);
      });
      page.on('pageerror', (e) => problems.push(e.message));

      // Overview: every server, refreshed by the page's script from /api/overview.
      const refreshed = page.waitForResponse((r) => r.url().endsWith('/api/overview') && r.status() === 200);
      const overview = await page.goto(`${hosted.readOnly}/`);
      assert.equal(overview?.status(), 200);
      assert.match(overview!.headers()['content-security-policy']!, /script-src 'nonce-[^']+'/);
      for (const identity of ['web-1', 'web-2']) await page.locator(`#servers tr[data-identity="${identity}"]`).waitFor();
      assert.match((await page.locator('#health').textContent())!, /2 of 2 servers active/);
      assert.match((await page.locator('#servers tr[data-identity="web-1"]').textContent())!, /price/);
      // Each server's wake-up state, as its heartbeat published it (both run with notify: false).
      for (const identity of ['web-1', 'web-2']) {
        const cells = await page.locator(`#servers tr[data-identity="${identity}"] td`).allTextContents();
        assert.equal(cells[7], 'disabled', `${identity}: ${cells.join(' | ')}`);
      }
      await refreshed;
      await screenshot(page, dialect, 'dashboard-overview');

      mark('Refused with');
      // Refused without authorization (the default), from the page's own button; nothing flagged.
      await page.locator('button[data-action="resync"][data-server="web-1"]').first().click();
      await waitFor(async () => /^40[13]: /.test((await page.locator('#action-result').textContent()) ?? ''), {
        describe: () => 'the refusal shown on the page',
      });
      assert.equal(await coldBootFlagged(cluster.admin, 'web-1'), false);

      mark('Instructions');
      // Instructions: the chart has a bar per minute and this minute's writes; payloads hidden, hostile labels inert.
      await page.goto(`${hosted.readOnly}/instructions`);
      const bars = page.locator('svg#activity rect.bar');
      assert.equal(await bars.count(), 61);
      const heights = await bars.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('height'))));
      assert.ok(
        heights.some((h) => h > 0),
        'a bar shows the rows just written',
      );
      const text = (await page.locator('body').textContent())!;
      assert.ok(text.includes(HOSTILE_ORIGIN), 'the hostile label is shown as text');
      assert.ok(!text.includes(SECRET) && !(await page.content()).includes(SECRET), 'payload contents stay hidden');
      await screenshot(page, dialect, 'dashboard-instructions');
      await page.goto(`${hosted.readOnly}/instructions?row=${cluster.payloadRow}`);
      assert.match((await page.locator('#row-detail').textContent())!, /"payloads": null/);
      assert.ok(!(await page.content()).includes(SECRET));
      const api = await page.request.get(`${hosted.readOnly}/api/rows/${cluster.payloadRow}`);
      assert.ok(!(await api.text()).includes(SECRET));
      await page.goto(`${hosted.readOnly}/instructions?refresher=ghost`);
      assert.deepEqual(await page.locator('#rows tr').count(), 1, 'the tail filtered by refresher');

      mark('Failures, wi');
      // Failures, with detail.
      await page.goto(`${hosted.readOnly}/failures`);
      const failure = page.locator('#failures tr', { hasText: 'ghost' }).first();
      assert.match((await failure.textContent())!, /skipped-unknown-refresher/);
      await failure.locator('a').first().click();
      assert.match((await page.locator('#failure-detail').textContent())!, /ghost/);

      mark('Regions: fig');
      // Regions: figures from web-1's heartbeat.
      await page.goto(`${hosted.readOnly}/regions`);
      assert.match((await page.locator('main').textContent())!, /price\s*\d+\s*1\s*2\s*33\.3 %/);

      mark('Authorized, ');
      // Authorized, but without the page's CSRF token: refused; with it (the page's button): done and recorded.
      await page.goto(`${hosted.allowing}/`);
      const forged = await page.evaluate(async () => (await fetch('api/resync-all', { method: 'POST' })).status);
      assert.equal(forged, 403);
      assert.equal(await coldBootFlagged(cluster.admin, 'web-2'), false);
      await page.locator('button[data-action="resync"][data-server="web-2"]').first().click();
      await waitFor(async () => /^200: /.test((await page.locator('#action-result').textContent()) ?? ''));
      assert.equal(await coldBootFlagged(cluster.admin, 'web-2'), true);
      assert.equal(records.length, 1);
      assert.match(records[0]!.originated, /^dashboard:tester@/);
      // Recorded in the database with who ran it, and listed on the page once it refreshed.
      await page.locator('#actions tr', { hasText: 'dashboard:tester@' }).waitFor();
      const recorded = await cluster.admin.actions();
      assert.deepEqual(
        recorded.map((a) => [a.action, a.server, a.originated]),
        [['resync', 'web-2', records[0]!.originated]],
        'the refused attempts were not recorded',
      );
      assert.equal(await page.evaluate(() => (window as { __pwned?: number }).__pwned), undefined);
      assert.deepEqual([...problems], [], 'no script error and no CSP violation on any page');
    },
  );
}

async function coldBootFlagged(admin: import('../src/admin/admin.js').Admin, identity: string): Promise<boolean> {
  const { servers } = await admin.servers();
  return servers.find((s) => s.identity === identity)?.cursor?.coldBootRequested ?? false;
}

async function screenshot(page: Page, dialect: DialectName, name: string): Promise<void> {
  if (dialect !== 'postgres') return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
