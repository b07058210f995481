/**
 * What distcache has open in this process: caches between start() and the end of their stop(),
 * and queries it sent that have not finished. Nothing reads it in production; the test suite's
 * leak check does, to fail a test that leaves a cache running or a query behind. Two counters are
 * the module's only state, and importing it does nothing else.
 */
const open = new Set<object>();
let queries = 0;

export function trackOpen(cache: object): void {
  open.add(cache);
}

export function trackClosed(cache: object): void {
  open.delete(cache);
}

/** The caches started and not yet stopped, in start order. */
export function openCaches(): readonly object[] {
  return [...open];
}

/** Counts a query from when it is sent until it settles. */
export function trackQuery<T>(query: Promise<T>): Promise<T> {
  queries += 1;
  const done = () => {
    queries -= 1;
  };
  query.then(done, done);
  return query;
}

/** Queries distcache sent that have not finished yet. */
export function queriesInFlight(): number {
  return queries;
}
