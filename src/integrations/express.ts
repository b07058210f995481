import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeldBatch, logWriteFailure, type BatchingCache } from './held-batch.js';
import { enterRequestScope, resolveScopeOptions, type RequestScopeOptions, type ScopingCache } from './request-scope.js';

export type { PositionCookieOptions, RequestScopeOptions, ScopingCache } from './request-scope.js';

export interface BatchPerRequestOptions {
  /**
   * Write nothing for a request whose response has a 5xx status. Leave it off when a handler may
   * have changed data before failing: an extra refresh costs little, a missed one leaves caches stale.
   * @default false
   */
  discardOnServerError?: boolean;
  /** Called when the request's row could not be written. @default logs through the cache's logger */
  onError?: (error: Error, req: IncomingMessage) => void;
}

/** A connect-style middleware; Express, Connect and Polka accept it as is. */
export type BatchMiddleware = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/**
 * Express middleware: everything the request's handlers send through `cache` (refresh, remove,
 * payloads) is written as one row when the response ends. The row is written, and this server's
 * refreshers run, before the response goes out, so the client's next request to this server
 * already sees fresh data; a response that gathered nothing is not delayed. Calls made with
 * `{ trx }` still commit with their transaction.
 *
 * Mount it before the routes. A cache call made after the response has ended is not part of the
 * request's row: it is written on its own.
 *
 * @example
 * import { batchPerRequest } from 'distcache/express';
 * app.use(batchPerRequest(cache, { discardOnServerError: true }));
 * app.put('/products/:id', async (req, res) => {
 *   await db.updateProduct(req.params.id, req.body);
 *   await cache.refresh('product', Number(req.params.id)); // gathered, not yet written
 *   res.json({ ok: true });                                 // the row is written, then the response sent
 * });
 */
export function batchPerRequest(cache: BatchingCache, options: BatchPerRequestOptions = {}): BatchMiddleware {
  const discardOnServerError = options.discardOnServerError ?? false;
  return function distcacheBatchPerRequest(req, res, next) {
    const batch = new HeldBatch(cache, (error) =>
      (options.onError ?? logWriteFailure(cache, { method: req.method, url: req.url }))(error, req),
    );
    const shouldDiscard = () => discardOnServerError && res.statusCode >= 500;
    const end = res.end as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
    let ending = false;
    // Wrapped before the handlers run (they may end the response synchronously): the first end()
    // waits for the row; the original end() then runs with the same arguments.
    res.end = function endAfterBatch(this: ServerResponse, ...args: unknown[]) {
      if (ending) return this;
      ending = true;
      void batch.close(shouldDiscard()).then(() => {
        res.end = end as ServerResponse['end'];
        try {
          end.apply(res, args);
        } catch (err) {
          res.destroy(err as Error);
        }
      });
      return this;
    } as ServerResponse['end'];
    // A client that goes away before the end: the handlers may still have changed data.
    res.once('close', () => void batch.close(shouldDiscard()));
    batch.open(() => next());
  };
}

/**
 * Express middleware for read-your-writes across servers and the request cache. Each request runs
 * in its own scope: regions made with `perRequest` memoize their reads for it, and its writes are
 * recorded. A request carrying a position token (the `distcache-position` header, or the cookie)
 * waits, at most `waitTimeout`, until this server has applied the writes it names, then runs its
 * handlers; a response to a request that wrote carries the new token in the same header (and the
 * cookie). Mount it first, before `batchPerRequest` and the routes, so their writes are in its scope.
 *
 * @example
 * import { requestScope, batchPerRequest } from 'distcache/express';
 * app.use(requestScope(cache, { cookie: true }));
 * app.use(batchPerRequest(cache));
 */
export function requestScope(cache: ScopingCache, options: RequestScopeOptions = {}): BatchMiddleware {
  const o = resolveScopeOptions(options);
  return function distcacheRequestScope(req, res, next) {
    enterRequestScope(cache, req.headers, res, o, () => next());
  };
}
