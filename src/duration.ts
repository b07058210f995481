import ms from 'ms';

/** A duration in milliseconds, or a string such as `'5s'`, `'2m'`, `'2d'` (parsed by `ms`). */
export type Duration = number | string;

/** Returns milliseconds, or undefined when the value is not a valid, non-negative duration. */
export function parseDuration(value: Duration): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const parsed = ms(value.trim() as ms.StringValue);
  return typeof parsed === 'number' && Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}
