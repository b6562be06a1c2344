/**
 * Activations and the softmax family. Softmax / LogSoftmax / Hardmax follow opset 13's
 * single-axis semantics (default axis -1) from opset 13 on, and the older coerce-to-2-D semantics
 * (flatten to [prod(d0..axis-1), prod(axis..)], default axis 1) before it.
 */
import { OpFn, Tensor, OpContext, Attributes, need, check, normAxis } from '../types';

function act(fn: (x: Tensor, attrs: Attributes, ctx: OpContext) => Tensor): OpFn {
  return (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    check(x.dtype === 'float32', ctx, `expects a float tensor, got ${x.dtype}`);
    return [fn(x, attrs, ctx)];
  };
}

/** Apply `fn(x2d)` along the last axis after moving/coercing per the op's opset semantics. */
function softmaxLike(fn: (x: Tensor, ctx: OpContext) => Tensor): OpFn {
  return act((x, attrs, ctx) => {
    const { tf } = ctx;
    const rank = x.rank;
    if (rank === 0) return fn(x.reshape([1]), ctx).reshape([]);
    if (ctx.opset >= 13) {
      const axis = normAxis(attrs.int('axis', -1), rank, ctx);
      if (axis === rank - 1) return fn(x, ctx);
      const perm = [...Array(rank).keys()];
      perm[axis] = rank - 1;
      perm[rank - 1] = axis;
      return tf.transpose(fn(tf.transpose(x, perm), ctx), perm);
    }
    const axis = normAxis(attrs.int('axis', 1), rank, ctx);
    const n = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const d = x.shape.slice(axis).reduce((a, b) => a * b, 1);
    return fn(x.reshape([n, d]), ctx).reshape(x.shape);
  });
}

export const activationOps: Record<string, OpFn> = {
  Relu: act((x, _a, { tf }) => tf.relu(x)),
  LeakyRelu: act((x, a, { tf }) => tf.leakyRelu(x, a.float('alpha', 0.01))),
  Sigmoid: act((x, _a, { tf }) => tf.sigmoid(x)),
  Tanh: act((x, _a, { tf }) => tf.tanh(x)),
  Elu: act((x, a, { tf }) => {
    const alpha = a.float('alpha', 1);
    return alpha === 1 ? tf.elu(x) : tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(x), 1)));
  }),
  Celu: act((x, a, { tf }) => {
    const alpha = a.float('alpha', 1);
    return tf.add(tf.relu(x), tf.minimum(0, tf.mul(alpha, tf.sub(tf.exp(tf.div(x, alpha)), 1))));
  }),
  Selu: act((x, a, { tf }) => {
    const alpha = a.float('alpha', 1.67326319217681884765625);
    const gamma = a.float('gamma', 1.05070102214813232421875);
    return tf.mul(gamma, tf.where(tf.greater(x, 0), x, tf.mul(alpha, tf.sub(tf.exp(x), 1))));
  }),
  Softplus: act((x, _a, { tf }) => tf.softplus(x)),
  Softsign: act((x, _a, { tf }) => tf.div(x, tf.add(1, tf.abs(x)))),
  HardSigmoid: act((x, a, { tf }) => tf.clipByValue(tf.add(tf.mul(a.float('alpha', 0.2), x), a.float('beta', 0.5)), 0, 1)),
  HardSwish: act((x, _a, { tf }) => tf.mul(x, tf.clipByValue(tf.add(tf.mul(1 / 6, x), 0.5), 0, 1))),
  ThresholdedRelu: act((x, a, { tf }) => tf.where(tf.greater(x, a.float('alpha', 1)), x, tf.zerosLike(x))),
  PRelu: (inputs, _a, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    let slope = need(inputs, 1, ctx);
    const xs = x.shape as number[];
    // opset < 7 slopes are per channel (axis 1) when they do not broadcast numpy-style
    if (slope.rank === 1 && x.rank >= 2 && slope.size === xs[1] && slope.size !== xs[x.rank - 1] && slope.size !== 1) {
      slope = slope.reshape([slope.size, ...Array(x.rank - 2).fill(1)]);
    }
    return [tf.add(tf.relu(x), tf.mul(slope, tf.minimum(x, 0)))];
  },
  Softmax: softmaxLike((x, { tf }) => tf.softmax(x)),
  LogSoftmax: softmaxLike((x, { tf }) => tf.logSoftmax(x)),
  Hardmax: softmaxLike((x, { tf }) => {
    const last = x.shape[x.rank - 1];
    // int32 one-hot then cast: the wasm backend's float32 oneHot writes integer bit patterns
    return tf.cast(tf.oneHot(tf.argMax(x, -1), last), 'float32').reshape(x.shape);
  }),
};
