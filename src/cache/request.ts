import type { RequestScope, RequestScopes } from '../regions/request-scope.js';
import type { PositionTokens } from './position-token.js';

/**
 * One request as the application and the middleware see it: its scope (request caches, and the
 * writes made inside it) and the position token of those writes.
 */
export class CacheRequest {
  constructor(
    private readonly scopes: RequestScopes,
    private readonly scope: RequestScope,
    private readonly tokens: PositionTokens,
  ) {}

  /**
   * The position token of every write made inside this request so far (batch(), transactions and
   * executors included); '' when it wrote nothing. Writes that committed one after the other are
   * covered by the newest one's token.
   */
  get position(): string {
    return this.tokens.make(this.scope.lastRowId);
  }

  /** Runs `fn` inside the request: everything it awaits or schedules sees the request's scope. */
  run<T>(fn: () => T): T {
    return this.scopes.run(this.scope, fn);
  }

  /** Ends the request: its request caches are emptied and keep nothing more. Safe to call twice. */
  close(): void {
    this.scopes.close(this.scope);
  }

  get closed(): boolean {
    return this.scope.closed;
  }
}
