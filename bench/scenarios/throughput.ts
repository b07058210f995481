import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, type Db } from '../lib/db.js';
import { interleave } from '../lib/measure.js';
import type { Figure } from '../lib/report.js';
import { rawRow } from '../lib/rows.js';
import { pick, type Settings } from '../lib/settings.js';
import { count, ratio } from '../lib/stats.js';
import { attachWake } from '../lib/wake.js';

/**
 * #2: instructions written per second by one writer, one call at a time: `refresh()` of one id
 * per row, and `batch()`es of 100 and 1,000 refreshes (one row each), against a raw knex insert
 * of the same rows into the same table. With the wake-up on where the database has one.
 */
export async function throughput(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const db of ['postgres', 'mysql', 'sqlite'] as const) {
    if (s.dbs.has(db)) figures.push(...(await one(s, db)));
  }
  return figures;
}

async function one(s: Settings, db: Db): Promise<Figure[]> {
  const seconds = pick(s, 4, 1);
  s.log(`#2 write throughput: ${DB_LABEL[db]}, ${seconds} s per size, operations interleaved`);
  const target = await freshTarget(db);
  const knex = knexFor(target, 2);
  const cache = benchCache(knex, target.prefix, 'writer', { notify: true });
  const table = `${target.prefix}cache_instruction`;
  const figures: Figure[] = [];
  try {
    await cache.start();
    const wake = await attachWake(cache, knex, true);
    let next = 1;
    const ids = (n: number) => Array.from({ length: n }, () => next++);
    const cases: Array<{ what: string; size: number; write: () => Promise<unknown> }> = [
      { what: 'write throughput, one instruction per row: refresh(id)', size: 1, write: () => cache.refresh('bench', ids(1)) },
      ...[100, 1000].map((size) => ({
        what: `write throughput, batch() of ${count(size)} refresh(id) calls (one row)`,
        size,
        write: () => cache.batch(() => void ids(size).forEach((id) => void cache.refresh('bench', id))),
      })),
      { what: 'write throughput, one refresh() of 1,000 ids (one row)', size: 1000, write: () => cache.refresh('bench', ids(1000)) },
    ];
    for (const c of cases) {
      const rates = await interleave(seconds, {
        raw: () => knex(table).insert(rawRow(ids(c.size))),
        distcache: async () => {
          await c.write();
          wake.notifyCommitted();
        },
      });
      const r = rates.distcache / rates.raw;
      figures.push({
        id: 2,
        what: c.what,
        db: DB_LABEL[db],
        result: `${count(rates.distcache * c.size)} instructions/s`,
        baseline: `raw knex insert of the same rows: ${count(rates.raw * c.size)}/s`,
        ratio: ratio(r, 0.8),
        floor: '≥ 0.8',
        met: r >= 0.8,
      });
    }
    await wake.stop();
  } finally {
    await cache.stop();
    await knex.destroy();
    await dropTarget(target);
  }
  return figures;
}
