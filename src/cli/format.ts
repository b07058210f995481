/** Small helpers for the human tables. */

/** Renders rows under headers, columns padded to their widest cell; the last column is not padded. */
export function table(headers: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(headers), ...rows.map(render)].join('\n');
}

/** A duration in seconds as one short unit: 0.4s, 12s, 3m, 5h, 2d. */
export function seconds(value: number | null | undefined): string {
  if (value === null || value === undefined) return '-';
  if (value < 10) return `${Number(value.toFixed(1))}s`;
  if (value < 120) return `${Math.round(value)}s`;
  if (value < 7200) return `${Math.round(value / 60)}m`;
  if (value < 172_800) return `${Math.round(value / 3600)}h`;
  return `${Math.round(value / 86_400)}d`;
}

export function ago(value: number | null | undefined): string {
  return value === null || value === undefined ? '-' : `${seconds(value)} ago`;
}

/** An ISO time as 'YYYY-MM-DD HH:MM:SS.mmm' (UTC), shorter in a table. */
export function time(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').replace('Z', '') : '-';
}

export function count(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n.toLocaleString('en-US');
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${count(n)} ${n === 1 ? one : many}`;
}

/** Cuts a cell to `max` characters, marking the cut. */
export function clip(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}
