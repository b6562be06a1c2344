/** MatMul (numpy semantics, 1-D operands promoted and squeezed) and Gemm (alpha, beta, transA/B, C broadcast). */
import { OpFn, Tensor, need, check, TF } from '../types';

type CustomMatMul = (a: Tensor, b: Tensor) => Tensor;
let plain: CustomMatMul | undefined;

function swapLast(t: Tensor): number[] {
  const p = [...Array(t.rank).keys()];
  [p[t.rank - 2], p[t.rank - 1]] = [p[t.rank - 1], p[t.rank - 2]];
  return p;
}

/**
 * a·b (equal ranks 2 or 3, equal batch) with transposes materialised: the wasm backend's
 * BatchMatMul runs 8–10× slower with its transpose flags than on pre-transposed operands, and the
 * built-in MatMul gradient uses those flags; this one transposes explicitly.
 */
export function matMulFast(tf: TF, a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  if (!plain) {
    plain = tf.customGrad(((x: Tensor, y: Tensor, save: (ts: Tensor[]) => void) => {
      save([x, y]);
      return {
        value: tf.matMul(x, y),
        gradFunc: (dy: Tensor, saved: Tensor[]) => {
          const [xs, ys] = saved;
          return [tf.matMul(dy, tf.transpose(ys, swapLast(ys))), tf.matMul(tf.transpose(xs, swapLast(xs)), dy)];
        },
      };
    }) as unknown as Parameters<TF['customGrad']>[0]) as unknown as CustomMatMul;
  }
  const A = transA ? tf.transpose(a, swapLast(a)) : a;
  const B = transB ? tf.transpose(b, swapLast(b)) : b;
  return plain(A, B);
}

export const matmulOps: Record<string, OpFn> = {
  MatMul: (inputs, _a, ctx) => {
    const { tf } = ctx;
    let a = need(inputs, 0, ctx);
    let b = need(inputs, 1, ctx);
    const aVec = a.rank === 1;
    const bVec = b.rank === 1;
    if (aVec) a = a.reshape([1, a.shape[0]]);
    if (bVec) b = b.reshape([b.shape[0], 1]);
    check(a.shape[a.rank - 1] === b.shape[b.rank - 2], ctx, `inner dimensions differ: [${a.shape}] x [${b.shape}]`);
    let y: Tensor;
    if (a.rank === 2 && b.rank === 2) y = matMulFast(tf, a, b);
    else {
      // broadcast batch dimensions explicitly (tf.matMul broadcasts too, but keep shapes exact)
      const batchA = a.shape.slice(0, -2);
      const batchB = b.shape.slice(0, -2);
      const n = Math.max(batchA.length, batchB.length);
      const pa = [...Array(n - batchA.length).fill(1), ...batchA];
      const pb = [...Array(n - batchB.length).fill(1), ...batchB];
      const batch = pa.map((d, i) => {
        check(d === pb[i] || d === 1 || pb[i] === 1, ctx, `batch dimensions do not broadcast: [${a.shape}] x [${b.shape}]`);
        return Math.max(d, pb[i]);
      });
      const a3 = tf.broadcastTo(a.reshape([...pa, ...a.shape.slice(-2)]), [...batch, ...a.shape.slice(-2)]).reshape([-1, ...a.shape.slice(-2)]);
      const b3 = tf.broadcastTo(b.reshape([...pb, ...b.shape.slice(-2)]), [...batch, ...b.shape.slice(-2)]).reshape([-1, ...b.shape.slice(-2)]);
      y = matMulFast(tf, a3, b3).reshape([...batch, a.shape[a.rank - 2], b.shape[b.rank - 1]]);
    }
    if (aVec) y = y.squeeze([y.rank - 2]);
    if (bVec) y = y.squeeze([y.rank - 1]);
    return [y];
  },
  Gemm: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const a = need(inputs, 0, ctx);
    const b = need(inputs, 1, ctx);
    check(a.rank === 2 && b.rank === 2, ctx, `A and B must be 2-D, got [${a.shape}] and [${b.shape}]`);
    const alpha = attrs.float('alpha', 1);
    const beta = attrs.float('beta', 1);
    const transA = attrs.int('transA', 0) !== 0;
    const transB = attrs.int('transB', 0) !== 0;
    let y = matMulFast(tf, a, b, transA, transB);
    if (alpha !== 1) y = tf.mul(y, alpha);
    const c = inputs[2];
    if (c && beta !== 0) y = tf.add(y, beta === 1 ? c : tf.mul(c, beta));
    return [y];
  },
};
