import { html, type Html } from '../escape.js';
import type { OverviewJson } from '../views.js';
import { secs, when } from './format.js';

export function overviewBody(data: OverviewJson): Html {
  const rows = data.servers.map(
    (s) =>
      html`<tr data-identity="${s.identity}">
        <td>${s.identity}</td>
        <td>${s.role ?? (s.registered ? '' : 'unregistered')}</td>
        <td>${s.version}</td>
        <td>${s.lastHeartbeat ? `${when(s.lastHeartbeat)} (${secs(s.heartbeatAgeSeconds)} ago)` : ''}</td>
        <td class="num">${secs(s.lagSeconds)}</td>
        <td class="num">${s.pendingInstructions}</td>
        <td class="err">${s.lastError}</td>
        <td>${s.wakeUp ?? 'not published'}</td>
        <td>${s.regions.join(', ')}</td>
        <td><button data-action="resync" data-server="${s.identity}">resync</button></td>
      </tr>`,
  );
  const actions = data.actions.map(
    (a) =>
      html`<tr data-action-id="${String(a.id)}">
        <td>${a.at ? when(a.at) : ''}</td>
        <td>${a.action}</td>
        <td>${a.server ?? ''}</td>
        <td>${a.originated}</td>
      </tr>`,
  );
  return html`<p id="health" class="health ${data.health.healthy ? 'ok' : 'bad'}">${data.health.line}</p>
    <p class="muted">
      Publisher: ${data.publisher ?? 'none'} · failures recorded: <span id="failure-count">${data.failures.count}</span> · database clock
      ${when(data.now)} UTC
    </p>
    <table>
      <thead>
        <tr>
          <th>server</th>
          <th>role</th>
          <th>version</th>
          <th>last heartbeat</th>
          <th>lag</th>
          <th>pending</th>
          <th>last error</th>
          <th>wake-up</th>
          <th>regions</th>
          <th></th>
        </tr>
      </thead>
      <tbody id="servers">
        ${rows}
      </tbody>
    </table>
    <p class="muted">
      Wake-up: what each server published with its last heartbeat (on, connecting, off, disabled); off means changes arrive by polling only,
      see its <code>cache.health().warnings</code>.
    </p>
    <h2>Actions</h2>
    <p class="muted">
      Refused unless this dashboard's <code>authorize</code> allows them; each is recorded in the database with who ran it (<code
        >distcache actions</code
      >).
    </p>
    <p><button data-action="resync-all">resync every server</button> <button data-action="prune">prune now</button></p>
    <form id="token-form" class="filter">
      <label>operator token (distcache dashboard --allow-actions)<input id="token" type="password" autocomplete="off" /></label
      ><button type="submit">use</button>
    </form>
    <table>
      <thead>
        <tr>
          <th>time (UTC)</th>
          <th>action</th>
          <th>server</th>
          <th>by</th>
        </tr>
      </thead>
      <tbody id="actions">
        ${actions}
      </tbody>
    </table>`;
}
