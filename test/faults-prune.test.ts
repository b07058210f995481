import assert from 'node:assert/strict';
import { test } from 'node:test';
import { prunePropertyScenario } from './faults/prune.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

for (const { dialect, skip } of await faultDialects()) {
  test(
    `pruning past stopped servers on ${dialect}: over random schedules of writes, prunes, stops and restarts, lost is always 0 ` +
      `(fast-check)`,
    { skip, timeout: 180_000 },
    async (t) => {
      // A fixed seed: the same schedules every run, so the checks below that pruning was exercised
      // cannot fail by chance (the soak runs unseeded, with many more schedules).
      const result = await prunePropertyScenario({ dialect, numRuns: dialect === 'sqlite' ? 40 : 25, maxSteps: 25, seed: 20261126 });
      t.diagnostic(`${result.runs} schedules, ${JSON.stringify(result.totals)}, ${result.durationMs} ms`);
      assert.ok(result.totals.deleted > 0, 'prunes deleted rows');
      assert.ok(result.totals.marked > 0, 'prunes passed stopped servers');
      assert.ok(result.totals.covered > 0, 'some rows reached a server only through its cold boot');
      assert.ok(result.totals.insideChunk > 0, 'some chunks deleted rows on both sides of a cursor');
    },
  );
}
