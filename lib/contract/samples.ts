/**
 * The message contract every node reads (DESIGN.md, README "Message contract"):
 * - sample: `msg.topic` signal name, `msg.payload` number, `msg.timestamp` ms since epoch
 *   (default: arrival time);
 * - batch: `msg.payload` number[] | Float32Array | Float64Array, with `msg.timestamp` of the first
 *   sample and `msg.sampleRate` in Hz, or `msg.timestamps` (one per sample);
 * - record: `msg.payload` an object of named numbers, `msg.timestamp`, optional
 *   `msg.timestamps` `{ field: ms }` where fields were read at different times.
 * Every reader throws an InputError that names the offending msg property.
 */
import { InputError } from '../errors';

export interface Sample {
  topic: string | undefined;
  value: number;
  timestamp: number;
}

/** Values with their times: either evenly spaced (start + i·intervalMs) or one timestamp each. */
export interface Batch {
  topic: string | undefined;
  values: ArrayLike<number>;
  /** time of values[0], ms since epoch */
  start: number;
  /** ms between consecutive values when evenly spaced; null when `timestamps` is given */
  intervalMs: number | null;
  timestamps: ArrayLike<number> | null;
}

export interface RecordReading {
  values: Record<string, number>;
  timestamp: number;
  /** per-field read times, when the message carried `msg.timestamps` */
  fieldTimestamps: Record<string, number> | null;
}

type Msg = Record<string, any>;

/** Time of sample `i` of a batch. */
export function timestampAt(batch: Batch, i: number): number {
  return batch.timestamps ? batch.timestamps[i] : batch.start + i * (batch.intervalMs as number);
}

/** `msg.timestamp` as ms since epoch (number or Date), or `now` when absent. */
export function readTimestamp(msg: Msg, now?: number): number {
  const t = msg.timestamp;
  // the clock is read only when the message has no time of its own
  if (t === undefined || t === null) return now ?? Date.now();
  if (typeof t === 'number' && Number.isFinite(t)) return t;
  if (t instanceof Date && Number.isFinite(t.getTime())) return t.getTime();
  throw new InputError('msg.timestamp', 'a number of ms since epoch', t);
}

/** `msg.topic` as a signal name; required unless `required` is false. */
export function readTopic(msg: Msg, required = true): string | undefined {
  const topic = msg.topic;
  if (topic === undefined || topic === null || topic === '') {
    if (required) throw new InputError('msg.topic', 'a signal name', topic);
    return undefined;
  }
  if (typeof topic !== 'string' && typeof topic !== 'number') throw new InputError('msg.topic', 'a signal name (string)', topic);
  return String(topic);
}

const FLOAT_ARRAY_TAGS: Record<string, Float64ArrayConstructor | Float32ArrayConstructor> = {
  '[object Float64Array]': Float64Array,
  '[object Float32Array]': Float32Array,
};

/**
 * A same-realm Float32Array/Float64Array for one made in another JavaScript realm, anything else
 * unchanged. A Function node runs in a vm context, so a Float64Array it creates fails
 * `instanceof Float64Array` here; it is re-viewed over the same memory (no copy).
 */
export function sameRealmFloats<T>(value: T): T {
  if (value instanceof Float64Array || value instanceof Float32Array || !ArrayBuffer.isView(value)) return value;
  const Ctor = FLOAT_ARRAY_TAGS[Object.prototype.toString.call(value)];
  if (!Ctor) return value;
  const view = value as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
  return new Ctor(view.buffer, view.byteOffset, view.length) as unknown as T;
}

/** Whether a payload is a batch of numbers (array or float typed array, from any realm). */
export function isBatchPayload(payload: unknown): payload is ArrayLike<number> {
  return Array.isArray(payload) || payload instanceof Float64Array || payload instanceof Float32Array
    || (ArrayBuffer.isView(payload) && Object.prototype.toString.call(payload) in FLOAT_ARRAY_TAGS);
}

/** One numeric sample. Numeric strings ("12.5") are accepted, as Node-RED inputs often send them. */
export function readSample(msg: Msg, options: { now?: number; requireTopic?: boolean } = {}): Sample {
  return {
    topic: readTopic(msg, options.requireTopic ?? true),
    value: toNumber(msg.payload, 'msg.payload'),
    timestamp: readTimestamp(msg, options.now),
  };
}

/**
 * A sample or a batch, as a Batch (a single sample is a batch of one). Values are not checked for
 * NaN here: windows count and drop non-finite values themselves.
 */
export function readSamples(msg: Msg, options: { now?: number; requireTopic?: boolean } = {}): Batch {
  const topic = readTopic(msg, options.requireTopic ?? true);
  const payload = sameRealmFloats(msg.payload);
  if (!isBatchPayload(payload)) {
    const value = toNumber(payload, 'msg.payload');
    return { topic, values: [value], start: readTimestamp(msg, options.now), intervalMs: 0, timestamps: null };
  }
  if (Array.isArray(payload)) {
    for (let i = 0; i < payload.length; i++) {
      if (typeof payload[i] !== 'number') throw new InputError(`msg.payload[${i}]`, 'a number', payload[i]);
    }
  }
  const timestamps = sameRealmFloats(msg.timestamps);
  if (timestamps !== undefined && timestamps !== null) {
    if (!isBatchPayload(timestamps) || timestamps.length !== payload.length) {
      throw new InputError('msg.timestamps', `an array of ${payload.length} timestamps (one per sample)`, timestamps);
    }
    for (let i = 0; i < timestamps.length; i++) {
      if (!Number.isFinite(timestamps[i])) throw new InputError(`msg.timestamps[${i}]`, 'a number of ms since epoch', timestamps[i]);
    }
    return { topic, values: payload, start: payload.length ? timestamps[0] : readTimestamp(msg, options.now), intervalMs: null, timestamps };
  }
  const rate = msg.sampleRate;
  if (typeof rate !== 'number' || !(rate > 0) || !Number.isFinite(rate)) {
    throw new InputError('msg.sampleRate', 'a sample rate in Hz (> 0) for a batch payload, or msg.timestamps', rate);
  }
  return { topic, values: payload, start: readTimestamp(msg, options.now), intervalMs: 1000 / rate, timestamps: null };
}

/**
 * A record: an object of named numbers. With `fields`, only those are read and each must be
 * present; otherwise every numeric field is read and non-numeric ones are skipped.
 */
export function readRecord(msg: Msg, options: { now?: number; fields?: string[] } = {}): RecordReading {
  const payload = msg.payload;
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || ArrayBuffer.isView(payload)) {
    throw new InputError('msg.payload', 'an object of named numbers (a record)', payload);
  }
  const values: Record<string, number> = {};
  if (options.fields) {
    for (const field of options.fields) values[field] = readField(payload, field);
  } else {
    for (const [key, v] of Object.entries(payload)) if (typeof v === 'number') values[key] = v;
  }
  let fieldTimestamps: Record<string, number> | null = null;
  if (msg.timestamps !== undefined && msg.timestamps !== null) {
    if (typeof msg.timestamps !== 'object' || Array.isArray(msg.timestamps)) {
      throw new InputError('msg.timestamps', 'an object { field: ms since epoch } for a record', msg.timestamps);
    }
    fieldTimestamps = {};
    for (const [key, t] of Object.entries(msg.timestamps)) {
      if (typeof t !== 'number' || !Number.isFinite(t)) throw new InputError(`msg.timestamps.${key}`, 'a number of ms since epoch', t);
      fieldTimestamps[key] = t;
    }
  }
  return { values, timestamp: readTimestamp(msg, options.now), fieldTimestamps };
}

/** One named number of a record payload; a missing or non-numeric field is an InputError naming it. */
export function readField(payload: Record<string, unknown>, field: string): number {
  const v = payload[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new InputError(`msg.payload.${field}`, 'a finite number', v, v === undefined ? 'missing field' : undefined);
  }
  return v;
}

function toNumber(value: unknown, field: string): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  if (typeof value === 'boolean') return value ? 1 : 0;
  throw new InputError(field, 'a number', value);
}
