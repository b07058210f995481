import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import { HeldBatch, logWriteFailure, type BatchingCache } from './held-batch.js';
import { enterRequestScope, resolveScopeOptions, type RequestScopeOptions, type ScopingCache } from './request-scope.js';

export type { PositionCookieOptions, RequestScopeOptions, ScopingCache } from './request-scope.js';

export interface FastifyBatchOptions {
  /** The cache whose calls each request gathers into one row. */
  cache: BatchingCache;
  /**
   * Write nothing for a request whose reply has a 5xx status. Leave it off when a handler may have
   * changed data before failing: an extra refresh costs little, a missed one leaves caches stale.
   * @default false
   */
  discardOnServerError?: boolean;
  /** Called when the request's row could not be written. @default logs through the cache's logger */
  onError?: (error: Error, request: FastifyRequest) => void;
}

/**
 * Fastify plugin: everything a request's handlers and hooks send through `cache` is written as
 * one row when the reply is sent. The row is written, and this server's refreshers run, in
 * `onSend`, before the payload goes out, so the client's next request to this server already sees
 * fresh data; a reply that gathered nothing is not delayed. Calls made with `{ trx }` still commit
 * with their transaction. It applies to every route of the instance it is registered on,
 * including routes of child plugins (it is not encapsulated).
 *
 * @example
 * import { batchPerRequest } from 'distcache/fastify';
 * await app.register(batchPerRequest, { cache, discardOnServerError: true });
 * app.put('/products/:id', async (request) => {
 *   await db.updateProduct(request.params.id, request.body);
 *   await cache.refresh('product', Number(request.params.id)); // written once the reply is sent
 *   return { ok: true };
 * });
 */
export const batchPerRequest: FastifyPluginCallback<FastifyBatchOptions> = (app, options, done) => {
  const { cache } = options;
  if (!cache || typeof cache.batch !== 'function') {
    done(new TypeError('distcache batchPerRequest: pass the cache, as in app.register(batchPerRequest, { cache })'));
    return;
  }
  const discardOnServerError = options.discardOnServerError ?? false;
  const batches = new WeakMap<FastifyRequest, HeldBatch>();

  app.addHook('onRequest', (request, reply, next) => {
    const onError = options.onError ?? logWriteFailure(cache, { method: request.method, url: request.url, reqId: request.id });
    const batch = new HeldBatch(cache, (error) => onError(error, request));
    batches.set(request, batch);
    // A reply that never reaches onSend (hijacked, or the client went away) still ends its batch.
    reply.raw.once('close', () => void batch.close(discardOnServerError && reply.statusCode >= 500));
    batch.open(() => next());
  });

  // No hook re-enters the context after body parsing: Fastify 5 runs the parser's callback in the
  // request's async context itself (the test with a chunked body guards this).

  app.addHook('onSend', async (request, reply, payload) => {
    await batches.get(request)?.close(discardOnServerError && reply.statusCode >= 500);
    return payload;
  });

  done();
};

// What the fastify-plugin package sets: the hooks apply to the registering instance, not a child context.
Object.assign(batchPerRequest, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'distcache-batch-per-request',
  [Symbol.for('plugin-meta')]: { name: 'distcache-batch-per-request', fastify: '5.x' },
});

export interface FastifyRequestScopeOptions extends RequestScopeOptions {
  /** The cache whose request scope each request runs in. */
  cache: ScopingCache;
}

/**
 * Fastify plugin for read-your-writes across servers and the request cache (see the express
 * `requestScope`): each request runs in its own scope from `onRequest` on; a request carrying a
 * position token waits (at most `waitTimeout`) before its other hooks and handler run; a reply to a
 * request that wrote carries the new token. Register it before `batchPerRequest`. Not encapsulated.
 *
 * @example
 * import { requestScope, batchPerRequest } from 'distcache/fastify';
 * await app.register(requestScope, { cache, cookie: true });
 * await app.register(batchPerRequest, { cache });
 */
export const requestScope: FastifyPluginCallback<FastifyRequestScopeOptions> = (app, options, done) => {
  const { cache } = options;
  if (!cache || typeof cache.openRequest !== 'function' || typeof cache.waitFor !== 'function') {
    done(new TypeError('distcache requestScope: pass the cache, as in app.register(requestScope, { cache })'));
    return;
  }
  let o: ReturnType<typeof resolveScopeOptions>;
  try {
    o = resolveScopeOptions(options);
  } catch (err) {
    done(err as Error);
    return;
  }
  app.addHook('onRequest', (request, reply, next) => {
    enterRequestScope(cache, request.headers, reply.raw, o, () => next());
  });
  done();
};

Object.assign(requestScope, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: 'distcache-request-scope',
  [Symbol.for('plugin-meta')]: { name: 'distcache-request-scope', fastify: '5.x' },
});
