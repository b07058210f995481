import { MAX_PAYLOAD_DEPTH } from '../instructions/codec.js';

/**
 * Finds the first part of a payload that JSON would not carry as it is, and says what it is and
 * how to send it instead; undefined when the payload is fine.
 *
 * JSON.stringify would not fail on most of these: NaN becomes null, a Map becomes {}, a function
 * disappears. Every server would then apply something the caller never sent, so the caller is
 * told instead. Two changes are allowed because they lose nothing a reader could tell apart:
 * an object property whose value is undefined is left out (it reads as undefined either way), and
 * -0 arrives as 0 (equal by ===). A value with a toJSON() method (a Date) is sent as what
 * toJSON() returns, as JSON.stringify does.
 */
export function findNotCarried(value: unknown, path: string): string | undefined {
  return check(value, path, 0, new Set());
}

function check(value: unknown, path: string, depth: number, ancestors: Set<object>): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      if (Number.isFinite(value)) return undefined;
      return `${path} is ${describeValue(value)}, which JSON cannot carry (it would arrive as null); send null or a string instead`;
    case 'bigint':
      return `${path} is a BigInt (${describeValue(value)}), which JSON cannot carry; send it as a string or a number`;
    case 'undefined':
      return `${path} is undefined, which JSON cannot carry (it would arrive as null); send null or leave it out`;
    case 'function':
    case 'symbol':
      return `${path} is ${describeValue(value)}, which JSON cannot carry; send data only`;
  }
  if (value === null) return undefined;
  let object = value as object;
  if (typeof (object as { toJSON?: unknown }).toJSON === 'function') {
    // Dates and the like: checked as what JSON.stringify will send.
    return check((object as { toJSON: () => unknown }).toJSON(), path, depth, ancestors);
  }
  if (depth >= MAX_PAYLOAD_DEPTH) {
    return `${path} nests too deep: payloads may nest at most ${MAX_PAYLOAD_DEPTH} levels deep; flatten the payload or send an id`;
  }
  if (ancestors.has(object)) return `${path} refers back to an object that contains it (a cycle), which JSON cannot carry`;
  const lossy = lossyObject(object);
  if (lossy) return `${path} is ${lossy}`;
  ancestors.add(object);
  try {
    if (Array.isArray(object)) {
      for (let i = 0; i < object.length; i++) {
        if (!(i in object)) return `${path}[${i}] is missing (a sparse array); JSON would send null there, so fill it or send null`;
        const found = check(object[i], `${path}[${i}]`, depth + 1, ancestors);
        if (found) return found;
      }
      return undefined;
    }
    object = object as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const child = (object as Record<string, unknown>)[key];
      if (child === undefined) continue;
      const found = check(child, `${path}${propertyPath(key)}`, depth + 1, ancestors);
      if (found) return found;
    }
    return undefined;
  } finally {
    ancestors.delete(object);
  }
}

/** Objects that JSON.stringify turns into something else without a word. */
function lossyObject(object: object): string | undefined {
  if (ArrayBuffer.isView(object) || object instanceof ArrayBuffer) {
    return `binary data (${object.constructor?.name ?? 'a buffer'}), which JSON cannot carry as it is; send it as a base64 string`;
  }
  const tag = Object.prototype.toString.call(object).slice(8, -1);
  switch (tag) {
    case 'Map':
    case 'Set':
      return `a ${tag}, which JSON would send as {}; send ${tag === 'Map' ? 'a plain object or [key, value] pairs' : 'an array'}`;
    case 'WeakMap':
    case 'WeakSet':
    case 'Promise':
    case 'RegExp':
    case 'Error':
      return `a ${tag}, which JSON would send as {}; send plain data instead`;
  }
  return undefined;
}

function propertyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** A value as a person would write it: NaN, Infinity, 12n, undefined; never "null" for what is not null. */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case 'undefined':
      return 'undefined';
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'function':
      return 'a function';
    case 'symbol':
      return `a symbol (${String(value.description ?? '')})`;
    case 'string':
      return value.length > 60 ? `a string of ${value.length} characters` : JSON.stringify(value);
    case 'boolean':
      return String(value);
  }
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const name = (value as object).constructor?.name;
  return name && name !== 'Object' ? `a ${name}` : 'an object';
}
