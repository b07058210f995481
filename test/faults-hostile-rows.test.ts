import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostileRowsScenario } from './faults/hostile-rows.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

for (const { dialect, skip } of await faultDialects()) {
  test(
    `hostile rows on ${dialect}: 10,000 (SQLite) or 2,000 plain-SQL rows, good and bad mixed; no crash, every good instruction ` +
      `applied or reloaded, every bad row or instruction recorded once with its row id and replaced by a refreshAll()`,
    { skip, timeout: 180_000 },
    async (t) => {
      // 10,000 here on SQLite; PostgreSQL records failures one round trip at a time, so its 10,000 run in the soak.
      const total = dialect === 'sqlite' ? 10_000 : 2_000;
      const result = await hostileRowsScenario({ dialect, total, note: (text) => text.split('\n').forEach((line) => t.diagnostic(line)) });
      t.diagnostic(
        `${result.rows} rows: ${result.goodRows} good, ${result.badRows} bad, ${result.mixedRows} with one bad ` +
          `instruction, ${result.unknownRefresherRows} with an unknown refresher, then ${result.carriedAfter} with prototype-style ` +
          `keys or unknown fields; ${result.durationMs} ms`,
      );
      t.diagnostic(`bad rows by category: ${JSON.stringify(result.badByCategory)}`);
      t.diagnostic(`recorded: ${JSON.stringify(result.recorded)}`);
      assert.equal(result.rows, total);
      assert.equal(result.report.totals.lost, 0, 'every good instruction applied');
      assert.equal(result.report.totals.unexpected, 0, 'nothing from a bad row applied');
      for (const [server, r] of Object.entries(result.recorded)) {
        assert.equal(
          r.malformed,
          result.badRows + result.mixedRows,
          `${server}: every bad row, and every row with a bad instruction, recorded`,
        );
        assert.equal(r.unknown, result.unknownRefresherRows, `${server}: every unknown refresher recorded`);
        assert.deepEqual(r.missing, [], `${server}: no bad row unrecorded, nothing recorded for a good row`);
        assert.deepEqual(r.twice, [], `${server}: no row recorded twice`);
        assert.equal(
          r.malformedEvents,
          result.badRows + result.mixedRows,
          `${server}: one instruction:malformed event per bad row or instruction`,
        );
        // Bad rows never leave the cache stale, and many in one poll cost one refreshAll().
        assert.ok(r.refreshAlls >= 1, `${server}: the bad rows were replaced by refreshAll()`);
        assert.ok(
          r.refreshAlls < result.badRows + result.mixedRows,
          `${server}: ${r.refreshAlls} refreshAll() calls for ${result.badRows + result.mixedRows} bad parts: coalesced`,
        );
        assert.equal(r.syncErrors, 0, `${server}: no poll failed`);
      }
    },
  );
}
