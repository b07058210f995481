import { errors } from '../errors.js';
import { INSTRUCTION_KINDS, type CacheId, type Instruction, type JsonValue } from './types.js';

/**
 * The versioned JSON row format (docs/format.md):
 * `{"v":1,"instructions":[{"refresher":"product","kind":"refresh","ids":[42]}]}`
 */
export const FORMAT_VERSION = 1;

export function encodeInstructions(instructions: readonly Instruction[]): string {
  return JSON.stringify({ v: FORMAT_VERSION, instructions });
}

/** One instruction of a readable row that cannot be applied as written. */
export interface BadInstruction {
  /** Its position in the row's `instructions`. */
  index: number;
  /** How many of the row's good instructions come before it, so a replacement can take its place. */
  before: number;
  /** The refresher it names, when that much can be read; null when it could be any refresher. */
  refresher: string | null;
  reason: string;
}

/**
 * A decoded row. Readers degrade per instruction: a readable row yields its good instructions
 * and the bad ones apart. A row that cannot be read at all says which refreshers it names (from a
 * parsed document whose every instruction names one), or null when it could concern any.
 */
export type DecodedRow =
  { readable: true; instructions: Instruction[]; bad: BadInstruction[] } | { readable: false; reason: string; refreshers: string[] | null };

/**
 * Decodes one row's JSON, the way every reader does, and the way every writer checks its own
 * rows before writing them (see the writer): what one side accepts, the other does too.
 *
 * Never evaluates anything. Plain JSON.parse makes every key an own data property, `__proto__`
 * included (it never sets a prototype), so payload keys such as `__proto__`, `constructor` and
 * `prototype` are carried as data, like any other key.
 */
export function decodeRow(json: unknown): DecodedRow {
  if (typeof json !== 'string') return unreadable('json_instruction is not text', null);
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    // A RangeError from absurd nesting lands here too; both mean the row is unusable.
    return unreadable(`invalid JSON: ${(err as Error).message.slice(0, 200)}`, null);
  }
  if (!isPlainObject(doc)) return unreadable('the document is not a JSON object', null);
  const list = doc.instructions;
  if (doc.v !== FORMAT_VERSION) {
    const version = JSON.stringify(doc.v)?.slice(0, 40) ?? 'missing';
    return unreadable(`unsupported format version ${version}; this build reads version ${FORMAT_VERSION}`, namedRefreshers(list));
  }
  if (!Array.isArray(list)) return unreadable('"instructions" is not an array', null);
  const instructions: Instruction[] = [];
  const bad: BadInstruction[] = [];
  for (let index = 0; index < list.length; index++) {
    const decoded = decodeOne(list[index], index, instructions.length);
    if ('reason' in decoded) bad.push(decoded);
    else instructions.push(decoded);
  }
  return { readable: true, instructions, bad };
}

/**
 * Decodes one row strictly: throws `MalformedRowError` naming the first problem, whether the row
 * or one of its instructions. For tools that show or check a row (the CLI's `show`, `send`).
 */
export function decodeInstructions(json: unknown): Instruction[] {
  const row = decodeRow(json);
  if (!row.readable) throw new errors.MalformedRowError(row.reason);
  if (row.bad.length > 0) throw new errors.MalformedRowError(row.bad[0]!.reason);
  return row.instructions;
}

function unreadable(reason: string, refreshers: string[] | null): DecodedRow {
  return { readable: false, reason, refreshers };
}

/** The refreshers a document of another version names, if every instruction names a readable one. */
function namedRefreshers(list: unknown): string[] | null {
  if (!Array.isArray(list) || list.length === 0) return null;
  const names = new Set<string>();
  for (const item of list) {
    if (!isPlainObject(item) || !isRefresherName(item.refresher)) return null;
    names.add(item.refresher);
  }
  return [...names];
}

function decodeOne(item: unknown, index: number, before: number): Instruction | BadInstruction {
  const where = `instructions[${index}]`;
  if (!isPlainObject(item)) return { index, before, refresher: null, reason: `${where} is not an object` };
  const { refresher, kind } = item;
  if (!isRefresherName(refresher)) {
    return { index, before, refresher: null, reason: `${where}.refresher must be a string of 1 to 256 characters` };
  }
  const bad = (reason: string): BadInstruction => ({ index, before, refresher, reason: `${where}${reason}` });
  if (typeof kind !== 'string' || !(INSTRUCTION_KINDS as readonly string[]).includes(kind)) {
    return bad(`.kind must be one of ${INSTRUCTION_KINDS.join(', ')}`);
  }
  switch (kind) {
    case 'refresh-all':
      return { refresher, kind };
    case 'refresh':
    case 'remove': {
      const ids = item.ids;
      if (!Array.isArray(ids)) return bad('.ids must be an array');
      const at = ids.findIndex((id) => !isCacheId(id));
      if (at >= 0) return bad(`.ids[${at}] must be a finite number or a string of at most ${MAX_ID_LENGTH} characters`);
      return { refresher, kind, ids: ids as CacheId[] };
    }
    default: {
      const payloads = item.payloads;
      if (!Array.isArray(payloads)) return bad('.payloads must be an array');
      if (tooDeep(payloads)) return bad(`.payloads nest deeper than ${MAX_PAYLOAD_DEPTH} levels`);
      return { refresher, kind: 'payload', payloads: payloads as JsonValue[] };
    }
  }
}

/**
 * How deep a payload may nest. JSON.parse itself accepts any depth, but a refresher, a logger or
 * JSON.stringify walking a value 100,000 levels deep overflows the stack; writers are held to the
 * same limit (a writer decodes its own row before writing it), so a row that passes one side
 * passes the other. 2,000 levels sit well inside what JSON.stringify manages on Node's default
 * stack (about 4,000).
 */
export const MAX_PAYLOAD_DEPTH = 2000;

/** The longest string id, in UTF-16 code units. */
export const MAX_ID_LENGTH = 1024;

/** What an id may be, said once for every message that refuses one (the write API's, Admin.send's). */
export const ID_RULE = `ids are finite numbers or strings of at most ${MAX_ID_LENGTH} characters`;

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
  return (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= MAX_ID_LENGTH);
}

function isRefresherName(value: unknown): value is string {
  return typeof value === 'string' && value.length > 0 && value.length <= 256;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
