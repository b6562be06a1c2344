/**
 * The executor's op table, op by op, against values computed independently (by hand or by the
 * naive float64 references in executor/helpers.ts), plus the errors for unsupported ops and bad
 * input. Runs on the preferred backend (wasm here).
 */
import * as assert from 'node:assert/strict';
import { tf, useBackend, preferredBackend } from '../../../lib/onnx/executor/backend';
import { GraphExecutor } from '../../../lib/onnx/executor/graph';
import { OnnxExecutorError } from '../../../lib/onnx/executor/types';
import { supportedOps } from '../../../lib/onnx/executor/ops';
import { opModel, runOnce, f32, i64, rand, assertClose, refConv, refPool2d, refRnn } from './executor/helpers';
import { makeTensor } from '../../../lib/onnx/tensor';
import { NodeSpec } from '../../../lib/onnx/model';

describe('executor ops', function () {
  let tensorsBefore = 0;
  before(async () => {
    await useBackend(await preferredBackend());
    tensorsBefore = tf.memory().numTensors;
  });
  after(() => assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked'));

  it('covers the op set the issue requires', () => {
    const required = 'MatMul Gemm Add Sub Mul Div Relu LeakyRelu Sigmoid Tanh Softmax LogSoftmax Conv MaxPool AveragePool GlobalAveragePool BatchNormalization Flatten Reshape Transpose Concat Squeeze Unsqueeze Gather Slice Identity Dropout LSTM GRU'.split(' ');
    const have = supportedOps();
    assert.deepEqual(required.filter(o => !have.includes(o)), []);
  });

  it('MatMul: 1-D operands and broadcast batch dimensions', () => {
    const m = opModel({ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }, [['a', 'float32', [2, 1, 2, 3]], ['b', 'float32', [3, 3, 2]]], [['y', 'float32', [2, 3, 2, 2]]]);
    const a = rand(12, 3);
    const b = rand(18, 4);
    const y = runOnce(m, { a: f32([2, 1, 2, 3], a), b: f32([3, 3, 2], b) }).y;
    assert.deepEqual(y.dims, [2, 3, 2, 2]);
    const want: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) for (let r = 0; r < 2; r++) for (let c = 0; c < 2; c++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += a[i * 6 + r * 3 + k] * b[j * 6 + k * 2 + c];
      want.push(s);
    }
    assertClose(y.data, want, 1e-5, 1e-5, 'batched');
    const v = opModel({ opType: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }, [['a', 'float32', [3]], ['b', 'float32', [3, 2]]], [['y', 'float32', [2]]]);
    const yv = runOnce(v, { a: f32([3], [1, 2, 3]), b: f32([3, 2], [1, 2, 3, 4, 5, 6]) }).y;
    assert.deepEqual(yv.dims, [2]);
    assert.deepEqual(yv.data, [22, 28]);
  });

  it('Gemm: alpha, beta, transA, transB and a broadcast C', () => {
    const m = opModel({ opType: 'Gemm', inputs: ['a', 'b', 'c'], outputs: ['y'], attributes: { alpha: 2, beta: 0.5, transA: 1, transB: 1 } },
      [['a', 'float32', [2, 2]], ['b', 'float32', [3, 2]], ['c', 'float32', [3]]], [['y', 'float32', [2, 3]]]);
    // A' = [[1,3],[2,4]], B' = [[1,3,5],[2,4,6]]
    const y = runOnce(m, { a: f32([2, 2], [1, 2, 3, 4]), b: f32([3, 2], [1, 2, 3, 4, 5, 6]), c: f32([3], [2, 4, 6]) }).y;
    // A'B' = [[7,15,23],[10,22,34]] → ×2 + 0.5·c
    assert.deepEqual(y.data, [15, 32, 49, 21, 46, 71]);
  });

  it('Softmax: opset 13 normalises one axis, opset 11 coerces to 2-D from the axis', () => {
    const x = [1, 2, 3, 4, 5, 6, 7, 8];
    const io: [string, 'float32', number[]][] = [['x', 'float32', [2, 2, 2]]];
    const y13 = runOnce(opModel({ opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 1 } }, io, [['y', 'float32', [2, 2, 2]]], [], 13), { x: f32([2, 2, 2], x) }).y;
    // along axis 1: pairs (1,3), (2,4), (5,7), (6,8): each differs by 2
    const p = 1 / (1 + Math.exp(2));
    assertClose(y13.data, [p, p, 1 - p, 1 - p, p, p, 1 - p, 1 - p], 1e-6, 1e-6, 'opset 13');
    const y11 = runOnce(opModel({ opType: 'Softmax', inputs: ['x'], outputs: ['y'], attributes: { axis: 1 } }, io, [['y', 'float32', [2, 2, 2]]], [], 11), { x: f32([2, 2, 2], x) }).y;
    // rows of 4: [1,2,3,4] and [5,6,7,8]
    const e = [0, 1, 2, 3].map(i => Math.exp(i));
    const s = e.reduce((a, b) => a + b);
    assertClose(y11.data, [...e, ...e].map(v => v / s), 1e-6, 1e-6, 'opset 11');
    const l11 = runOnce(opModel({ opType: 'LogSoftmax', inputs: ['x'], outputs: ['y'] }, io, [['y', 'float32', [2, 2, 2]]], [], 11), { x: f32([2, 2, 2], x) }).y;
    assertClose(l11.data, [...e, ...e].map(v => Math.log(v / s)), 1e-5, 1e-5, 'logsoftmax opset 11');
  });

  it('Relu, LeakyRelu, Sigmoid, Tanh and broadcasting Add/Sub/Mul/Div', () => {
    const x = [-2, -0.5, 0, 1.5];
    const nodes: NodeSpec[] = [
      { opType: 'Relu', inputs: ['x'], outputs: ['r'] },
      { opType: 'LeakyRelu', inputs: ['x'], outputs: ['l'], attributes: { alpha: 0.1 } },
      { opType: 'Sigmoid', inputs: ['x'], outputs: ['s'] },
      { opType: 'Tanh', inputs: ['x'], outputs: ['t'] },
      { opType: 'Sub', inputs: ['x', 'c'], outputs: ['d'] },
      { opType: 'Div', inputs: ['d', 'c'], outputs: ['q'] },
    ];
    const m = opModel(nodes, [['x', 'float32', [2, 2]], ['c', 'float32', [2]]], ['r', 'l', 's', 't', 'q'].map(n => [n, 'float32', [2, 2]] as [string, 'float32', number[]]));
    const y = runOnce(m, { x: f32([2, 2], x), c: f32([2], [1, 2]) });
    assert.deepEqual(y.r.data, [0, 0, 0, 1.5]);
    assertClose(y.l.data, [-0.2, -0.05, 0, 1.5], 1e-7, 1e-6, 'leaky');
    assertClose(y.s.data, x.map(v => 1 / (1 + Math.exp(-v))), 1e-6, 1e-6, 'sigmoid');
    assertClose(y.t.data, x.map(Math.tanh), 1e-6, 1e-6, 'tanh');
    assertClose(y.q.data, [(-2 - 1) / 1, (-0.5 - 2) / 2, (0 - 1) / 1, (1.5 - 2) / 2], 1e-7, 1e-6, 'div');
  });

  for (const c of [
    { name: '1-D pads/strides', xd: [2, 3, 11], wd: [4, 3, 3], o: { pads: [1, 2], strides: [2], dilations: [1], group: 1 } },
    { name: '1-D dilation 2 with stride 2', xd: [1, 2, 13], wd: [2, 2, 3], o: { pads: [2, 0], strides: [2], dilations: [2], group: 1 } },
    { name: '1-D groups 2', xd: [2, 4, 9], wd: [6, 2, 3], o: { pads: [1, 1], strides: [1], dilations: [1], group: 2 } },
    { name: '2-D asymmetric pads, strides (2,1)', xd: [1, 3, 7, 6], wd: [5, 3, 3, 2], o: { pads: [1, 0, 2, 1], strides: [2, 1], dilations: [1, 1], group: 1 } },
    { name: '2-D depthwise with multiplier 2', xd: [2, 3, 6, 6], wd: [6, 1, 3, 3], o: { pads: [1, 1, 1, 1], strides: [1, 1], dilations: [1, 1], group: 3 } },
    { name: '2-D dilations (2,3)', xd: [1, 2, 9, 10], wd: [3, 2, 2, 3], o: { pads: [0, 0, 0, 0], strides: [1, 1], dilations: [2, 3], group: 1 } },
  ]) {
    it(`Conv ${c.name} matches a naive convolution (conv2d and im2col)`, () => {
      const x = rand(c.xd.reduce((a, b) => a * b), 7);
      const w = rand(c.wd.reduce((a, b) => a * b), 8);
      const b = rand(c.wd[0], 9);
      const ref = refConv(x, c.xd, w, c.wd, b, c.o);
      const m = opModel({ opType: 'Conv', inputs: ['x', 'w', 'b'], outputs: ['y'], attributes: { pads: c.o.pads, strides: c.o.strides, dilations: c.o.dilations, group: c.o.group, kernel_shape: c.wd.slice(2) } },
        [['x', 'float32', c.xd]], [['y', 'float32', ref.dims]], [f32(c.wd, w, 'w'), f32([c.wd[0]], b, 'b')]);
      for (const impl of ['native', 'im2col'] as const) {
        const y = runOnce(m, { x: f32(c.xd, x) }, impl).y;
        assert.deepEqual(y.dims, ref.dims, impl);
        assertClose(y.data, ref.data, 1e-4, 1e-4, `${c.name} (${impl})`);
      }
    });
  }

  it('Conv auto_pad SAME_UPPER / SAME_LOWER / VALID', () => {
    const xd = [1, 1, 6, 6];
    const x = rand(36, 11);
    const w = rand(9, 12);
    for (const [autoPad, pads] of [['SAME_UPPER', [0, 0, 1, 1]], ['SAME_LOWER', [1, 1, 0, 0]], ['VALID', [0, 0, 0, 0]]] as const) {
      const ref = refConv(x, xd, w, [1, 1, 3, 3], undefined, { pads: [...pads], strides: [2, 2], dilations: [1, 1], group: 1 });
      const m = opModel({ opType: 'Conv', inputs: ['x', 'w'], outputs: ['y'], attributes: { auto_pad: autoPad, strides: [2, 2] } },
        [['x', 'float32', xd]], [['y', 'float32', ref.dims]], [f32([1, 1, 3, 3], w, 'w')]);
      const y = runOnce(m, { x: f32(xd, x) }).y;
      assert.deepEqual(y.dims, ref.dims, autoPad);
      assertClose(y.data, ref.data, 1e-5, 1e-5, autoPad);
    }
  });

  for (const c of [
    { kind: 'max' as const, k: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] },
    { kind: 'max' as const, k: [2, 3], pads: [0, 1, 1, 0], strides: [2, 1], ceil: true },
    { kind: 'avg' as const, k: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], includePad: false },
    { kind: 'avg' as const, k: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2], includePad: true },
    { kind: 'avg' as const, k: [3, 2], pads: [0, 0, 0, 0], strides: [2, 2], ceil: true },
  ]) {
    it(`${c.kind === 'max' ? 'MaxPool' : 'AveragePool'} k=${c.k} pads=${c.pads}${c.ceil ? ' ceil' : ''}${c.includePad ? ' count_include_pad' : ''}`, () => {
      const xd = [2, 2, 6, 7];
      const x = rand(xd.reduce((a, b) => a * b), 13).map(v => v - 0.8); // mostly negative: padding must not win a max
      const ref = refPool2d(x, xd, c.kind, c.k, c);
      const attributes: Record<string, number | number[]> = { kernel_shape: c.k, pads: c.pads, strides: c.strides };
      if (c.ceil) attributes.ceil_mode = 1;
      if (c.includePad) attributes.count_include_pad = 1;
      const m = opModel({ opType: c.kind === 'max' ? 'MaxPool' : 'AveragePool', inputs: ['x'], outputs: ['y'], attributes }, [['x', 'float32', xd]], [['y', 'float32', ref.dims]]);
      const y = runOnce(m, { x: f32(xd, x) }).y;
      assert.deepEqual(y.dims, ref.dims);
      assertClose(y.data, ref.data, 1e-6, 1e-5, 'pool');
    });
  }

  it('GlobalAveragePool, BatchNormalization (inference), Flatten', () => {
    const xd = [2, 3, 2, 2];
    const x = rand(24, 21);
    const scale = [1, 2, 0.5];
    const bias = [0, -1, 1];
    const mean = [0.1, -0.2, 0.3];
    const variance = [1, 0.25, 4];
    const nodes: NodeSpec[] = [
      { opType: 'GlobalAveragePool', inputs: ['x'], outputs: ['g'] },
      { opType: 'BatchNormalization', inputs: ['x', 's', 'b', 'm', 'v'], outputs: ['bn'], attributes: { epsilon: 0.01 } },
      { opType: 'Flatten', inputs: ['bn'], outputs: ['f'], attributes: { axis: 2 } },
    ];
    const m = opModel(nodes, [['x', 'float32', xd]], [['g', 'float32', [2, 3, 1, 1]], ['f', 'float32', [6, 4]]],
      [f32([3], scale, 's'), f32([3], bias, 'b'), f32([3], mean, 'm'), f32([3], variance, 'v')], 15);
    const y = runOnce(m, { x: f32(xd, x) });
    assert.deepEqual(y.g.dims, [2, 3, 1, 1]);
    const g: number[] = [];
    for (let i = 0; i < 6; i++) g.push((x[i * 4] + x[i * 4 + 1] + x[i * 4 + 2] + x[i * 4 + 3]) / 4);
    assertClose(y.g.data, g, 1e-6, 1e-6, 'gap');
    assert.deepEqual(y.f.dims, [6, 4]);
    const bn = x.map((v, i) => {
      const c = Math.floor(i / 4) % 3;
      return scale[c] * (v - mean[c]) / Math.sqrt(variance[c] + 0.01) + bias[c];
    });
    assertClose(y.f.data, bn, 1e-5, 1e-5, 'bn');
  });

  it('Reshape with 0 and -1, Transpose, Concat, Identity, Dropout (inference)', () => {
    const nodes: NodeSpec[] = [
      { opType: 'Reshape', inputs: ['x', 'shape'], outputs: ['r'] },
      { opType: 'Transpose', inputs: ['r'], outputs: ['t'], attributes: { perm: [2, 0, 1] } },
      { opType: 'Identity', inputs: ['x'], outputs: ['id'] },
      { opType: 'Dropout', inputs: ['id'], outputs: ['dr'] },
      { opType: 'Concat', inputs: ['x', 'dr'], outputs: ['c'], attributes: { axis: -1 } },
    ];
    const x = Array.from({ length: 12 }, (_, i) => i);
    const m = opModel(nodes, [['x', 'float32', [2, 6]]], [['t', 'float32', [3, 2, 2]], ['c', 'float32', [2, 12]]], [i64([3], [0, 2, -1], 'shape')]);
    const y = runOnce(m, { x: f32([2, 6], x) });
    // r: [2,2,3]; t[k][i][j] = r[i][j][k] = x[i*6 + j*3 + k]
    assert.deepEqual(y.t.dims, [3, 2, 2]);
    assert.deepEqual(y.t.data, [0, 3, 6, 9, 1, 4, 7, 10, 2, 5, 8, 11]);
    assert.deepEqual(y.c.data, [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 6, 7, 8, 9, 10, 11]);
  });

  it('Squeeze/Unsqueeze: attribute form (opset 11) and input form (opset 13)', () => {
    const x = f32([1, 3, 1], [1, 2, 3]);
    const a11 = opModel([{ opType: 'Squeeze', inputs: ['x'], outputs: ['s'], attributes: { axes: [0] } }, { opType: 'Unsqueeze', inputs: ['s'], outputs: ['u'], attributes: { axes: [-1, 0] } }],
      [['x', 'float32', [1, 3, 1]]], [['u', 'float32', [1, 3, 1, 1]]], [], 11);
    assert.deepEqual(runOnce(a11, { x }).u.dims, [1, 3, 1, 1]);
    const a13 = opModel([{ opType: 'Squeeze', inputs: ['x', 'ax'], outputs: ['s'] }, { opType: 'Unsqueeze', inputs: ['s', 'ax2'], outputs: ['u'] }],
      [['x', 'float32', [1, 3, 1]]], [['u', 'float32', [3, 1]]], [i64([2], [0, 2], 'ax'), i64([1], [1], 'ax2')], 13);
    const y = runOnce(a13, { x }).u;
    assert.deepEqual(y.dims, [3, 1]);
    assert.deepEqual(y.data, [1, 2, 3]);
    const all = opModel({ opType: 'Squeeze', inputs: ['x'], outputs: ['s'] }, [['x', 'float32', [1, 3, 1]]], [['s', 'float32', [3]]], [], 13);
    assert.deepEqual(runOnce(all, { x }).s.dims, [3]);
  });

  it('Gather with negative and 2-D indices', () => {
    const m = opModel({ opType: 'Gather', inputs: ['x', 'i'], outputs: ['y'], attributes: { axis: 1 } }, [['x', 'float32', [2, 4]], ['i', 'int64', [2, 2]]], [['y', 'float32', [2, 2, 2]]]);
    const y = runOnce(m, { x: f32([2, 4], [0, 1, 2, 3, 10, 11, 12, 13]), i: i64([2, 2], [-1, 0, 2, 2]) }).y;
    assert.deepEqual(y.dims, [2, 2, 2]);
    assert.deepEqual(y.data, [3, 0, 2, 2, 13, 10, 12, 12]);
  });

  it('Slice: input form with negative steps and clamping; opset-1 attribute form', () => {
    const x = Array.from({ length: 20 }, (_, i) => i);
    const m = opModel({ opType: 'Slice', inputs: ['x', 's', 'e', 'a', 'st'], outputs: ['y'] }, [['x', 'float32', [4, 5]]], [['y', 'float32', [2, 2]]],
      [i64([2], [-1, 100], 's'), i64([2], [0, -100], 'e'), i64([2], [0, 1], 'a'), i64([2], [-2, -3], 'st')]);
    const y = runOnce(m, { x: f32([4, 5], x) }).y;
    // rows 3, 1 ; columns 4, 1
    assert.deepEqual(y.dims, [2, 2]);
    assert.deepEqual(y.data, [19, 16, 9, 6]);
    const m1 = opModel({ opType: 'Slice', inputs: ['x'], outputs: ['y'], attributes: { starts: [1, 0], ends: [3, 1000], axes: [0, 1] } }, [['x', 'float32', [4, 5]]], [['y', 'float32', [2, 5]]], [], 1);
    assert.deepEqual(runOnce(m1, { x: f32([4, 5], x) }).y.data, x.slice(5, 15));
    const step2 = opModel({ opType: 'Slice', inputs: ['x', 's', 'e', 'a', 'st'], outputs: ['y'] }, [['x', 'float32', [4, 5]]], [['y', 'float32', [4, 2]]],
      [i64([1], [1], 's'), i64([1], [5], 'e'), i64([1], [1], 'a'), i64([1], [2], 'st')]);
    assert.deepEqual(runOnce(step2, { x: f32([4, 5], x) }).y.data, [1, 3, 6, 8, 11, 13, 16, 18]);
  });

  for (const kind of ['LSTM', 'GRU'] as const) {
    for (const direction of ['forward', 'reverse', 'bidirectional'] as const) {
      for (const lbr of kind === 'GRU' ? [0, 1] : [0]) {
        it(`${kind} ${direction}${lbr ? ' linear_before_reset' : ''} matches a naive recurrence`, () => {
          const [seq, batch, inp, H] = [4, 2, 3, 5];
          const G = kind === 'LSTM' ? 4 : 3;
          const dirs = direction === 'bidirectional' ? 2 : 1;
          const x = rand(seq * batch * inp, 31);
          const W = rand(dirs * G * H * inp, 32).map(v => v * 0.7);
          const R = rand(dirs * G * H * H, 33).map(v => v * 0.7);
          const B = rand(dirs * 2 * G * H, 34).map(v => v * 0.3);
          const X = Array.from({ length: seq }, (_, t) => Array.from({ length: batch }, (_, b) => x.slice((t * batch + b) * inp, (t * batch + b + 1) * inp)));
          const outs: [string, 'float32', number[]][] = [['Y', 'float32', [seq, dirs, batch, H]], ['Yh', 'float32', [dirs, batch, H]]];
          const m = opModel({ opType: kind, inputs: ['x', 'W', 'R', 'B'], outputs: outs.map(o => o[0]), attributes: { hidden_size: H, direction, ...(kind === 'GRU' ? { linear_before_reset: lbr } : {}) } },
            [['x', 'float32', [seq, batch, inp]]], outs, [f32([dirs, G * H, inp], W, 'W'), f32([dirs, G * H, H], R, 'R'), f32([dirs, 2 * G * H], B, 'B')]);
          const y = runOnce(m, { x: f32([seq, batch, inp], x) });
          const wantY: number[] = new Array(seq * dirs * batch * H);
          const wantH: number[] = [];
          for (let d = 0; d < dirs; d++) {
            const reverse = direction === 'reverse' || d === 1;
            const ref = refRnn(kind, X, W.slice(d * G * H * inp, (d + 1) * G * H * inp), R.slice(d * G * H * H, (d + 1) * G * H * H), B.slice(d * 2 * G * H, (d + 1) * 2 * G * H), H, reverse, lbr === 1);
            for (let t = 0; t < seq; t++) for (let b = 0; b < batch; b++) for (let j = 0; j < H; j++) wantY[((t * dirs + d) * batch + b) * H + j] = ref.Y[t][b][j];
            wantH.push(...ref.h.flat());
          }
          assert.deepEqual(y.Y.dims, [seq, dirs, batch, H]);
          assertClose(y.Y.data, wantY, 1e-5, 1e-4, 'Y');
          assertClose(y.Yh.data, wantH, 1e-5, 1e-4, 'Y_h');
        });
      }
    }
  }

  for (const kind of ['LSTM', 'GRU'] as const) {
    it(`${kind} bidirectional with sequence_lens [4, 2]: short entries hold their state, Y rows zero`, () => {
      const [seq, batch, inp, H, G] = [4, 2, 3, 3, kind === 'LSTM' ? 4 : 3];
      const lens = [4, 2];
      const x = rand(seq * batch * inp, 51);
      const W = rand(2 * G * H * inp, 52);
      const R = rand(2 * G * H * H, 53);
      const outs: [string, 'float32', number[]][] = [['Y', 'float32', [seq, 2, batch, H]], ['Yh', 'float32', [2, batch, H]]];
      const m = opModel({ opType: kind, inputs: ['x', 'W', 'R', '', 'sl'], outputs: outs.map(o => o[0]), attributes: { hidden_size: H, direction: 'bidirectional' } },
        [['x', 'float32', [seq, batch, inp]], ['sl', 'int32', [batch]]], outs, [f32([2, G * H, inp], W, 'W'), f32([2, G * H, H], R, 'R')]);
      const y = runOnce(m, { x: f32([seq, batch, inp], x), sl: makeTensor('int32', [batch], lens) });
      const wantY = new Array(seq * 2 * batch * H).fill(0);
      const wantH = new Array(2 * batch * H).fill(0);
      for (let d = 0; d < 2; d++) {
        for (let b = 0; b < batch; b++) {
          const Xb = Array.from({ length: lens[b] }, (_, t) => [x.slice((t * batch + b) * inp, (t * batch + b + 1) * inp)]);
          const ref = refRnn(kind, Xb, W.slice(d * G * H * inp, (d + 1) * G * H * inp), R.slice(d * G * H * H, (d + 1) * G * H * H), undefined, H, d === 1);
          for (let t = 0; t < lens[b]; t++) for (let j = 0; j < H; j++) wantY[((t * 2 + d) * batch + b) * H + j] = ref.Y[t][0][j];
          for (let j = 0; j < H; j++) wantH[(d * batch + b) * H + j] = ref.h[0][j];
        }
      }
      assertClose(y.Y.data, wantY, 1e-5, 1e-4, 'Y');
      assertClose(y.Yh.data, wantH, 1e-5, 1e-4, 'Y_h');
    });
  }

  it('cheap extras: Shape, Cast, Exp/Log/Sqrt/Neg/Abs/Pow, ReduceMean/ReduceSum, Clip', () => {
    const nodes: NodeSpec[] = [
      { opType: 'Shape', inputs: ['x'], outputs: ['sh'] },
      { opType: 'Cast', inputs: ['x'], outputs: ['ci'], attributes: { to: 6 } },
      { opType: 'Abs', inputs: ['x'], outputs: ['ab'] },
      { opType: 'Sqrt', inputs: ['ab'], outputs: ['sq'] },
      { opType: 'Pow', inputs: ['ab', 'two'], outputs: ['pw'] },
      { opType: 'ReduceMean', inputs: ['pw'], outputs: ['rm'], attributes: { axes: [1], keepdims: 0 } },
      { opType: 'ReduceSum', inputs: ['x', 'ax'], outputs: ['rs'], attributes: { keepdims: 1 } },
      { opType: 'Clip', inputs: ['x', 'lo', 'hi'], outputs: ['cl'] },
      { opType: 'Exp', inputs: ['x'], outputs: ['ex'] },
      { opType: 'Log', inputs: ['ex'], outputs: ['lg'] },
      { opType: 'Neg', inputs: ['lg'], outputs: ['ng'] },
    ];
    const x = [-2.7, 1.5, 0.25, 3.9];
    const m = opModel(nodes, [['x', 'float32', [2, 2]]],
      [['sh', 'int64', [2]], ['ci', 'int32', [2, 2]], ['sq', 'float32', [2, 2]], ['rm', 'float32', [2]], ['rs', 'float32', [1, 2]], ['cl', 'float32', [2, 2]], ['ng', 'float32', [2, 2]]],
      [f32([], [2], 'two'), i64([1], [0], 'ax'), f32([], [-1], 'lo'), f32([], [2], 'hi')], 13);
    const y = runOnce(m, { x: f32([2, 2], x) });
    assert.deepEqual(y.sh.data, [2, 2]);
    assert.deepEqual(y.ci.data, [-2, 1, 0, 3]);
    assertClose(y.sq.data, x.map(v => Math.sqrt(Math.abs(v))), 1e-6, 1e-6, 'sqrt');
    assertClose(y.rm.data, [(2.7 ** 2 + 1.5 ** 2) / 2, (0.25 ** 2 + 3.9 ** 2) / 2], 1e-5, 1e-5, 'mean');
    assertClose(y.rs.data, [-2.7 + 0.25, 1.5 + 3.9], 1e-6, 1e-6, 'sum');
    assert.deepEqual(y.rs.dims, [1, 2]);
    assertClose(y.cl.data, [-1, 1.5, 0.25, 2], 0, 0, 'clip');
    assertClose(y.ng.data, x.map(v => -v), 1e-5, 1e-5, 'exp/log');
  });

  it('an unsupported op is an error naming it', () => {
    const m = opModel([{ opType: 'Relu', inputs: ['x'], outputs: ['r'] }, { opType: 'NonMaxSuppression', inputs: ['r'], outputs: ['y'], name: 'nms1' }],
      [['x', 'float32', [2]]], [['y', 'float32', [2]]]);
    assert.throws(() => new GraphExecutor(tf, m), (e: Error) => e instanceof OnnxExecutorError && /unsupported op NonMaxSuppression/.test(e.message) && /nms1/.test(e.message));
    const dom = opModel({ opType: 'FusedGemm', domain: 'com.microsoft', inputs: ['x'], outputs: ['y'] }, [['x', 'float32', [2]]], [['y', 'float32', [2]]]);
    assert.throws(() => new GraphExecutor(tf, dom), /unsupported op com\.microsoft\.FusedGemm/);
  });

  it('bad input: wrong shape, wrong type, missing or unknown input, a type tfjs lacks', () => {
    const m = opModel({ opType: 'Relu', inputs: ['x'], outputs: ['y'] }, [['x', 'float32', ['batch', 3]]], [['y', 'float32', ['batch', 3]]]);
    const ex = new GraphExecutor(tf, m);
    try {
      assert.throws(() => ex.run({ x: f32([2, 4], rand(8)) }), /input 'x': expected shape \[batch, 3\], got \[2, 4\]/);
      assert.throws(() => ex.run({ x: makeTensor('int32', [1, 3], [1, 2, 3]) }), /input 'x': expected float32, got int32/);
      assert.throws(() => ex.run({}), /input 'x' is missing/);
      assert.throws(() => ex.run({ x: f32([1, 3], [1, 2, 3]), z: f32([1], [1]) }), /'z' is not an input of the model/);
      assert.throws(() => ex.run({ x: makeTensor('float64', [1, 3], [1, 2, 3]) }), /element type float64 is not supported/);
      assert.deepEqual(ex.run({ x: f32([5, 3], rand(15)) }).y.dims, [5, 3]);
    } finally {
      ex.dispose();
    }
    const big = opModel({ opType: 'Reshape', inputs: ['x', 's'], outputs: ['y'] }, [['x', 'float32', [2]], ['s', 'int64', [1]]], [['y', 'float32', [2]]]);
    assert.throws(() => runOnce(big, { x: f32([2], [1, 2]), s: i64([1], [2 ** 40]) }), /int64 value 1099511627776 does not fit/);
    const bad = opModel({ opType: 'Reshape', inputs: ['x', 's'], outputs: ['y'] }, [['x', 'float32', [6]]], [['y', 'float32', [4]]], [i64([1], [4], 's')]);
    assert.throws(() => runOnce(bad, { x: f32([6], rand(6)) }), /Reshape node .*cannot reshape \[6\] \(6 values\) to \[4\]/);
  });
});
