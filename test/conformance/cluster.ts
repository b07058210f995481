import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { errors, type DistributedCache, type ServerRole } from './exports.js';
import { backdate, harness, rowIds, type Harness } from './harness.js';
import { toDate } from '../../src/store/columns.js';
import { ServerTable } from '../../src/cluster/server-table.js';
import { dialectFor } from '../../src/dialects/dialect.js';
import { tableNames } from '../../src/store/tables.js';
import { recorder } from '../support/recorder.js';
import { waitFor } from '../support/wait.js';
import { ChildServer, overlaps, sqliteFileOf, type ChildSettings } from '../support/child-servers.js';
import type { DialectName } from '../support/databases.js';

/** Short cluster timings, so elections and expiry happen within a test. */
const FAST = { heartbeatInterval: 25, leaseDuration: 150, staleServerTimeout: 400 } as const;
/** Quick heartbeats but a lease no busy test machine lets lapse by accident, for tests where expiry is not the point. */
const STEADY = { heartbeatInterval: 25, leaseDuration: 2000, staleServerTimeout: 4000 } as const;

const publishing = (role: ServerRole) => role === 'single' || role === 'scheduling-publisher';

/** Backdates a server's last heartbeat, as backdate() does rows. */
async function backdateServer(h: Harness, identity: string, days: number): Promise<void> {
  const stamp = new Date(Date.now() - days * 24 * 3600_000);
  await h
    .knex(`${h.prefix}cache_server`)
    .where('server_identity', identity)
    .update({ last_heartbeat: h.dialect === 'sqlite' ? stamp.toISOString() : stamp });
}

/** Waits until `cache` has completed `n` more heartbeats: time passing, measured by the thing itself. */
async function afterHeartbeats(cache: DistributedCache, n: number): Promise<void> {
  let last = (await cache.health()).lastHeartbeat?.getTime();
  let seen = 0;
  await waitFor(
    async () => {
      const beat = (await cache.health()).lastHeartbeat?.getTime();
      if (beat !== last) {
        seen++;
        last = beat;
      }
      return seen >= n;
    },
    { interval: 5, describe: () => `${seen} of ${n} heartbeats` },
  );
}

async function exactlyOnePublisher(caches: readonly DistributedCache[], timeout = 5000): Promise<DistributedCache> {
  await waitFor(() => caches.filter((c) => c.isSchedulingPublisher).length === 1, {
    timeout,
    describe: () => caches.map((c) => `${c.options.serverIdentity}=${c.role}`).join(', '),
  });
  return caches.find((c) => c.isSchedulingPublisher)!;
}

/** Registration, heartbeats, election, lease, pruning by membership, clusters, health. */
export function clusterTests(dialect: DialectName): void {
  test('a lone server registers with host, pid, version and database-clock times, and is single', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'solo', ...STEADY });
    const changes: Array<{ previous: ServerRole; role: ServerRole }> = [];
    a.on('server:role-changed', (e) => changes.push(e));
    assert.equal(a.role, 'unknown', 'unknown before the first heartbeat');
    await a.start();
    assert.equal(a.role, 'single');
    assert.equal(a.isSchedulingPublisher, true);
    assert.deepEqual(changes, [{ previous: 'unknown', role: 'single' }]);
    const [row, ...others] = await a.servers();
    assert.equal(others.length, 0);
    assert.equal(row!.identity, 'solo');
    assert.equal(row!.cluster, 'default');
    assert.equal(row!.host, hostname());
    assert.equal(row!.pid, process.pid);
    assert.match(row!.packageVersion, /^\d+\.\d+\.\d+/);
    assert.equal(row!.instanceId, a.instanceId);
    assert.equal(row!.active, true);
    assert.equal(row!.role, 'single');
    assert.equal(row!.holdsLease, true);
    assert.equal(row!.self, true);
    const now = (await a.store.now()).getTime();
    assert.ok(Math.abs(now - row!.lastHeartbeat!.getTime()) < 5000, 'the heartbeat time is the database clock');
    assert.ok(row!.registeredAt!.getTime() <= row!.lastHeartbeat!.getTime());
  });

  test('five servers starting and stopping: never two publishers at once, and exactly one once they settle', async (t) => {
    const h = await harness(t, dialect);
    const live: DistributedCache[] = [];
    let next = 0;
    let samples = 0;
    const violations: string[] = [];
    const publishers = new Set<string>();
    // Each cache's belief is read synchronously in one tick: an exact sample, not a racy one. It is
    // taken at every role change of any server (so every moment a second publisher could appear
    // is checked), and on a timer in between.
    const sample = () => {
      const now = live.filter((c) => c.isSchedulingPublisher);
      samples++;
      if (now.length > 1) violations.push(now.map((c) => c.options.serverIdentity).join(' & '));
      now.forEach((c) => publishers.add(c.instanceId));
    };
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        sample();
        await delay(1);
      }
    })();
    const startOne = async () => {
      const cache = h.cache({ serverIdentity: `s${next++}`, ...FAST });
      cache.on('server:role-changed', sample);
      live.push(cache);
      await cache.start();
    };
    try {
      await Promise.all(Array.from({ length: 5 }, (_, i) => delay(i * 15).then(startOne)));
      await exactlyOnePublisher(live);
      for (let round = 0; round < 8; round++) {
        const publisher = live.find((c) => c.isSchedulingPublisher)!;
        if (round % 2 === 0) {
          // The publisher stops; one of the others takes over at its next heartbeat; then a replacement joins.
          live.splice(live.indexOf(publisher), 1);
          await publisher.stop();
          await exactlyOnePublisher(live);
          await startOne();
        } else {
          // A subscriber stops while a replacement starts.
          const others = live.filter((c) => c !== publisher);
          const victim = others[Math.floor(Math.random() * others.length)]!;
          live.splice(live.indexOf(victim), 1);
          await Promise.all([victim.stop(), delay(Math.random() * 30).then(startOne)]);
        }
        await exactlyOnePublisher(live);
      }
      assert.equal(live.length, 5);
    } finally {
      sampling = false;
      await sampler;
    }
    assert.deepEqual(violations, [], `two publishers at once in ${violations.length} of ${samples} samples`);
    assert.ok(publishers.size >= 5, `the role was handed over at each publisher stop (${publishers.size} publishers)`);
    const rows = await live[0]!.servers();
    assert.equal(rows.filter((r) => r.holdsLease).length, 1, 'one lease holder in the table');
    assert.equal(rows.find((r) => r.holdsLease)!.instanceId, live.find((c) => c.isSchedulingPublisher)!.instanceId);
  });

  const killedPublisherTest =
    'processes: a publisher killed with SIGKILL is replaced within staleServerTimeout; a stopped one at the next heartbeat';
  test(killedPublisherTest, async (t) => {
    const h = await harness(t, dialect);
    const timing = { heartbeatInterval: 100, leaseDuration: 1000, staleServerTimeout: 2000 };
    const base: Omit<ChildSettings, 'identity'> = { dialect, sqliteFile: sqliteFileOf(h.knex), prefix: h.prefix, ...timing };
    const children = Array.from({ length: 5 }, (_, i) => new ChildServer({ ...base, identity: `p${i}` }));
    const describe = () => children.map((c) => `${c.identity}=${c.endedAt ? 'gone' : c.role}`).join(', ');
    const onePublisher = async (timeout: number) => {
      await waitFor(() => children.filter((c) => c.isPublisher).length === 1, { timeout, describe });
      return children.find((c) => c.isPublisher)!;
    };
    try {
      await waitFor(() => children.every((c) => c.started), { timeout: 30_000, describe });
      const first = await onePublisher(10_000);

      first.kill();
      const killedAt = first.endedAt!;
      const second = await onePublisher(timing.staleServerTimeout + 1000);
      const takeover = second.becamePublisherAt()! - killedAt;
      assert.ok(
        takeover <= timing.staleServerTimeout,
        `taken over ${takeover} ms after SIGKILL; staleServerTimeout is ${timing.staleServerTimeout} ms`,
      );

      const stopRequested = Date.now();
      await second.stop();
      const third = await onePublisher(timing.leaseDuration);
      const handover = third.becamePublisherAt()! - stopRequested;
      assert.ok(
        handover < timing.leaseDuration,
        `taken over ${handover} ms after stop(): at a heartbeat, not at lease expiry (${timing.leaseDuration} ms)`,
      );

      // The killed server goes inactive by the others' heartbeats; the stopped one marked itself.
      const observer = h.cache({ serverIdentity: 'observer', ...timing, role: 'subscriber' });
      await observer.start();
      await waitFor(
        async () => {
          const rows = await observer.servers();
          return !rows.find((r) => r.identity === first.identity)!.active && !rows.find((r) => r.identity === second.identity)!.active;
        },
        { timeout: timing.staleServerTimeout * 2, describe },
      );
    } finally {
      await Promise.all(children.map((c) => c.stop().catch(() => c.kill())));
    }
    const now = Date.now();
    const spans = children.flatMap((c) => c.publisherSpans(now));
    assert.deepEqual(overlaps(spans), [], 'no two processes believed they were the publisher at the same time');
  });

  test('a publisher that cannot renew its lease stops acting as publisher before the lease can expire', async (t) => {
    const h = await harness(t, dialect);
    const timing = { heartbeatInterval: 30, leaseDuration: 600, staleServerTimeout: 1500 };
    const caches = [h.cache({ serverIdentity: 'x', ...timing }), h.cache({ serverIdentity: 'y', ...timing })];
    await Promise.all(caches.map((c) => c.start()));
    const holder = await exactlyOnePublisher(caches);
    const lease = `${h.prefix}cache_lease`;
    const moved = `${h.prefix}lease_away`;
    const steppedDown = new Promise<ServerRole>((resolve) =>
      holder.on('server:role-changed', ({ role }) => {
        if (!publishing(role)) resolve(role);
      }),
    );
    await h.knex.schema.renameTable(lease, moved);
    try {
      // The event carries the exact moment; polling the role beside it bounds the wait and says
      // what the holder believed if neither comes (a CI run once hung here on a loaded machine).
      let settled = false;
      const polled = waitFor(() => settled || !publishing(holder.role), {
        timeout: 20_000,
        interval: 2,
        describe: () => `the holder still acts as publisher (role ${holder.role})`,
      }).then(() => holder.role);
      const role = await Promise.race([steppedDown, polled]).finally(() => (settled = true));
      await polled;
      assert.equal(role, 'unknown');
      assert.equal(holder.isSchedulingPublisher, false);
      const row = await h.knex(moved).first();
      const renewedAt = toDate(row.renewed_at)!;
      const dbNow = await holder.store.now();
      assert.ok(
        dbNow.getTime() < renewedAt.getTime() + Number(row.duration_ms),
        'the lease is still valid in the database when its holder stops believing it holds it',
      );
      assert.equal(caches.filter((c) => c.isSchedulingPublisher).length, 0, 'and nobody else took it');
    } finally {
      await h.knex.schema.renameTable(moved, lease);
    }
    await exactlyOnePublisher(caches);
  });

  test('an elected holder whose lease was taken over steps down at its next heartbeat and never renews the lease it lost', async (t) => {
    const h = await harness(t, dialect);
    const caches = ['x', 'y'].map((id) => h.cache({ serverIdentity: id, ...STEADY }));
    await Promise.all(caches.map((c) => c.start()));
    const holder = await exactlyOnePublisher(caches);
    const other = caches.find((c) => c !== holder)!;
    const lease = `${h.prefix}cache_lease`;
    const roles: ServerRole[] = [];
    holder.on('server:role-changed', ({ role }) => roles.push(role));
    // Another server takes the lease as it would an expired one (its holder paused past the
    // lease): a new token, a new holder, a long duration, so nobody takes it back by expiry.
    const taken = await h
      .knex(lease)
      .where({ cluster: 'default', holder_instance: holder.instanceId })
      .update({
        holder_identity: 'thief',
        holder_instance: 'thief-instance',
        token: h.knex.raw('token + 1'),
        duration_ms: 60_000,
        acquired_at: holder.store.clockSql(0),
        renewed_at: holder.store.clockSql(0),
      });
    assert.equal(taken, 1);
    const after = await h.knex(lease).where({ cluster: 'default' }).first();
    const still = () => `${holder.options.serverIdentity} is still ${holder.role}`;
    await waitFor(() => !holder.isSchedulingPublisher, { timeout: STEADY.leaseDuration, describe: still });
    await afterHeartbeats(holder, 3);
    await afterHeartbeats(other, 3);
    assert.equal(holder.role, 'subscriber', 'it stepped down to subscriber: the lease is held, by someone else');
    // Only what came after the step-down counts: a heartbeat already under way when the lease was
    // taken may still report the holder's own change (single to scheduling-publisher, as `y` registers).
    const stepped = roles.findIndex((r) => !publishing(r));
    assert.ok(stepped >= 0, `it reported its step-down (roles: ${roles.join(', ')})`);
    assert.equal(roles.slice(stepped).some(publishing), false, `and never claimed the role again (roles: ${roles.join(', ')})`);
    assert.equal(other.isSchedulingPublisher, false, 'the lease is not expired, so nobody else takes it either');
    const now = await h.knex(lease).where({ cluster: 'default' }).first();
    const leaseState = (r: Record<string, unknown>) => ({
      holder: r.holder_instance,
      token: Number(r.token),
      duration: Number(r.duration_ms),
      renewed: toDate(r.renewed_at)?.getTime(),
    });
    assert.deepEqual(
      leaseState(now),
      { holder: 'thief-instance', token: Number(after.token), duration: 60_000, renewed: toDate(after.renewed_at)?.getTime() },
      'the row is as the new holder wrote it: the old holder renewed nothing',
    );
  });

  test('stop(): the lease is given up at once, the server is marked inactive, knex stays open; twice is harmless', async (t) => {
    const h = await harness(t, dialect);
    const timing = { heartbeatInterval: 30, leaseDuration: 2000, staleServerTimeout: 5000 };
    const caches = ['a', 'b', 'c'].map((id) => h.cache({ serverIdentity: id, ...timing }));
    await Promise.all(caches.map((c) => c.start()));
    const publisher = await exactlyOnePublisher(caches);
    const rest = caches.filter((c) => c !== publisher);
    const stopped = Date.now();
    await Promise.all([publisher.stop(), publisher.stop()]);
    await publisher.stop();
    assert.equal(publisher.role, 'unknown');
    assert.equal(publisher.isSchedulingPublisher, false);
    const next = await exactlyOnePublisher(rest, timing.leaseDuration);
    assert.ok(Date.now() - stopped < timing.leaseDuration, 'taken over at a heartbeat, before the lease would have expired');
    const row = (await next.servers()).find((r) => r.identity === publisher.options.serverIdentity)!;
    assert.equal(row.active, false);
    assert.equal(row.role, 'stopped', 'a clean stop is told apart from a server that went silent');
    assert.equal(row.holdsLease, false);
    await h.knex.raw('select 1');
  });

  test('explicit roles override the election', async (t) => {
    const h = await harness(t, dialect);
    const subscribers = ['s1', 's2'].map((id) => h.cache({ serverIdentity: id, role: 'subscriber', ...STEADY }));
    await Promise.all(subscribers.map((c) => c.start()));
    await afterHeartbeats(subscribers[0]!, 4);
    assert.deepEqual(
      subscribers.map((c) => c.role),
      ['subscriber', 'subscriber'],
      'a fixed subscriber never takes the free lease',
    );
    assert.equal((await subscribers[0]!.servers()).filter((r) => r.holdsLease).length, 0);

    const elected = h.cache({ serverIdentity: 'auto', ...STEADY });
    await elected.start();
    assert.equal(elected.role, 'scheduling-publisher', 'an auto server takes the free lease');

    const fixed = h.cache({ serverIdentity: 'pub', role: 'scheduling-publisher', ...STEADY });
    await fixed.start();
    assert.equal(fixed.role, 'scheduling-publisher');
    await waitFor(() => elected.role === 'subscriber', { describe: () => elected.role });
    await afterHeartbeats(elected, 8); // each one reads the lease and finds it held
    assert.equal(fixed.role, 'scheduling-publisher');
    assert.equal(elected.role, 'subscriber', 'the elected server does not take the lease back');
    const rows = await fixed.servers();
    assert.deepEqual(
      rows.filter((r) => r.holdsLease).map((r) => r.identity),
      ['pub'],
    );
    assert.deepEqual(
      subscribers.map((c) => c.role),
      ['subscriber', 'subscriber'],
    );

    const single = h.cache({ serverIdentity: 'one', cluster: 'solo', role: 'single', ...STEADY });
    await single.start();
    assert.equal(single.role, 'single');
    assert.equal(single.isSchedulingPublisher, true);
  });

  test('clusters sharing a database are isolated: instructions, servers, election and pruning', async (t) => {
    const h = await harness(t, dialect);
    const onBlueB = recorder();
    const onGreen = recorder();
    const blueA = h.cache({ serverIdentity: 'a', cluster: 'blue', refreshers: [recorder()], ...STEADY });
    const blueB = h.cache({ serverIdentity: 'b', cluster: 'blue', refreshers: [onBlueB], ...STEADY });
    // The same identity in another cluster is another server.
    const green = h.cache({ serverIdentity: 'a', cluster: 'green', refreshers: [onGreen], ...STEADY });
    let duplicates = 0;
    for (const c of [blueA, blueB, green]) c.on('server:duplicate-identity', () => duplicates++);
    await Promise.all([blueA, blueB, green].map((c) => c.start()));
    await blueA.refresh('product', [1]);
    await green.refresh('product', [2]);
    await Promise.all([blueA.sync(), blueB.sync(), green.sync()]);
    assert.deepEqual(onBlueB.refreshedIds(), [1]);
    assert.deepEqual(onGreen.refreshedIds(), [2], 'green applied only its own write');

    await exactlyOnePublisher([blueA, blueB]);
    await waitFor(() => green.role === 'single', { describe: () => green.role });
    assert.deepEqual(
      (await blueA.servers()).map((r) => `${r.cluster}/${r.identity}`),
      ['blue/a', 'blue/b'],
    );
    assert.deepEqual(
      (await green.servers()).map((r) => `${r.cluster}/${r.identity}`),
      ['green/a'],
    );
    await afterHeartbeats(blueA, 4);
    assert.equal(duplicates, 0);

    const before = await rowIds(h);
    await backdate(h, 'all', 30);
    await green.prune();
    assert.deepEqual(await rowIds(h), before, "green's prune keeps every blue row (and green's newest)");
  });

  test('pruning keeps the rows a lagging active server has not applied', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await a.start();
    await b.start();
    await a.refresh('product', [1]);
    await a.refresh('product', [2]);
    await b.sync();
    for (const id of [3, 4, 5]) await a.refresh('product', [id]);
    await a.sync();
    const ids = await rowIds(h);
    await backdate(h, 'all', 3); // past retention (2d), inside the hard cap (7d)
    const result = await a.prune();
    assert.equal(result.deleted, 2);
    assert.deepEqual(result.marked, []);
    assert.deepEqual(await rowIds(h), ids.slice(2), 'rows 3-5 stay: b has not applied them');
    const synced = await b.sync();
    assert.equal(synced.coldBoot, null);
    assert.deepEqual(onB.refreshedIds(), [1, 2, 3, 4, 5]);
    assert.equal((await a.prune()).deleted, 2, 'once b has applied them they go (but the newest)');
  });

  test('an expired server no longer holds pruning back; its cursor is kept and it cold-boots when it returns', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()], staleServerTimeout: 400 });
    const onB = recorder();
    // b beats once, at start, then falls silent.
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], heartbeatInterval: '1h', staleServerTimeout: '3h' });
    await a.start();
    await b.start();
    for (const id of [1, 2, 3]) await a.refresh('product', [id]);
    await a.sync();
    await backdate(h, 'all', 3);
    assert.equal((await a.prune()).deleted, 0, 'b is active and has applied none of them');
    await waitFor(async () => (await a.servers()).some((r) => r.identity === 'b' && !r.active), { describe: () => 'b still active' });
    const result = await a.prune();
    assert.equal(result.deleted, 2);
    assert.deepEqual(result.marked, ['b']);
    assert.ok(
      (await a.store.listCursors()).some((c) => c.identity === 'b'),
      "b's cursor is kept",
    );
    const boots: string[] = [];
    b.on('server:cold-boot', (e) => boots.push(e.reason));
    await b.sync();
    assert.deepEqual(boots, ['requested']);
    assert.deepEqual(onB.calls, [{ kind: 'refresh-all' }]);
  });

  test('the hard cap (maxRetention) prunes past a lagging active server, which then cold-boots', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const onB = recorder();
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB] });
    await a.start();
    await b.start();
    for (const id of [1, 2, 3, 4, 5]) await a.refresh('product', [id]);
    await a.sync();
    const ids = await rowIds(h);
    await backdate(h, ids.slice(0, 2), 30); // past maxRetention (7d)
    await backdate(h, ids.slice(2), 3); // past retention only
    const result = await a.prune();
    assert.equal(result.deleted, 2);
    assert.deepEqual(result.marked, ['b']);
    assert.deepEqual(await rowIds(h), ids.slice(2));
    const synced = await b.sync();
    assert.equal(synced.coldBoot, 'requested');
    assert.deepEqual(onB.calls, [{ kind: 'refresh-all' }]);
  });

  test('servers gone longer than forgetServersAfter are forgotten: registration and cursor', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'a', forgetServersAfter: '1d' });
    const gone = h.cache({ serverIdentity: 'gone' });
    const recent = h.cache({ serverIdentity: 'recent' });
    await Promise.all([a, gone, recent].map((c) => c.start()));
    await Promise.all([gone.stop(), recent.stop()]);
    await backdateServer(h, 'gone', 2);
    // A cursor nobody registered (its server row was deleted by hand) that has not synced for 2 days.
    const position = (await a.store.loadCursor('a'))!.position;
    const stamp = new Date(Date.now() - 2 * 24 * 3600_000);
    await h.knex(h.table('cache_cursor')).insert({
      cluster: 'default',
      server_identity: 'orphan',
      position,
      cold_boot_requested: false,
      last_synced: h.dialect === 'sqlite' ? stamp.toISOString() : stamp,
    });
    const result = await a.prune();
    assert.deepEqual(result.forgotten, ['gone', 'orphan']);
    assert.deepEqual(
      (await a.servers()).map((r) => r.identity),
      ['a', 'recent'],
    );
    assert.deepEqual(
      (await a.store.listCursors()).map((c) => c.identity),
      ['a', 'recent'],
    );
  });

  test('only the scheduling publisher runs the scheduled prune; prune() works anywhere', async (t) => {
    const h = await harness(t, dialect);
    const caches = ['a', 'b'].map((id) => h.cache({ serverIdentity: id, pruneSchedule: '* * * * * *', ...STEADY }));
    const runs = new Map<DistributedCache, number>(caches.map((c) => [c, 0]));
    for (const c of caches) c.on('prune:complete', () => runs.set(c, runs.get(c)! + 1));
    await Promise.all(caches.map((c) => c.start()));
    const publisher = await exactlyOnePublisher(caches);
    const subscriber = caches.find((c) => c !== publisher)!;
    await waitFor(() => runs.get(publisher)! >= 2, { timeout: 5000, describe: () => `${runs.get(publisher)} runs` });
    assert.equal(runs.get(subscriber), 0);
    await subscriber.prune();
    assert.equal(runs.get(subscriber), 1);
  });

  test('health reports growing lag on a server whose refresher is blocked, and recovers', async (t) => {
    const h = await harness(t, dialect);
    let release!: () => void;
    let blocked = false;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const onB = recorder('product', {
      onCall: (call) => {
        if (call.kind !== 'refresh') return undefined;
        blocked = true;
        return gate;
      },
    });
    const a = h.cache({ serverIdentity: 'a', refreshers: [recorder()] });
    const b = h.cache({ serverIdentity: 'b', refreshers: [onB], syncInterval: 20, health: { maxPending: 2, maxLag: '300ms' } });
    try {
      assert.equal((await b.health()).healthy, false, 'not started');
      await a.start();
      await b.start();
      await waitFor(async () => (await b.health()).healthy, { describe: () => 'b not healthy after start' });
      await a.refresh('product', [1]);
      await waitFor(() => blocked, { describe: () => "b's poller has not reached the refresher" });
      const first = await b.health();
      assert.equal(first.pendingRows, 1);
      assert.equal(first.pendingInstructions, 1);
      for (const id of [2, 3, 4]) await a.refresh('product', [id]);
      const second = await b.health();
      assert.equal(second.pendingInstructions, 4);
      assert.ok(second.lagSeconds! >= first.lagSeconds!);
      assert.equal(second.healthy, false);
      assert.ok(
        second.problems.some((p) => /health\.maxPending/.test(p)),
        second.problems.join('; '),
      );
      await waitFor(async () => ((await b.health()).lagSeconds ?? 0) > 0.3, { describe: () => 'lag not growing' });
      const third = await b.health();
      assert.ok(
        third.problems.some((p) => /health\.maxLag/.test(p)),
        third.problems.join('; '),
      );
      assert.equal(third.role, b.role);
      assert.equal(third.identity, 'b');
    } finally {
      release();
    }
    await waitFor(async () => {
      const health = await b.health();
      return health.healthy && health.pendingInstructions === 0 && health.lagSeconds === 0;
    });
    assert.deepEqual(onB.refreshedIds(), [1, 2, 3, 4]);
    await b.stop();
    const stopped = await b.health();
    assert.equal(stopped.healthy, false);
    assert.equal(stopped.state, 'stopped');
  });

  test('two live processes under one identity are reported on both sides', async (t) => {
    const h = await harness(t, dialect);
    const twins = [h.cache({ serverIdentity: 'twin', ...STEADY }), h.cache({ serverIdentity: 'twin', ...STEADY })];
    const seen = twins.map(() => [] as Error[]);
    twins.forEach((c, i) => c.on('server:duplicate-identity', (e) => seen[i]!.push(e.error)));
    await Promise.all(twins.map((c) => c.start()));
    await waitFor(() => seen.every((s) => s.length > 0), { describe: () => seen.map((s) => s.length).join('/') });
    assert.ok(seen[0]![0] instanceof errors.DuplicateIdentityError);
    assert.equal((seen[0]![0] as { code?: string }).code, 'E_DUPLICATE_IDENTITY');
    assert.match(seen[0]![0]!.message, /serverIdentity 'twin'/);
    // And health() says so, naming both processes (here one pid twice: both caches live in this process).
    let health = await twins[0]!.health();
    const problem = () => health.problems.find((p) => p.includes("share serverIdentity 'twin'"));
    await waitFor(async () => problem() !== undefined || ((health = await twins[0]!.health()), false));
    assert.match(problem()!, new RegExp(`pid ${process.pid} on .* and this one, pid ${process.pid} on `));
    assert.equal(health.healthy, false);
  });

  test('a restart under the same identity is not a duplicate', async (t) => {
    const h = await harness(t, dialect);
    const first = h.cache({ serverIdentity: 'web', ...STEADY });
    await first.start();
    await first.stop();
    // A crashed predecessor looks the same: its row is still fresh, and it never beats again.
    const second = h.cache({ serverIdentity: 'web', ...STEADY });
    let duplicates = 0;
    second.on('server:duplicate-identity', () => duplicates++);
    await second.start();
    await afterHeartbeats(second, 5);
    assert.equal(duplicates, 0);
    assert.equal(second.role, 'single');
  });

  test("a heartbeat's cursor save is conditional on the position it last stored: a reset in between stands", async (t) => {
    const h = await harness(t, dialect);
    const tables = tableNames(h.prefix);
    const store = dialectFor(h.knex).createStore({ knex: h.knex, tables, cluster: 'default', queryTimeout: 5000 });
    const servers = new ServerTable({ knex: h.knex, tables, cluster: 'default', store });
    const me = { identity: 'beat', instanceId: 'i-1', host: hostname(), pid: process.pid, packageVersion: '0' };
    // Three real positions of this dialect, one row apart.
    const positions: string[] = [await store.head()];
    for (const n of [1, 2]) {
      await store.insert([{ json: JSON.stringify([{ n }]), originated: 'test', originInstance: null, instructionCount: 1 }]);
      positions.push(await store.head());
    }
    const [p0, p1, p2] = positions as [string, string, string];
    await store.resetCursor('beat', p0);
    const first = await servers.touch(me, 'subscriber', null, [], undefined, { position: p1, previous: p0 });
    assert.deepEqual(first, { found: 'none', cursorWritten: true });
    assert.equal((await store.loadCursor('beat'))?.position, p1);
    // A cold boot resets the cursor while a heartbeat still carries the older save.
    await store.resetCursor('beat', p0);
    const second = await servers.touch(me, 'subscriber', null, [], undefined, { position: p2, previous: p1 });
    assert.deepEqual(second, { found: 'own', cursorWritten: false });
    assert.equal((await store.loadCursor('beat'))?.position, p0);
  });

  test('start() refuses with E_NOT_MIGRATED when the cluster tables are missing', async (t) => {
    const h = await harness(t, dialect);
    await h.knex.schema.renameTable(`${h.prefix}cache_server`, `${h.prefix}server_away`);
    const a = h.cache({ serverIdentity: 'a', ...STEADY });
    try {
      await assert.rejects(a.start(), (err: Error) => err instanceof errors.NotMigratedError && /migrate/.test(err.message));
      assert.equal(a.role, 'unknown');
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}server_away`, `${h.prefix}cache_server`);
    }
    await a.start();
    assert.equal(a.role, 'single', 'after migrating, start() works');
  });
}
