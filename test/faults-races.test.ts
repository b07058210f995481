import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeReport } from './faults/fault-checker.js';
import { ambiguousCommit, freshStartRace } from './faults/races.js';
import { faultDialects } from './faults/fault-dialects.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/**
 * Races the fault suite found in the poller, kept as regression tests (see docs/faults.md).
 */
for (const { dialect, skip } of await faultDialects()) {
  test(`a row committed while a fresh server decides the log is empty reaches it (${dialect})`, { skip }, async (t) => {
    const report = await freshStartRace(dialect);
    describeReport(report)
      .split('\n')
      .forEach((line) => t.diagnostic(line));
    assert.equal(report.totals.lost, 0);
  });

  test(
    `a write whose commit succeeded but whose acknowledgement was lost still reaches the writing server (${dialect})`,
    { skip },
    async (t) => {
      const { report, rejectedWith } = await ambiguousCommit(dialect);
      describeReport(report)
        .split('\n')
        .forEach((line) => t.diagnostic(line));
      assert.equal(rejectedWith, 'E_WRITE_FAILED', 'the write rejected with the typed error');
      assert.equal(report.servers.find((s) => s.server === 'other')!.lost, 0, 'other servers get it');
      assert.equal(report.totals.lost, 0, 'so does the writing server');
    },
  );
}
