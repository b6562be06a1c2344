/**
 * Builder models run in ONNX Runtime, outputs checked against plain-JS computations of each layer
 * written here from the ONNX operator definitions (not from the builder's code).
 */
import * as assert from 'node:assert/strict';
import type * as OrtApi from 'onnxruntime-common';
import { GraphBuilder, normalizeAdjacency } from '../../../lib/onnx/builder';
import { OnnxModel } from '../../../lib/onnx/model';
import { SeededRandom } from '../../../lib/util/random';

const ort: typeof OrtApi = require('onnxruntime-node');

type Mat = number[][];

async function runOrt(model: OnnxModel, feeds: Record<string, { dims: number[]; data: number[] }>): Promise<Record<string, { dims: number[]; data: number[] }>> {
  const s = await ort.InferenceSession.create(model.toBuffer(), { intraOpNumThreads: 1 });
  try {
    const input: Record<string, OrtApi.Tensor> = {};
    for (const [k, v] of Object.entries(feeds)) input[k] = new ort.Tensor('float32', Float32Array.from(v.data), v.dims);
    const out = await s.run(input);
    const res: Record<string, { dims: number[]; data: number[] }> = {};
    for (const [k, v] of Object.entries(out)) res[k] = { dims: [...v.dims], data: Array.from(v.data as Float32Array) };
    return res;
  } finally {
    await s.release();
  }
}

function randoms(n: number, seed: number, scale = 1): number[] {
  const r = new SeededRandom(seed);
  return Array.from({ length: n }, () => r.uniform(-scale, scale));
}

function close(actual: number[], expected: number[], what: string, tol = 1e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    assert.ok(err <= tol + tol * Math.abs(expected[i]), `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

const sigmoid = (v: number): number => 1 / (1 + Math.exp(-v));

/** Row-major [r, c] array → Mat. */
function mat(data: ArrayLike<number>, r: number, c: number): Mat {
  return Array.from({ length: r }, (_, i) => Array.from({ length: c }, (_, j) => data[i * c + j]));
}
function matmul(a: Mat, b: Mat): Mat {
  return a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
}
function weightsOf(m: OnnxModel, name: string): number[] {
  return Array.from(m.getInitializer(name).data as Float32Array);
}

describe('lib/onnx/builder', () => {
  it('dense: x·W + b with relu, checked by a hand matrix product; explicit weights are used as given', async () => {
    const b = new GraphBuilder({ seed: 5 });
    const x = b.input('x', ['batch', 3]);
    const y = b.dense(x, 2, { name: 'fc', weight: [1, 2, 3, 4, 5, 6], bias: [0.5, -100], activation: 'relu' });
    b.output(y, 'y');
    const m = b.build();
    assert.deepEqual(m.opCounts(), { MatMul: 1, Add: 1, Relu: 1, Identity: 1 });
    const out = await runOrt(m, { x: { dims: [2, 3], data: [1, 0, -1, 0.5, 2, 1] } });
    // by hand: [1,0,-1]·[[1,2],[3,4],[5,6]] = [-4,-4] + [0.5,-100] → relu [0, 0]
    //          [0.5,2,1]·W = [0.5+6+5, 1+8+6] = [11.5, 15] + b → [12, -85] → relu [12, 0]
    assert.deepEqual(out.y.dims, [2, 2]);
    close(out.y.data, [0, 0, 12, 0], 'dense');
  });

  it('dense on a rank-3 input and a multi-layer MLP with seeded weights matches a JS forward pass', async () => {
    const b = new GraphBuilder({ seed: 11 });
    const x = b.input('x', ['batch', 4, 6]);
    const h = b.dense(x, 5, { name: 'l1', activation: 'tanh', bias: randoms(5, 1) });
    const y = b.dense(h, 3, { name: 'l2', activation: 'sigmoid' });
    b.output(y, 'y');
    const m = b.build();
    const xs = randoms(2 * 4 * 6, 2);
    const out = await runOrt(m, { x: { dims: [2, 4, 6], data: xs } });
    const W1 = mat(weightsOf(m, 'l1_W'), 6, 5);
    const b1 = weightsOf(m, 'l1_B');
    const W2 = mat(weightsOf(m, 'l2_W'), 5, 3);
    const b2 = weightsOf(m, 'l2_B');
    assert.deepEqual(b2, [0, 0, 0], 'default bias is zero');
    const rows = mat(xs, 8, 6);
    const hh = matmul(rows, W1).map((r) => r.map((v, j) => Math.tanh(v + b1[j])));
    const yy = matmul(hh, W2).map((r) => r.map((v, j) => sigmoid(v + b2[j])));
    assert.deepEqual(out.y.dims, [2, 4, 3]);
    close(out.y.data, yy.flat(), 'mlp');
  });

  it('seeded weights are reproducible and Glorot-bounded', () => {
    const build = (seed: number): number[] => {
      const b = new GraphBuilder({ seed });
      b.output(b.dense(b.input('x', [1, 8]), 4, { name: 'd' }));
      return weightsOf(b.build(), 'd_W');
    };
    assert.deepEqual(build(3), build(3));
    assert.notDeepEqual(build(3), build(4));
    const limit = Math.sqrt(6 / 12);
    assert.ok(build(3).every((v) => Math.abs(v) <= limit));
  });

  it('activations: leaky_relu, elu, softmax and log_softmax on the last axis', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [2, 3]);
    b.output(b.activation(x, 'leaky_relu', { alpha: 0.2 }), 'lr');
    b.output(b.activation(x, 'elu', { alpha: 0.5 }), 'elu');
    b.output(b.activation(x, 'softmax'), 'sm');
    b.output(b.activation(x, 'log_softmax'), 'lsm');
    assert.throws(() => b.activation(x, 'swish' as never), /unknown activation 'swish'/);
    const data = [1, -2, 3, -0.5, 0, 2];
    const out = await runOrt(b.build(), { x: { dims: [2, 3], data } });
    close(out.lr.data, data.map((v) => (v >= 0 ? v : 0.2 * v)), 'leaky');
    close(out.elu.data, data.map((v) => (v >= 0 ? v : 0.5 * (Math.exp(v) - 1))), 'elu');
    const sm = [0, 1].flatMap((r) => {
      const row = data.slice(r * 3, r * 3 + 3);
      const e = row.map(Math.exp);
      const s = e.reduce((a, v) => a + v, 0);
      return e.map((v) => v / s);
    });
    close(out.sm.data, sm, 'softmax');
    close(out.lsm.data, sm.map(Math.log), 'log_softmax');
  });

  for (const c of [
    { name: 'valid, stride 1', L: 10, k: 3, stride: 1, dilation: 1, groups: 1, padding: 'valid' as const, outL: 8 },
    { name: "'same', stride 2, dilation 2", L: 11, k: 3, stride: 2, dilation: 2, groups: 1, padding: 'same' as const, outL: 6 },
    { name: 'explicit pads, groups 2', L: 7, k: 2, stride: 1, dilation: 1, groups: 2, padding: [1, 2] as [number, number], outL: 9 },
  ]) {
    it(`conv1d (${c.name}) matches a direct convolution`, async () => {
      const N = 2, C = 4, F = 6;
      const b = new GraphBuilder({ seed: 9 });
      const x = b.input('x', ['batch', C, c.L]);
      const y = b.conv1d(x, F, { kernel: c.k, stride: c.stride, dilation: c.dilation, groups: c.groups, padding: c.padding, name: 'cv', bias: randoms(F, 3), activation: 'relu' });
      assert.deepEqual(y.shape, ['batch', F, c.outL]);
      b.output(y, 'y');
      const m = b.build();
      const xs = randoms(N * C * c.L, 4);
      const out = await runOrt(m, { x: { dims: [N, C, c.L], data: xs } });
      assert.deepEqual(out.y.dims, [N, F, c.outL]);
      const W = weightsOf(m, 'cv_W');
      const bias = weightsOf(m, 'cv_B');
      const cpg = C / c.groups, fpg = F / c.groups;
      const span = c.dilation * (c.k - 1) + 1;
      const total = Array.isArray(c.padding) ? c.padding[0] + c.padding[1] : c.padding === 'same' ? Math.max(0, (c.outL - 1) * c.stride + span - c.L) : 0;
      const padBegin = Array.isArray(c.padding) ? c.padding[0] : Math.floor(total / 2);
      const expected: number[] = [];
      for (let n = 0; n < N; n++) for (let f = 0; f < F; f++) for (let o = 0; o < c.outL; o++) {
        const g = Math.floor(f / fpg);
        let s = bias[f];
        for (let ci = 0; ci < cpg; ci++) for (let t = 0; t < c.k; t++) {
          const pos = o * c.stride + t * c.dilation - padBegin;
          if (pos < 0 || pos >= c.L) continue;
          s += W[(f * cpg + ci) * c.k + t] * xs[(n * C + g * cpg + ci) * c.L + pos];
        }
        expected.push(Math.max(0, s));
      }
      close(out.y.data, expected, 'conv1d');
    });
  }

  it('conv1d + pooling + global average pooling shapes and values', async () => {
    const b = new GraphBuilder();
    const x = b.input('x', [1, 1, 6]);
    const c = b.conv1d(x, 1, { kernel: 1, weight: [2], bias: false });
    const mp = b.pool1d(c, 'max', 2);
    const ap = b.pool1d(c, 'average', 3, 1);
    b.output(mp, 'maxpool'); // the name of an internal value: the builder renames that one
    b.output(mp, 'mp');
    b.output(ap, 'ap');
    b.output(b.globalAveragePool1d(c), 'gap');
    const data = [1, 5, -2, 4, 0, 3];
    const out = await runOrt(b.build(), { x: { dims: [1, 1, 6], data } });
    close(out.mp.data, [10, 8, 6], 'maxpool');
    close(out.maxpool.data, [10, 8, 6], 'maxpool under its internal name');
    close(out.ap.data, [4 / 3 * 2, 7 / 3 * 2, 2 / 3 * 2, 7 / 3 * 2], 'avgpool');
    assert.deepEqual(out.gap.dims, [1, 1]);
    close(out.gap.data, [(11 * 2) / 6], 'gap');
  });

  /** ONNX LSTM (gates i,o,f,c), batch-first input; returns all hidden states [N][T][H]. */
  function refLstm(xs: number[], N: number, T: number, F: number, H: number, W: number[], R: number[], B: number[]): number[][][] {
    const out: number[][][] = [];
    for (let n = 0; n < N; n++) {
      let h = new Array(H).fill(0), c = new Array(H).fill(0);
      const seq: number[][] = [];
      for (let t = 0; t < T; t++) {
        const xt = xs.slice((n * T + t) * F, (n * T + t + 1) * F);
        const gate = (gi: number, j: number): number => {
          const row = gi * H + j;
          let s = B[row] + B[4 * H + row];
          for (let k = 0; k < F; k++) s += W[row * F + k] * xt[k];
          for (let k = 0; k < H; k++) s += R[row * H + k] * h[k];
          return s;
        };
        const i = h.map((_, j) => sigmoid(gate(0, j)));
        const o = h.map((_, j) => sigmoid(gate(1, j)));
        const f = h.map((_, j) => sigmoid(gate(2, j)));
        const g = h.map((_, j) => Math.tanh(gate(3, j)));
        c = c.map((cv, j) => f[j] * cv + i[j] * g[j]);
        h = c.map((cv, j) => o[j] * Math.tanh(cv));
        seq.push(h);
      }
      out.push(seq);
    }
    return out;
  }

  /** ONNX GRU (gates z,r,h), batch-first input, either linear_before_reset. */
  function refGru(xs: number[], N: number, T: number, F: number, H: number, W: number[], R: number[], B: number[], lbr: number): number[][][] {
    const out: number[][][] = [];
    for (let n = 0; n < N; n++) {
      let h = new Array(H).fill(0);
      const seq: number[][] = [];
      for (let t = 0; t < T; t++) {
        const xt = xs.slice((n * T + t) * F, (n * T + t + 1) * F);
        const xw = (gi: number, j: number): number => {
          let s = B[gi * H + j];
          for (let k = 0; k < F; k++) s += W[(gi * H + j) * F + k] * xt[k];
          return s;
        };
        const hr = (gi: number, j: number, hv: number[]): number => {
          let s = B[3 * H + gi * H + j];
          for (let k = 0; k < H; k++) s += R[(gi * H + j) * H + k] * hv[k];
          return s;
        };
        const z = h.map((_, j) => sigmoid(xw(0, j) + hr(0, j, h)));
        const r = h.map((_, j) => sigmoid(xw(1, j) + hr(1, j, h)));
        const rh = h.map((v, j) => r[j] * v);
        const cand = h.map((_, j) => Math.tanh(xw(2, j) + (lbr ? r[j] * hr(2, j, h) : hr(2, j, rh))));
        h = h.map((v, j) => (1 - z[j]) * cand[j] + z[j] * v);
        seq.push(h);
      }
      out.push(seq);
    }
    return out;
  }

  it('lstm: last state and full sequence match the ONNX LSTM equations', async () => {
    const N = 2, T = 5, F = 3, H = 4;
    const b = new GraphBuilder({ seed: 21 });
    const x = b.input('x', ['batch', T, F]);
    const Bias = randoms(8 * H, 7, 0.5);
    const seq = b.lstm(x, H, { returnSequences: true, name: 'lstm', bias: Bias });
    assert.deepEqual(seq.shape, ['batch', T, H]);
    b.output(seq, 'seq');
    const m0 = b.build();
    const xs = randoms(N * T * F, 8);
    const out = await runOrt(m0, { x: { dims: [N, T, F], data: xs } });
    const ref = refLstm(xs, N, T, F, H, weightsOf(m0, 'lstm_W'), weightsOf(m0, 'lstm_R'), weightsOf(m0, 'lstm_B'));
    assert.deepEqual(out.seq.dims, [N, T, H]);
    close(out.seq.data, ref.flat(2), 'lstm sequence');

    const b2 = new GraphBuilder({ seed: 21 });
    const last = b2.lstm(b2.input('x', ['batch', T, F]), H, { name: 'lstm', bias: Bias });
    assert.deepEqual(last.shape, ['batch', H]);
    b2.output(last, 'h');
    const m2 = b2.build();
    assert.deepEqual(weightsOf(m2, 'lstm_W'), weightsOf(m0, 'lstm_W'), 'same seed, same weights');
    const out2 = await runOrt(m2, { x: { dims: [N, T, F], data: xs } });
    assert.deepEqual(out2.h.dims, [N, H]);
    close(out2.h.data, ref.map((s) => s[T - 1]).flat(), 'lstm last');
  });

  for (const lbr of [0, 1] as const) {
    it(`gru (linear_before_reset=${lbr}) matches the ONNX GRU equations`, async () => {
      const N = 3, T = 4, F = 2, H = 3;
      const b = new GraphBuilder({ seed: 31 });
      const x = b.input('x', ['batch', T, F]);
      b.output(b.gru(x, H, { name: 'gru', linearBeforeReset: lbr, bias: randoms(6 * H, 5, 0.5) }), 'h');
      b.output(b.gru(x, H, { name: 'gru2', linearBeforeReset: lbr, returnSequences: true }), 'seq');
      const m = b.build();
      const xs = randoms(N * T * F, 6);
      const out = await runOrt(m, { x: { dims: [N, T, F], data: xs } });
      const ref = refGru(xs, N, T, F, H, weightsOf(m, 'gru_W'), weightsOf(m, 'gru_R'), weightsOf(m, 'gru_B'), lbr);
      close(out.h.data, ref.map((s) => s[T - 1]).flat(), 'gru last');
      const ref2 = refGru(xs, N, T, F, H, weightsOf(m, 'gru2_W'), weightsOf(m, 'gru2_R'), weightsOf(m, 'gru2_B'), lbr);
      assert.deepEqual(out.seq.dims, [N, T, H]);
      close(out.seq.data, ref2.flat(2), 'gru sequence');
    });
  }

  it('graphConv: Â·X·W + b with Â = D^-½(A+I)D^-½ computed by hand for a 3-node path', async () => {
    const A = [[0, 1, 0], [1, 0, 1], [0, 1, 0]];
    // A + I has row sums (degrees) 2, 3, 2: Â[i][j] = (A+I)[i][j] / sqrt(d_i d_j)
    const s6 = 1 / Math.sqrt(6);
    const hand = [[1 / 2, s6, 0], [s6, 1 / 3, s6], [0, s6, 1 / 2]];
    const norm = normalizeAdjacency(A);
    for (let i = 0; i < 3; i++) close(norm[i], hand[i], `Â row ${i}`, 1e-12);

    const b = new GraphBuilder({ seed: 2 });
    const x = b.input('x', ['batch', 3, 2]);
    const W = [1, -1, 0.5, 2, 0, 1]; // [2, 3]
    b.output(b.graphConv(x, A, 3, { weight: W, bias: [0.1, 0.2, 0.3], name: 'gc' }), 'y');
    b.output(b.graphConv(x, A, 3, { weight: W, bias: false, normalize: 'none', name: 'raw', activation: 'relu' }), 'raw');
    const xs = [1, 2, 3, 4, 5, 6, -1, 0, 0, 1, 2, -2];
    const out = await runOrt(b.build(), { x: { dims: [2, 3, 2], data: xs } });
    const Wm = mat(W, 2, 3);
    const exp: number[] = [], raw: number[] = [];
    for (let n = 0; n < 2; n++) {
      const X = mat(xs.slice(n * 6, n * 6 + 6), 3, 2);
      exp.push(...matmul(matmul(hand, X), Wm).map((r) => r.map((v, j) => v + [0.1, 0.2, 0.3][j])).flat());
      raw.push(...matmul(matmul(A, X), Wm).flat().map((v) => Math.max(0, v)));
    }
    close(out.y.data, exp, 'graphConv');
    close(out.raw.data, raw, 'graphConv none');
    assert.throws(() => new GraphBuilder().graphConv(new GraphBuilder().input('x', [1, 3, 2]), [[0, 1], [1, 0]], 2), /adjacency must be 3×3/);
  });

  it('multi-head outputs over a shared trunk: named outputs, shapes, values of each head', async () => {
    const b = new GraphBuilder({ name: 'multi', seed: 4, modelVersion: 7 });
    const x = b.input('x', ['batch', 5]);
    const trunk = b.dense(x, 6, { name: 'trunk', activation: 'relu' });
    const heads = b.heads(trunk, [
      { name: 'state', units: 3, activation: 'softmax' },
      { name: 'performance', units: 1 },
      { name: 'fault', units: 2, activation: 'sigmoid', hidden: [4] },
    ]);
    assert.deepEqual(Object.keys(heads), ['state', 'performance', 'fault']);
    assert.throws(() => b.heads(trunk, [{ name: 'a', units: 1 }, { name: 'a', units: 1 }]), /duplicate head name 'a'/);
    assert.throws(() => b.heads(trunk, [{ name: 'x', units: 1 }]), /heads: name 'x' is already an input or output/);
    const m = b.build({ heads: '[]' });
    assert.deepEqual(m.outputs, [
      { name: 'state', type: 'float32', shape: ['batch', 3] },
      { name: 'performance', type: 'float32', shape: ['batch', 1] },
      { name: 'fault', type: 'float32', shape: ['batch', 2] },
    ]);
    assert.equal(m.modelVersion, 7);
    assert.deepEqual(m.metadata, { name: 'multi', heads: '[]' });
    assert.equal(m.opset, 13);
    assert.deepEqual(m.validate(), []);
    const xs = randoms(10, 12);
    const out = await runOrt(m, { x: { dims: [2, 5], data: xs } });
    const t = matmul(mat(xs, 2, 5), mat(weightsOf(m, 'trunk_W'), 5, 6)).map((r) => r.map((v) => Math.max(0, v)));
    const perf = matmul(t, mat(weightsOf(m, 'performance_dense_W'), 6, 1));
    close(out.performance.data, perf.flat(), 'performance head');
    const logits = matmul(t, mat(weightsOf(m, 'state_dense_W'), 6, 3));
    close(out.state.data, logits.flatMap((r) => { const e = r.map(Math.exp); const s = e.reduce((a, v) => a + v, 0); return e.map((v) => v / s); }), 'state head');
    const hid = matmul(t, mat(weightsOf(m, 'fault_hidden0_W'), 6, 4)).map((r) => r.map((v) => Math.max(0, v)));
    close(out.fault.data, matmul(hid, mat(weightsOf(m, 'fault_dense_W'), 4, 2)).flat().map(sigmoid), 'fault head');
  });

  it('a mixed model (conv1d → lstm → gru ‖ graphConv → concat → heads) loads in ORT and round-trips byte-identically', async () => {
    const b = new GraphBuilder({ name: 'mixed', seed: 3, opset: 17 });
    const x = b.input('x', ['batch', 4, 16]);
    const c = b.conv1d(x, 8, { kernel: 3, padding: 'same', activation: 'relu' });
    const s = b.transpose(b.pool1d(c, 'max', 2), [0, 2, 1]);
    const g = b.gru(b.lstm(s, 6, { returnSequences: true }), 5);
    const gc = b.flatten(b.graphConv(b.input('nodes', ['batch', 3, 2]), [[0, 1, 0], [1, 0, 1], [0, 1, 0]], 4, { activation: 'tanh' }));
    const t = b.dense(b.concat([g, gc], -1), 10, { activation: 'leaky_relu' });
    b.heads(t, [{ name: 'state', units: 3, activation: 'softmax' }, { name: 'perf', units: 1 }]);
    const m = b.build();
    assert.equal(m.opset, 17);
    const again = OnnxModel.fromBuffer(m.toBuffer());
    assert.ok(again.toBuffer().equals(m.toBuffer()));
    const out = await runOrt(again, { x: { dims: [2, 4, 16], data: randoms(128, 1) }, nodes: { dims: [2, 3, 2], data: randoms(12, 2) } });
    assert.deepEqual(out.state.dims, [2, 3]);
    assert.deepEqual(out.perf.dims, [2, 1]);
    for (let r = 0; r < 2; r++) close([out.state.data.slice(r * 3, r * 3 + 3).reduce((a, v) => a + v, 0)], [1], 'softmax row sums to 1');
  });

  it('every opset from 13 to 20 gives a model ORT runs; outside that range is refused', async () => {
    for (let opset = 13; opset <= 20; opset++) {
      const b = new GraphBuilder({ opset });
      const x = b.input('x', [1, 2, 3]);
      b.output(b.dense(b.lstm(x, 2), 1, { activation: 'sigmoid' }), 'y');
      const out = await runOrt(b.build(), { x: { dims: [1, 2, 3], data: [1, 2, 3, 4, 5, 6] } });
      assert.deepEqual(out.y.dims, [1, 1], `opset ${opset}`);
    }
    assert.throws(() => new GraphBuilder({ opset: 12 }), /opset must be an integer from 13 to 20, got 12/);
    assert.throws(() => new GraphBuilder({ opset: 21 }), /from 13 to 20, got 21/);
  });

  it('refuses what cannot work, saying why', () => {
    const b = new GraphBuilder();
    const x = b.input('x', ['batch', 'features']);
    assert.throws(() => b.dense(x, 3), /dense: the last axis of 'x' must have a fixed size/);
    const y = b.input('y', [1, 4]);
    assert.throws(() => b.dense(y, 0), /units must be a positive integer/);
    assert.throws(() => b.dense(y, 2, { weight: [1, 2, 3] }), /dense weight: 3 values given, shape \[4, 2\] needs 8/);
    assert.throws(() => b.conv1d(y, 2), /conv1d: input 'y' must be \[batch, channels, length\]/);
    assert.throws(() => b.conv1d(b.input('z', [1, 2, 2]), 2, { kernel: 3 }), /length 2 is shorter than the kernel span 3/);
    assert.throws(() => b.conv1d(b.input('w', [1, 3, 8]), 4, { groups: 2 }), /divisible by groups 2/);
    assert.throws(() => b.lstm(y, 2), /lstm: input 'y' must be batch-first \[batch, time, features\]/);
    assert.throws(() => b.input('y', [1]), /name 'y' is already used/);
    assert.throws(() => new GraphBuilder().build(), /no outputs/);
    b.output(y, 'out');
    assert.throws(() => b.output(y, 'out'), /output name 'out' is already used by an input, output or constant/);
    assert.throws(() => b.output(y, 'x'), /output name 'x' is already used/);
    b.build();
    assert.throws(() => b.build(), /already called/);
  });
});
