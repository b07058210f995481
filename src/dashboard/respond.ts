import type { ServerResponse } from 'node:http';

/**
 * Headers on every response. The CSP allows only this response's own inline <style> and <script>
 * (by nonce) and fetches to the same origin: a value that slipped through escaping still could
 * not run, load anything, or post a form elsewhere. No framing (clickjacking on the action buttons).
 */
function securityHeaders(res: ServerResponse, nonce: string | null): void {
  const scripts = nonce ? `'nonce-${nonce}'` : "'none'";
  res.setHeader(
    'content-security-policy',
    `default-src 'none'; script-src ${scripts}; style-src ${scripts}; img-src 'self' data:; connect-src 'self'; ` +
      `form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
  );
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('referrer-policy', 'no-referrer');
  res.setHeader('cache-control', 'no-store');
}

export function sendHtml(res: ServerResponse, status: number, body: string, nonce: string): void {
  securityHeaders(res, nonce);
  res.statusCode = status;
  res.setHeader('content-type', 'text/html; charset=utf-8');
  res.end(body);
}

/** JSON with '<' escaped, so a response opened as a page can never hold a tag. */
export function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  securityHeaders(res, null);
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  for (const [k, v] of Object.entries(extra)) res.setHeader(k, v);
  res.end(
    JSON.stringify(value)
      .replace(/</g, '\\u003c')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029'),
  );
}
