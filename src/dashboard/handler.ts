import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAdminError } from '../admin/errors.js';
import { describeError } from '../errors.js';
import { runAction } from './actions.js';
import { CsrfTokens } from './csrf.js';
import { resolveDashboardOptions, type DashboardOptions, type ResolvedDashboardOptions } from './options.js';
import { failuresBody } from './pages/failures.js';
import { instructionsBody, rowDetail } from './pages/instructions.js';
import { layout, type PageContext } from './pages/layout.js';
import { overviewBody } from './pages/overview.js';
import { regionsBody } from './pages/regions.js';
import { sendHtml, sendJson } from './respond.js';
import { failuresJson, instructionsJson, overviewJson, regionsJson, rowJson } from './views.js';

/**
 * A request handler for node:http, Express (`app.use('/ops', handler)`) and Fastify (through
 * `handler.fastify`). `next` is called, when given, for a path the dashboard does not serve.
 */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** A Fastify plugin: `app.register(handler.fastify, { prefix: '/ops' })`. */
  readonly fastify: FastifyPlugin;
}

/** The shape of a Fastify plugin, typed structurally so Fastify is not imported. */
export type FastifyPlugin = (app: FastifyLike, options: { prefix?: string }) => Promise<void>;

interface FastifyLike {
  prefix: string;
  route(route: {
    method: string[];
    url: string;
    handler: (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => void;
  }): unknown;
}

type Route = (ctx: RouteContext) => Promise<void>;

interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  base: string;
  match: RegExpMatchArray;
}

/**
 * The dashboard: server-rendered pages over the Admin API, JSON behind them, and three actions
 * refused unless `authorize` allows them.
 *
 * @example
 * import { dashboard } from 'distcache/dashboard';
 * app.use('/ops/cache', requireLogin, dashboard({ knex, authorize: (req) => adminName(req) ?? false }));
 */
export function dashboard(options: DashboardOptions): DashboardHandler {
  const o = resolveDashboardOptions(options);
  const csrf = new CsrfTokens(o.csrfSecret);
  const routes = buildRoutes(o, csrf);
  const handle = (req: IncomingMessage, res: ServerResponse, base: string, next?: (err?: unknown) => void) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    for (const [method, pattern, route] of routes) {
      const match = path.match(pattern);
      if (!match) continue;
      if (req.method !== method && !(method === 'GET' && req.method === 'HEAD')) {
        return sendJson(res, 405, { error: 'E_METHOD', message: `${req.method} ${path}: use ${method}` }, { allow: method });
      }
      route({ req, res, url, base, match }).catch((err: unknown) => {
        if (res.headersSent) return res.destroy();
        const known = isAdminError(err);
        sendJson(res, known ? 400 : 500, { error: known ? err.code : 'E_FAILED', message: describeError(err) });
      });
      return;
    }
    if (next) return next();
    sendJson(res, 404, { error: 'E_NOT_FOUND', message: `no page ${path}` });
  };
  const handler = ((req, res, next) => {
    // Express strips the mount path from req.url and keeps it in baseUrl; bare node:http mounts at the root.
    const base = (req as IncomingMessage & { baseUrl?: string }).baseUrl ?? '';
    handle(req, res, base.replace(/\/+$/, ''), next);
  }) as DashboardHandler;
  const plugin: FastifyPlugin = async (app) => {
    const prefix = app.prefix.replace(/\/+$/, '');
    const serve = (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => {
      reply.hijack();
      const raw = request.raw;
      const original = raw.url ?? '/';
      raw.url = original.slice(prefix.length) || '/';
      handle(raw, reply.raw, prefix);
    };
    app.route({ method: ['GET', 'HEAD', 'POST'], url: '/', handler: serve });
    app.route({ method: ['GET', 'HEAD', 'POST'], url: '/*', handler: serve });
  };
  Object.defineProperty(handler, 'fastify', { value: plugin, enumerable: true });
  return handler;
}

function buildRoutes(o: ResolvedDashboardOptions, csrf: CsrfTokens): Array<[string, RegExp, Route]> {
  const page = (ctx: RouteContext): PageContext => ({
    base: ctx.base,
    nonce: randomBytes(16).toString('base64'),
    csrf: csrf.issue(),
    cluster: o.admin.cluster,
    dialect: o.admin.dialect,
    refreshInterval: o.refreshInterval,
  });
  const int = (value: string | null, fallback: number | null, max = Number.MAX_SAFE_INTEGER): number | null => {
    if (value === null || value === '') return fallback;
    const n = Number(value);
    return Number.isSafeInteger(n) && n >= 1 ? Math.min(n, max) : fallback;
  };
  const text = (value: string | null) => (value === null || value.trim() === '' ? undefined : value.trim().slice(0, 256));
  const filterOf = (url: URL) => ({
    refresher: text(url.searchParams.get('refresher')),
    origin: text(url.searchParams.get('origin')),
    limit: int(url.searchParams.get('limit'), 100, 500)!,
  });
  return [
    [
      'GET',
      /^\/$/,
      async (c) => {
        const p = page(c);
        sendHtml(c.res, 200, layout(p, 'overview', 'Overview', '/api/overview', overviewBody(await overviewJson(o.admin))), p.nonce);
      },
    ],
    [
      'GET',
      /^\/instructions$/,
      async (c) => {
        const p = page(c);
        const rowId = int(c.url.searchParams.get('row'), null);
        const [data, row] = await Promise.all([
          instructionsJson(o.admin, filterOf(c.url), o.showPayloads),
          rowId === null ? null : rowJson(o.admin, rowId, o.showPayloads),
        ]);
        const body = instructionsBody(data, c.base, row ? rowDetail(row) : null);
        sendHtml(c.res, 200, layout(p, 'instructions', 'Instructions', '/api/instructions', body), p.nonce);
      },
    ],
    [
      'GET',
      /^\/failures$/,
      async (c) => {
        const p = page(c);
        const body = failuresBody(await failuresJson(o.admin, 100), c.base, int(c.url.searchParams.get('id'), null));
        sendHtml(c.res, 200, layout(p, 'failures', 'Failures', '/api/failures', body), p.nonce);
      },
    ],
    [
      'GET',
      /^\/regions$/,
      async (c) => {
        const p = page(c);
        sendHtml(c.res, 200, layout(p, 'regions', 'Regions', '/api/regions', regionsBody(await regionsJson(o.admin))), p.nonce);
      },
    ],
    ['GET', /^\/api\/overview$/, async (c) => sendJson(c.res, 200, await overviewJson(o.admin))],
    ['GET', /^\/api\/instructions$/, async (c) => sendJson(c.res, 200, await instructionsJson(o.admin, filterOf(c.url), o.showPayloads))],
    ['GET', /^\/api\/rows\/(\d{1,15})$/, async (c) => sendJson(c.res, 200, await rowJson(o.admin, Number(c.match[1]), o.showPayloads))],
    [
      'GET',
      /^\/api\/failures$/,
      async (c) => sendJson(c.res, 200, await failuresJson(o.admin, int(c.url.searchParams.get('limit'), 100, 1000)!)),
    ],
    ['GET', /^\/api\/regions$/, async (c) => sendJson(c.res, 200, await regionsJson(o.admin))],
    ['POST', /^\/api\/servers\/([^/]+)\/resync$/, async (c) => runAction(c.req, c.res, o, csrf, 'resync', safeDecode(c.match[1]!))],
    ['POST', /^\/api\/resync-all$/, async (c) => runAction(c.req, c.res, o, csrf, 'resync-all', null)],
    ['POST', /^\/api\/prune$/, async (c) => runAction(c.req, c.res, o, csrf, 'prune', null)],
  ];
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
