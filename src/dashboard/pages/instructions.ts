import type { RowView } from '../../admin/rows.js';
import { activityChart } from '../chart.js';
import { html, q, type Html } from '../escape.js';
import type { InstructionsJson } from '../views.js';
import { when } from './format.js';

export function instructionsBody(data: InstructionsJson, base: string, detail: Html | null): Html {
  const a = data.activity;
  const partial = a.countedFrom
    ? html`<p class="muted">More than ${a.rowLimit} rows in the hour: minutes before ${when(a.countedFrom)} are not complete.</p>`
    : html``;
  const rows = data.rows.map(
    (r) =>
      html`<tr>
        <td class="num"><a href="${base}/instructions?row=${q(r.id)}">${r.id}</a></td>
        <td>${when(r.at)}</td>
        <td>${r.originated}</td>
        <td class="num">${r.instructionCount}</td>
        <td>${summary(r)}</td>
      </tr>`,
  );
  return html`<h2>Instructions per minute, last hour</h2>
    ${activityChart(a)} ${partial} ${detail ?? html``}
    <h2>Tail</h2>
    <form class="filter" method="get" action="${base}/instructions">
      <label>refresher<input name="refresher" value="${data.filter.refresher ?? ''}" /></label>
      <label>origin contains<input name="origin" value="${data.filter.origin ?? ''}" /></label>
      <button type="submit">filter</button>
    </form>
    <p class="muted">
      Newest first, among the newest ${data.filter.window} rows.${data.payloadsHidden ? ' Payload contents are hidden (showPayloads).' : ''}
    </p>
    <table>
      <thead>
        <tr>
          <th>row</th>
          <th>at (UTC)</th>
          <th>originated</th>
          <th>instructions</th>
          <th>what</th>
        </tr>
      </thead>
      <tbody id="rows">
        ${rows}
      </tbody>
    </table>`;
}

function summary(row: RowView): string {
  if (!row.instructions) return `malformed: ${row.malformed ?? ''}`;
  return row.instructions
    .map((i) => {
      if (i.kind === 'refresh-all') return `${i.refresher} refresh-all`;
      if (i.ids) return `${i.refresher} ${i.kind} ${i.ids.map((id) => JSON.stringify(id)).join(', ')}${i.truncated ? ` (${i.count})` : ''}`;
      return `${i.refresher} payload ×${i.count}${i.payloads ? `: ${JSON.stringify(i.payloads)}` : ''}`;
    })
    .join('; ');
}

/** One row's detail, as `distcache show` gives it; its JSON only with showPayloads. */
export function rowDetail(row: RowView & { json: string | null }): Html {
  const decoded = JSON.stringify(row.instructions, null, 2);
  return html`<h2>Row ${row.id}</h2>
    <p>
      ${when(row.at)} UTC · originated
      <strong>${row.originated}</strong
      >${row.originInstance ? ` · instance ${row.originInstance}` : ''}${row.malformed ? ` · malformed: ${row.malformed}` : ''}
    </p>
    <pre id="row-detail">${decoded}</pre>
    ${row.json === null ? html`<p class="muted">Stored JSON and payloads hidden (showPayloads).</p>` : html`<pre>${row.json}</pre>`}`;
}
