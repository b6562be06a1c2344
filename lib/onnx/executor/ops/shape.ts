/**
 * Shape and data-movement ops: Flatten, Reshape, Transpose, Concat, Squeeze, Unsqueeze, Gather,
 * GatherElements, Slice, Identity, Dropout (inference), Shape, Size, Constant, ConstantOfShape,
 * Cast, CastLike, Expand, Tile, Split, Pad, Range, Trilu, DepthToSpace, SpaceToDepth.
 * Attribute-vs-input forms follow the opset the model imports.
 */
import { onnx } from 'onnx-proto';
import { OpFn, Tensor, OpContext, need, check, normAxis, intValues, TF, Value } from '../types';
import { protoToTf, tfDtypeOf, typeOfCode } from '../tensor';

const prod = (a: number[]): number => a.reduce((x, y) => x * y, 1);

/** Take every `step`-th element along `axis` from `start`, `count` of them (step ≥ 1), differentiable. */
export function takeStrided(tf: TF, x: Tensor, axis: number, start: number, step: number, count: number): Tensor {
  if (count <= 0) {
    const shape = [...x.shape];
    shape[axis] = 0;
    return tf.zeros(shape, x.dtype);
  }
  if (step === 1) {
    const begin = x.shape.map((_, i) => (i === axis ? start : 0));
    const size = x.shape.map((d, i) => (i === axis ? count : d));
    return tf.slice(x, begin, size);
  }
  const need = count * step;
  const avail = x.shape[axis] - start;
  let y = x;
  const begin = x.shape.map((_, i) => (i === axis ? start : 0));
  const size = x.shape.map((d, i) => (i === axis ? Math.min(need, avail) : d));
  y = tf.slice(y, begin, size);
  if (avail < need) {
    const pads = x.shape.map((_, i) => (i === axis ? [0, need - avail] : [0, 0]) as [number, number]);
    y = tf.pad(y, pads);
  }
  const split = [...x.shape.slice(0, axis), count, step, ...x.shape.slice(axis + 1)];
  y = y.reshape(split);
  const b2 = split.map(() => 0);
  const s2 = split.map((d, i) => (i === axis + 1 ? 1 : d));
  return tf.slice(y, b2, s2).reshape(x.shape.map((d, i) => (i === axis ? count : d)));
}

function castTo(tf: TF, x: Tensor, to: number, ctx: OpContext): Tensor {
  const type = typeOfCode(to);
  const dtype = type && tfDtypeOf(type);
  check(dtype, ctx, `cannot cast to ${type ?? `type ${to}`}: tfjs has float32, int32 and bool`);
  if (dtype === x.dtype) return tf.clone(x);
  if (dtype === 'int32' && x.dtype === 'float32') {
    // truncate toward zero as ONNX / C casts do (same on every backend)
    return tf.cast(tf.mul(tf.sign(x), tf.floor(tf.abs(x))), 'int32');
  }
  return tf.cast(x, dtype);
}

function squeezeAxes(inputs: Value[], attrs: { ints(n: string): number[] | undefined }, ctx: OpContext): number[] | undefined {
  if (ctx.opset >= 13) return inputs[1] ? intValues(inputs[1]) : undefined;
  return attrs.ints('axes');
}

/** Output shape of numpy broadcasting of two shapes. */
export function broadcastShapes(a: number[], b: number[], ctx: OpContext): number[] {
  const n = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const x = a[a.length - n + i] ?? 1;
    const y = b[b.length - n + i] ?? 1;
    check(x === y || x === 1 || y === 1, ctx, `shapes [${a}] and [${b}] do not broadcast`);
    out.push(x === 1 ? y : x);
  }
  return out;
}

function edgePad(tf: TF, x: Tensor, pads: [number, number][]): Tensor {
  let y = x;
  pads.forEach(([lo, hi], axis) => {
    if (!lo && !hi) return;
    const parts: Tensor[] = [];
    const d = y.shape[axis];
    const sizeOne = y.shape.map((s, i) => (i === axis ? 1 : s));
    if (lo) {
      const first = tf.slice(y, y.shape.map(() => 0), sizeOne);
      parts.push(tf.concat(Array(lo).fill(first), axis));
    }
    parts.push(y);
    if (hi) {
      const last = tf.slice(y, y.shape.map((_, i) => (i === axis ? d - 1 : 0)), sizeOne);
      parts.push(tf.concat(Array(hi).fill(last), axis));
    }
    y = tf.concat(parts, axis);
  });
  return y;
}

export const shapeOps: Record<string, OpFn> = {
  Identity: (inputs, _a, ctx) => [ctx.tf.clone(need(inputs, 0, ctx))],

  Dropout: (inputs, _attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    if (ctx.opset >= 12 && inputs[2]) {
      check(!inputs[2].dataSync()[0], ctx, 'training_mode=true is not supported (the executor evaluates Dropout in inference mode)');
    }
    const mask = ctx.opset >= 10 ? tf.onesLike(x).cast('bool') : tf.onesLike(x);
    return [tf.clone(x), mask];
  },

  Flatten: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const r = x.rank;
    let axis = attrs.int('axis', 1);
    if (axis < 0) axis += r;
    check(axis >= 0 && axis <= r, ctx, `axis ${attrs.int('axis', 1)} out of range for rank ${r}`);
    return [x.reshape([prod(x.shape.slice(0, axis)), prod(x.shape.slice(axis))])];
  },

  Reshape: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const spec = ctx.opset >= 5 ? intValues(need(inputs, 1, ctx)) : attrs.ints('shape', []);
    const allowzero = attrs.int('allowzero', 0) !== 0;
    const out = spec.map((d, i) => (d === 0 && !allowzero ? x.shape[i] : d));
    check(out.filter(d => d === -1).length <= 1, ctx, `shape [${spec}] has more than one -1`);
    const known = prod(out.filter(d => d !== -1));
    const inferred = out.map(d => (d === -1 ? (known === 0 ? 0 : x.size / known) : d));
    check(prod(inferred) === x.size && inferred.every(d => Number.isInteger(d) && d >= 0), ctx,
      `cannot reshape [${x.shape}] (${x.size} values) to [${spec}]`);
    return [x.reshape(inferred)];
  },

  Transpose: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const perm = attrs.ints('perm') ?? [...Array(x.rank).keys()].reverse();
    check(perm.length === x.rank, ctx, `perm [${perm}] does not match rank ${x.rank}`);
    return [ctx.tf.transpose(x, perm)];
  },

  Concat: (inputs, attrs, ctx) => {
    const ts = inputs.filter((t): t is Tensor => !!t);
    check(ts.length > 0, ctx, 'needs at least one input');
    check(attrs.has('axis') || ctx.opset < 4, ctx, 'attribute axis is required');
    const axis = normAxis(attrs.int('axis', 1), ts[0].rank, ctx);
    const nonEmpty = ts.filter(t => t.size > 0);
    if (nonEmpty.length === 0) {
      const shape = [...ts[0].shape];
      shape[axis] = ts.reduce((s, t) => s + t.shape[axis], 0);
      return [ctx.tf.zeros(shape, ts[0].dtype)];
    }
    return [nonEmpty.length === 1 ? ctx.tf.clone(nonEmpty[0]) : ctx.tf.concat(nonEmpty, axis)];
  },

  Squeeze: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const axes = squeezeAxes(inputs, attrs, ctx);
    if (!axes) return [x.reshape(x.shape.filter(d => d !== 1))];
    const norm = axes.map(a => normAxis(a, x.rank, ctx));
    for (const a of norm) check(x.shape[a] === 1, ctx, `cannot squeeze axis ${a} of size ${x.shape[a]}`);
    return [x.reshape(x.shape.filter((_, i) => !norm.includes(i)))];
  },

  Unsqueeze: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const axes = squeezeAxes(inputs, attrs, ctx);
    check(axes && axes.length > 0, ctx, 'axes are required');
    const outRank = x.rank + axes.length;
    const norm = axes.map(a => normAxis(a, outRank, ctx));
    check(new Set(norm).size === norm.length, ctx, `axes [${axes}] repeat`);
    const shape: number[] = [];
    let k = 0;
    for (let i = 0; i < outRank; i++) shape.push(norm.includes(i) ? 1 : x.shape[k++]);
    return [x.reshape(shape)];
  },

  Gather: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const idx = need(inputs, 1, ctx);
    const axis = normAxis(attrs.int('axis', 0), x.rank, ctx);
    const dim = x.shape[axis];
    const vals = intValues(idx);
    for (const v of vals) check(v >= -dim && v < dim, ctx, `index ${v} out of range for axis ${axis} of size ${dim}`);
    const fixed = tf.tensor(vals.map(v => (v < 0 ? v + dim : v)), idx.shape, 'int32');
    if (idx.rank === 0) return [tf.gather(x, fixed.reshape([1]), axis).squeeze([axis])];
    return [tf.gather(x, fixed, axis)];
  },

  GatherElements: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const idx = need(inputs, 1, ctx);
    const axis = normAxis(attrs.int('axis', 0), x.rank, ctx);
    check(idx.rank === x.rank, ctx, 'indices must have the rank of data');
    const vals = intValues(idx);
    const xStrides = x.shape.map((_, i) => prod(x.shape.slice(i + 1)));
    const iStrides = idx.shape.map((_, i) => prod(idx.shape.slice(i + 1)));
    const flat = new Int32Array(vals.length);
    for (let n = 0; n < vals.length; n++) {
      let off = 0;
      for (let d = 0; d < idx.rank; d++) {
        let c = Math.floor(n / iStrides[d]) % idx.shape[d];
        if (d === axis) {
          c = vals[n] < 0 ? vals[n] + x.shape[d] : vals[n];
          check(c >= 0 && c < x.shape[d], ctx, `index ${vals[n]} out of range`);
        }
        off += c * xStrides[d];
      }
      flat[n] = off;
    }
    return [tf.gather(x.reshape([-1]), tf.tensor1d(flat, 'int32')).reshape(idx.shape)];
  },

  Slice: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    let starts: number[];
    let ends: number[];
    let axes: number[] | undefined;
    let steps: number[] | undefined;
    if (ctx.opset >= 10) {
      starts = intValues(need(inputs, 1, ctx));
      ends = intValues(need(inputs, 2, ctx));
      axes = inputs[3] ? intValues(inputs[3]) : undefined;
      steps = inputs[4] ? intValues(inputs[4]) : undefined;
    } else {
      starts = attrs.ints('starts', []);
      ends = attrs.ints('ends', []);
      axes = attrs.ints('axes');
    }
    axes = axes ?? starts.map((_, i) => i);
    steps = steps ?? starts.map(() => 1);
    check(starts.length === ends.length && axes.length === starts.length && steps.length === starts.length, ctx,
      'starts, ends, axes and steps must have the same length');
    let y = x;
    axes.forEach((a0, i) => {
      const axis = normAxis(a0, x.rank, ctx);
      const dim = x.shape[axis];
      const step = steps![i];
      check(step !== 0, ctx, 'step 0');
      let s = starts[i];
      let e = ends[i];
      if (s < 0) s += dim;
      if (e < 0) e += dim;
      if (step > 0) {
        s = Math.min(Math.max(s, 0), dim);
        e = Math.min(Math.max(e, 0), dim);
        const count = Math.max(0, Math.ceil((e - s) / step));
        y = takeStrided(tf, y, axis, s, step, count);
      } else {
        s = Math.min(Math.max(s, 0), dim - 1);
        e = Math.min(Math.max(e, -1), dim - 1);
        const count = Math.max(0, Math.ceil((s - e) / -step));
        // reverse the axis, then walk forward from the mirrored start
        const rev = tf.reverse(y, [axis]);
        y = takeStrided(tf, rev, axis, dim - 1 - s, -step, count);
      }
    });
    return [y === x ? tf.clone(x) : y];
  },

  Shape: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const r = x.rank;
    let start = attrs.int('start', 0);
    let end = attrs.int('end', r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = Math.min(Math.max(start, 0), r);
    end = Math.min(Math.max(end, 0), r);
    return [ctx.tf.tensor1d(x.shape.slice(start, Math.max(start, end)), 'int32')];
  },

  Size: (inputs, _a, ctx) => [ctx.tf.scalar(need(inputs, 0, ctx).size, 'int32')],

  Constant: (_inputs, attrs, ctx) => {
    const { tf } = ctx;
    const t = attrs.tensor('value');
    if (t) return [protoToTf(tf, t, `${ctx.nodeName}.value`)];
    if (attrs.has('value_float')) return [tf.scalar(attrs.float('value_float', 0), 'float32')];
    if (attrs.has('value_floats')) return [tf.tensor1d(attrs.floats('value_floats', []), 'float32')];
    if (attrs.has('value_int')) return [tf.scalar(attrs.int('value_int', 0), 'int32')];
    if (attrs.has('value_ints')) return [tf.tensor1d(attrs.ints('value_ints', []), 'int32')];
    check(false, ctx, `unsupported Constant form (attributes: ${attrs.names().join(', ')})`);
  },

  ConstantOfShape: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const shape = intValues(need(inputs, 0, ctx));
    const t = attrs.tensor('value');
    if (!t) return [tf.zeros(shape, 'float32')];
    const v = protoToTf(tf, t, `${ctx.nodeName}.value`);
    return [tf.fill(shape, v.dataSync()[0], v.dtype)];
  },

  Cast: (inputs, attrs, ctx) => {
    const x = need(inputs, 0, ctx);
    const to = attrs.int('to');
    check(to !== undefined, ctx, 'attribute to is required');
    return [castTo(ctx.tf, x, to, ctx)];
  },

  CastLike: (inputs, _a, ctx) => {
    const x = need(inputs, 0, ctx);
    const like = need(inputs, 1, ctx);
    const to = like.dtype === 'float32' ? onnx.TensorProto.DataType.FLOAT : like.dtype === 'bool' ? onnx.TensorProto.DataType.BOOL : onnx.TensorProto.DataType.INT32;
    return [castTo(ctx.tf, x, to, ctx)];
  },

  Expand: (inputs, _a, ctx) => {
    const x = need(inputs, 0, ctx);
    const shape = broadcastShapes(x.shape, intValues(need(inputs, 1, ctx)), ctx);
    return [ctx.tf.broadcastTo(x.reshape([...Array(shape.length - x.rank).fill(1), ...x.shape]), shape)];
  },

  Tile: (inputs, _a, ctx) => {
    const x = need(inputs, 0, ctx);
    const reps = intValues(need(inputs, 1, ctx));
    check(reps.length === x.rank, ctx, `repeats [${reps}] do not match rank ${x.rank}`);
    return [ctx.tf.tile(x, reps)];
  },

  Split: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const axis = normAxis(attrs.int('axis', 0), x.rank, ctx);
    let split = ctx.opset >= 13 ? (inputs[1] ? intValues(inputs[1]) : undefined) : attrs.ints('split');
    if (split && split.length === 0) split = undefined;
    const n = attrs.int('num_outputs') ?? ctx.outputCount;
    if (!split) {
      const d = x.shape[axis];
      check(d % n === 0, ctx, `axis ${axis} of size ${d} does not split into ${n} equal parts`);
      split = Array(n).fill(d / n);
    }
    check(split.reduce((a, b) => a + b, 0) === x.shape[axis], ctx, `split [${split}] does not add up to ${x.shape[axis]}`);
    const out: Tensor[] = [];
    let off = 0;
    for (const s of split) {
      out.push(tf.slice(x, x.shape.map((_, i) => (i === axis ? off : 0)), x.shape.map((d, i) => (i === axis ? s : d))));
      off += s;
    }
    return out;
  },

  Pad: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    const mode = attrs.string('mode', 'constant');
    let pads: number[];
    let value = 0;
    if (ctx.opset >= 11) {
      pads = intValues(need(inputs, 1, ctx));
      if (inputs[2]) value = inputs[2].dataSync()[0];
      if (inputs[3]) check(false, ctx, 'the axes input is not supported');
    } else {
      pads = attrs.ints('pads') ?? attrs.ints('paddings', []);
      value = attrs.float('value', 0);
    }
    const r = x.rank;
    check(pads.length === 2 * r, ctx, `pads [${pads}] must have 2×rank = ${2 * r} values`);
    check(pads.every(p => p >= 0), ctx, 'negative pads are not supported');
    const pp = x.shape.map((_, i) => [pads[i], pads[i + r]] as [number, number]);
    if (mode === 'constant') return [tf.pad(x, pp, value)];
    if (mode === 'reflect') return [tf.mirrorPad(x, pp, 'reflect')];
    if (mode === 'edge') return [edgePad(tf, x, pp)];
    check(false, ctx, `unknown mode ${mode}`);
  },

  Range: (inputs, _a, ctx) => {
    const { tf } = ctx;
    const [s, l, d] = [0, 1, 2].map(i => need(inputs, i, ctx));
    const start = s.dataSync()[0];
    const limit = l.dataSync()[0];
    const delta = d.dataSync()[0];
    const n = Math.max(Math.ceil((limit - start) / delta), 0);
    const vals = Array.from({ length: n }, (_, i) => start + i * delta);
    return [tf.tensor1d(vals, s.dtype as 'float32' | 'int32')];
  },

  Trilu: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    check(x.rank >= 2, ctx, 'input must be at least 2-D');
    const k = inputs[1] ? intValues(inputs[1])[0] : 0;
    const upper = attrs.int('upper', 1) !== 0;
    const [n, m] = x.shape.slice(-2);
    const mask = new Uint8Array(n * m);
    for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) mask[i * m + j] = upper ? (j - i >= k ? 1 : 0) : (j - i <= k ? 1 : 0);
    const mt = tf.tensor(mask, [n, m], 'bool');
    return [tf.where(tf.broadcastTo(mt, x.shape), x, tf.zerosLike(x))];
  },

  DepthToSpace: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    check(x.rank === 4, ctx, 'input must be 4-D');
    const b = attrs.int('blocksize', 0);
    const [N, C, H, W] = x.shape;
    check(b > 0 && C % (b * b) === 0, ctx, `blocksize ${b} does not divide ${C} channels`);
    const mode = attrs.string('mode', 'DCR');
    if (mode === 'DCR') {
      const t = tf.transpose(x.reshape([N, b, b, C / (b * b), H, W]), [0, 3, 4, 1, 5, 2]);
      return [t.reshape([N, C / (b * b), H * b, W * b])];
    }
    const t = tf.transpose(x.reshape([N, C / (b * b), b, b, H, W]), [0, 1, 4, 2, 5, 3]);
    return [t.reshape([N, C / (b * b), H * b, W * b])];
  },

  SpaceToDepth: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const x = need(inputs, 0, ctx);
    check(x.rank === 4, ctx, 'input must be 4-D');
    const b = attrs.int('blocksize', 0);
    const [N, C, H, W] = x.shape;
    check(b > 0 && H % b === 0 && W % b === 0, ctx, `blocksize ${b} does not divide ${H}×${W}`);
    const t = tf.transpose(x.reshape([N, C, H / b, b, W / b, b]), [0, 3, 5, 1, 2, 4]);
    return [t.reshape([N, C * b * b, H / b, W / b])];
  },
};

export { prod };
