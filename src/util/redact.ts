/**
 * Masking secrets in text, in linear time. A connection URL is read the way its driver reads it
 * (pg-connection-string and mysql2 hand it to WHATWG `new URL`): the authority runs to the first
 * `/`, `?` or `#`, and the user info to its LAST `@`, so a password may hold `@` and spaces. The
 * old regexes stopped at the first `@` or at whitespace and printed the rest of such a password,
 * and took 2 s on a 40,000-character run of letters (each start position rescanned the run).
 */

/**
 * The URL whose `scheme://` ends at `afterScheme`: where its authority ends, and where its password
 * lies (null: none). Every scan stays inside the authority, so a text is read a bounded number of times.
 */
function passwordSpan(
  text: string,
  afterScheme: number,
  stopAtSpace: boolean,
): { end: number; password: { from: number; to: number } | null } {
  let end = afterScheme;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    // '/', '?', '#' end the authority; in free text a line break (and, where asked, a space) ends the URL too.
    if (c === 47 || c === 63 || c === 35 || c === 10 || c === 13 || (stopAtSpace && (c === 32 || c === 9))) break;
    end++;
  }
  // By hand: lastIndexOf would scan on past afterScheme, to the start of the text.
  let at = end - 1;
  while (at >= afterScheme && text.charCodeAt(at) !== 64) at--;
  if (at < afterScheme) return { end, password: null };
  let colon = afterScheme;
  while (colon < at && text.charCodeAt(colon) !== 58) colon++;
  return { end, password: colon < at ? { from: colon + 1, to: at } : null };
}

const QUERY_PASSWORD = /([?&](?:password|pass|pwd)=)[^&\s#]*/gi;

/** A connection URL with its password masked, in raw and in query form (`?password=`). */
export function maskUrl(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  let out = url;
  if (scheme) {
    const span = passwordSpan(url, scheme[0].length, false).password;
    if (span) out = `${url.slice(0, span.from)}***${url.slice(span.to)}`;
  }
  return out.replace(QUERY_PASSWORD, '$1***');
}

/** The password of a connection URL as written and percent-decoded (both forms can reach output), and any `?password=`. */
export function urlPasswords(url: string): string[] {
  const found: string[] = [];
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (scheme) {
    const span = passwordSpan(url, scheme[0].length, false).password;
    if (span && span.to > span.from) found.push(url.slice(span.from, span.to));
  }
  for (const m of url.matchAll(/[?&](?:password|pass|pwd)=([^&\s#]*)/gi)) if (m[1]) found.push(m[1]);
  for (const raw of [...found]) {
    try {
      found.push(decodeURIComponent(raw));
    } catch {
      // not percent-encoded
    }
  }
  return [...new Set(found)];
}

/** Masks the password of every URL-looking connection string in free text (a URL there ends at whitespace). */
export function redact(text: string): string {
  let out = '';
  let done = 0;
  let search = 0;
  for (;;) {
    const mark = text.indexOf('://', search);
    if (mark < 0) break;
    const { end, password } = passwordSpan(text, mark + 3, true);
    if (password) {
      out += `${text.slice(done, password.from)}***`;
      done = password.to;
    }
    // A '://' inside this URL's authority starts no URL of its own: the next search starts past it.
    search = Math.max(mark + 3, end);
  }
  return (out + text.slice(done)).replace(QUERY_PASSWORD, '$1***');
}

/**
 * Control characters (ESC, BEL, CR, line breaks, DEL, C1) as visible escapes, so text written by
 * anyone who can write a row (refresher names, origins) cannot move a terminal's cursor, recolour
 * it, or forge a log line.
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const code = c.charCodeAt(0);
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}
