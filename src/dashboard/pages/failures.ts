import type { FailureView } from '../../admin/failures.js';
import { html, q, type Html } from '../escape.js';
import type { FailuresJson } from '../views.js';
import { when } from './format.js';

export function failuresBody(data: FailuresJson, base: string, selected: number | null): Html {
  const chosen = selected === null ? undefined : data.failures.find((f) => f.id === selected);
  const rows = data.failures.map(
    (f) =>
      html`<tr data-failure="${f.id}">
        <td class="num"><a href="${base}/failures?id=${q(f.id)}">${f.id}</a></td>
        <td>${when(f.at)}</td>
        <td>${f.server}</td>
        <td>${f.refresher}</td>
        <td>${f.kind}</td>
        <td>${f.action}</td>
        <td>${f.rowId === null ? '' : html`<a href="${base}/instructions?row=${q(f.rowId)}">${f.rowId}</a>`}</td>
        <td class="err">${f.error}</td>
      </tr>`,
  );
  return html`<p class="muted">
      <span id="failure-count">${data.total}</span> failures recorded in the cluster; the newest ${data.failures.length} below.
    </p>
    ${chosen ? detail(chosen) : html``}
    <table>
      <thead>
        <tr>
          <th>id</th>
          <th>at (UTC)</th>
          <th>server</th>
          <th>refresher</th>
          <th>kind</th>
          <th>action</th>
          <th>row</th>
          <th>error</th>
        </tr>
      </thead>
      <tbody id="failures">
        ${rows}
      </tbody>
    </table>`;
}

function detail(f: FailureView): Html {
  return html`<h2>Failure ${f.id}</h2>
    <p>${when(f.at)} UTC · server ${f.server} · ${f.action}</p>
    <pre id="failure-detail">${f.error}${f.detail ? `\n\n${f.detail}` : ''}</pre>`;
}
