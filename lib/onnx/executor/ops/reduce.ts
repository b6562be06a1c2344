/**
 * Reductions (ReduceSum/Mean/Max/Min/Prod/SumSquare/L1/L2/LogSum/LogSumExp), ArgMax/ArgMin and
 * CumSum. Axes come from the attribute, or from the second input where the opset moved them there
 * (ReduceSum from opset 13, the others from opset 18), with keepdims and noop_with_empty_axes.
 */
import { OpFn, Tensor, OpContext, Attributes, need, check, normAxis, intValues, TF } from '../types';

type Reducer = (tf: TF, x: Tensor, axes: number[]) => Tensor;

function reduce(fn: Reducer, axesInputFrom: number): OpFn {
  return (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    let axes: number[] | undefined;
    if (ctx.opset >= axesInputFrom) axes = inputs[1] ? intValues(inputs[1]) : undefined;
    else axes = attrs.ints('axes');
    if (axes && axes.length === 0) axes = undefined;
    const keep = attrs.int('keepdims', 1) !== 0;
    if (!axes) {
      if (attrs.int('noop_with_empty_axes', 0) !== 0) return [tf.clone(x)];
      axes = [...Array(x.rank).keys()];
    }
    const norm = axes.map(a => normAxis(a, x.rank, ctx));
    let y = x.rank === 0 ? tf.clone(x) : fn(tf, x, norm);
    if (keep) y = y.reshape(x.shape.map((d, i) => (norm.includes(i) ? 1 : d)));
    return [y];
  };
}

function argReduce(isMax: boolean): OpFn {
  return (inputs, attrs: Attributes, ctx: OpContext) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const axis = normAxis(attrs.int('axis', 0), x.rank, ctx);
    const keep = attrs.int('keepdims', 1) !== 0;
    const last = attrs.int('select_last_index', 0) !== 0;
    const src = last ? tf.reverse(x, [axis]) : x;
    let idx = isMax ? tf.argMax(src, axis) : tf.argMin(src, axis);
    if (last) idx = tf.sub(tf.scalar(x.shape[axis] - 1, 'int32'), idx);
    if (keep) idx = idx.reshape(x.shape.map((d, i) => (i === axis ? 1 : d)));
    return [idx];
  };
}

export const reduceOps: Record<string, OpFn> = {
  ReduceSum: reduce((tf, x, a) => tf.sum(x, a), 13),
  ReduceMean: reduce((tf, x, a) => tf.mean(x, a), 18),
  ReduceMax: reduce((tf, x, a) => tf.max(x, a), 18),
  ReduceMin: reduce((tf, x, a) => tf.min(x, a), 18),
  ReduceProd: reduce((tf, x, a) => tf.prod(x, a), 18),
  ReduceSumSquare: reduce((tf, x, a) => tf.sum(tf.square(x), a), 18),
  ReduceL1: reduce((tf, x, a) => tf.sum(tf.abs(x), a), 18),
  ReduceL2: reduce((tf, x, a) => tf.sqrt(tf.sum(tf.square(x), a)), 18),
  ReduceLogSum: reduce((tf, x, a) => tf.log(tf.sum(x, a)), 18),
  ReduceLogSumExp: reduce((tf, x, a) => tf.logSumExp(x, a), 18),
  ArgMax: argReduce(true),
  ArgMin: argReduce(false),
  CumSum: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const axis = normAxis(intValues(need(inputs, 1, ctx))[0], x.rank, ctx);
    check(x.rank > 0, ctx, 'input must have rank ≥ 1');
    return [ctx.tf.cumsum(x, axis, attrs.int('exclusive', 0) !== 0, attrs.int('reverse', 0) !== 0)];
  },
};
