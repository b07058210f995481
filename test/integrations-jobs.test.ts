import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { batched, withBatch } from '../src/integrations/jobs.js';
import { errors } from '../src/index.js';
import { availability, type DialectName } from './support/databases.js';
import { harness, type Harness } from './conformance/harness.js';
import { recorder } from './support/recorder.js';
import { checkLeaksAfterEach } from './support/leaks.js';

checkLeaksAfterEach();

async function rowInstructions(h: Harness): Promise<unknown[]> {
  const list = await h.knex(h.table('cache_instruction')).select('json_instruction').orderBy('id');
  return list.map((r: { json_instruction: string }) => JSON.parse(r.json_instruction).instructions);
}

/** The same assertions on every dialect: SQLite always, PostgreSQL when reachable. */
function suite(dialect: DialectName): void {
  test('withBatch writes one row for the whole job and applies it before resolving', async (t) => {
    const h = await harness(t, dialect);
    const local = recorder();
    const a = h.cache({ serverIdentity: 'worker', refreshers: [local] });
    const result = await withBatch(a, async () => {
      for (let id = 1; id <= 5; id++) await a.refresh('product', id);
      return 'imported';
    });
    assert.equal(result, 'imported');
    assert.deepEqual(await rowInstructions(h), [[{ refresher: 'product', kind: 'refresh', ids: [1, 2, 3, 4, 5] }]]);
    assert.deepEqual(local.refreshedIds(), [1, 2, 3, 4, 5]);
  });

  test('a job that throws still writes what it sent, unless discardOnError', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'worker', refreshers: [recorder()] });
    await assert.rejects(
      withBatch(a, async () => {
        await a.refresh('product', 1);
        throw new Error('job failed half way');
      }),
      /job failed half way/,
    );
    assert.equal((await rowInstructions(h)).length, 1, 'the refresh it sent before failing is written');

    await assert.rejects(
      withBatch(
        a,
        async () => {
          await a.refresh('product', 2);
          throw new Error('job rolled back');
        },
        { discardOnError: true },
      ),
      /job rolled back/,
    );
    assert.equal((await rowInstructions(h)).length, 1, 'nothing more written');
  });

  test('batched() gives each call its own row, with its arguments and this', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'worker', refreshers: [recorder()] });
    const consumer = {
      refresher: 'product',
      handle: batched(a, async function (this: { refresher: string }, message: { ids: number[] }) {
        for (const id of message.ids) await a.refresh(this.refresher, id);
        return message.ids.length;
      }),
    };
    const counts = await Promise.all(Array.from({ length: 10 }, (_, i) => consumer.handle({ ids: [i * 2, i * 2 + 1] })));
    assert.deepEqual(counts, Array(10).fill(2));
    const rows = (await rowInstructions(h)) as Array<Array<{ ids: number[] }>>;
    assert.equal(rows.length, 10, 'one row per message');
    assert.deepEqual(
      rows.map((r) => r[0]!.ids).sort((x, y) => x[0]! - y[0]!),
      Array.from({ length: 10 }, (_, i) => [i * 2, i * 2 + 1]),
    );
  });

  test('a job whose row cannot be written rejects with E_WRITE_FAILED, so a queue retries it', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'worker', refreshers: [recorder()] });
    await h.knex.schema.renameTable(h.table('cache_instruction'), `${h.prefix}moved_away`);
    try {
      await assert.rejects(
        withBatch(a, () => a.refresh('product', 1)),
        (err: Error) => err instanceof errors.WriteFailedError,
      );
      await assert.rejects(
        withBatch(a, async () => {
          await a.refresh('product', 1);
          throw new Error('the job error wins');
        }),
        /the job error wins/,
      );
    } finally {
      await h.knex.schema.renameTable(`${h.prefix}moved_away`, h.table('cache_instruction'));
    }
  });

  test('a job inside an open batch joins it', async (t) => {
    const h = await harness(t, dialect);
    const a = h.cache({ serverIdentity: 'worker', refreshers: [recorder()] });
    await a.batch(async () => {
      await withBatch(a, () => a.refresh('product', 1));
      await withBatch(a, () => a.refresh('product', 2));
    });
    assert.deepEqual(await rowInstructions(h), [[{ refresher: 'product', kind: 'refresh', ids: [1, 2] }]]);
  });
}

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`jobs on ${dialect}`, { skip: await availability(dialect) }, () => suite(dialect));
}
