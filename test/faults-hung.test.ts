import assert from 'node:assert/strict';
import { test } from 'node:test';
import knexFactory from 'knex';
import { canSignalBackends, hungScenario, type HangMode } from './faults/hung.js';
import { DATABASES } from './support/databases.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const dialects = await faultDialects({ mysql: true });
const signal = dialects.some((d) => d.dialect === 'postgres' && !d.skip)
  ? await (async () => {
      const knex = knexFactory(DATABASES.postgres.config());
      try {
        return await canSignalBackends(knex);
      } finally {
        await knex.destroy();
      }
    })()
  : 'postgres not selected';

const cases: Array<{ dialect: (typeof dialects)[number]['dialect']; mode: HangMode; what: string }> = [
  { dialect: 'postgres', mode: 'row-lock', what: 'the cursor row locked by another session (SELECT ... FOR UPDATE)' },
  { dialect: 'postgres', mode: 'sigstop', what: "the server's backends stopped with SIGSTOP" },
  { dialect: 'mysql', mode: 'row-lock', what: 'the cursor row locked by another session (SELECT ... FOR UPDATE)' },
  { dialect: 'sqlite', mode: 'sqlite-lock', what: "another process holding SQLite's write lock" },
];

for (const c of cases) {
  const entry = dialects.find((d) => d.dialect === c.dialect);
  const skip = !entry ? `${c.dialect} not selected` : entry.skip || (c.mode === 'sigstop' ? signal : false);
  test(
    `a hung connection on ${c.dialect}, ${c.what}: queries time out, the poller carries on, unhealthy during and healthy after, ` +
      `nothing lost`,
    { skip, timeout: 90_000 },
    async (t) => {
      const result = await hungScenario({
        dialect: c.dialect,
        mode: c.mode,
        faultMs: 1500,
        note: (text) => text.split('\n').forEach((line) => t.diagnostic(line)),
      });
      t.diagnostic(
        `sync errors ${result.syncErrors} (timeouts ${result.timeouts}); unhealthy ` +
          `because: ${JSON.stringify(result.unhealthyDuring)}; healthy ${result.healthyAfterMs} ms after ` +
          `release; ${result.durationMs} ms`,
      );
      if (c.dialect !== 'sqlite') assert.ok(result.timeouts > 0, 'the stuck query ended with E_QUERY_TIMEOUT');
      assert.ok(result.syncErrors > 0);
      assert.ok(result.unhealthyDuring.length > 0, 'unhealthy while the fault lasted');
      assert.ok(result.syncsAfter > 0, 'the poller carried on after the fault');
      assert.equal(result.report.totals.lost, 0);
      assert.equal(result.report.totals.unexpected, 0);
    },
  );
}
