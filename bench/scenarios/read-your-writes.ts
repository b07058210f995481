import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, type Db } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { pcts, ms } from '../lib/stats.js';
import { readYourWritesAcrossProcesses } from './read-your-writes-processes.js';

/**
 * #12 (issue 27): read-your-writes across servers. Server A writes (`refresh()`), server B, on its
 * own connection pool, is handed the token at once and calls `waitFor(token)`: the time until it
 * resolves true. With the wake-up (PostgreSQL LISTEN/NOTIFY, SQLite's WAL watch), B's poll is often
 * already running when the token arrives; without it (every database, MariaDB has no wake-up) the
 * wait itself polls at once. Both servers poll every second on their own, so neither figure is the
 * interval.
 */
export async function readYourWrites(s: Settings): Promise<Figure[]> {
  const figures: Figure[] = [];
  for (const db of s.dbs) {
    for (const wake of db === 'mysql' ? [false] : [true, false]) figures.push(await measure(s, db, wake));
    for (const wake of db === 'mysql' ? [false] : [true, false]) figures.push(await readYourWritesAcrossProcesses(s, db, wake));
  }
  return figures;
}

async function measure(s: Settings, db: Db, wake: boolean): Promise<Figure> {
  const target = await freshTarget(db);
  const [knexA, knexB] = [knexFor(target), knexFor(target)];
  const a = benchCache(knexA, target.prefix, 'ryw-a', { notify: wake, syncInterval: 1000 });
  const b = benchCache(knexB, target.prefix, 'ryw-b', { notify: wake, syncInterval: 1000 });
  try {
    await a.start();
    await b.start();
    s.log(`#12 waitFor latency on ${DB_LABEL[db]}, wake-up ${wake ? 'on' : 'off'}`);
    const rounds = pick(s, 300, 60);
    const waits: number[] = [];
    let timedOut = 0;
    for (let i = 0; i < rounds + 10; i++) {
      const position = await a.refresh('bench', [i]);
      const started = performance.now();
      const applied = await b.waitFor(position, { timeout: '5s' });
      // The first rounds warm the connection pools and the JIT up.
      if (i >= 10) waits.push(performance.now() - started);
      if (!applied) timedOut += 1;
    }
    const p = pcts(waits);
    return {
      id: 12,
      what: `read-your-writes: waitFor(token) on another server right after the write, wake-up ${wake ? 'on' : 'off'}`,
      db: DB_LABEL[db],
      result: `p50 ${ms(p.p50)}, p99 ${ms(p.p99)} (n=${p.n})`,
      floor: 'every wait resolves true; p99 well below the 1 s poll interval',
      met: timedOut === 0 && p.p99 < 500,
      note: timedOut > 0 ? `${timedOut} waits timed out` : undefined,
    };
  } finally {
    await a.stop();
    await b.stop();
    await knexA.destroy();
    await knexB.destroy();
    await dropTarget(target);
  }
}
