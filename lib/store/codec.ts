/**
 * How a message becomes the bytes a queue row holds: V8's structured serialisation (node:v8), so
 * Buffers, typed arrays (batch payloads), Dates, Maps, NaN and nested objects come back as they
 * went in. What cannot be stored (functions, symbols, sockets, class instances with native handles)
 * is an InputError naming the first offending field.
 */
import * as v8 from 'v8';
import { InputError } from '../errors';

/** Message properties that are never stored: control fields of the cache itself. */
export const NOT_STORED = new Set(['ack', 'control', '_cacheId']);

export function encodeMessage(msg: Record<string, unknown>): Buffer {
  const stored: Record<string, unknown> = {};
  for (const key of Object.keys(msg)) {
    if (!NOT_STORED.has(key)) stored[key] = msg[key];
  }
  try {
    return v8.serialize(stored);
  } catch (err) {
    const where = findUnserialisable(stored, 'msg', new Set());
    throw new InputError(where ? where.path : 'msg', 'a message that can be stored (plain data: objects, arrays, numbers, strings, Buffers, typed arrays, Dates)', where ? where.value : msg, (err as Error).message);
  }
}

export function decodeMessage(body: Buffer): Record<string, unknown> {
  const value = v8.deserialize(body);
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error('stored record is not a message object');
  return value as Record<string, unknown>;
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
