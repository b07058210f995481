/** Seconds as the tables show them. */
export function secs(value: number | null | undefined): string {
  if (value === null || value === undefined) return '';
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} s`;
}

/** An ISO time as 'YYYY-MM-DD HH:MM:SS'. */
export function when(iso: string | null | undefined): string {
  return iso ? iso.replace('T', ' ').slice(0, 19) : '';
}
