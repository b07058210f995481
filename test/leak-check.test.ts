import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

const FIXTURE = fileURLToPath(new URL('./support/leak-fixtures/leaky.js', import.meta.url));

test(
  'the suite-wide leak check fails a test that leaves a started cache or a distcache timer behind, and only that test',
  { timeout: 60_000 },
  () => {
    // Without NODE_TEST_CONTEXT, or the child takes itself for part of this run and runs nothing.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const run = spawnSync(process.execPath, ['--test', '--test-reporter=tap', FIXTURE], {
      encoding: 'utf8',
      env: { ...env, DISTCACHE_DIALECTS: 'sqlite' },
    });
    const out = run.stdout + run.stderr;
    assert.notEqual(run.status, 0, out);
    assert.match(out, /^ok \d+ - clean: stops its cache/m);
    assert.match(out, /^not ok \d+ - leaky: starts a cache and never stops it/m);
    assert.match(out, /1 DistributedCache\(s\) started and never stopped/);
    assert.match(out, /^not ok \d+ - leaky: leaves a distcache timer pending/m);
    assert.match(out, /a Timeout created at .*dist\/src\/util\/async\.js/);
  },
);
