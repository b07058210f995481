import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** How long a page's token stays valid: a tab left open overnight reloads before acting. */
const TOKEN_LIFETIME_MS = 12 * 3600_000;

/**
 * CSRF tokens bound to a page: each page render gets a fresh one (time, nonce and an HMAC under a
 * key held by this dashboard only), which the page's script sends in a header. Another site can
 * neither read the token (no CORS) nor send a custom header cross-origin without a preflight, and
 * a token from another dashboard instance, or a forged one, fails the HMAC. Stateless, so any
 * number of open pages and a restart-free deployment behind several processes sharing `secret` work.
 */
export class CsrfTokens {
  private readonly key: Buffer;

  constructor(secret?: string) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  issue(now = Date.now()): string {
    const body = `${now.toString(36)}.${randomBytes(12).toString('base64url')}`;
    return `${body}.${this.sign(body)}`;
  }

  /** Whether `token` was issued by this dashboard, and not too long ago. */
  verify(token: unknown, now = Date.now()): boolean {
    if (typeof token !== 'string' || token.length > 200) return false;
    const parts = token.split('.');
    if (parts.length !== 3) return false;
    const [issued, nonce, mac] = parts as [string, string, string];
    const expected = Buffer.from(this.sign(`${issued}.${nonce}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return false;
    const at = parseInt(issued, 36);
    return Number.isFinite(at) && at <= now + 60_000 && now - at < TOKEN_LIFETIME_MS;
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }
}
