/**
 * Element-wise ops: arithmetic with numpy broadcasting (Add, Sub, Mul, Div, Pow, Min, Max, Sum,
 * Mean), unary math, comparisons and logic, Where and Clip.
 */
import { OpFn, Tensor, OpContext, need, check, Value } from '../types';

type Binary = (a: Tensor, b: Tensor) => Tensor;

function binary(fn: (ctx: OpContext) => Binary): OpFn {
  return (inputs, _attrs, ctx) => {
    const a = need(inputs, 0, ctx);
    const b = need(inputs, 1, ctx);
    check(a.dtype === b.dtype, ctx, `inputs have different types (${a.dtype} and ${b.dtype})`);
    return [fn(ctx)(a, b)];
  };
}

function unary(fn: (t: Tensor, ctx: OpContext) => Tensor, floatOnly = true): OpFn {
  return (inputs, _attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    if (floatOnly) check(x.dtype === 'float32', ctx, `expects a float tensor, got ${x.dtype}`);
    return [fn(x, ctx)];
  };
}

function variadic(fn: (ts: Tensor[], ctx: OpContext) => Tensor): OpFn {
  return (inputs, _attrs, ctx) => {
    const ts = inputs.filter((t): t is Tensor => !!t);
    check(ts.length > 0, ctx, 'needs at least one input');
    return [fn(ts, ctx)];
  };
}

/** Integer division truncating toward zero (C semantics, as ONNX Runtime does for int types). */
function truncDiv(ctx: OpContext, a: Tensor, b: Tensor): Tensor {
  const { tf } = ctx;
  const q = tf.div(tf.cast(a, 'float32'), tf.cast(b, 'float32'));
  return tf.cast(tf.mul(tf.sign(q), tf.floor(tf.abs(q))), 'int32');
}

export const elementwiseOps: Record<string, OpFn> = {
  Add: binary(({ tf }) => (a, b) => tf.add(a, b)),
  Sub: binary(({ tf }) => (a, b) => tf.sub(a, b)),
  Mul: binary(({ tf }) => (a, b) => tf.mul(a, b)),
  Div: binary(ctx => (a, b) => (a.dtype === 'int32' ? truncDiv(ctx, a, b) : ctx.tf.div(a, b))),
  Pow: (inputs, _a, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    let y = need(inputs, 1, ctx);
    if (y.dtype !== x.dtype) y = tf.cast(y, x.dtype);
    if (x.dtype === 'int32') return [tf.cast(tf.round(tf.pow(tf.cast(x, 'float32'), tf.cast(y, 'float32'))), 'int32')];
    return [tf.pow(x, y)];
  },
  Max: variadic((ts, { tf }) => ts.reduce((a, b) => tf.maximum(a, b))),
  Min: variadic((ts, { tf }) => ts.reduce((a, b) => tf.minimum(a, b))),
  Sum: variadic((ts, { tf }) => ts.reduce((a, b) => tf.add(a, b))),
  Mean: variadic((ts, { tf }) => tf.div(ts.reduce((a, b) => tf.add(a, b)), tf.scalar(ts.length))),

  Neg: unary((x, { tf }) => tf.neg(x), false),
  Abs: unary((x, { tf }) => tf.abs(x), false),
  Sign: unary((x, { tf }) => tf.sign(x), false),
  Exp: unary((x, { tf }) => tf.exp(x)),
  Log: unary((x, { tf }) => tf.log(x)),
  Sqrt: unary((x, { tf }) => tf.sqrt(x)),
  Reciprocal: unary((x, { tf }) => tf.reciprocal(x)),
  Floor: unary((x, { tf }) => tf.floor(x)),
  Ceil: unary((x, { tf }) => tf.ceil(x)),
  // tf.round rounds half to even, as ONNX Round requires
  Round: unary((x, { tf }) => tf.round(x)),
  Sin: unary((x, { tf }) => tf.sin(x)),
  Cos: unary((x, { tf }) => tf.cos(x)),
  Tan: unary((x, { tf }) => tf.tan(x)),
  Asin: unary((x, { tf }) => tf.asin(x)),
  Acos: unary((x, { tf }) => tf.acos(x)),
  Atan: unary((x, { tf }) => tf.atan(x)),
  Sinh: unary((x, { tf }) => tf.sinh(x)),
  Cosh: unary((x, { tf }) => tf.cosh(x)),
  Asinh: unary((x, { tf }) => tf.asinh(x)),
  Acosh: unary((x, { tf }) => tf.acosh(x)),
  Atanh: unary((x, { tf }) => tf.atanh(x)),
  Erf: unary((x, { tf }) => tf.erf(x)),
  IsNaN: unary((x, { tf }) => tf.isNaN(x)),

  Equal: binary(({ tf }) => (a, b) => tf.equal(a, b)),
  Greater: binary(({ tf }) => (a, b) => tf.greater(a, b)),
  Less: binary(({ tf }) => (a, b) => tf.less(a, b)),
  GreaterOrEqual: binary(({ tf }) => (a, b) => tf.greaterEqual(a, b)),
  LessOrEqual: binary(({ tf }) => (a, b) => tf.lessEqual(a, b)),
  Not: unary((x, { tf }) => tf.logicalNot(x), false),
  And: binary(({ tf }) => (a, b) => tf.logicalAnd(a, b)),
  Or: binary(({ tf }) => (a, b) => tf.logicalOr(a, b)),
  Xor: binary(({ tf }) => (a, b) => tf.logicalXor(a, b)),

  Where: (inputs, _a, ctx) => {
    const { tf } = ctx;
    const c = need(inputs, 0, ctx);
    const a = need(inputs, 1, ctx);
    const b = need(inputs, 2, ctx);
    check(c.dtype === 'bool', ctx, `condition must be bool, got ${c.dtype}`);
    return [tf.where(c, a, b)];
  },

  Clip: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    let lo: number;
    let hi: number;
    if (ctx.opset < 11) {
      lo = attrs.float('min', -3.4028234663852886e38);
      hi = attrs.float('max', 3.4028234663852886e38);
    } else {
      lo = inputs[1] ? (inputs[1] as Tensor).dataSync()[0] : -Infinity;
      hi = inputs[2] ? (inputs[2] as Tensor).dataSync()[0] : Infinity;
    }
    if (lo > hi) return [tf.fill(x.shape, hi, x.dtype)];
    // clipByValue needs finite bounds on some backends; apply each bound separately
    let y: Tensor = x;
    if (Number.isFinite(lo)) y = tf.maximum(y, tf.scalar(lo, x.dtype));
    if (Number.isFinite(hi)) y = tf.minimum(y, tf.scalar(hi, x.dtype));
    return [y === x ? tf.clone(x) : y];
  },
};

export function isTensor(v: Value): v is Tensor {
  return v !== undefined;
}
