import type { IncomingMessage, ServerResponse } from 'node:http';
import { hostname } from 'node:os';
import { isAdminError } from '../admin/errors.js';
import { describeError } from '../errors.js';
import type { CsrfTokens } from './csrf.js';
import type { DashboardAction, ResolvedDashboardOptions, ActionRecord } from './options.js';
import { sendJson } from './respond.js';

export const CSRF_HEADER = 'x-distcache-csrf';

/**
 * Runs one action, in this order: authorization (403 unless `authorize` says yes: the default
 * says no to everything), the page's CSRF token (403), a same-origin check where the browser sent
 * an Origin (403), then the Admin call, which records it in the database with who ran it
 * (`Admin.actions()`, migration 010). Each action that ran is passed to `onAction` too.
 */
export async function runAction(
  req: IncomingMessage,
  res: ServerResponse,
  options: ResolvedDashboardOptions,
  csrf: CsrfTokens,
  action: DashboardAction,
  server: string | null,
): Promise<void> {
  let verdict: boolean | string;
  try {
    verdict = await options.authorize(req, action);
  } catch (err) {
    return sendJson(res, 403, { error: 'E_FORBIDDEN', message: `authorize threw: ${describeError(err)}` });
  }
  if (verdict !== true && (typeof verdict !== 'string' || verdict === '')) {
    const status = req.headers.authorization ? 403 : 401;
    return sendJson(res, status, {
      error: 'E_FORBIDDEN',
      message: `action '${action}' refused: this dashboard's authorize() did not allow it (every action is refused unless it returns true)`,
    });
  }
  if (!csrf.verify(req.headers[CSRF_HEADER])) {
    return sendJson(res, 403, { error: 'E_CSRF', message: `action '${action}' refused: no valid CSRF token (reload the page)` });
  }
  if (!sameOrigin(req)) {
    return sendJson(res, 403, { error: 'E_CSRF', message: `action '${action}' refused: the request came from another origin` });
  }
  const who = typeof verdict === 'string' ? verdict : `anonymous(${req.socket.remoteAddress ?? 'unknown'})`;
  const originated = `dashboard:${who}@${hostname()}`.slice(0, 255);
  try {
    const result =
      action === 'resync'
        ? await options.admin.resync(server!, { originated })
        : action === 'resync-all'
          ? await options.admin.resyncAll({ originated })
          : await options.admin.prune({}, undefined, { originated });
    const record: ActionRecord = { at: new Date().toISOString(), action, server, originated, result };
    options.onAction?.(record);
    sendJson(res, 200, { ...record, message: `${action}${server ? ` ${server}` : ''} done, recorded as ${originated}` });
  } catch (err) {
    const known = isAdminError(err);
    sendJson(res, known ? 400 : 500, { error: known ? err.code : 'E_FAILED', message: describeError(err) });
  }
}

/** A browser always sends Origin on a POST; when it does, it must name the host this request was sent to. */
function sameOrigin(req: IncomingMessage): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false;
  }
}
