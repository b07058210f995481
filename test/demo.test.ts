import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

const run = promisify(execFile);

test('the demo runs three servers on SQLite, ends by itself and reports every change delivered', async () => {
  const script = fileURLToPath(new URL('../examples/demo/run.js', import.meta.url));
  const { stdout } = await run(process.execPath, [script], { env: { ...process.env, DEMO_CHANGES: '8' }, timeout: 120_000 });
  assert.match(stdout, /instructions written by web-1: 8/);
  assert.match(stdout, /instructions applied by web-2: \d+ \(every change reached it\)/);
  assert.match(stdout, /instructions applied by web-3: \d+ \(every change reached it\)/);
  assert.match(stdout, /web-2\s+<- refresh product #\d+/);
  assert.match(stdout, /largest propagation delay: [\d.]+ ms/);
});
