/**
 * BatchNormalization (inference: running mean and variance), InstanceNormalization and
 * LayerNormalization. Parameters broadcast over the channel axis 1 (N, C, …).
 */
import { OpFn, Tensor, need, check, normAxis, TF } from '../types';

function perChannel(t: Tensor, rank: number): Tensor {
  return t.reshape([t.shape[0], ...Array(Math.max(rank - 2, 0)).fill(1)]);
}

function affine(tf: TF, xhat: Tensor, scale: Tensor, bias: Tensor, rank: number): Tensor {
  return tf.add(tf.mul(xhat, perChannel(scale, rank)), perChannel(bias, rank));
}

export const normOps: Record<string, OpFn> = {
  BatchNormalization: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const [x, scale, bias, mean, variance] = [0, 1, 2, 3, 4].map(i => need(inputs, i, ctx));
    check(x.rank >= 2, ctx, `input must be N×C×…, got [${x.shape}]`);
    if (ctx.opset >= 14) check(attrs.int('training_mode', 0) === 0, ctx, 'training_mode=1 is not supported (inference only)');
    else check(ctx.outputCount <= 1, ctx, 'training outputs (running mean/var, saved stats) are not supported (inference only)');
    if (ctx.opset < 9) check(attrs.int('spatial', 1) === 1, ctx, 'spatial=0 is not supported');
    const eps = attrs.float('epsilon', 1e-5);
    const r = x.rank;
    const inv = tf.rsqrt(tf.add(perChannel(variance, r), eps));
    const xhat = tf.mul(tf.sub(x, perChannel(mean, r)), inv);
    return [affine(tf, xhat, scale, bias, r)];
  },

  InstanceNormalization: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const [x, scale, bias] = [0, 1, 2].map(i => need(inputs, i, ctx));
    check(x.rank >= 3, ctx, `input must be N×C×spatial, got [${x.shape}]`);
    const eps = attrs.float('epsilon', 1e-5);
    const axes = Array.from({ length: x.rank - 2 }, (_, i) => i + 2);
    const { mean, variance } = tf.moments(x, axes, true);
    const xhat = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
    return [affine(tf, xhat, scale, bias, x.rank)];
  },

  LayerNormalization: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const scale = need(inputs, 1, ctx);
    const bias = inputs[2];
    const axis = normAxis(attrs.int('axis', -1), x.rank, ctx);
    const eps = attrs.float('epsilon', 1e-5);
    const axes = Array.from({ length: x.rank - axis }, (_, i) => i + axis);
    const { mean, variance } = tf.moments(x, axes, true);
    const invStd = tf.rsqrt(tf.add(variance, eps));
    let y = tf.mul(tf.mul(tf.sub(x, mean), invStd), scale);
    if (bias) y = tf.add(y, bias);
    return [y, mean, invStd];
  },
};
