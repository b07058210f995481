import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { availability, selectedDialects } from './support/databases.js';
import { CLI, cliDatabase } from './support/cli-run.js';
import * as shape from './support/cli-shapes.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

/** `distcache tail --follow --json` as a running child, with the rows it printed so far. */
function follow(flags: string[]) {
  const child = spawn(process.execPath, [CLI, 'tail', '--follow', '--json', '--limit', '1', '--interval', '20ms', ...flags], {
    env: { PATH: process.env.PATH ?? '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    rows: () =>
      stdout
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line, n) => shape.shaped(shape.row, JSON.parse(line), `follow line ${n + 1}`)),
    stderr: () => stderr,
    async stop(): Promise<number | null> {
      child.kill('SIGINT');
      return exited;
    },
    kill: () => child.kill('SIGKILL'),
  };
}

for (const dialect of selectedDialects()) {
  test(
    `tail --follow on ${dialect}: the newest row, then each new row once, as JSON Lines; Ctrl-C ends it with exit 0`,
    { skip: await availability(dialect) },
    async (t) => {
      const db = await cliDatabase(dialect);
      t.after(() => db.close());
      const writer = await db.server('writer', [recorder('product')]);
      await writer.refresh('product', [1]);
      const tail = follow(db.flags);
      t.after(() => tail.kill());
      await waitFor(() => tail.rows().length === 1, {
        timeout: 15_000,
        describe: () => `rows ${JSON.stringify(tail.rows())} stderr ${tail.stderr()}`,
      });
      for (let n = 2; n <= 6; n++) await writer.refresh('product', [n]);
      await waitFor(() => tail.rows().length === 6, { timeout: 15_000, describe: () => `${tail.rows().length} rows` });
      assert.deepEqual(
        tail.rows().map((r) => r.instructions?.[0]?.ids),
        [[1], [2], [3], [4], [5], [6]],
        'the newest row first, then every new one once, in order',
      );
      assert.equal(await tail.stop(), 0);
      assert.equal(tail.stderr(), '', 'nothing extra on a pipe');
    },
  );
}

test(
  'tail --follow on postgres: a row whose transaction commits late is still shown (the exact reader, not id > last)',
  { skip: await availability('postgres') },
  async (t) => {
    const db = await cliDatabase('postgres');
    t.after(() => db.close());
    const writer = await db.server('writer', [recorder('product')]);
    await writer.refresh('product', [0]);
    const tail = follow(db.flags);
    t.after(() => tail.kill());
    await waitFor(() => tail.rows().length === 1, { timeout: 15_000 });
    // The slow transaction takes the smaller id and commits last.
    const slow = await db.knex.transaction();
    await writer.refresh('product', ['late'], { trx: slow });
    await writer.refresh('product', ['early']);
    await waitFor(() => tail.rows().length === 2, { timeout: 15_000 });
    await slow.commit();
    await waitFor(() => tail.rows().length === 3, { timeout: 15_000, describe: () => JSON.stringify(tail.rows().map((r) => r.id)) });
    const [, early, late] = tail.rows();
    assert.deepEqual(early!.instructions?.[0]?.ids, ['early']);
    assert.deepEqual(late!.instructions?.[0]?.ids, ['late']);
    assert.ok(late!.id < early!.id, 'the late row has the smaller id and was not skipped');
    assert.equal(await tail.stop(), 0);
  },
);
