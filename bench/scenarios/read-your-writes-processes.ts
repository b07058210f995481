import { benchCache } from '../lib/cache.js';
import { Child } from '../lib/child.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, type Db } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { pcts, ms } from '../lib/stats.js';
import type { RywReaderIn, RywReaderOut } from '../children/ryw-reader.js';

/** Keys of the item table; each round writes two of them, so a key is written again only every 50 rounds. */
const KEYS = 100;

/**
 * #12 across processes (issue 27): a writer (this process) updates an item and refreshes it
 * through a region, then hands the key, the value and the token to a reader process over IPC (the
 * client's next request landing on another server). The reader, whose region has every item
 * cached, reads the key at once, and in the same round, for another key written the same way,
 * after `waitFor(token)`. Reported: waitFor's p50 and p99 in the reader, and the stale reads
 * (older than the write) with and without the wait. Both servers poll every second on their own.
 */
export async function readYourWritesAcrossProcesses(s: Settings, db: Db, wake: boolean): Promise<Figure> {
  const target = await freshTarget(db);
  const table = `${target.prefix}app_data`;
  const knex = knexFor(target, 4);
  let reader: Child<RywReaderIn, RywReaderOut> | undefined;
  const writer = benchCache(knex, target.prefix, 'ryw-writer', { notify: wake, syncInterval: 1000, refreshers: [] });
  const items = writer.region<number>('item', {
    load: async (key) =>
      (
        await knex(table)
          .where({ id: Number(key) })
          .first('v')
      )?.v,
  });
  try {
    await knex.schema.createTable(table, (t) => {
      t.integer('id').primary();
      t.integer('v').notNullable();
    });
    await knex(table).insert(Array.from({ length: KEYS }, (_, id) => ({ id, v: 0 })));
    await writer.start();
    reader = new Child<RywReaderIn, RywReaderOut>('ryw-reader', { target, keys: KEYS, wake });
    await reader.when((m): m is Extract<RywReaderOut, { type: 'ready' }> => m.type === 'ready', 60_000);
    s.log(`#12 waitFor across processes on ${DB_LABEL[db]}, wake-up ${wake ? 'on' : 'off'}`);
    const rounds = pick(s, 300, 60);
    const waits: number[] = [];
    let timedOut = 0;
    let staleWith = 0;
    let staleWithout = 0;
    let written = 0;
    const round = async (key: number, wait: boolean) => {
      written += 1;
      await knex(table).where({ id: key }).update({ v: written });
      const token = await items.refresh([key]);
      reader!.send({ type: 'read', key, written, token, wait });
      return reader!.when((m): m is Extract<RywReaderOut, { type: 'read' }> => m.type === 'read', 30_000);
    };
    for (let i = 0; i < rounds + 10; i++) {
      const without = await round((2 * i) % KEYS, false);
      const withWait = await round((2 * i + 1) % KEYS, true);
      // The first rounds warm the connection pools and the JIT up.
      if (i < 10) continue;
      if (without.stale) staleWithout += 1;
      if (withWait.stale) staleWith += 1;
      if (withWait.applied === false) timedOut += 1;
      waits.push(withWait.waitedMs!);
    }
    const p = pcts(waits);
    return {
      id: 12,
      what:
        'read-your-writes across processes: the writer hands the token to a reader process (IPC), which waits and reads, ' +
        `wake-up ${wake ? 'on' : 'off'}`,
      db: DB_LABEL[db],
      result:
        `waitFor p50 ${ms(p.p50)}, p99 ${ms(p.p99)} (n=${p.n}); ` +
        `stale reads: ${staleWith}/${p.n} with waitFor, ${staleWithout}/${p.n} without`,
      floor: 'every wait resolves true and 0 stale reads with waitFor; p99 well below the 1 s poll interval',
      met: timedOut === 0 && staleWith === 0 && p.p99 < 500,
      note: timedOut > 0 ? `${timedOut} waits timed out` : undefined,
    };
  } finally {
    if (reader) {
      reader.send({ type: 'stop' });
      await reader.exited;
    }
    await writer.stop();
    await knex.destroy();
    await dropTarget(target);
  }
}
