import { errors } from '../errors.js';
import { decodeRow, encodeInstructions, ID_RULE, isCacheId } from '../instructions/codec.js';
import type { CacheId, JsonValue } from '../instructions/types.js';
import { describeValue, findNotCarried } from './json-check.js';

/**
 * One id or an array, checked on the caller's side with the predicate readers use (isCacheId),
 * so an id every reader would refuse never reaches the log. Returns a copy: the caller's array is
 * never kept.
 */
export function toIds(method: 'refresh' | 'remove', refresher: string, ids: CacheId | CacheId[] | undefined): CacheId[] {
  // One number, the commonest call (refresh('product', 42)), skips the generic checks below.
  if (typeof ids === 'number' && Number.isFinite(ids)) return [ids];
  const call = `${method}('${refresher}')`;
  if (ids === undefined) {
    throw invalid(`${call}: no ids given (ids is undefined); pass an id or an array of ids, or use refreshAll('${refresher}')`);
  }
  if (!Array.isArray(ids)) {
    if (!isCacheId(ids)) throw invalid(`${call}: the id is ${describeValue(ids)}; ${idRule(ids)}`);
    return [ids];
  }
  if (ids.length === 0) throw invalid(`${call}: ids must not be empty; to refresh everything use refreshAll('${refresher}')`);
  for (let i = 0; i < ids.length; i++) {
    if (!(i in ids)) throw invalid(`${call}: ids[${i}] is missing (a sparse array); pass only the ids you mean`);
    const id = ids[i];
    if (!isCacheId(id)) throw invalid(`${call}: ids[${i}] is ${describeValue(id)}; ${idRule(id)}`);
  }
  return ids.slice();
}

function idRule(id: unknown): string {
  if (typeof id === 'bigint') return `pass it as a string ('${id}') or, if it is at most 2^53, as a number`;
  return ID_RULE;
}

/**
 * Payloads as every server will receive them. Refuses what JSON would not carry as it is (see
 * findNotCarried), then encodes them and decodes them again with the readers' own code: what a
 * reader would refuse is refused here, and the caller gets the decoded copy, the same values
 * every other server gets (never the caller's objects, which it may change later).
 */
export function toPayloads(refresher: string, payloads: JsonValue | JsonValue[] | undefined): JsonValue[] {
  const call = `refreshPayload('${refresher}')`;
  if (payloads === undefined) throw invalid(`${call}: no payload given (it is undefined); pass a JSON value or an array of them`);
  const list = Array.isArray(payloads) ? payloads : [payloads];
  if (list.length === 0) throw invalid(`${call}: give at least one payload`);
  const problem = findNotCarried(list, 'payloads');
  if (problem) throw invalid(`${call}: ${problem}`);
  let json: string;
  try {
    json = encodeInstructions([{ refresher, kind: 'payload', payloads: list }]);
  } catch (err) {
    // A toJSON() that throws, or one that returns something new on its second call.
    throw invalid(`${call}: payloads could not be encoded as JSON: ${(err as Error).message}`, err);
  }
  const row = decodeRow(json);
  const reason = !row.readable ? row.reason : row.bad[0]?.reason;
  if (reason !== undefined || !row.readable || row.instructions.length !== 1) {
    throw invalid(`${call}: every server would refuse this payload: ${reason}; send a smaller or flatter payload`);
  }
  return (row.instructions[0] as { payloads: JsonValue[] }).payloads;
}

function invalid(message: string, cause?: unknown): Error {
  return new errors.InvalidInstructionError(message, cause === undefined ? undefined : { cause });
}
