import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { availability, selectedDialects } from './support/databases.js';
import { CLI, cli, cliDatabase, cliJson, type CliDatabase } from './support/cli-run.js';
import * as shape from './support/cli-shapes.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** Moves rows into the past: the clock is the data. */
async function backdate(db: CliDatabase, days: number): Promise<void> {
  const stamp = new Date(Date.now() - days * 24 * 3600_000);
  await db.knex(`${db.prefix}cache_instruction`).update({ utc_stamp: db.dialect === 'sqlite' ? stamp.toISOString() : stamp });
}

for (const dialect of selectedDialects()) {
  test(
    `prune on ${dialect}: --dry-run shows exactly what the prune then does, with the scheduled prune's membership rules`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      const active = await db.server('web-1', [recorder('product')]);
      // web-9 synced once, then went away: inactive, behind, and so not respected by the retention pass.
      const gone = await db.server('web-9', [recorder('product')]);
      await gone.stop();
      for (let n = 1; n <= 5; n++) await cliJson(['send', 'refresh', 'product', String(n), ...db.flags]);
      await active.sync();
      await backdate(db, 3);
      // A fresh newest row, which web-1 has not read yet: nothing past it may go, and it is not old.
      await cliJson(['send', 'refresh', 'product', '6', ...db.flags]);

      const before = await db.snapshot(['instruction', 'cursor', 'failure', 'migrations']);
      const preview = shape.shaped(shape.prunePreview, await cliJson(['prune', '--dry-run', ...db.flags]), 'prune --dry-run');
      assert.equal(await db.snapshot(['instruction', 'cursor', 'failure', 'migrations']), before, 'the dry run changed nothing');
      assert.deepEqual(preview.respecting, ['web-1']);
      assert.equal(preview.withinRetention.rows, 5, 'the five old rows web-1 applied');
      assert.equal(preview.pastMaxRetention.rows, 0);
      assert.deepEqual(preview.mayColdBoot, ['web-9']);
      assert.deepEqual(preview.wouldForget, []);
      const human = await cli(['prune', '--dry-run', ...db.flags]);
      assert.match(human.stdout, /older than retention, applied by every active server: 5 rows \(ids \d+\.\.\d+\)/);
      assert.match(human.stdout, /may be flagged to cold-boot: web-9/);

      const pruned = await cli(['prune', '--chunk-size', '2', '--duty-cycle', '1', '--json', ...db.flags]);
      assert.equal(pruned.code, 0, pruned.stderr);
      assert.equal(pruned.stderr, '', 'no progress lines on a pipe');
      const result = shape.shaped(shape.prune, JSON.parse(pruned.stdout), 'prune');
      assert.equal(result.deleted, preview.withinRetention.rows);
      assert.deepEqual(result.marked, preview.mayColdBoot);
      assert.deepEqual(result.forgotten, []);
      // --all: web-9 stopped cleanly, which status hides by default.
      const status = shape.shaped(shape.status, await cliJson(['status', '--all', ...db.flags]), 'status');
      assert.equal(status.log.rows, 1);
      assert.equal(status.servers.find((s) => s.identity === 'web-9')?.cursor?.coldBootRequested, true);
      assert.equal(status.servers.find((s) => s.identity === 'web-1')?.cursor?.coldBootRequested, false);
      const pending = shape.shaped(shape.serverPending, await cliJson(['pending', '--server', 'web-1', ...db.flags]), 'pending');
      assert.equal(pending.pendingRows, 1, 'the row web-1 has not read is still there');

      // Forgetting, the same way: the dry run names who goes, the prune forgets exactly them.
      const forgetting = shape.shaped(
        shape.prunePreview,
        await cliJson(['prune', '--dry-run', '--forget-after', '1ms', ...db.flags]),
        'prune --dry-run --forget-after',
      );
      assert.deepEqual(forgetting.wouldForget, ['web-9']);
      const forgot = shape.shaped(shape.prune, await cliJson(['prune', '--forget-after', '1ms', ...db.flags]), 'prune --forget-after');
      assert.deepEqual(forgot.forgotten, ['web-9']);
      assert.equal(forgot.deleted, 0);
    },
  );
}

const SCRIPT = '/usr/bin/script';

test(
  'prune shows its progress on a terminal, and only there',
  { skip: existsSync(SCRIPT) ? false : 'util-linux script(1) is not installed' },
  async (t) => {
    const db = await cliDatabase('sqlite');
    t.after(() => db.close());
    await db.knex.batchInsert(
      `${db.prefix}cache_instruction`,
      Array.from({ length: 50 }, (_, n) => ({
        json_instruction: `{"v":1,"instructions":[{"refresher":"p","kind":"refresh","ids":[${n}]}]}`,
        originated: 'seed',
        instruction_count: 1,
      })),
      25,
    );
    await backdate(db, 30);
    // script(1) runs the command on a pseudo-terminal, so stderr is a TTY there.
    const command = [process.execPath, CLI, 'prune', '--chunk-size', '10', ...db.flags]
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`)
      .join(' ');
    const { stdout } = await promisify(execFile)(SCRIPT, ['-qec', command, '/dev/null'], {
      env: { PATH: process.env.PATH ?? '', TERM: 'dumb' },
    });
    assert.match(stdout, /pruning: 10 rows deleted…/);
    assert.match(stdout, /pruning: 40 rows deleted…/);
    assert.match(stdout, /deleted 49 rows in \d+ ms/);
  },
);
