/**
 * The fault soak: the long versions of every fault scenario, one after another, and the
 * PostgreSQL restart last (it disturbs everything else on that server).
 *
 *   npm run test:faults                       # long: under 10 minutes
 *   npm run test:faults -- --short            # CI: about 2 minutes
 *   DISTCACHE_DESTRUCTIVE=1 npm run test:faults   # also restarts the local PostgreSQL cluster
 *
 * It is a node:test file run directly (`node dist/test/faults/run.js`), so its exit code is the verdict.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashScenario } from './crash.js';
import { hostileRowsScenario } from './hostile-rows.js';
import { hungScenario, canSignalBackends } from './hung.js';
import { prunePropertyScenario } from './prune.js';
import { refresherFaultScenario } from './refreshers.js';
import { localPgCluster, restartScenario } from './restart.js';
import { faultDialects } from './fault-dialects.js';
import { DATABASES } from '../support/databases.js';
import knexFactory from 'knex';

const short = process.argv.includes('--short') || process.env.DISTCACHE_FAULTS_SHORT === '1';
const destructive = process.argv.includes('--destructive') || process.env.DISTCACHE_DESTRUCTIVE === '1';
const dialects = await faultDialects({ mysql: true });
const lines = (t: { diagnostic(s: string): void }) => (text: string) => text.split('\n').forEach((line) => t.diagnostic(line));
const pgSkip = dialects.find((d) => d.dialect === 'postgres')?.skip ?? 'postgres not selected';

for (const { dialect, skip } of dialects) {
  const kills = short ? (dialect === 'mysql' ? 4 : 8) : 20;
  test(`soak: crashes on ${dialect}, 4 servers + 4 writers, ${kills} SIGKILLs`, { skip, timeout: 300_000 }, async (t) => {
    const r = await crashScenario({
      dialect,
      servers: 4,
      writers: 4,
      serverKills: kills,
      writerKills: short ? 1 : 2,
      syncInterval: 200,
      applyPauseMs: 3,
      maxPauseMs: 20,
      note: lines(t),
    });
    t.diagnostic(`kills ${JSON.stringify(r.kills)}, writer kills ${r.writerKills}, ${r.durationMs} ms`);
    assert.deepEqual(r.crashed, []);
    assert.equal(r.report.totals.lost, 0);
    assert.equal(r.report.totals.unexpected, 0);
    assert.equal(r.heldInDatabase, 0);
    assert.equal(r.heldApplied, 0);
    assert.equal(r.kills.total, kills);
  });
}

for (const { dialect, skip } of dialects.filter((d) => !short || d.dialect === 'postgres')) {
  test(`soak: ${short ? '3,000' : '10,000'} hostile rows on ${dialect}`, { skip, timeout: 300_000 }, async (t) => {
    const r = await hostileRowsScenario({ dialect, total: short ? 3_000 : 10_000, note: lines(t) });
    t.diagnostic(
      `${r.goodRows} good, ${r.badRows} bad, ${r.unknownRefresherRows} unknown refresher; ${r.durationMs} ` +
        `ms; ${JSON.stringify(r.recorded)}`,
    );
    assert.equal(r.report.totals.lost, 0);
    assert.equal(r.report.totals.unexpected, 0);
    for (const rec of Object.values(r.recorded)) {
      assert.equal(rec.malformed, r.badRows + r.mixedRows);
      assert.equal(rec.unknown, r.unknownRefresherRows);
      assert.deepEqual(rec.missing, []);
      assert.deepEqual(rec.twice, []);
    }
  });
}

for (const { dialect, skip } of dialects) {
  test(`soak: refresher faults on ${dialect}`, { skip, timeout: 300_000 }, async (t) => {
    const r = await refresherFaultScenario({ dialect, writes: short ? 100 : 500, note: lines(t) });
    t.diagnostic(`${JSON.stringify(r.calls)}; ${r.durationMs} ms`);
    assert.equal(r.report.totals.lost, 0);
    assert.equal(r.report.totals.unexpected, 0);
    assert.equal(r.pendingAfter, 0);
  });

  test(`soak: pruning property on ${dialect}`, { skip, timeout: 400_000 }, async (t) => {
    const r = await prunePropertyScenario({ dialect, numRuns: short ? 30 : dialect === 'sqlite' ? 200 : 100, maxSteps: 40 });
    t.diagnostic(`${r.runs} schedules, ${JSON.stringify(r.totals)}, ${r.durationMs} ms`);
    assert.ok(r.totals.marked > 0);
  });
}

const signal = pgSkip
  ? pgSkip
  : await (async () => {
      const knex = knexFactory(DATABASES.postgres.config());
      try {
        return await canSignalBackends(knex);
      } finally {
        await knex.destroy();
      }
    })();
for (const [dialect, mode] of [
  ['postgres', 'row-lock'],
  ['postgres', 'sigstop'],
  ['mysql', 'row-lock'],
  ['sqlite', 'sqlite-lock'],
] as const) {
  const entry = dialects.find((d) => d.dialect === dialect);
  const skip = !entry ? `${dialect} not selected` : entry.skip || (mode === 'sigstop' ? signal : false);
  test(`soak: hung connection on ${dialect} (${mode})`, { skip, timeout: 120_000 }, async (t) => {
    const r = await hungScenario({ dialect, mode, faultMs: short ? 1500 : 5000, note: lines(t) });
    t.diagnostic(`sync errors ${r.syncErrors} (timeouts ${r.timeouts}), healthy ${r.healthyAfterMs} ms after release, ${r.durationMs} ms`);
    assert.ok(r.unhealthyDuring.length > 0);
    assert.ok(r.syncsAfter > 0);
    assert.equal(r.report.totals.lost, 0);
    assert.equal(r.report.totals.unexpected, 0);
  });
}

// Last, and only when asked: it restarts the whole PostgreSQL cluster.
const cluster = await localPgCluster();
const restartSkip = !destructive
  ? 'restarts PostgreSQL: set DISTCACHE_DESTRUCTIVE=1 (or pass --destructive)'
  : pgSkip || (!cluster ? 'no local PostgreSQL cluster (pg_lsclusters)' : false);
for (const syncInterval of short ? [500] : [1000, 500, 250]) {
  test(
    `soak: PostgreSQL restarted under load (pg_ctlcluster restart), syncInterval ${syncInterval} ms`,
    { skip: restartSkip, timeout: 300_000 },
    async (t) => {
      const r = await restartScenario({ syncInterval, note: lines(t) });
      t.diagnostic(
        `outage ${r.outageMs} ms; recovery after PostgreSQL was back ${JSON.stringify(r.recoveryMs)}; failed ` +
          `writes ${JSON.stringify(r.failedWrites)}; ambiguous commits ${r.ambiguousCommits.length}; ${r.durationMs} ms`,
      );
      assert.deepEqual(r.crashed, [], 'no process crashed');
      assert.equal(r.report.totals.lost, 0);
      assert.equal(r.report.totals.unexpected, 0, 'nothing that failed was applied');
      // Direct writes (no caller transaction) fail with the typed error.
      for (const label of Object.keys(r.failedWrites)) if (label.startsWith('direct')) assert.equal(label, 'direct: E_WRITE_FAILED');
      for (const [server, ms] of Object.entries(r.recoveryMs))
        assert.ok(
          ms <= 2 * syncInterval,
          `${server} polled again ${ms} ms after PostgreSQL was back; at most two intervals (${2 * syncInterval} ms)`,
        );
    },
  );
}
