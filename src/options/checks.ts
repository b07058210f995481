/**
 * How a value is checked: every check throws InvalidOptionError naming the option, what is wrong
 * and what to write instead.
 */
import { parseDuration, type Duration } from '../duration.js';
import { errors } from '../errors.js';

/**
 * The longest wait a Node.js timer can do: 2^31 − 1 ms, about 24.8 days. A longer one fires
 * after 1 ms instead (with a warning), so an option a timer waits on can never be longer.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A duration compared with database timestamps only, never waited on by a timer. */
export const STORED = Number.MAX_SAFE_INTEGER;

export function invalid(option: string, message: string): never {
  throw new errors.InvalidOptionError(`${option}: ${message}`);
}

export function validateBoolean(option: string, value: unknown): boolean {
  if (typeof value !== 'boolean') invalid(option, `${JSON.stringify(value)} must be true or false`);
  return value;
}

/**
 * A duration option. `max` is MAX_TIMER_MS for every option a timer waits on (the default), and
 * larger only for the ones compared with database timestamps (retention and the like).
 */
export function duration(option: string, value: Duration | undefined, fallback: number, min = 0, max = MAX_TIMER_MS): number {
  if (value === undefined) return fallback;
  const parsed = parseDuration(value);
  if (parsed === undefined)
    invalid(option, `${JSON.stringify(value)} is not a duration; give milliseconds or a string such as '500ms', '5s', '2d'`);
  if (parsed < min) invalid(option, `${JSON.stringify(value)} is too small; the minimum is ${min} ms`);
  if (parsed > max) {
    const why = max === MAX_TIMER_MS ? ' (2^31 − 1 ms, about 24.8 days: the longest a Node.js timer can wait)' : '';
    invalid(option, `${JSON.stringify(value)} is too large; the maximum is ${human(max)}${why}`);
  }
  return parsed;
}

export function integer(option: string, value: number | undefined, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(option, `${JSON.stringify(value)} must be a whole number from ${min} to ${max}`);
  }
  return value;
}

export function fraction(option: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1) {
    invalid(option, `${JSON.stringify(value)} must be a number above 0 and at most 1, such as 0.5`);
  }
  return value;
}

export function validateIdentity(option: string, value: unknown, pattern: RegExp, example: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) {
    invalid(
      option,
      `${JSON.stringify(value)} is not valid; use letters, digits and . _ - (no spaces, quotes or semicolons), such as '${example}'`,
    );
  }
  return value;
}

/** A duration as the user would write it: '2m', not 120000. */
export function human(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
