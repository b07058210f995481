import assert from 'node:assert/strict';
import { test } from 'node:test';
import { crashScenario } from './faults/crash.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

// The short version of fault 1; `npm run test:faults` runs the full one (4 + 4 processes, 20 kills).
for (const { dialect, skip } of await faultDialects()) {
  test(
    `crashes on ${dialect}: servers SIGKILLed mid-apply and restarted, a writer killed mid-transaction; lost = 0, unexpected = 0`,
    { skip, timeout: 120_000 },
    async (t) => {
      const result = await crashScenario({
        dialect,
        servers: 2,
        writers: 2,
        serverKills: 4,
        writerKills: 1,
        syncInterval: 100,
        applyPauseMs: 2,
        maxPauseMs: 10,
        note: (text) => text.split('\n').forEach((line) => t.diagnostic(line)),
      });
      t.diagnostic(`kills ${JSON.stringify(result.kills)}, writer kills ${result.writerKills}, ${result.durationMs} ms`);
      assert.deepEqual(result.crashed, [], 'no process crashed on its own');
      assert.equal(result.report.totals.lost, 0, 'lost');
      assert.equal(result.report.totals.unexpected, 0, 'unexpected');
      assert.equal(result.report.rolledBackButPresent, 0);
      assert.equal(result.writerKills, 1);
      assert.equal(result.heldInDatabase, 0, 'the killed transaction left no row');
      assert.equal(result.heldApplied, 0, 'and nobody applied it');
      assert.ok(result.report.committed > 0);
    },
  );
}
