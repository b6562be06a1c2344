/**
 * LSTM, GRU and RNN per the ONNX spec: directions forward / reverse / bidirectional, layout 0 and
 * 1, optional bias, initial states and (LSTM) peepholes, activations with alpha/beta, clip, GRU's
 * linear_before_reset, and sequence_lens (past a batch entry's length its state is held and its
 * Y rows are zero; a reverse pass starts at its last valid step).
 * The input projection of all time steps is one matMul; the recurrence runs step by step.
 */
import { OpFn, Tensor, OpContext, Attributes, need, check, intValues, TF } from '../types';
import { matMulFast } from './matmul';

type Act = (x: Tensor) => Tensor;

function activation(tf: TF, name: string, alpha: number | undefined, beta: number | undefined, ctx: OpContext): Act {
  switch (name.toLowerCase()) {
    case 'sigmoid': return x => tf.sigmoid(x);
    case 'tanh': return x => tf.tanh(x);
    case 'relu': return x => tf.relu(x);
    case 'affine': return x => tf.add(tf.mul(x, alpha ?? 1), beta ?? 0);
    case 'leakyrelu': return x => tf.leakyRelu(x, alpha ?? 0.01);
    case 'thresholdedrelu': return x => tf.where(tf.greater(x, alpha ?? 1), x, tf.zerosLike(x));
    case 'scaledtanh': return x => tf.mul(tf.tanh(tf.mul(x, beta ?? 1)), alpha ?? 1);
    case 'hardsigmoid': return x => tf.clipByValue(tf.add(tf.mul(x, alpha ?? 0.2), beta ?? 0.5), 0, 1);
    case 'elu': return x => tf.where(tf.greater(x, 0), x, tf.mul(alpha ?? 1, tf.sub(tf.exp(x), 1)));
    case 'softsign': return x => tf.div(x, tf.add(1, tf.abs(x)));
    case 'softplus': return x => tf.softplus(x);
    default: check(false, ctx, `unsupported activation ${name}`);
  }
}

interface Common {
  X: Tensor; // [seq, batch, input]
  W: Tensor;
  R: Tensor;
  B?: Tensor;
  h0?: Tensor; // [dirs, batch, hidden]
  dirs: number;
  hidden: number;
  directions: ('forward' | 'reverse')[];
  acts: Act[]; // per direction: nActs functions
  clip?: number;
  layout: number;
  /** Per batch entry, when some are shorter than the sequence. */
  lens?: number[];
}

function common(inputs: (Tensor | undefined)[], attrs: Attributes, ctx: OpContext, gates: number, defaults: string[]): Common {
  const { tf } = ctx;
  let X = need(inputs, 0, ctx);
  const W = need(inputs, 1, ctx);
  const R = need(inputs, 2, ctx);
  const B = inputs[3];
  const seqLens = inputs[4];
  const layout = attrs.int('layout', 0);
  check(X.rank === 3, ctx, `X must be 3-D, got [${X.shape}]`);
  if (layout === 1) X = tf.transpose(X, [1, 0, 2]);
  const direction = attrs.string('direction', 'forward');
  check(['forward', 'reverse', 'bidirectional'].includes(direction), ctx, `unknown direction ${direction}`);
  const dirs = direction === 'bidirectional' ? 2 : 1;
  const hidden: number = attrs.int('hidden_size') ?? (R.shape as number[])[2];
  check(W.rank === 3 && W.shape[0] === dirs && W.shape[1] === gates * hidden && W.shape[2] === X.shape[2], ctx,
    `W must be [${dirs}, ${gates * hidden}, ${X.shape[2]}], got [${W.shape}]`);
  check(R.rank === 3 && R.shape[0] === dirs && R.shape[1] === gates * hidden && R.shape[2] === hidden, ctx,
    `R must be [${dirs}, ${gates * hidden}, ${hidden}], got [${R.shape}]`);
  if (B) check(B.rank === 2 && B.shape[0] === dirs && B.shape[1] === 2 * gates * hidden, ctx, `B must be [${dirs}, ${2 * gates * hidden}], got [${B.shape}]`);
  let lens: number[] | undefined;
  if (seqLens) {
    lens = intValues(seqLens);
    const [seq, batch] = X.shape as number[];
    check(lens.length === batch && lens.every(l => l >= 0 && l <= seq), ctx, `sequence_lens must hold ${batch} lengths in [0, ${seq}], got [${lens}]`);
    if (lens.every(l => l === seq)) lens = undefined;
  }
  let h0 = inputs[5];
  if (h0 && layout === 1) h0 = tf.transpose(h0, [1, 0, 2]);
  const names = attrs.strings('activations') ?? [];
  const alphas = attrs.floats('activation_alpha', []);
  const betas = attrs.floats('activation_beta', []);
  const per = defaults.length;
  const acts: Act[] = [];
  for (let d = 0; d < dirs; d++) {
    for (let k = 0; k < per; k++) {
      const j = d * per + k;
      const name = names.length ? names[j] ?? names[k] : defaults[k];
      const explicit = names.length > 0;
      acts.push(activation(tf, name, explicit ? alphas[j] : undefined, explicit ? betas[j] : undefined, ctx));
    }
  }
  const directions: ('forward' | 'reverse')[] = direction === 'bidirectional' ? ['forward', 'reverse'] : [direction as 'forward' | 'reverse'];
  return { X, W, R, B, h0, dirs, hidden, directions, acts, clip: attrs.float('clip'), layout, lens };
}

function dirSlice(tf: TF, t: Tensor, d: number): Tensor {
  return tf.squeeze(tf.slice(t, [d, ...t.shape.slice(1).map(() => 0)], [1, ...t.shape.slice(1)]), [0]);
}

function split(tf: TF, t: Tensor, n: number): Tensor[] {
  return tf.split(t, n, t.rank - 1);
}

/** Shape outputs: Y [seq, dirs, batch, hidden] (layout 0) or [batch, seq, dirs, hidden]; states [dirs, batch, hidden] or [batch, dirs, hidden]. */
function outputs(tf: TF, c: Common, ys: Tensor[][], finals: Tensor[][]): Tensor[] {
  // ys[d][t]: [batch, hidden]
  let Y = tf.stack(ys.map(steps => tf.stack(steps, 0)), 1); // [seq, dirs, batch, hidden]
  let states = finals.map(f => tf.stack(f, 0)); // each [dirs, batch, hidden]
  if (c.layout === 1) {
    Y = tf.transpose(Y, [2, 0, 1, 3]);
    states = states.map(s => tf.transpose(s, [1, 0, 2]));
  }
  return [Y, ...states];
}

function runDirections(
  tf: TF, c: Common, step: (d: number, xw: Tensor, state: Tensor[]) => Tensor[], init: (d: number) => Tensor[],
): { ys: Tensor[][]; finals: Tensor[][] } {
  const [seq, batch] = c.X.shape as number[];
  const ys: Tensor[][] = [];
  const finalsByDir: Tensor[][] = [];
  for (let d = 0; d < c.dirs; d++) {
    const W = dirSlice(tf, c.W, d);
    let xw = matMulFast(tf, c.X.reshape([seq * batch, (c.X.shape as number[])[2]]), W, false, true).reshape([seq, batch, (W.shape as number[])[0]]);
    if (c.B) {
      const b = dirSlice(tf, c.B, d);
      const [wb, rb] = tf.split(b, 2, 0);
      xw = tf.add(xw, tf.add(wb, rb));
    }
    const xs = seq > 0 ? tf.unstack(xw, 0) : [];
    let state = init(d);
    const out: Tensor[] = new Array(seq);
    const order = c.directions[d] === 'forward' ? [...Array(seq).keys()] : [...Array(seq).keys()].reverse();
    for (const t of order) {
      const next = step(d, xs[t], state);
      if (c.lens) {
        // entries whose sequence ended keep their state and output zeros
        const m = tf.tensor2d(c.lens.map(l => (t < l ? 1 : 0)), [batch, 1]);
        state = next.map((n, k) => tf.add(tf.mul(m, n), tf.mul(tf.sub(1, m), state[k])));
        out[t] = tf.mul(m, next[0]);
      } else {
        state = next;
        out[t] = state[0];
      }
    }
    ys.push(out);
    finalsByDir.push(state);
  }
  // transpose finals: [stateIndex][dir]
  const finals = finalsByDir[0].map((_, k) => finalsByDir.map(s => s[k]));
  return { ys, finals };
}

/** Rᵀ [H, gates·H] per direction, transposed once rather than at every step. */
function recurrenceT(tf: TF, c: Common): Tensor[] {
  return Array.from({ length: c.dirs }, (_, d) => tf.transpose(dirSlice(tf, c.R, d)));
}

function clipped(tf: TF, x: Tensor, clip?: number): Tensor {
  return clip === undefined ? x : tf.clipByValue(x, -clip, clip);
}

export const rnnOps: Record<string, OpFn> = {
  LSTM: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const c = common(inputs, attrs, ctx, 4, ['Sigmoid', 'Tanh', 'Tanh']);
    const Rt = recurrenceT(tf, c);
    check(attrs.int('input_forget', 0) === 0, ctx, 'input_forget=1 is not supported');
    const H = c.hidden;
    const batch = (c.X.shape as number[])[1];
    let c0 = inputs[6];
    if (c0 && c.layout === 1) c0 = tf.transpose(c0, [1, 0, 2]);
    const P = inputs[7];
    const { ys, finals } = runDirections(tf, c, (d, xw, [h, cell]) => {
      const [f, g, hAct] = c.acts.slice(d * 3, d * 3 + 3);
      const gates = tf.add(xw, matMulFast(tf, h, Rt[d]));
      const parts = split(tf, gates, 4);
      let [i, o, fg] = parts;
      const cc = parts[3];
      let pi: Tensor | undefined, po: Tensor | undefined, pf: Tensor | undefined;
      if (P) [pi, po, pf] = tf.split(dirSlice(tf, P, d), 3, 0);
      if (pi) i = tf.add(i, tf.mul(pi, cell));
      if (pf) fg = tf.add(fg, tf.mul(pf, cell));
      const it = f(clipped(tf, i, c.clip));
      const ft = f(clipped(tf, fg, c.clip));
      const ct = g(clipped(tf, cc, c.clip));
      const C = tf.add(tf.mul(ft, cell), tf.mul(it, ct));
      if (po) o = tf.add(o, tf.mul(po, C));
      const ot = f(clipped(tf, o, c.clip));
      return [tf.mul(ot, hAct(C)), C];
    }, d => [c.h0 ? dirSlice(tf, c.h0, d) : tf.zeros([batch, H]), c0 ? dirSlice(tf, c0, d) : tf.zeros([batch, H])]);
    return outputs(tf, c, ys, finals);
  },

  GRU: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const c = common(inputs, attrs, ctx, 3, ['Sigmoid', 'Tanh']);
    // per direction, Rᵀ of each gate [H, H] (split along the output axis after transposing)
    const RtSplit = recurrenceT(tf, c).map(rt => tf.split(rt, 3, 1));
    const lbr = attrs.int('linear_before_reset', 0) !== 0;
    const H = c.hidden;
    const batch = (c.X.shape as number[])[1];
    const { ys, finals } = runDirections(tf, c, (d, xw, [h]) => {
      // xw holds X·Wᵀ + Wb + Rb for all three gates; Rbh must stay inside the reset product when linear_before_reset
      const [Rz, Rr, Rh] = RtSplit[d];
      const [f, g] = c.acts.slice(d * 2, d * 2 + 2);
      const [xz, xr, xh] = split(tf, xw, 3);
      const zt = f(clipped(tf, tf.add(xz, matMulFast(tf, h, Rz)), c.clip));
      const rt = f(clipped(tf, tf.add(xr, matMulFast(tf, h, Rr)), c.clip));
      let hh: Tensor;
      if (lbr) {
        const rbh = c.B ? tf.slice(dirSlice(tf, c.B, d), [5 * H], [H]) : undefined;
        const xhNoRb = rbh ? tf.sub(xh, rbh) : xh;
        let hr = matMulFast(tf, h, Rh);
        if (rbh) hr = tf.add(hr, rbh);
        hh = g(clipped(tf, tf.add(xhNoRb, tf.mul(rt, hr)), c.clip));
      } else {
        hh = g(clipped(tf, tf.add(xh, matMulFast(tf, tf.mul(rt, h), Rh)), c.clip));
      }
      const Ht = tf.add(tf.mul(tf.sub(1, zt), hh), tf.mul(zt, h));
      return [Ht];
    }, d => [c.h0 ? dirSlice(tf, c.h0, d) : tf.zeros([batch, H])]);
    return outputs(tf, c, ys, finals);
  },

  RNN: (inputs, attrs, ctx) => {
    const { tf } = ctx;
    const c = common(inputs, attrs, ctx, 1, ['Tanh']);
    const Rt = recurrenceT(tf, c);
    const batch = (c.X.shape as number[])[1];
    const { ys, finals } = runDirections(tf, c, (d, xw, [h]) => {
      return [c.acts[d](clipped(tf, tf.add(xw, matMulFast(tf, h, Rt[d])), c.clip))];
    }, d => [c.h0 ? dirSlice(tf, c.h0, d) : tf.zeros([batch, c.hidden])]);
    return outputs(tf, c, ys, finals);
  },
};
