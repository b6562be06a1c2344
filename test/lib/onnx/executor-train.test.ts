/**
 * Gradients, losses, training and write-back on the executor: gradients against a hand-derived
 * gradient and against central finite differences (float32: step 1e-2, |fd − g| ≤ 2e-3 + 3e-2·|g|,
 * see the note below), loss values against hand computation, training that lowers the loss,
 * weights written back into the ONNX model, and the per-model backend fallback when the wasm
 * backend lacks a gradient kernel.
 */
import * as assert from 'node:assert/strict';
import { GraphBuilder } from '../../../lib/onnx/builder';
import { OnnxModel } from '../../../lib/onnx/model';
import { Tensor, makeTensor } from '../../../lib/onnx/tensor';
import { tf, initBackend, preferredBackend } from '../../../lib/onnx/executor/backend';
import { Trainer, LossTerm } from '../../../lib/onnx/executor/train';
import { opModel, f32, rand, assertClose } from './executor/helpers';

function mlp(seed = 3): OnnxModel {
  const b = new GraphBuilder({ name: 'mlp', seed });
  const x = b.input('x', ['batch', 4]);
  const h = b.dense(x, 6, { activation: 'tanh', name: 'h1', bias: rand(6, seed + 1).map(v => v * 0.2) });
  const y = b.dense(h, 2, { name: 'out', bias: rand(2, seed + 2).map(v => v * 0.2) });
  b.output(y, 'y');
  return b.build();
}

function recurrent(kind: 'lstm' | 'gru'): OnnxModel {
  const b = new GraphBuilder({ name: kind, seed: 5 });
  const x = b.input('x', ['batch', 5, 3]);
  const h = kind === 'lstm' ? b.lstm(x, 4, { bias: rand(32, 6).map(v => v * 0.3) }) : b.gru(x, 4, { bias: rand(24, 6).map(v => v * 0.3), linearBeforeReset: 1 });
  b.output(b.dense(h, 1, { name: 'out' }), 'y');
  return b.build();
}

function convNet(): OnnxModel {
  const b = new GraphBuilder({ name: 'conv', seed: 9 });
  const x = b.input('x', ['batch', 2, 8]);
  const c = b.conv1d(x, 3, { kernel: 3, activation: 'tanh', name: 'c1', bias: rand(3, 10).map(v => v * 0.2) });
  b.output(b.dense(b.flatten(c), 1, { name: 'out' }), 'y');
  return b.build();
}

/**
 * Central differences in float32. The loss (≈0.1–2) carries rounding of a few 1e-7, so the
 * difference quotient at h = 1e-2 carries ~1e-5 from rounding and ~h²·|L'''|/6 ≈ 2e-5 from
 * truncation: 2e-3 + 3e-2·|g| leaves margin yet catches any real error (which is O(|g|)).
 */
async function checkFiniteDifferences(t: Trainer, feeds: Record<string, Tensor>, targets: Record<string, Tensor>, terms: LossTerm[], perParam = 4): Promise<number> {
  const { grads } = await t.gradients(feeds, targets, terms);
  const h = 1e-2;
  let checked = 0;
  for (const name of t.trainableNames) {
    const base = t.exec.getParam(name).data as Float32Array;
    const g = grads[name].data as Float32Array;
    assert.equal(g.length, base.length, name);
    const idx = [...new Set([0, base.length - 1, ...rand(perParam, name.length).map(v => Math.floor(((v + 1) / 2) * base.length))])];
    for (const i of idx) {
      const p = Float32Array.from(base);
      p[i] = base[i] + h;
      t.exec.setParam(name, p);
      const up = (await t.loss(feeds, targets, terms)).loss;
      p[i] = base[i] - h;
      t.exec.setParam(name, p);
      const down = (await t.loss(feeds, targets, terms)).loss;
      t.exec.setParam(name, base);
      const fd = (up - down) / (2 * h);
      assert.ok(Math.abs(fd - g[i]) <= 2e-3 + 3e-2 * Math.abs(g[i]), `${name}[${i}]: gradient ${g[i]} vs finite difference ${fd}`);
      checked++;
    }
  }
  return checked;
}

describe('executor gradients and training', function () {
  this.timeout(60000);
  let tensorsBefore = 0;
  beforeEach(() => { tensorsBefore = tf.memory().numTensors; });
  afterEach(() => assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked'));

  it('gradient of MSE through MatMul + Add equals the hand-derived one', async () => {
    // y = x·W + b, L = mean((y − t)²) → dL/dW = 2/n · xᵀ(y − t), dL/db = 2/n · Σ(y − t)
    const W = [0.5, -1, 2, 0.25, 0, 1];
    const bias = [0.1, -0.2];
    const m = opModel([{ opType: 'MatMul', inputs: ['x', 'W'], outputs: ['xw'] }, { opType: 'Add', inputs: ['xw', 'b'], outputs: ['y'] }],
      [['x', 'float32', [2, 3]]], [['y', 'float32', [2, 2]]], [f32([3, 2], W, 'W'), f32([2], bias, 'b')]);
    const x = [1, 2, 3, -1, 0.5, 2];
    const target = [1, 0, -1, 2];
    const t = await Trainer.create(m, { backend: 'cpu' });
    try {
      const y = [0, 1].flatMap(r => [0, 1].map(c => x[r * 3] * W[c] + x[r * 3 + 1] * W[2 + c] + x[r * 3 + 2] * W[4 + c] + bias[c]));
      const err = y.map((v, i) => v - target[i]);
      const n = 4;
      const gW = [0, 1, 2].flatMap(k => [0, 1].map(c => (2 / n) * (x[k] * err[c] + x[3 + k] * err[2 + c])));
      const gb = [0, 1].map(c => (2 / n) * (err[c] + err[2 + c]));
      const { loss, grads } = await t.gradients({ x: f32([2, 3], x) }, { y: f32([2, 2], target) }, [{ output: 'y', kind: 'mse' }]);
      assertClose([loss], [err.reduce((s, e) => s + e * e, 0) / n], 1e-6, 1e-6, 'loss');
      assertClose(grads.W.data as Float32Array, gW, 1e-5, 1e-5, 'dW');
      assertClose(grads.b.data as Float32Array, gb, 1e-5, 1e-5, 'db');
      const only = await t.gradients({ x: f32([2, 3], x) }, { y: f32([2, 2], target) }, [{ output: 'y', kind: 'mse' }], ['b']);
      assert.deepEqual(Object.keys(only.grads), ['b']);
    } finally {
      t.dispose();
    }
  });

  for (const [name, make, inputDims, conv] of [
    ['MLP (MatMul, Add, Tanh)', () => mlp(), [3, 4]],
    ['LSTM', () => recurrent('lstm'), [2, 5, 3]],
    ['GRU (linear_before_reset)', () => recurrent('gru'), [2, 5, 3]],
    ['Conv1d', convNet, [2, 2, 8]],
    ['Conv1d as im2col', convNet, [2, 2, 8], 'im2col'],
  ] as [string, () => OnnxModel, number[], 'im2col' | undefined][]) {
    it(`${name}: gradients match central finite differences`, async () => {
      const m = make();
      const t = await Trainer.create(m, { backend: 'cpu', conv: conv ?? 'native' });
      try {
        const n = inputDims.reduce((a, b) => a * b);
        const outDims = (m.outputs[0].shape ?? []).map(d => (typeof d === 'number' ? d : inputDims[0]));
        const feeds = { x: f32(inputDims, rand(n, 41)) };
        const targets = { y: f32(outDims, rand(outDims.reduce((a, b) => a * b), 42)) };
        const checked = await checkFiniteDifferences(t, feeds, targets, [{ output: 'y', kind: 'mse' }]);
        assert.ok(checked >= 2 * t.trainableNames.length);
      } finally {
        t.dispose();
      }
    });
  }

  it('cross-entropy (indices or one-hot, logits or probabilities) and binary cross-entropy equal hand computation', async () => {
    const m = opModel([{ opType: 'Identity', inputs: ['z', ], outputs: ['logits'] }, { opType: 'Softmax', inputs: ['z'], outputs: ['p'] }, { opType: 'Sigmoid', inputs: ['z'], outputs: ['s'] }],
      [['z', 'float32', [2, 3]]], [['logits', 'float32', [2, 3]], ['p', 'float32', [2, 3]], ['s', 'float32', [2, 3]]]);
    const z = [1, 2, 0.5, -1, 0, 3];
    const t = await Trainer.create(m, { backend: 'cpu', trainable: [] });
    try {
      const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
      const ce = (-(z[1] - lse(z.slice(0, 3))) - (z[3] - lse(z.slice(3)))) / 2;
      const feeds = { z: f32([2, 3], z) };
      const idx = makeTensor('int32', [2], [1, 0]);
      const oneHot = f32([2, 3], [0, 1, 0, 1, 0, 0]);
      assertClose([(await t.loss(feeds, { logits: idx }, [{ output: 'logits', kind: 'cross-entropy' }])).loss], [ce], 1e-5, 1e-5, 'ce idx');
      assertClose([(await t.loss(feeds, { logits: oneHot }, [{ output: 'logits', kind: 'cross-entropy' }])).loss], [ce], 1e-5, 1e-5, 'ce one-hot');
      assertClose([(await t.loss(feeds, { p: idx }, [{ output: 'p', kind: 'cross-entropy', from: 'probabilities' }])).loss], [ce], 1e-5, 1e-5, 'ce probs');
      const y = [1, 0, 1, 0, 1, 1];
      const bce = z.reduce((s, v, i) => {
        const p = 1 / (1 + Math.exp(-v));
        return s - (y[i] * Math.log(p) + (1 - y[i]) * Math.log(1 - p));
      }, 0) / 6;
      assertClose([(await t.loss(feeds, { logits: f32([2, 3], y) }, [{ output: 'logits', kind: 'binary-cross-entropy' }])).loss], [bce], 1e-5, 1e-5, 'bce logits');
      assertClose([(await t.loss(feeds, { s: f32([2, 3], y) }, [{ output: 's', kind: 'binary-cross-entropy', from: 'probabilities' }])).loss], [bce], 1e-5, 1e-5, 'bce probs');
      const multi = await t.loss(feeds, { logits: idx, s: f32([2, 3], y) }, [
        { output: 'logits', kind: 'cross-entropy', weight: 0.3 }, { output: 's', kind: 'binary-cross-entropy', from: 'probabilities', weight: 2 }]);
      assertClose([multi.loss], [0.3 * ce + 2 * bce], 1e-5, 1e-5, 'weighted multi-task');
      assertClose([multi.terms.logits, multi.terms.s], [ce, bce], 1e-5, 1e-5, 'terms');
      await assert.rejects(t.loss(feeds, { logits: makeTensor('int32', [3], [0, 1, 2]) }, [{ output: 'logits', kind: 'cross-entropy' }]), /3 class indices for 2 rows/);
      await assert.rejects(t.loss(feeds, {}, [{ output: 'logits', kind: 'mse' }]), /target/);
    } finally {
      t.dispose();
    }
  });

  for (const optimizer of ['sgd', 'adam'] as const) {
    it(`multi-task training with ${optimizer} lowers the loss; weights written back run the same in a reloaded model`, async () => {
      const b = new GraphBuilder({ name: 'mt', seed: 12 });
      const x = b.input('x', ['batch', 3]);
      const trunk = b.dense(x, 8, { activation: 'tanh', name: 'trunk' });
      b.heads(trunk, [{ name: 'cls', units: 2 }, { name: 'reg', units: 1 }]);
      const model = b.build();
      const before0 = model.getInitializer('trunk_W').data as Float32Array;
      const xs = rand(64 * 3, 77);
      const cls = Array.from({ length: 64 }, (_, i) => (xs[i * 3] + xs[i * 3 + 1] > 0 ? 1 : 0));
      const reg = Array.from({ length: 64 }, (_, i) => 0.5 * xs[i * 3 + 2] - xs[i * 3]);
      const batch = { feeds: { x: f32([64, 3], xs) }, targets: { cls: makeTensor('int32', [64], cls), reg: f32([64, 1], reg) } };
      const terms: LossTerm[] = [{ output: 'cls', kind: 'cross-entropy', weight: 1 }, { output: 'reg', kind: 'mse', weight: 0.5 }];
      const t = await Trainer.create(model, { optimizer, learningRate: optimizer === 'sgd' ? 0.2 : 0.02 });
      try {
        const history = await t.fit([batch], terms, { epochs: 60 });
        assert.equal(history.length, 60);
        assert.ok(history[59] < 0.5 * history[0], `loss ${history[0]} → ${history[59]}`);
        const outs = await t.run(batch.feeds);
        const written = t.writeBack();
        assert.ok(written.includes('trunk_W') && written.includes('cls_dense_W'));
        const after = model.getInitializer('trunk_W').data as Float32Array;
        assert.notDeepEqual(Array.from(after), Array.from(before0));
        const reloaded = OnnxModel.fromBuffer(model.toBuffer());
        const t2 = await Trainer.create(reloaded, { trainable: [] });
        try {
          const again = await t2.run(batch.feeds);
          assertClose(again.reg.data as Float32Array, outs.reg.data as Float32Array, 1e-6, 1e-6, 'reg');
          assertClose(again.cls.data as Float32Array, outs.cls.data as Float32Array, 1e-6, 1e-6, 'cls');
        } finally {
          t2.dispose();
        }
      } finally {
        t.dispose();
      }
    });
  }

  it('trainable names are checked; non-float initializers are never trainable', async () => {
    await assert.rejects(Trainer.create(mlp(), { trainable: ['nope'] }), /trainable 'nope' is not a float initializer/);
    const t = await Trainer.create(mlp(), { trainable: ['h1_W'] });
    try {
      assert.deepEqual(t.trainableNames, ['h1_W']);
      await assert.rejects(t.gradients({ x: f32([1, 4], [1, 2, 3, 4]) }, { y: f32([1, 2], [0, 0]) }, [{ output: 'y', kind: 'mse' }], ['out_W']), /'out_W' is not a trainable initializer/);
    } finally {
      t.dispose();
    }
  });

  describe('backend choice', () => {
    let wasm = false;
    before(async () => { wasm = await initBackend('wasm'); });

    it('prefers tfjs-node, then wasm, then cpu (tfjs-node is not installed here)', async function () {
      const best = await preferredBackend();
      if (process.env.TFJS_BACKEND) this.skip();
      assert.equal(best, wasm ? 'wasm' : 'cpu');
    });

    it('a dense model trains on wasm; a conv model trains on wasm as im2col, or falls back to cpu for Conv2DBackpropFilter with conv2d; an embedding falls back for UnsortedSegmentSum', async function () {
      if (!wasm) {
        console.log('      wasm backend not available: fallback test not run');
        this.skip();
      }
      const dense = await Trainer.create(mlp(), { backend: 'wasm' });
      try {
        await dense.step({ x: f32([2, 4], rand(8)) }, { y: f32([2, 2], rand(4, 2)) }, [{ output: 'y', kind: 'mse' }]);
        assert.deepEqual(dense.backendInfo, { backend: 'wasm', fellBack: [], conv: 'native' });
      } finally {
        dense.dispose();
      }
      const x = f32([1, 2, 8], rand(16));
      const target = { y: f32([1, 1], [0.5]) };
      const reference = await Trainer.create(convNet(), { backend: 'cpu', conv: 'native' });
      const auto = await Trainer.create(convNet(), { backend: 'wasm' });
      const conv = await Trainer.create(convNet(), { backend: 'wasm', conv: 'native' });
      try {
        const want = await reference.gradients({ x }, target, [{ output: 'y', kind: 'mse' }]);
        const a = await auto.gradients({ x }, target, [{ output: 'y', kind: 'mse' }]);
        assert.deepEqual(auto.backendInfo, { backend: 'wasm', fellBack: [], conv: 'im2col' });
        for (const k of Object.keys(want.grads)) assertClose(a.grads[k].data as Float32Array, want.grads[k].data as Float32Array, 1e-5, 1e-4, `im2col d${k}`);
        const out = await conv.run({ x });
        assert.equal(conv.backendInfo.backend, 'wasm', 'forward runs on wasm');
        const before1 = conv.exec.getParam('c1_W').data as Float32Array;
        const r = await conv.step({ x }, target, [{ output: 'y', kind: 'mse' }]);
        assert.ok(Number.isFinite(r.loss));
        assert.equal(conv.backendInfo.backend, 'cpu');
        assert.deepEqual(conv.backendInfo.fellBack.map(f => `${f.from}>${f.to}:${f.kernel}`), ['wasm>cpu:Conv2DBackpropFilter']);
        assert.notDeepEqual(Array.from(conv.exec.getParam('c1_W').data as Float32Array), Array.from(before1), 'the step was applied once, after the fallback');
        assert.ok(out.y.dims[0] === 1);
      } finally {
        reference.dispose();
        auto.dispose();
        conv.dispose();
      }
      const emb = opModel([{ opType: 'Gather', inputs: ['E', 'i'], outputs: ['y'] }], [['i', 'int64', [3]]], [['y', 'float32', [3, 2]]], [f32([4, 2], rand(8), 'E')]);
      const te = await Trainer.create(emb, { backend: 'wasm' });
      try {
        const g = await te.gradients({ i: makeTensor('int64', [3], [1n, 3n, 1n]) }, { y: f32([3, 2], [0, 0, 0, 0, 0, 0]) }, [{ output: 'y', kind: 'mse' }]);
        assert.deepEqual(te.backendInfo.fellBack.map(f => f.kernel), ['UnsortedSegmentSum']);
        const E = te.exec.getParam('E').data as Float32Array;
        // dL/dE[r] = Σ over gathered rows r of 2/6 · E[r]: row 1 twice, row 3 once, rows 0 and 2 zero
        assertClose(g.grads.E.data as Float32Array, [0, 0, 4 / 6 * E[2], 4 / 6 * E[3], 0, 0, 2 / 6 * E[6], 2 / 6 * E[7]], 1e-6, 1e-5, 'dE');
      } finally {
        te.dispose();
      }
    });
  });
});
