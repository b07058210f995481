import { errors } from '../errors.js';
import { INSTRUCTION_KINDS, type CacheId, type Instruction, type JsonValue } from './types.js';

/**
 * The versioned JSON row format (docs/format.md):
 * `{"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[42]}]}`
 */
export const FORMAT_VERSION = 1;

/** Keys that could reach an object's prototype if a consumer merged the value into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export function encodeInstructions(instructions: readonly Instruction[]): string {
  return JSON.stringify({ v: FORMAT_VERSION, instructions });
}

/**
 * Decodes one row's JSON. Never evaluates anything; refuses prototype-style keys anywhere in
 * the document; checks the shape of every instruction. Throws `MalformedRowError` naming the problem.
 */
export function decodeInstructions(json: unknown): Instruction[] {
  if (typeof json !== 'string') throw new errors.MalformedRowError('json_instruction is not text');
  let doc: unknown;
  try {
    doc = JSON.parse(json, (key, value) => {
      if (FORBIDDEN_KEYS.has(key)) throw new errors.MalformedRowError(`forbidden key "${key}"`);
      return value;
    });
  } catch (err) {
    if (err instanceof errors.MalformedRowError) throw err;
    // A RangeError from absurd nesting lands here too; both mean the row is unusable.
    throw new errors.MalformedRowError(`invalid JSON: ${(err as Error).message.slice(0, 200)}`);
  }
  if (!isPlainObject(doc)) throw new errors.MalformedRowError('the document is not a JSON object');
  if (doc.v !== FORMAT_VERSION) {
    throw new errors.MalformedRowError(`unsupported format version ${JSON.stringify(doc.v)?.slice(0, 40)}; this build reads version ${FORMAT_VERSION}`);
  }
  const list = doc.instructions;
  if (!Array.isArray(list)) throw new errors.MalformedRowError('"instructions" is not an array');
  return list.map((item, index) => decodeOne(item, index));
}

function decodeOne(item: unknown, index: number): Instruction {
  const where = `instructions[${index}]`;
  if (!isPlainObject(item)) throw new errors.MalformedRowError(`${where} is not an object`);
  const { refresher, kind } = item;
  if (typeof refresher !== 'string' || refresher.length === 0 || refresher.length > 256) {
    throw new errors.MalformedRowError(`${where}.refresher must be a non-empty string`);
  }
  if (typeof kind !== 'string' || !(INSTRUCTION_KINDS as readonly string[]).includes(kind)) {
    throw new errors.MalformedRowError(`${where}.kind must be one of ${INSTRUCTION_KINDS.join(', ')}`);
  }
  switch (kind) {
    case 'refresh-all':
      return { refresher, kind };
    case 'refresh':
    case 'remove': {
      const ids = item.ids;
      if (!Array.isArray(ids) || !ids.every(isCacheId)) {
        throw new errors.MalformedRowError(`${where}.ids must be an array of numbers or strings`);
      }
      return { refresher, kind, ids: ids as CacheId[] };
    }
    default: {
      const payloads = item.payloads;
      if (!Array.isArray(payloads)) throw new errors.MalformedRowError(`${where}.payloads must be an array`);
      return { refresher, kind: 'payload', payloads: payloads as JsonValue[] };
    }
  }
}

export function isCacheId(value: unknown): value is CacheId {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= 1024);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
