import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The writes made through executors inside one `cache.transaction(work)` call: their local apply
 * and NOTIFY wait here until `work` resolves (the library's transaction committed) and are dropped
 * if it rejects (it rolled back). Libraries with no commit hook of their own (Prisma, Kysely,
 * postgres.js, a plain pg client) need this to apply a write locally at commit time.
 */
interface CommitScope {
  readonly owner: object;
  readonly pending: Array<() => Promise<void>>;
  readonly outer: CommitScope | undefined;
}

const scopeContext = new AsyncLocalStorage<CommitScope>();

/** The innermost open scope of `owner` in this async context, if any. */
export function commitScopeOf(owner: object): { pending: Array<() => Promise<void>> } | undefined {
  let scope = scopeContext.getStore();
  while (scope !== undefined && scope.owner !== owner) scope = scope.outer;
  return scope;
}

/**
 * Runs `work` in a new scope of `owner`. A scope inside another of the same owner hands its
 * writes to the outer one: only the outermost resolution stands for the commit. A write dropped
 * after a commit (the wrapper rejected for another reason) still reaches every server, this one
 * included, from the log: the poller applies rows this process never applied itself.
 */
export async function runInCommitScope<T>(owner: object, work: () => T | Promise<T>): Promise<T> {
  const outer = commitScopeOf(owner);
  const scope: CommitScope = { owner, pending: [], outer: scopeContext.getStore() };
  const result = await scopeContext.run(scope, async () => work());
  if (outer) outer.pending.push(...scope.pending);
  // Awaited, so a read right after `await cache.transaction(...)` sees this server's own writes.
  else await Promise.all(scope.pending.map((run) => run()));
  return result;
}
