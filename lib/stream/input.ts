/**
 * sensor-window's message reading: the contract's readSamples, plus float typed arrays made in
 * another JavaScript realm. A Function node runs in a vm context, so a Float64Array it creates fails
 * `instanceof Float64Array` in this realm and lib/contract's reader refuses it; here such a payload
 * (or msg.timestamps) is re-viewed as a same-realm typed array over the same memory (no copy).
 */
import { readSamples, type Batch } from '../contract/samples';

const FLOAT_TAGS: Record<string, Float64ArrayConstructor | Float32ArrayConstructor> = {
  '[object Float64Array]': Float64Array,
  '[object Float32Array]': Float32Array,
};

/** A same-realm Float32Array/Float64Array for a foreign-realm one; anything else unchanged. */
export function sameRealmFloats(value: unknown): unknown {
  if (value instanceof Float64Array || value instanceof Float32Array || !ArrayBuffer.isView(value)) return value;
  const Ctor = FLOAT_TAGS[Object.prototype.toString.call(value)];
  if (!Ctor) return value;
  const view = value as unknown as { buffer: ArrayBuffer; byteOffset: number; length: number };
  return new Ctor(view.buffer, view.byteOffset, view.length);
}

export function readWindowInput(msg: Record<string, any>, options: { now?: number; requireTopic?: boolean } = {}): Batch {
  const payload = sameRealmFloats(msg.payload);
  const timestamps = sameRealmFloats(msg.timestamps);
  if (payload !== msg.payload || timestamps !== msg.timestamps) return readSamples({ ...msg, payload, timestamps }, options);
  return readSamples(msg, options);
}
