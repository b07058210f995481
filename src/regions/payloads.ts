import { errors } from '../errors.js';
import { MAX_ID_LENGTH } from '../instructions/codec.js';
import type { JsonValue } from '../instructions/types.js';
import { checkTags } from './options.js';
import { regionKey, type RegionKey } from './keys.js';

/**
 * The wire forms a region reads from a `payload` instruction (docs/format.md). Both are plain
 * payloads of the existing format, so a SQL trigger or `distcache send` can write them, and they
 * are ordered with every other instruction for the region as the log orders them (the coalescer
 * treats payloads as barriers).
 *
 *   { "key": 42, "value": { ... } }         store this value under 42, on every server, with no load
 *   { "key": 42, "value": { ... }, "tags": ["category:7"] }     the same, with tags
 *   { "refreshTags": ["category:7"] }       drop every entry (and load in flight) with one of these tags
 */
export type RegionPayload =
  | { kind: 'value'; key: RegionKey; value: JsonValue; tags: string[] | undefined }
  | { kind: 'tags'; tags: string[] }
  | { kind: 'invalid'; reason: string };

export function valuePayload(key: RegionKey, value: JsonValue, tags: string[] | undefined): JsonValue {
  checkKeyLength(key);
  return tags === undefined ? { key, value } : { key, value, tags };
}

export function tagsPayload(tags: string[]): JsonValue {
  return { refreshTags: tags };
}

export function readRegionPayload(region: string, payload: unknown): RegionPayload {
  if (payload !== null && typeof payload === 'object' && !Array.isArray(payload)) {
    const p = payload as Record<string, unknown>;
    try {
      if (Object.hasOwn(p, 'refreshTags') && !Object.hasOwn(p, 'key')) {
        return { kind: 'tags', tags: checkTags(region, 'refreshTags payload', p.refreshTags) };
      }
      if (Object.hasOwn(p, 'key') && Object.hasOwn(p, 'value') && (typeof p.key === 'number' || typeof p.key === 'string')) {
        checkKeyLength(p.key);
        const tags = p.tags === undefined ? undefined : checkTags(region, 'tags of a value payload', p.tags);
        return { kind: 'value', key: regionKey(p.key), value: p.value as JsonValue, tags };
      }
    } catch (err) {
      return { kind: 'invalid', reason: (err as Error).message };
    }
  }
  return { kind: 'invalid', reason: 'a region payload is { "key": 42, "value": ..., "tags"?: [...] } or { "refreshTags": ["..."] }' };
}

/** A payload's key is capped as ids are (MAX_ID_LENGTH): a 5,000,000-character key was stored on every server. */
function checkKeyLength(key: unknown): void {
  if (typeof key === 'string' && key.length > MAX_ID_LENGTH) {
    throw new errors.InvalidInstructionError(`a region payload key is at most ${MAX_ID_LENGTH} characters (this one has ${key.length})`);
  }
}
