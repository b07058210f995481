import { errors } from '../errors.js';

/** A region key: a number or a string. `42` and `'42'` name one entry. */
export type RegionKey = number | string;

/**
 * The one form of a key: a string that reads back as the same finite number becomes that number.
 * An id from a route parameter ('42') and the same id from a row (42) then meet, and number keys
 * stay small integers in lru-cache's map instead of strings.
 */
export function regionKey(key: RegionKey): RegionKey {
  if (typeof key === 'number') {
    if (Number.isFinite(key)) return key === 0 ? 0 : key; // -0 and 0 are one key
  } else if (typeof key === 'string') {
    if (key === '' || key.length > 32) return key;
    const n = Number(key);
    return Number.isFinite(n) && String(n) === key ? n : key;
  }
  throw new errors.InvalidInstructionError(`region key ${String(key)} is not valid; keys are finite numbers or strings`);
}

/** A finite number other than 0 (or -0): already in its one form, so the hit path skips regionKey. */
export function isOneForm(key: RegionKey): key is number {
  return typeof key === 'number' && key !== 0 && key - key === 0;
}
