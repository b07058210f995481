import type { ActivityView } from '../admin/activity.js';
import { html, type Html } from './escape.js';

const WIDTH = 720;
const HEIGHT = 140;
const TOP = 12;
const BOTTOM = 20;

/**
 * Instructions per minute as an inline SVG bar chart: no image request, no script needed to see
 * it. Each bar carries its figures in a <title> (the tooltip) and in data attributes the page's
 * script updates in place when it refreshes.
 */
export function activityChart(view: ActivityView): Html {
  const max = Math.max(1, ...view.buckets.map((b) => b.instructions));
  const slot = WIDTH / view.buckets.length;
  const plot = HEIGHT - TOP - BOTTOM;
  const bars = view.buckets.map((b, i) => {
    const height = Math.round((b.instructions / max) * plot);
    const label = `${b.start.slice(11, 16)} UTC: ${b.instructions} instructions in ${b.rows} rows`;
    return html`<rect
      class="bar"
      data-i="${i}"
      x="${(i * slot + 1).toFixed(1)}"
      y="${TOP + plot - height}"
      width="${(slot - 2).toFixed(1)}"
      height="${height}"
      ><title>${label}</title></rect
    >`;
  });
  const first = view.buckets[0]?.start.slice(11, 16) ?? '';
  const last = view.buckets[view.buckets.length - 1]?.start.slice(11, 16) ?? '';
  return html`<svg
    id="activity"
    class="chart"
    role="img"
    aria-label="instructions per minute, last hour"
    viewBox="0 0 ${WIDTH} ${HEIGHT}"
    width="${WIDTH}"
    height="${HEIGHT}"
    data-top="${TOP}"
    data-plot="${plot}"
  >
    <line class="axis" x1="0" y1="${TOP + plot + 0.5}" x2="${WIDTH}" y2="${TOP + plot + 0.5}"></line>
    ${bars}
    <text class="tick" x="0" y="${HEIGHT - 4}">${first}</text>
    <text class="tick" x="${WIDTH}" y="${HEIGHT - 4}" text-anchor="end">${last} UTC</text>
    <text class="tick" id="activity-max" x="0" y="10">max ${max}/min</text>
  </svg>`;
}
