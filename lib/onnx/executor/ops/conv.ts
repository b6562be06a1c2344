/**
 * Conv for 1-D, 2-D and 3-D inputs (NC…, ONNX layout) with pads, strides, dilations, group and
 * auto_pad. Computed channels-last on tfjs: explicit padding first, then a 'valid' convolution;
 * grouped convolutions run as depthwise when each group has one input channel, else per group.
 */
import { OpFn, Tensor, OpContext, Attributes, need, check, TF } from '../types';
import { takeStrided } from './shape';
import { matMulFast } from './matmul';

export interface SpatialPlan {
  pads: [number, number][];
  strides: number[];
  dilations: number[];
  kernel: number[];
  out: number[];
}

/** Pads and output size per spatial axis for Conv and the pools (ONNX auto_pad rules). */
export function planSpatial(inShape: number[], kernel: number[], attrs: Attributes, ctx: OpContext, ceilMode = false): SpatialPlan {
  const n = kernel.length;
  const strides = attrs.ints('strides') ?? Array(n).fill(1);
  const dilations = attrs.ints('dilations') ?? Array(n).fill(1);
  const autoPad = attrs.string('auto_pad', 'NOTSET');
  check(strides.length === n && dilations.length === n, ctx, `strides/dilations must have ${n} values`);
  check(strides.every(s => s > 0) && dilations.every(d => d > 0), ctx, 'strides and dilations must be positive');
  const pads: [number, number][] = [];
  const out: number[] = [];
  const explicit = attrs.ints('pads') ?? Array(2 * n).fill(0);
  for (let i = 0; i < n; i++) {
    const dk = (kernel[i] - 1) * dilations[i] + 1;
    const L = inShape[i];
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
      const o = Math.ceil(L / strides[i]);
      const total = Math.max(0, (o - 1) * strides[i] + dk - L);
      const small = Math.floor(total / 2);
      pads.push(autoPad === 'SAME_UPPER' ? [small, total - small] : [total - small, small]);
      out.push(o);
    } else if (autoPad === 'VALID') {
      pads.push([0, 0]);
      out.push(Math.floor((L - dk) / strides[i]) + 1);
    } else {
      check(autoPad === 'NOTSET', ctx, `unknown auto_pad ${autoPad}`);
      check(explicit.length === 2 * n, ctx, `pads must have ${2 * n} values`);
      const [b, e] = [explicit[i], explicit[i + n]];
      pads.push([b, e]);
      const span = L + b + e - dk;
      let o = (ceilMode ? Math.ceil(span / strides[i]) : Math.floor(span / strides[i])) + 1;
      // ceil mode: a window that would start in the end padding is dropped (ONNX spec, as PyTorch)
      if (ceilMode && (o - 1) * strides[i] >= L + b) o -= 1;
      out.push(o);
    }
    check(out[i] > 0, ctx, `kernel ${kernel[i]} (dilation ${dilations[i]}) is larger than the padded input ${L}`);
  }
  return { pads, strides, dilations, kernel, out };
}

/** NC… → N…C */
export function toChannelsLast(tf: TF, x: Tensor): Tensor {
  const r = x.rank;
  return tf.transpose(x, [0, ...Array.from({ length: r - 2 }, (_, i) => i + 2), 1]);
}

/** N…C → NC… */
export function toChannelsFirst(tf: TF, x: Tensor): Tensor {
  const r = x.rank;
  return tf.transpose(x, [0, r - 1, ...Array.from({ length: r - 2 }, (_, i) => i + 1)]);
}

function convOneGroup(tf: TF, x: Tensor, w: Tensor, strides: number[], dilations: number[], depthwise: boolean): Tensor {
  // x: N…C channels-last (2-D or 3-D spatial); w: ONNX [M, C/g, k…]
  const sp = x.rank - 2;
  if (sp === 2) {
    const s = strides as [number, number];
    const d = dilations as [number, number];
    if (depthwise) {
      const [M, , kh, kw] = w.shape as number[];
      const C = (x.shape as number[])[3];
      const f = tf.transpose(w.reshape([C, M / C, kh, kw]), [2, 3, 0, 1]) as import('@tensorflow/tfjs').Tensor4D;
      return tf.depthwiseConv2d(x as import('@tensorflow/tfjs').Tensor4D, f, s, 'valid', 'NHWC', d);
    }
    const f = tf.transpose(w, [2, 3, 1, 0]) as import('@tensorflow/tfjs').Tensor4D;
    return tf.conv2d(x as import('@tensorflow/tfjs').Tensor4D, f, s, 'valid', 'NHWC', d);
  }
  const f = tf.transpose(w, [2, 3, 4, 1, 0]) as import('@tensorflow/tfjs').Tensor5D;
  return tf.conv3d(x as import('@tensorflow/tfjs').Tensor5D, f, strides as [number, number, number], 'valid', 'NDHWC', dilations as [number, number, number]);
}

/**
 * 2-D convolution of channels-last, already padded x [N, H, W, C] by ONNX weights [M, C/g, kh, kw]
 * as patches · weights: one strided view per kernel offset, concatenated on the channel axis,
 * then a MatMul per group. Needs only Slice/Concat/Reshape/MatMul and their gradients.
 */
function convIm2col(tf: TF, x: Tensor, w: Tensor, strides: number[], dil: number[], g: number): Tensor {
  const [N, H, W, C] = x.shape as number[];
  const [M, Cg, kh, kw] = w.shape as number[];
  const OH = Math.floor((H - ((kh - 1) * dil[0] + 1)) / strides[0]) + 1;
  const OW = Math.floor((W - ((kw - 1) * dil[1] + 1)) / strides[1]) + 1;
  const K = kh * kw;
  const cols: Tensor[] = [];
  for (let i = 0; i < kh; i++) {
    const row = takeStrided(tf, x, 1, i * dil[0], strides[0], OH);
    for (let j = 0; j < kw; j++) cols.push(takeStrided(tf, row, 2, j * dil[1], strides[1], OW));
  }
  const P = N * OH * OW;
  const patches = (K === 1 ? cols[0] : tf.concat(cols, 3)).reshape([P, K, C]); // offset-major, channel-minor
  const Mg = M / g;
  const outs: Tensor[] = [];
  for (let gi = 0; gi < g; gi++) {
    const pg = g === 1 ? patches : tf.slice(patches, [0, 0, gi * Cg], [P, K, Cg]);
    const wg = g === 1 ? w : tf.slice(w, [gi * Mg, 0, 0, 0], [Mg, Cg, kh, kw]);
    const wm = tf.transpose(wg, [2, 3, 1, 0]).reshape([K * Cg, Mg]);
    outs.push(matMulFast(tf, pg.reshape([P, K * Cg]), wm));
  }
  return (g === 1 ? outs[0] : tf.concat(outs, 1)).reshape([N, OH, OW, M]);
}

export const convOps: Record<string, OpFn> = {
  Conv: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    let x = need(inputs, 0, ctx);
    let w = need(inputs, 1, ctx);
    const b = inputs[2];
    check(x.rank >= 3 && x.rank <= 5, ctx, `input must be 3-D to 5-D (N, C, spatial…), got [${x.shape}]`);
    check(w.rank === x.rank, ctx, `weight rank ${w.rank} differs from input rank ${x.rank}`);
    const g = attrs.int('group', 1);
    const C = (x.shape as number[])[1];
    const M = (w.shape as number[])[0];
    check(C % g === 0 && M % g === 0 && (w.shape as number[])[1] * g === C, ctx, `group ${g} does not fit ${C} input channels and weight [${w.shape}]`);
    const kernel = attrs.ints('kernel_shape') ?? (w.shape as number[]).slice(2);
    check(kernel.every((k, i) => k === w.shape[i + 2]), ctx, `kernel_shape [${kernel}] differs from weight [${w.shape}]`);
    const oneD = x.rank === 3;
    if (oneD) {
      const [xs, ws] = [x.shape as number[], w.shape as number[]];
      x = x.reshape([xs[0], xs[1], 1, xs[2]]);
      w = w.reshape([ws[0], ws[1], 1, ws[2]]);
    }
    const sp = x.shape.slice(2);
    const plan = planSpatial(oneD ? [sp[1]] : sp, oneD ? [kernel[0]] : kernel, attrs, ctx);
    const pads: [number, number][] = oneD ? [[0, 0], ...plan.pads] : plan.pads;
    const strides = oneD ? [1, ...plan.strides] : plan.strides;
    const dil = oneD ? [1, ...plan.dilations] : plan.dilations;
    let xl = toChannelsLast(tf, x);
    if (pads.some(([p, q]) => p || q)) xl = tf.pad(xl, [[0, 0], ...pads, [0, 0]]);
    // tfjs refuses strides > 1 together with dilations > 1: convolve at stride 1, then subsample
    const both = strides.some(s => s > 1) && dil.some(d => d > 1);
    const runStrides = both ? strides.map(() => 1) : strides;
    let y: Tensor;
    if (ctx.convImpl === 'im2col' && xl.rank === 4) {
      y = convIm2col(tf, xl, w, strides, dil, g);
      if (b) y = tf.add(y, b);
      y = toChannelsFirst(tf, y);
      if (oneD) {
        const ys = y.shape as number[];
        y = y.reshape([ys[0], ys[1], ys[3]]);
      }
      return [y];
    }
    if (g === 1) y = convOneGroup(tf, xl, w, runStrides, dil, false);
    else if (w.shape[1] === 1 && xl.rank === 4) y = convOneGroup(tf, xl, w, runStrides, dil, true);
    else {
      const cg = C / g;
      const mg = M / g;
      const parts: Tensor[] = [];
      for (let i = 0; i < g; i++) {
        const xi = tf.slice(xl, xl.shape.map((_, a) => (a === xl.rank - 1 ? i * cg : 0)), xl.shape.map((d, a) => (a === xl.rank - 1 ? cg : d)));
        const wi = tf.slice(w, w.shape.map((_, a) => (a === 0 ? i * mg : 0)), w.shape.map((d, a) => (a === 0 ? mg : d)));
        parts.push(convOneGroup(tf, xi, wi, runStrides, dil, false));
      }
      y = tf.concat(parts, xl.rank - 1);
    }
    if (both) {
      strides.forEach((s, i) => {
        if (s > 1) y = takeStrided(tf, y, i + 1, 0, s, Math.floor((y.shape[i + 1] - 1) / s) + 1);
      });
    }
    if (b) y = tf.add(y, b);
    y = toChannelsFirst(tf, y);
    if (oneD) {
      const ys = y.shape as number[];
      y = y.reshape([ys[0], ys[1], ys[3]]);
    }
    return [y];
  },
};
