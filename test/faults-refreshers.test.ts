import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REFRESHER_FAULT_SETTINGS, refresherFaultScenario } from './faults/refreshers.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

for (const { dialect, skip } of await faultDialects()) {
  test(
    `refresher faults on ${dialect}: throws sometimes, always, hangs, slow; retry, then refreshAll(), then record; the cursor never sticks`,
    { skip, timeout: 120_000 },
    async (t) => {
      const result = await refresherFaultScenario({
        dialect,
        writes: 100,
        note: (text) => text.split('\n').forEach((line) => t.diagnostic(line)),
      });
      t.diagnostic(`calls ${JSON.stringify(result.calls)}`);
      t.diagnostic(`records ${JSON.stringify(result.records)}; ${result.durationMs} ms`);
      const { calls, records } = result;
      assert.equal(result.report.totals.lost, 0, 'every instruction applied or covered by a fallback, except those given up and recorded');
      assert.equal(result.report.totals.unexpected, 0);
      assert.equal(result.pendingAfter, 0, 'the cursor reached the head');
      assert.equal(result.healthyAfter, true);
      const { retries } = REFRESHER_FAULT_SETTINGS;
      // Always throws: each failed call is retried `retries` times, then refreshAll() recovers, recorded.
      const brokenFallbacks = calls.broken!.failed['fell-back-to-refresh-all'] ?? 0;
      assert.ok(brokenFallbacks > 0);
      assert.equal(calls.broken!.refresh, brokenFallbacks * (retries + 1), 'broken: 1 + retries attempts per failure');
      assert.equal(calls.broken!.refreshAll, brokenFallbacks);
      assert.equal(records['broken:fell-back-to-refresh-all'], brokenFallbacks, 'each fallback recorded once');
      // Hangs: cut off by refresherTimeout each attempt, then the same path.
      const hangFallbacks = calls.hang!.failed['fell-back-to-refresh-all'] ?? 0;
      assert.ok(hangFallbacks > 0);
      assert.equal(calls.hang!.refresh, hangFallbacks * (retries + 1));
      assert.equal(records['hang:fell-back-to-refresh-all'], hangFallbacks);
      // refreshAll() fails too: given up, recorded, and the poller still moved on.
      const gaveUp = calls.doomed!.failed['gave-up'] ?? 0;
      assert.ok(gaveUp > 0);
      assert.equal(records['doomed:gave-up'], gaveUp);
      assert.equal(result.report.servers[0]!.excused, 20, 'the 20 doomed instructions, and only those, are excused by their records');
      // Flaky: most calls succeed on a retry; a fallback only when every attempt failed.
      assert.equal(records['flaky:fell-back-to-refresh-all'] ?? 0, calls.flaky!.failed['fell-back-to-refresh-all'] ?? 0);
      assert.equal(records['slow:fell-back-to-refresh-all'], undefined, 'slow is not failure');
      assert.equal(result.recordsWithoutRow, 0, 'every record names its row');
    },
  );
}
