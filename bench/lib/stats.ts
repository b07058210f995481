/** Nearest-rank percentile of an unsorted sample; NaN when empty. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

export function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

/** '0.042 ms', '0.42 ms', '12.3 ms', '1,234 ms' */
export function ms(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  // SQLite answers in tens of microseconds: two decimals would show 0.03 against 0.01 ms.
  if (value < 0.1) return `${value.toFixed(3)} ms`;
  if (value < 10) return `${value.toFixed(2)} ms`;
  if (value < 100) return `${value.toFixed(1)} ms`;
  return `${Math.round(value).toLocaleString('en-US')} ms`;
}

export function count(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return Math.round(value).toLocaleString('en-US');
}

/** Two decimals; three when two would round onto `floor` and so hide which side of it the value is. */
export function ratio(value: number, floor?: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  return floor !== undefined && value.toFixed(2) === floor.toFixed(2) ? value.toFixed(3) : value.toFixed(2);
}

export function mb(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

export function pcts(values: readonly number[]): { p50: number; p95: number; p99: number; n: number } {
  return { p50: percentile(values, 50), p95: percentile(values, 95), p99: percentile(values, 99), n: values.length };
}

export function pctText(values: readonly number[]): string {
  const p = pcts(values);
  return `p50 ${ms(p.p50)}, p95 ${ms(p.p95)}, p99 ${ms(p.p99)} (n=${p.n})`;
}

/** The wall clock in milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export function wallNow(): number {
  return performance.timeOrigin + performance.now();
}

export function sleep(msec: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, msec));
}

/** application_name of the fleet benchmark's connections, so their backends can be found. */
export const FLEET_APP = 'distcache-bench-fleet';
