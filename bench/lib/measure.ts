/** Runs `op` back to back for `seconds` on `concurrency` loops; returns how many ops finished, and each op's latency. */
export async function runFor(
  seconds: number,
  concurrency: number,
  op: (loop: number) => Promise<unknown>,
): Promise<{ ops: number; elapsedS: number; latencies: number[] }> {
  const end = performance.now() + seconds * 1000;
  const latencies: number[] = [];
  let ops = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (performance.now() < end) {
        const t = performance.now();
        await op(loop);
        latencies.push(performance.now() - t);
        ops += 1;
        await yieldToEventLoop();
      }
    }),
  );
  return { ops, elapsedS: (performance.now() - started) / 1000, latencies };
}

/**
 * Measures several variants in alternating rounds (A B A B ..., the order flipped every round),
 * so that drift in the machine's load hits every variant alike. Returns each variant's rates.
 */
export async function alternate<K extends string>(
  rounds: number,
  variants: Record<K, () => Promise<number>>,
): Promise<Record<K, number[]>> {
  const names = Object.keys(variants) as K[];
  const rates = Object.fromEntries(names.map((n) => [n, [] as number[]])) as unknown as Record<K, number[]>;
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? names : [...names].reverse();
    for (const name of order) rates[name].push(await variants[name]());
  }
  return rates;
}

/**
 * Runs the variants one operation each in turn (A B B A A B ...) for `seconds`, timing every
 * operation, so both see the same machine at the same moments. Returns operations per second
 * of busy time for each variant.
 */
export async function interleave<K extends string>(
  seconds: number,
  variants: Record<K, () => Promise<unknown>>,
): Promise<Record<K, number>> {
  const names = Object.keys(variants) as K[];
  const busy = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  const ops = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  const end = performance.now() + seconds * 1000;
  for (let i = 0; performance.now() < end; i++) {
    const order = i % 2 === 0 ? names : [...names].reverse();
    for (const name of order) {
      const t = performance.now();
      await variants[name]();
      busy[name] += performance.now() - t;
      ops[name] += 1;
      await yieldToEventLoop();
    }
  }
  return Object.fromEntries(names.map((n) => [n, (ops[n] / busy[n]) * 1000])) as Record<K, number>;
}

/** Runs `op` on `concurrency` loops until `done` settles; returns each op's latency. */
export async function runUntil(done: Promise<unknown>, concurrency: number, op: (loop: number) => Promise<unknown>): Promise<number[]> {
  let finished = false;
  void done.finally(() => (finished = true)).catch(() => undefined);
  const latencies: number[] = [];
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      while (!finished) {
        const t = performance.now();
        await op(loop);
        latencies.push(performance.now() - t);
        await yieldToEventLoop();
      }
    }),
  );
  return latencies;
}

/**
 * Lets timers and I/O run between operations, as an application's requests would. Without it a
 * loop of better-sqlite3 writes (synchronous underneath, so every await resolves as a microtask)
 * starves the event loop: no timer, poll or prune chunk would ever run.
 */
export function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
