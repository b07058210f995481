import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { waitFor } from './support/wait.js';
import { availability, PG_URL } from './support/databases.js';
import { checkLeaksAfterEach } from './support/leaks.js';
import type { Logger } from '../src/index.js';
import { pgExecutor } from '../src/executors/index.js';

/**
 * Issue 24: an executor write outside cache.transaction() has no commit this server can see. On
 * PostgreSQL a NOTIFY inside the writer's own transaction wakes every server at its commit (the
 * writer included), so nobody waits for a poll; where nothing can signal the commit, the app is
 * told once, with the fix. syncInterval is 60 s here: only a wake-up can explain a quick arrival.
 */
checkLeaksAfterEach();

function capturingLogger(): Logger & { warnings: string[] } {
  const warnings: string[] = [];
  const quiet = () => undefined;
  return {
    warnings,
    debug: quiet,
    info: quiet,
    error: quiet,
    warn: (_ctx: unknown, message?: string) => void warnings.push(String(message)),
  };
}

describe('executor writes outside cache.transaction() on postgres', { skip: await availability('postgres') }, () => {
  test('wake the other servers and the writer at commit; a rolled-back one wakes nobody', async (t) => {
    const h = await harness(t, 'postgres');
    const local = recorder();
    const remote = recorder();
    const logger = capturingLogger();
    const writer = h.cache({ serverIdentity: 'writer', refreshers: [local], notify: true, logger });
    const other = h.cache({ serverIdentity: 'other', refreshers: [remote], notify: true, knex: h.connection() });
    await writer.start();
    await other.start();
    await waitFor(async () => (await writer.health()).wakeUp === 'on' && (await other.health()).wakeUp === 'on');
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    t.after(() => pool.end());
    const write = async (id: string, rollback: boolean) => {
      const client = await pool.connect();
      try {
        await client.query('begin');
        await writer.refresh('product', [id], { trx: pgExecutor(client) });
        await client.query(rollback ? 'rollback' : 'commit');
      } finally {
        client.release();
      }
    };

    await write('r1', true);
    await write('c1', false);
    const describe = () => JSON.stringify({ local: local.refreshedIds(), remote: remote.refreshedIds() });
    await waitFor(() => remote.refreshedIds().includes('c1') && local.refreshedIds().includes('c1'), { timeout: 10_000, describe });
    assert.deepEqual(remote.refreshedIds(), ['c1']);
    assert.deepEqual(local.refreshedIds(), ['c1']);
    assert.deepEqual(logger.warnings, [], 'no warning: the commit signals itself');
  });
});

describe('executor writes outside cache.transaction() with no wake-up', { skip: await availability('postgres') }, () => {
  test('warn once, saying it waits for the next poll and what fixes it', async (t) => {
    const h = await harness(t, 'postgres');
    const logger = capturingLogger();
    const writer = h.cache({ serverIdentity: 'writer', refreshers: [recorder()], notify: false, logger });
    await writer.start();
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    t.after(() => pool.end());
    const client = await pool.connect();
    try {
      for (const id of ['a', 'b']) {
        await client.query('begin');
        await writer.refresh('product', [id], { trx: pgExecutor(client) });
        await client.query('commit');
      }
    } finally {
      client.release();
    }
    const unseen = logger.warnings.filter((m) => m.includes('outside cache.transaction()'));
    assert.equal(unseen.length, 1, JSON.stringify(logger.warnings));
    assert.match(unseen[0]!, /next poll/);
    assert.match(unseen[0]!, /cache\.transaction\(\(\) => \.\.\.\)/);
  });
});
