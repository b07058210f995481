import { Child } from '../lib/child.js';
import { benchCache } from '../lib/cache.js';
import { DB_LABEL, dropTarget, freshTarget, knexFor, PG_URL } from '../lib/db.js';
import type { Figure } from '../lib/report.js';
import { pick, type Settings } from '../lib/settings.js';
import { pctText, percentile, ratio, sleep, wallNow } from '../lib/stats.js';
import { PgBouncer, pgbouncerAvailability } from '../../test/support/pgbouncer.js';
import type { ReceiverIn, ReceiverOut, Sample } from '../children/receiver.js';
import { pauseAfterChange } from '../lib/wake.js';

const isSamples = (m: ReceiverOut): m is Extract<ReceiverOut, { type: 'samples' }> => m.type === 'samples';
const isReady = (m: ReceiverOut): m is Extract<ReceiverOut, { type: 'ready' }> => m.type === 'ready';

/**
 * A port of the range reserved for pooler tests (6440-6449); the test suite uses 6441-6442.
 * DISTCACHE_BENCH_PGBOUNCER_PORT moves it, for a run beside someone else's pooler tests.
 */
const BENCH_PORT = Number(process.env.DISTCACHE_BENCH_PGBOUNCER_PORT ?? 6443);

/**
 * #1 behind PgBouncer (issue 16): propagation when every query goes through PgBouncer in
 * transaction mode and the listener has its own connection straight to PostgreSQL (the `notify`
 * option), against everything direct, in the same run. Writes alternate between a direct writer
 * and a pooled one; a direct receiver and a pooled receiver both see every row, and each path is
 * timed on its own receiver: direct writer to direct receiver, pooled writer to pooled receiver.
 */
export async function poolerPropagation(s: Settings): Promise<Figure> {
  const what =
    'propagation through PgBouncer (transaction mode, pool of 5) with a direct listener (notify option), wake-up on, syncInterval 1 s';
  let missing: string | false;
  try {
    missing = pgbouncerAvailability();
  } catch (err) {
    missing = (err as Error).message;
  }
  if (missing) return { id: 1, what, db: DB_LABEL.postgres, result: 'not run', note: missing };
  const samples = pick(s, 600, 100);
  s.log(`#1 propagation through PgBouncer vs direct, ${samples} samples each, interleaved`);
  const bouncer = await PgBouncer.start({ port: BENCH_PORT, mode: 'transaction', poolSize: 5 });
  const target = await freshTarget('postgres');
  const pooledTarget = { ...target, url: bouncer.url() };
  const directReceiver = new Child<ReceiverIn, ReceiverOut>('receiver', { target, notify: true });
  const pooledReceiver = new Child<ReceiverIn, ReceiverOut>('receiver', { target: pooledTarget, notify: true, notifyUrl: PG_URL });
  const directKnex = knexFor(target, 4);
  const pooledKnex = knexFor(pooledTarget, 4);
  const direct = benchCache(directKnex, target.prefix, 'writer-direct', { notify: true });
  const pooled = benchCache(pooledKnex, target.prefix, 'writer-pooled', { notify: PG_URL });
  try {
    await Promise.all([directReceiver.when(isReady), pooledReceiver.when(isReady)]);
    await direct.start();
    await pooled.start();
    const warmup = 30;
    const sent = new Map<number, { committed: number; pooled: boolean }>();
    for (let k = 0; k < 2 * (samples + warmup); k++) {
      const writer = k % 2 === 0 ? direct : pooled;
      await writer.refreshPayload('bench', { k });
      if (k >= 2 * warmup) sent.set(k, { committed: wallNow(), pooled: writer === pooled });
      // Both receivers hear every row: each change is spaced from the last beyond wakeThrottle.
      await pauseAfterChange();
    }
    await sleep(1500);
    directReceiver.send({ type: 'flush' });
    pooledReceiver.send({ type: 'flush' });
    const [fromDirect, fromPooled] = await Promise.all([directReceiver.when(isSamples), pooledReceiver.when(isSamples)]);
    const delays = (got: readonly Sample[], viaPooler: boolean) =>
      got.flatMap((x) => {
        const origin = sent.get(x.key);
        return x.kind === 'cache' && origin && origin.pooled === viaPooler ? [x.at - origin.committed] : [];
      });
    const directMs = delays(fromDirect.samples, false);
    const pooledMs = delays(fromPooled.samples, true);
    const p99Ratio = percentile(pooledMs, 99) / percentile(directMs, 99);
    return {
      id: 1,
      what,
      db: DB_LABEL.postgres,
      result: pctText(pooledMs),
      baseline: `direct (no pooler): ${pctText(directMs)}`,
      ratio: `p50 ${ratio(percentile(pooledMs, 50) / percentile(directMs, 50))}×, p99 ${ratio(p99Ratio)}×`,
      floor: 'p99 ≤ 2× direct',
      met: p99Ratio <= 2,
      note:
        `${pooledMs.length} of ${samples} pooled and ${directMs.length} of ${samples} direct writes arrived. From the commit to ` +
        `the refresher in another ` +
        ('process: NOTIFY on the listener session, then one poll through the pooler (unprepared: PgBouncer 1.18 keeps no ' +
          'prepared statements), then the apply.'),
    };
  } finally {
    directReceiver.send({ type: 'stop' });
    pooledReceiver.send({ type: 'stop' });
    await Promise.all([directReceiver.exited, pooledReceiver.exited]);
    await direct.stop();
    await pooled.stop();
    await directKnex.destroy();
    await pooledKnex.destroy();
    await dropTarget(target);
    await bouncer.stop();
  }
}
