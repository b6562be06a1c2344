/**
 * Quantisation arithmetic, independent of any graph.
 *
 * Conventions (those of ONNX QuantizeLinear and ONNX Runtime's quantisation tool):
 *   q = saturate(roundHalfToEven(x / scale) + zeroPoint),   x ≈ (q − zeroPoint) · scale
 * Weights: int8, symmetric (zero point 0, range [−127, 127]), per tensor or per output channel.
 * Activations: uint8, asymmetric, the range always widened to include 0 so 0 is exact.
 * Paper eq. 3, Q = round(F / s): weights with a fixed scale (the paper's s = 0.125) instead of one
 * computed from the data; values beyond ±127·s saturate and are counted.
 */

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/** Round half to even, as ONNX QuantizeLinear does. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** uint8 activation parameters for a value range [min, max] (widened to include 0). */
export function uint8Params(min: number, max: number): QParams {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) throw new RangeError(`invalid range [${min}, ${max}]`);
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  if (hi === lo) return { scale: 1, zeroPoint: 0 };
  const scale = (hi - lo) / 255;
  const zeroPoint = Math.min(255, Math.max(0, roundHalfEven(-lo / scale)));
  return { scale, zeroPoint };
}

/** int8 symmetric scale for values with largest magnitude `absMax` (1 when all are 0). */
export function int8SymmetricScale(absMax: number): number {
  return absMax > 0 ? absMax / 127 : 1;
}

/** Quantize to uint8 with given params (saturating). */
export function quantizeUint8(x: ArrayLike<number>, p: QParams): Uint8Array {
  const out = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.min(255, Math.max(0, roundHalfEven(x[i] / p.scale) + p.zeroPoint));
  return out;
}

export interface WeightQuantOptions {
  /** one scale per output channel (true) or one for the whole tensor */
  perChannel: boolean;
  /** axis of the output channels: 1 for a MatMul weight [K, N], 0 for Conv [M, C, kh, kw] */
  channelAxis: 0 | 1;
  /** paper eq. 3: a fixed scale for every weight instead of one from the data */
  fixedScale?: number;
}

export interface QuantizedWeight {
  q: Int8Array;
  /** one scale (per tensor) or one per channel */
  scales: Float32Array;
  /** weights that hit ±127 although their value lay beyond it (fixed scale only) */
  saturated: number;
  /** largest |w − dequantized w| */
  maxError: number;
}

/**
 * Quantize a weight tensor to int8. `dims[0]` rows; for channelAxis 0 a channel is a row
 * (dims[0] channels of length size/dims[0]); for channelAxis 1 a channel is a column of a 2-D [K, N].
 */
export function quantizeWeight(w: Float32Array, dims: number[], opts: WeightQuantOptions): QuantizedWeight {
  if (opts.fixedScale !== undefined && !(opts.fixedScale > 0)) throw new RangeError(`fixed scale must be > 0, got ${opts.fixedScale}`);
  const channels = opts.perChannel ? (opts.channelAxis === 0 ? dims[0] : dims[1]) : 1;
  if (opts.perChannel && opts.channelAxis === 1 && dims.length !== 2) throw new RangeError('channel axis 1 needs a 2-D weight');
  const chanOf = !opts.perChannel
    ? () => 0
    : opts.channelAxis === 0
      ? ((per: number) => (i: number) => Math.floor(i / per))(w.length / dims[0])
      : ((n: number) => (i: number) => i % n)(dims[1]);
  const scales = new Float32Array(channels);
  if (opts.fixedScale !== undefined) {
    scales.fill(opts.fixedScale);
  } else {
    const absMax = new Float64Array(channels);
    for (let i = 0; i < w.length; i++) {
      const c = chanOf(i);
      const a = Math.abs(w[i]);
      if (a > absMax[c]) absMax[c] = a;
    }
    for (let c = 0; c < channels; c++) scales[c] = int8SymmetricScale(absMax[c]);
  }
  const q = new Int8Array(w.length);
  let saturated = 0;
  let maxError = 0;
  for (let i = 0; i < w.length; i++) {
    const s = scales[chanOf(i)];
    let v = roundHalfEven(w[i] / s);
    if (v > 127) { v = 127; saturated++; } else if (v < -127) { v = -127; saturated++; }
    q[i] = v;
    const e = Math.abs(w[i] - v * s);
    if (e > maxError) maxError = e;
  }
  return { q, scales, saturated, maxError };
}

/** Running min/max of a tensor over calibration batches. */
export class RangeObserver {
  min = Infinity;
  max = -Infinity;
  update(x: ArrayLike<number>): void {
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
    }
  }
  get seen(): boolean {
    return this.min <= this.max;
  }
  params(): QParams {
    if (!this.seen) throw new RangeError('no calibration values seen');
    return uint8Params(this.min, this.max);
  }
}

/** The paper's fixed activation range: [−8, 7.875] (§3.1 and §4.2). */
export const PAPER_ACTIVATION_RANGE: readonly [number, number] = [-8, 7.875];
/** The paper's fixed weight scale (§3.1 says 0.125; eq. 3 in §4.2 prints 0.127; 0.125 = 2^-3 is the one we take). */
export const PAPER_WEIGHT_SCALE = 0.125;
