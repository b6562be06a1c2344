/** Test helpers for the executor: single-op models, a runner, and naive reference implementations. */
import { onnx } from 'onnx-proto';
import { OnnxModel, makeNode, makeValueInfo, NodeSpec } from '../../../../lib/onnx/model';
import { Tensor, TensorType, makeTensor, tensorToProto } from '../../../../lib/onnx/tensor';
import { GraphExecutor } from '../../../../lib/onnx/executor/graph';
import { tf } from '../../../../lib/onnx/executor/backend';

export type IO = [name: string, type: TensorType, dims: (number | string)[]];

/** A one-node model (or several nodes) with the given inputs, outputs, initializers and opset. */
export function opModel(nodes: NodeSpec | NodeSpec[], inputs: IO[], outputs: IO[], inits: Tensor[] = [], opset = 13): OnnxModel {
  const graph = new onnx.GraphProto({
    name: 'g',
    node: (Array.isArray(nodes) ? nodes : [nodes]).map(makeNode),
    input: inputs.map(([n, t, d]) => makeValueInfo(n, t, d)),
    output: outputs.map(([n, t, d]) => makeValueInfo(n, t, d)),
    initializer: inits.map(t => tensorToProto(t, t.name)),
  });
  return new OnnxModel(new onnx.ModelProto({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph }), 'test');
}

export const f32 = (dims: number[], data: ArrayLike<number>, name?: string): Tensor => makeTensor('float32', dims, Float32Array.from(data), name);
export const i64 = (dims: number[], data: number[], name?: string): Tensor => makeTensor('int64', dims, BigInt64Array.from(data.map(BigInt)), name);

/** Run a model once on the current backend; outputs as plain number arrays with dims. */
export function runOnce(model: OnnxModel, feeds: Record<string, Tensor>, convImpl: 'native' | 'im2col' = 'native'): Record<string, { dims: number[]; data: number[] }> {
  const ex = new GraphExecutor(tf, model, { trainable: [] });
  ex.convImpl = convImpl;
  try {
    const out = ex.run(feeds);
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { dims: v.dims, data: Array.from(v.data as ArrayLike<number>, Number) }]));
  } finally {
    ex.dispose();
  }
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function rand(n: number, seed = 1): number[] {
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

export function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, atol = 1e-4, rtol = 1e-4, what = ''): void {
  if (got.length !== want.length) throw new Error(`${what}: length ${got.length} vs expected ${want.length}`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] === want[i]) continue;
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i])) && !(Number.isNaN(got[i]) && Number.isNaN(want[i]))) {
      throw new Error(`${what}: element ${i}: ${got[i]} vs expected ${want[i]} (|diff| ${d})`);
    }
  }
}

// ---------------------------------------------------------------- naive references (plain JS, float64)

/** Conv over NCW or NCHW (rank 3 or 4) with explicit pads [b..., e...], strides, dilations, group. */
export function refConv(x: number[], xd: number[], w: number[], wd: number[], b: number[] | undefined,
  o: { pads: number[]; strides: number[]; dilations: number[]; group: number }): { data: number[]; dims: number[] } {
  const sp = xd.length - 2;
  const X = sp === 1 ? [xd[0], xd[1], 1, xd[2]] : xd;
  const W = sp === 1 ? [wd[0], wd[1], 1, wd[2]] : wd;
  const pads = sp === 1 ? [0, o.pads[0], 0, o.pads[1]] : o.pads;
  const st = sp === 1 ? [1, o.strides[0]] : o.strides;
  const dl = sp === 1 ? [1, o.dilations[0]] : o.dilations;
  const [N, C, H, Wd] = X;
  const [M, Cg, KH, KW] = W;
  const OH = Math.floor((H + pads[0] + pads[2] - ((KH - 1) * dl[0] + 1)) / st[0]) + 1;
  const OW = Math.floor((Wd + pads[1] + pads[3] - ((KW - 1) * dl[1] + 1)) / st[1]) + 1;
  const out: number[] = new Array(N * M * OH * OW).fill(0);
  const mg = M / o.group;
  for (let n = 0; n < N; n++) for (let m = 0; m < M; m++) {
    const g = Math.floor(m / mg);
    for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
      let s = b ? b[m] : 0;
      for (let c = 0; c < Cg; c++) for (let kh = 0; kh < KH; kh++) for (let kw = 0; kw < KW; kw++) {
        const ih = oh * st[0] - pads[0] + kh * dl[0];
        const iw = ow * st[1] - pads[1] + kw * dl[1];
        if (ih < 0 || ih >= H || iw < 0 || iw >= Wd) continue;
        s += x[((n * C + g * Cg + c) * H + ih) * Wd + iw] * w[((m * Cg + c) * KH + kh) * KW + kw];
      }
      out[((n * M + m) * OH + oh) * OW + ow] = s;
    }
  }
  return { data: out, dims: sp === 1 ? [N, M, OW] : [N, M, OH, OW] };
}

/** 2-D pooling over NCHW with pads, strides, ceil_mode, count_include_pad. */
export function refPool2d(x: number[], xd: number[], kind: 'max' | 'avg', k: number[], o: { pads: number[]; strides: number[]; ceil?: boolean; includePad?: boolean }): { data: number[]; dims: number[] } {
  const [N, C, H, W] = xd;
  const r = o.ceil ? Math.ceil : Math.floor;
  let OH = r((H + o.pads[0] + o.pads[2] - k[0]) / o.strides[0]) + 1;
  let OW = r((W + o.pads[1] + o.pads[3] - k[1]) / o.strides[1]) + 1;
  // ceil mode drops a last window that would start in the end padding
  if (o.ceil && (OH - 1) * o.strides[0] >= H + o.pads[0]) OH--;
  if (o.ceil && (OW - 1) * o.strides[1] >= W + o.pads[1]) OW--;
  const out: number[] = [];
  for (let n = 0; n < N; n++) for (let c = 0; c < C; c++) for (let oh = 0; oh < OH; oh++) for (let ow = 0; ow < OW; ow++) {
    let best = -Infinity;
    let sum = 0;
    let count = 0;
    for (let kh = 0; kh < k[0]; kh++) for (let kw = 0; kw < k[1]; kw++) {
      const ih = oh * o.strides[0] - o.pads[0] + kh;
      const iw = ow * o.strides[1] - o.pads[1] + kw;
      const inPadded = ih >= -o.pads[0] && ih < H + o.pads[2] && iw >= -o.pads[1] && iw < W + o.pads[3];
      if (ih < 0 || ih >= H || iw < 0 || iw >= W) {
        if (o.includePad && inPadded) count++;
        continue;
      }
      const v = x[((n * C + c) * H + ih) * W + iw];
      best = Math.max(best, v);
      sum += v;
      count++;
    }
    out.push(kind === 'max' ? best : sum / count);
  }
  return { data: out, dims: [N, C, OH, OW] };
}

const sig = (v: number) => 1 / (1 + Math.exp(-v));

function matvec(W: number[], rows: number, cols: number, rowOff: number, v: number[]): number[] {
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += W[(rowOff + r) * cols + c] * v[c];
    out.push(s);
  }
  return out;
}

/**
 * One direction of an ONNX LSTM (gates i,o,f,c) or GRU (z,r,h) over X [seq][batch][in]; W, R, B of
 * that direction; returns Y [seq][batch][hidden] and the final state(s).
 */
export function refRnn(kind: 'LSTM' | 'GRU', X: number[][][], W: number[], R: number[], B: number[] | undefined, H: number, reverse = false, lbr = false): { Y: number[][][]; h: number[][]; c?: number[][] } {
  const seq = X.length;
  const batch = X[0].length;
  const inp = X[0][0].length;
  const G = kind === 'LSTM' ? 4 : 3;
  const bias = B ?? new Array(2 * G * H).fill(0);
  const Y: number[][][] = Array.from({ length: seq }, () => []);
  const hs: number[][] = [];
  const cs: number[][] = [];
  for (let b = 0; b < batch; b++) {
    let h = new Array(H).fill(0);
    let c = new Array(H).fill(0);
    const order = [...Array(seq).keys()];
    if (reverse) order.reverse();
    for (const t of order) {
      const xw = (g: number) => matvec(W, H, inp, g * H, X[t][b]).map((v, j) => v + bias[g * H + j]);
      const hr = (g: number, hv: number[]) => matvec(R, H, H, g * H, hv).map((v, j) => v + bias[(G + g) * H + j]);
      if (kind === 'LSTM') {
        const [i, o, f, cc] = [0, 1, 2, 3].map(g => xw(g).map((v, j) => v + hr(g, h)[j]));
        c = c.map((cv, j) => sig(f[j]) * cv + sig(i[j]) * Math.tanh(cc[j]));
        h = c.map((cv, j) => sig(o[j]) * Math.tanh(cv));
      } else {
        const z = xw(0).map((v, j) => sig(v + hr(0, h)[j]));
        const r = xw(1).map((v, j) => sig(v + hr(1, h)[j]));
        let hh: number[];
        if (lbr) hh = xw(2).map((v, j) => Math.tanh(v + r[j] * hr(2, h)[j]));
        else hh = xw(2).map((v, j) => Math.tanh(v + hr(2, h.map((hv, k) => r[k] * hv))[j]));
        h = h.map((hv, j) => (1 - z[j]) * hh[j] + z[j] * hv);
      }
      Y[t][b] = h;
    }
    hs.push(h);
    cs.push(c);
  }
  return kind === 'LSTM' ? { Y, h: hs, c: cs } : { Y, h: hs };
}
