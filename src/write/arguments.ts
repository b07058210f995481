import { describeError, errors } from '../errors.js';
import { isCacheId, MAX_PAYLOAD_DEPTH, tooDeep } from '../instructions/codec.js';
import type { CacheId, JsonValue } from '../instructions/types.js';

/** One id or an array, checked on the caller's side so a bad id never reaches the log. */
export function toIds(ids: CacheId | CacheId[]): CacheId[] {
  // One number, the commonest call (refresh('product', 42)), skips the generic checks below.
  if (typeof ids === 'number' && Number.isFinite(ids)) return [ids];
  const list = Array.isArray(ids) ? ids : [ids];
  if (list.length === 0) throw new errors.InvalidInstructionError('ids must not be empty; to refresh everything use refreshAll()');
  const bad = list.find((id) => !isCacheId(id));
  if (bad !== undefined) throw new errors.InvalidInstructionError(`id ${JSON.stringify(bad)} is not valid; ids are finite numbers or strings`);
  return list;
}

/** Round-trips payloads now, so a value JSON cannot carry (a function, a cycle, a BigInt) fails on the caller's side. */
export function toPayloads(refresher: string, payloads: JsonValue | JsonValue[]): JsonValue[] {
  const list = Array.isArray(payloads) ? payloads : [payloads];
  if (list.length === 0) throw new errors.InvalidInstructionError(`refreshPayload('${refresher}'): give at least one payload`);
  let copy: JsonValue[];
  try {
    copy = JSON.parse(JSON.stringify(list)) as JsonValue[];
  } catch (err) {
    throw new errors.InvalidInstructionError(`refreshPayload('${refresher}'): payloads must be JSON values: ${describeError(err)}`);
  }
  // Readers refuse deeper rows (decodeInstructions), so the writer is told now instead.
  if (tooDeep(copy)) throw new errors.InvalidInstructionError(`refreshPayload('${refresher}'): payloads may nest at most ${MAX_PAYLOAD_DEPTH} levels deep; flatten the payload or send an id`);
  return copy;
}
