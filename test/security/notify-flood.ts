/**
 * Issue 22, "Wake-up flood": NOTIFY needs no privilege, and a SELECT-only role sending NOTIFYs on
 * a cluster's channel for 3 s made one server poll 2,869 to 3,570 times (syncInterval 5 s), and every
 * server of the cluster does the same. Wake-driven polls are now throttled (wakeThrottle, 50 ms):
 * a flood costs each server at most about 20 polls a second.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { harness } from '../conformance/harness.js';
import { notifyChannel } from '../../src/dialects/postgres/channel.js';
import { PG_URL } from '../support/databases.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';

export function notifyFloodTests(): void {
  const name =
    'postgres: a NOTIFY flood on the cluster channel for 1 s costs a server at most about 20 polls, and a real write still arrives';
  test(name, async (t) => {
    const h = await harness(t, 'postgres');
    const product = recorder();
    const cache = h.cache({ serverIdentity: 'flooded', refreshers: [product], notify: true, syncInterval: 5000 });
    await cache.start();
    await waitFor(async () => (await cache.health()).wakeUp === 'on', { timeout: 10_000 });
    let polls = 0;
    cache.on('sync:complete', () => void polls++);
    const attacker = new pg.Client({ connectionString: PG_URL });
    await attacker.connect();
    t.after(() => attacker.end());
    const channel = notifyChannel(h.prefix, 'default');
    const until = Date.now() + 1000;
    let sent = 0;
    while (Date.now() < until) {
      await attacker.query('select pg_notify($1, $2)', [channel, '']);
      sent++;
    }
    const afterFlood = polls;
    assert.ok(sent > 100, `the flood sent ${sent} NOTIFYs`);
    assert.ok(afterFlood <= 25, `${afterFlood} polls during a flood of ${sent} NOTIFYs (at most 1 per 50 ms)`);
    assert.ok(afterFlood >= 2, `wake-ups still poll (${afterFlood})`);
    // A write's wake-up still arrives well before the 5 s interval.
    const writer = h.cache({ serverIdentity: 'writer', refreshers: [recorder()], notify: true });
    await writer.start();
    const started = Date.now();
    await writer.refresh('product', [1]);
    await waitFor(() => product.refreshedIds().includes(1), { timeout: 4000 });
    assert.ok(Date.now() - started < 4000);
  });
}
