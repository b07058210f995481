import { html, type Html } from '../escape.js';
import type { RegionsJson } from '../views.js';
import { when } from './format.js';

export function regionsBody(data: RegionsJson): Html {
  if (data.servers.length === 0)
    return html`<p class="muted">No server has published cache regions yet (regions are published with each heartbeat).</p>`;
  return html`${data.servers.map(
    (s) =>
      html`<h2>${s.identity}${s.active ? '' : ' (inactive)'}</h2>
        <p class="muted">figures as of its heartbeat at ${when(s.lastHeartbeat)} UTC</p>
        <table>
          <thead>
            <tr>
              <th>region</th>
              <th>size</th>
              <th>hits</th>
              <th>misses</th>
              <th>hit ratio</th>
              <th>loads</th>
              <th>load errors</th>
            </tr>
          </thead>
          <tbody>
            ${s.regions.map(
              (r) =>
                html`<tr>
                  <td>${r.region}</td>
                  <td class="num">${r.size}</td>
                  <td class="num">${r.hits}</td>
                  <td class="num">${r.misses}</td>
                  <td class="num">${r.hitRatio === null ? '' : `${(r.hitRatio * 100).toFixed(1)} %`}</td>
                  <td class="num">${r.loads}</td>
                  <td class="num">${r.loadErrors}</td>
                </tr>`,
            )}
          </tbody>
        </table>`,
  )}`;
}
