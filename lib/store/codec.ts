/**
 * How a message becomes the bytes a queue row holds. Plain JSON data (the common case: numbers,
 * strings, records) is stored as JSON text, about 4x faster to encode than V8's serialiser; anything
 * else goes through V8's structured serialisation (node:v8), so Buffers, typed arrays (batch
 * payloads), Dates, Maps, NaN and undefined come back as they went in. The two cannot be confused:
 * JSON of an object starts with '{', V8's format with the byte 0xFF. What cannot be stored
 * (functions, symbols, sockets, class instances with native handles) is an InputError naming the
 * first offending field.
 */
import * as v8 from 'v8';
import { InputError } from '../errors';

/** Message properties that are never stored: control fields of the cache itself. */
export const NOT_STORED = new Set(['ack', 'control', '_cacheId']);

export function encodeMessage(msg: Record<string, unknown>): Buffer {
  const body = encodeBody(msg);
  return typeof body === 'string' ? Buffer.from(body) : body;
}

/**
 * encodeMessage without the last step for plain JSON data: the JSON text as a string (the queue
 * stores it as its UTF-8 bytes). A string crosses to the queue's worker thread as one copy, where
 * a small Buffer would drag its whole 8 KB allocation pool along, and the UTF-8 conversion then
 * happens off Node-RED's thread.
 */
export function encodeBody(msg: Record<string, unknown>): string | Buffer {
  let stored: Record<string, unknown> = msg;
  // a data message normally carries none of the control fields: store it as is, without a copy
  if (Object.getPrototypeOf(msg) !== Object.prototype || 'ack' in msg || 'control' in msg || '_cacheId' in msg) {
    stored = {};
    for (const key of Object.keys(msg)) {
      if (!NOT_STORED.has(key)) stored[key] = msg[key];
    }
  }
  if (isPlainJson(stored, 0)) return JSON.stringify(stored);
  try {
    return v8.serialize(stored);
  } catch (err) {
    const where = findUnserialisable(stored, 'msg', new Set());
    throw new InputError(where ? where.path : 'msg', 'a message that can be stored (plain data: objects, arrays, numbers, strings, Buffers, typed arrays, Dates)', where ? where.value : msg, (err as Error).message);
  }
}

export function decodeMessage(body: Buffer): Record<string, unknown> {
  const value = body[0] === 0xff ? v8.deserialize(body) : JSON.parse(body.toString('utf8'));
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('stored record is not a message object');
  return value as Record<string, unknown>;
}

/** True when JSON round-trips `value` exactly (no undefined in arrays, no NaN, no class instances, no cycles). */
function isPlainJson(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth > 32) return false;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const key in value) {
        const v = (value as Record<string, unknown>)[key];
        if (v !== undefined && !isPlainJson(v, depth + 1)) return false;
        if (v === undefined) return false;
      }
      return true;
    }
    default:
      return false;
  }
}

function findUnserialisable(value: unknown, at: string, seen: Set<unknown>): { path: string; value: unknown } | null {
  const t = typeof value;
  if (t === 'function' || t === 'symbol') return { path: at, value };
  if (value === null || t !== 'object' || seen.has(value)) return null;
  seen.add(value);
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof Date || value instanceof RegExp) return null;
  if (value instanceof Map) {
    for (const [k, v] of value) {
      const found = findUnserialisable(v, `${at}[${String(k)}]`, seen);
      if (found) return found;
    }
    return null;
  }
  if (value instanceof Set) {
    for (const v of value) {
      const found = findUnserialisable(v, `${at}{}`, seen);
      if (found) return found;
    }
    return null;
  }
  try {
    v8.serialize(value);
    return null;
  } catch {
    // this object fails: look for a child that fails, else it is the object itself
  }
  for (const key of Object.keys(value as object)) {
    const found = findUnserialisable((value as Record<string, unknown>)[key], Array.isArray(value) ? `${at}[${key}]` : `${at}.${key}`, seen);
    if (found) return found;
  }
  return { path: at, value };
}
