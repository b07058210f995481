/**
 * Every value shown comes from the database, where less-than-trusted users write (row labels,
 * refresher ids, error texts, server identities): it is always escaped for the context it lands
 * in. HTML text and quoted attribute values share one escape, which covers both.
 */
const HTML: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** A value as HTML text or inside a double-quoted attribute. */
export function h(value: unknown): string {
  if (value === null || value === undefined) return '';
  return String(value).replace(/[&<>"'`]/g, (c) => HTML[c]!);
}

/**
 * A value for a URL query parameter inside an attribute (links to a row or a filter): percent-
 * encoded, then HTML-escaped. Never a scheme: every link the dashboard makes starts with its own base.
 */
export function q(value: unknown): string {
  return h(encodeURIComponent(String(value ?? '')));
}

/** Raw HTML a page builder made itself, marked so it is not escaped twice. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A template tag that escapes every interpolated value except Html made by the dashboard itself. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((value, i) => {
    out += render(value) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(value: unknown): string {
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return h(value);
}
