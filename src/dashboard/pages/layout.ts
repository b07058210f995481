import { html, Html } from '../escape.js';
import { CLIENT_SCRIPT } from './client-script.js';
import { STYLE } from './style.js';

/** Our own constants, never data: inserted as they are. */
const TRUSTED_STYLE = new Html(STYLE);
const TRUSTED_SCRIPT = new Html(CLIENT_SCRIPT);

export type PageName = 'overview' | 'instructions' | 'failures' | 'regions';

export interface PageContext {
  /** Where the dashboard is mounted, without a trailing slash ('' at the root). */
  base: string;
  /** Per response: allows this page's own <style> and <script> and nothing else (see the CSP header). */
  nonce: string;
  csrf: string;
  cluster: string;
  dialect: string;
  refreshInterval: number;
}

const NAV: Array<[PageName, string, string]> = [
  ['overview', 'Overview', '/'],
  ['instructions', 'Instructions', '/instructions'],
  ['failures', 'Failures', '/failures'],
  ['regions', 'Regions', '/regions'],
];

/** The page around each view. `api`: the JSON the script refreshes this page from. */
export function layout(ctx: PageContext, page: PageName, title: string, api: string, body: Html): string {
  const nav = NAV.map(
    ([name, label, path]) => html`<a href="${ctx.base}${path}" ${name === page ? html` aria-current="page"` : html``}>${label}</a>`,
  );
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <meta name="distcache-csrf" content="${ctx.csrf}" />
        <title>${title} · distcache ${ctx.cluster}</title>
        <style nonce="${ctx.nonce}">
          ${TRUSTED_STYLE}
        </style>
      </head>
      <body data-page="${page}" data-base="${ctx.base}" data-api="${ctx.base}${api}" data-refresh="${ctx.refreshInterval}">
        <header>
          <strong>distcache</strong> <span class="muted">cluster ${ctx.cluster} · ${ctx.dialect}</span>
          <nav>${nav}</nav>
        </header>
        <main>
          <h1>${title}</h1>
          ${body}
        </main>
        <p id="action-result" role="status" class="muted"></p>
        <script nonce="${ctx.nonce}">
          ${TRUSTED_SCRIPT};
        </script>
      </body>
    </html> `.text;
}
