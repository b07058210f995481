import { errors } from '../errors.js';
import { INSTRUCTION_KINDS, type CacheId, type Instruction, type JsonValue } from './types.js';

/**
 * The versioned JSON row format (docs/format.md):
 * `{"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[42]}]}`
 */
export const FORMAT_VERSION = 1;

/** Keys that could reach an object's prototype if a consumer merged the value into another object. */
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const MAY_HAVE_FORBIDDEN_KEY = /__proto__|constructor|prototype|\\u/;

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
    // A reviver makes JSON.parse several times slower, and every row of a catch-up passes here.
    // A forbidden key can only be spelt out literally or with a \u escape, so a row containing
    // neither is parsed plainly; any other row gets the key-checking parse.
    doc = MAY_HAVE_FORBIDDEN_KEY.test(json)
      ? JSON.parse(json, (key, value) => {
          if (FORBIDDEN_KEYS.has(key)) throw new errors.MalformedRowError(`forbidden key "${key}"`);
          return value;
        })
      : JSON.parse(json);
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
      if (tooDeep(payloads)) throw new errors.MalformedRowError(`${where}.payloads nest deeper than ${MAX_PAYLOAD_DEPTH} levels`);
      return { refresher, kind: 'payload', payloads: payloads as JsonValue[] };
    }
  }
}

/**
 * How deep a payload may nest. JSON.parse itself accepts any depth, but a refresher, a logger or
 * JSON.stringify walking a value 100,000 levels deep overflows the stack; writers are held to the
 * same limit (see toPayloads), so a row that passes one side passes the other. 2,000 levels sit
 * well inside what JSON.stringify manages on Node's default stack (about 4,000).
 */
export const MAX_PAYLOAD_DEPTH = 2000;

/** Whether `value` nests deeper than MAX_PAYLOAD_DEPTH; iterative, so the check cannot overflow itself. */
export function tooDeep(value: unknown): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_PAYLOAD_DEPTH) return true;
    for (const child of Array.isArray(current) ? current : Object.values(current)) {
      if (child !== null && typeof child === 'object') stack.push([child, depth + 1]);
    }
  }
  return false;
}

export function isCacheId(value: unknown): value is CacheId {
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= 1024);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
