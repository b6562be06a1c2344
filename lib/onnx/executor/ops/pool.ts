/**
 * MaxPool, AveragePool (count_include_pad, ceil_mode, dilations), GlobalAveragePool and
 * GlobalMaxPool for 1-D to 3-D inputs. Padding is applied explicitly (−∞ for max, 0 for average,
 * with a mask for the divisor), then tfjs pools with 'valid' windows; dilated windows are taken
 * as strided slices and reduced.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { OpFn, Tensor, OpContext, Attributes, need, check, TF } from '../types';
import { planSpatial, toChannelsLast, toChannelsFirst } from './conv';
import { takeStrided } from './shape';

/** Pool channels-last padded `x` with 'valid' windows; sum/max over kernel offsets when dilated. */
function poolValid(tf: TF, x: Tensor, kind: 'max' | 'avg', kernel: number[], strides: number[], dilations: number[], out: number[]): Tensor {
  const sp = kernel.length;
  if (dilations.every(d => d === 1) && (sp <= 2 || (sp === 3 && kind === 'avg'))) {
    if (sp === 1) {
      const xs = x.shape as number[];
      const x4 = x.reshape([xs[0], 1, xs[1], xs[2]]) as tfTypes.Tensor4D;
      const y = kind === 'max' ? tf.maxPool(x4, [1, kernel[0]], [1, strides[0]], 'valid') : tf.avgPool(x4, [1, kernel[0]], [1, strides[0]], 'valid');
      return y.reshape([y.shape[0], y.shape[2], y.shape[3]]);
    }
    if (sp === 2) {
      const k = kernel as [number, number];
      const s = strides as [number, number];
      return kind === 'max' ? tf.maxPool(x as tfTypes.Tensor4D, k, s, 'valid') : tf.avgPool(x as tfTypes.Tensor4D, k, s, 'valid');
    }
    return tf.avgPool3d(x as tfTypes.Tensor5D, kernel as [number, number, number], strides as [number, number, number], 'valid');
  }
  // 3-D max pooling avoids tf.maxPool3d: the wasm backend's MaxPool3D starts from FLT_MIN, so
  // all-negative windows come out as 1.2e-38; it goes the separable way below (exact everywhere)
  const windowSize = kernel.reduce((a, b) => a * b, 1);
  if (windowSize <= 16 && sp <= 2) {
    // small 1-D/2-D windows: one strided view per kernel offset, reduced (tfjs slices of rank 5 are slow)
    let acc: Tensor | undefined;
    const offsets: number[][] = kernel.reduce<number[][]>((acc0, k) => acc0.flatMap(o => Array.from({ length: k }, (_, i) => [...o, i])), [[]]);
    for (const off of offsets) {
      let v = x;
      off.forEach((o, i) => {
        v = takeStrided(tf, v, i + 1, o * dilations[i], strides[i], out[i]);
      });
      acc = acc === undefined ? v : kind === 'max' ? tf.maximum(acc, v) : tf.add(acc, v);
    }
    return kind === 'max' ? acc! : tf.div(acc!, windowSize);
  }
  // large dilated windows: max and mean are separable over a rectangular window, pool one axis at a time
  let y = x;
  for (let i = 0; i < sp; i++) y = pool1d(tf, y, i + 1, kind, kernel[i], strides[i], dilations[i], out[i]);
  return y;
}

/**
 * Pool along one spatial axis of a channels-last tensor with kernel k, stride s, dilation d,
 * producing `out` positions. Dilation by moving the d phases into the batch (as spaceToBatch does),
 * pooling at stride 1 and taking every s-th position.
 */
function pool1d(tf: TF, x: Tensor, axis: number, kind: 'max' | 'avg', k: number, s: number, d: number, out: number): Tensor {
  const shape = x.shape as number[];
  const r = shape.length;
  const perm = [0, axis, ...[...Array(r).keys()].filter(i => i !== 0 && i !== axis)];
  const moved = tf.transpose(x, perm);
  const N = shape[0];
  const L = shape[axis];
  const M = shape.reduce((a, b) => a * b, 1) / (N * L);
  const restShape = perm.slice(2).map(i => shape[i]);
  const pool = (t: Tensor, kk: number, ss: number) => {
    const t4 = t as tfTypes.Tensor4D;
    return kind === 'max' ? tf.maxPool(t4, [1, kk], [1, ss], 'valid') : tf.avgPool(t4, [1, kk], [1, ss], 'valid');
  };
  let y: Tensor;
  if (d === 1) {
    y = pool(moved.reshape([N, 1, L, M]), k, s).reshape([N, out, M]);
  } else {
    const Lq = Math.ceil(L / d) * d;
    let t = moved.reshape([N, L, M]);
    if (Lq > L) t = tf.pad(t, [[0, 0], [0, Lq - L], [0, 0]], kind === 'max' ? -Infinity : 0);
    if (s % d === 0) {
      // every output starts at a multiple of d: only phase 0 is needed, pooled at stride s / d
      t = tf.slice(t.reshape([N, Lq / d, d, M]), [0, 0, 0, 0], [N, Lq / d, 1, M]).reshape([N, 1, Lq / d, M]);
      y = takeStrided(tf, pool(t, k, s / d).reshape([N, -1, M]), 1, 0, 1, out);
      const inv0 = perm.map((_, i) => perm.indexOf(i));
      return tf.transpose(y.reshape([N, out, ...restShape]), inv0);
    }
    t = tf.transpose(t.reshape([N, Lq / d, d, M]), [0, 2, 1, 3]).reshape([N * d, 1, Lq / d, M]);
    const m1 = Lq / d - k + 1;
    t = pool(t, k, 1).reshape([N, d, m1, M]);
    t = tf.transpose(t, [0, 2, 1, 3]).reshape([N, m1 * d, M]);
    y = takeStrided(tf, t, 1, 0, s, out);
  }
  const inv = perm.map((_, i) => perm.indexOf(i));
  return tf.transpose(y.reshape([N, out, ...restShape]), inv);
}

function pool(kind: 'max' | 'avg'): OpFn {
  return (inputs, attrs: Attributes, ctx: OpContext) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    check(x.rank >= 3 && x.rank <= 5, ctx, `input must be 3-D to 5-D (N, C, spatial…), got [${x.shape}]`);
    check(ctx.outputCount <= 1, ctx, 'the Indices output is not supported');
    check(attrs.int('storage_order', 0) === 0, ctx, 'storage_order=1 is not supported');
    const kernel = attrs.ints('kernel_shape');
    check(kernel && kernel.length === x.rank - 2, ctx, `kernel_shape must have ${x.rank - 2} values`);
    const sp = x.shape.slice(2);
    const plan = planSpatial(sp, kernel, attrs, ctx, attrs.int('ceil_mode', 0) !== 0);
    // extra zero/−∞ padding at the end so that the last (ceil-mode) window fits
    const extra = sp.map((L, i) => Math.max(0, (plan.out[i] - 1) * plan.strides[i] + (kernel[i] - 1) * plan.dilations[i] + 1 - (L + plan.pads[i][0] + plan.pads[i][1])));
    const full: [number, number][] = [[0, 0], ...plan.pads.map(([b, e], i) => [b, e + extra[i]] as [number, number]), [0, 0]];
    const xl = toChannelsLast(tf, x);
    if (kind === 'max') {
      check(x.dtype === 'float32', ctx, `expects a float tensor, got ${x.dtype}`);
      const xp = tf.pad(xl, full, -Infinity);
      return [toChannelsFirst(tf, poolValid(tf, xp, 'max', kernel, plan.strides, plan.dilations, plan.out))];
    }
    const xp = tf.pad(xl, full, 0);
    const sum = poolValid(tf, xp, 'avg', kernel, plan.strides, plan.dilations, plan.out);
    const includePad = attrs.int('count_include_pad', 0) !== 0;
    const noPadding = full.every(([b, e]) => b === 0 && e === 0);
    if (noPadding) return [toChannelsFirst(tf, sum)];
    let mask: Tensor = tf.ones([1, ...sp, 1]);
    mask = tf.pad(mask, [[0, 0], ...plan.pads, [0, 0]], includePad ? 1 : 0);
    mask = tf.pad(mask, [[0, 0], ...extra.map(e => [0, e] as [number, number]), [0, 0]], 0);
    const count = poolValid(tf, mask, 'avg', kernel, plan.strides, plan.dilations, plan.out);
    return [toChannelsFirst(tf, tf.div(sum, count))];
  };
}

function globalPool(kind: 'max' | 'avg'): OpFn {
  return (inputs, _a, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    check(x.rank >= 3, ctx, `input must be N×C×spatial, got [${x.shape}]`);
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
    return [kind === 'max' ? tf.max(x, axes, true) : tf.mean(x, axes, true)];
  };
}

export const poolOps: Record<string, OpFn> = {
  MaxPool: pool('max'),
  AveragePool: pool('avg'),
  GlobalAveragePool: globalPool('avg'),
  GlobalMaxPool: globalPool('max'),
};
