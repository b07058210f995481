import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { DistributedCache } from '../cache.js';
import type { CacheRequest } from '../cache/request.js';
import { MAX_POSITION_TOKEN_LENGTH } from '../cache/position-token.js';
import { DEFAULT_WAIT_TIMEOUT } from '../cache/positions.js';
import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';

/** What the request-scope middleware needs of a cache. */
export type ScopingCache = Pick<DistributedCache, 'waitFor' | 'openRequest'>;

export interface PositionCookieOptions {
  /** @default 'distcache-position' */
  name?: string;
  /** How long the browser keeps it; a token matters only until every server applied it. @default '1m' */
  maxAge?: Duration;
  /** @default '/' */
  path?: string;
  /** Send it over HTTPS only. @default false */
  secure?: boolean;
  /** @default 'Lax' */
  sameSite?: 'Strict' | 'Lax' | 'None';
}

export interface RequestScopeOptions {
  /**
   * The header a client sends its last position token in, and that a response to a request that
   * wrote carries the new one in; false: no header. @default 'distcache-position'
   */
  header?: string | false;
  /** Carry the token in a cookie too (HttpOnly), for browsers: true, a name, or the cookie's settings. @default false */
  cookie?: boolean | string | PositionCookieOptions;
  /**
   * How long a request carrying a token waits, before its handlers run, for this server to apply
   * the writes it names. After it the handlers run anyway (possibly on older data). @default '1s'
   */
  waitTimeout?: Duration;
  /** Told of each wait: `applied` false when it timed out. For metrics; must not throw. */
  onWait?: (outcome: { applied: boolean; waitedMs: number }) => void;
}

interface ResolvedScopeOptions {
  header: string | undefined;
  cookie: { name: string; attributes: string } | undefined;
  waitTimeout: number;
  onWait: RequestScopeOptions['onWait'];
}

export const POSITION_HEADER = 'distcache-position';
const NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,64}$/;

function invalid(option: string, message: string): never {
  throw new errors.InvalidOptionError(`requestScope ${option}: ${message}`);
}

/** Checks the options once, when the middleware is made. */
export function resolveScopeOptions(options: RequestScopeOptions = {}): ResolvedScopeOptions {
  const header = options.header === false ? undefined : (options.header ?? POSITION_HEADER);
  if (header !== undefined && !NAME.test(header)) invalid('header', `${JSON.stringify(header)} is not a header name`);
  const waitTimeout = options.waitTimeout === undefined ? DEFAULT_WAIT_TIMEOUT : parseDuration(options.waitTimeout);
  if (waitTimeout === undefined) invalid('waitTimeout', `${JSON.stringify(options.waitTimeout)} is not a duration such as '500ms'`);
  if (options.onWait !== undefined && typeof options.onWait !== 'function') invalid('onWait', 'must be a function');
  return { header: header?.toLowerCase(), cookie: resolveCookie(options.cookie), waitTimeout, onWait: options.onWait };
}

function resolveCookie(cookie: RequestScopeOptions['cookie']): ResolvedScopeOptions['cookie'] {
  if (cookie === undefined || cookie === false) return undefined;
  const o: PositionCookieOptions = cookie === true ? {} : typeof cookie === 'string' ? { name: cookie } : cookie;
  const name = o.name ?? POSITION_HEADER;
  if (!NAME.test(name)) invalid('cookie.name', `${JSON.stringify(name)} is not a cookie name`);
  const maxAge = parseDuration(o.maxAge ?? '1m');
  if (maxAge === undefined) invalid('cookie.maxAge', `${JSON.stringify(o.maxAge)} is not a duration such as '1m'`);
  const path = o.path ?? '/';
  if (!/^\/[\x21-\x3a\x3c-\x7e]*$/.test(path)) invalid('cookie.path', `${JSON.stringify(path)} must start with / and hold no ; or spaces`);
  const sameSite = o.sameSite ?? 'Lax';
  if (!['Strict', 'Lax', 'None'].includes(sameSite)) invalid('cookie.sameSite', "must be 'Strict', 'Lax' or 'None'");
  const attributes = `; Max-Age=${Math.ceil(maxAge / 1000)}; Path=${path}; HttpOnly; SameSite=${sameSite}${o.secure ? '; Secure' : ''}`;
  return { name, attributes };
}

/**
 * The token a request carries: the header first, then the cookie. Anything longer than a token
 * can be is ignored unread (a client's header is not trusted to be small).
 */
export function incomingPosition(headers: IncomingHttpHeaders, o: ResolvedScopeOptions): string | undefined {
  if (o.header !== undefined) {
    const raw = headers[o.header];
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (value) return value.length <= MAX_POSITION_TOKEN_LENGTH ? value : undefined;
  }
  if (o.cookie !== undefined && typeof headers.cookie === 'string') {
    for (const part of headers.cookie.split(';', 64)) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === o.cookie.name) {
        const value = part.slice(eq + 1).trim();
        return value && value.length <= MAX_POSITION_TOKEN_LENGTH ? value : undefined;
      }
    }
  }
  return undefined;
}

/**
 * Waits until this server applied the writes `token` names, at most waitTimeout. Never rejects: a
 * token that is not one of this cluster's (E_INVALID_POSITION) is a client's mistake, and the
 * request goes on as if it carried none.
 */
export async function waitForPosition(cache: ScopingCache, token: string, o: ResolvedScopeOptions): Promise<void> {
  const started = performance.now();
  let applied: boolean;
  try {
    applied = await cache.waitFor(token, { timeout: o.waitTimeout });
  } catch {
    return;
  }
  o.onWait?.({ applied, waitedMs: performance.now() - started });
}

/**
 * Adds the request's position token to the response, if it wrote, as the headers go out (its
 * writes, a batchPerRequest row included, are all made by then). Wraps writeHead, which every
 * response goes through (res.end() and Fastify's reply included); headers set there merge with
 * those passed to writeHead.
 */
export function addPositionOnHeaders(res: ServerResponse, request: CacheRequest, o: ResolvedScopeOptions): void {
  if (o.header === undefined && o.cookie === undefined) return;
  const writeHead = res.writeHead as (this: ServerResponse, ...args: unknown[]) => ServerResponse;
  res.writeHead = function writeHeadWithPosition(this: ServerResponse, ...args: unknown[]) {
    res.writeHead = writeHead as ServerResponse['writeHead'];
    const position = request.position;
    if (position !== '' && !res.headersSent) {
      if (o.header !== undefined) res.setHeader(o.header, position);
      if (o.cookie !== undefined) {
        const previous = res.getHeader('set-cookie');
        const list = previous === undefined ? [] : Array.isArray(previous) ? previous : [String(previous)];
        res.setHeader('set-cookie', [...list, `${o.cookie.name}=${position}${o.cookie.attributes}`]);
      }
    }
    return writeHead.apply(this, args);
  } as ServerResponse['writeHead'];
}

/**
 * One request's scope, from its first middleware to the end of its response: opened, ended when the
 * response finishes or the connection closes, then `enter` runs inside it once any wait is over.
 */
export function enterRequestScope(
  cache: ScopingCache,
  headers: IncomingHttpHeaders,
  res: ServerResponse,
  o: ResolvedScopeOptions,
  enter: () => void,
): void {
  const request = cache.openRequest();
  const close = () => request.close();
  res.once('finish', close);
  res.once('close', close);
  addPositionOnHeaders(res, request, o);
  const token = incomingPosition(headers, o);
  if (token === undefined) request.run(enter);
  else void waitForPosition(cache, token, o).then(() => request.run(enter));
}
