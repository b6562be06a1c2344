import { strict as assert } from 'assert';
import { optimize, type OptimizeOptions } from '../../../lib/optimize/optimize';
import { chainOptions, specFromConfig } from '../../../lib/optimize/options';
import { trainableInitializers } from '../../../lib/optimize/finetune';
import { decodeModel } from '../../../lib/optimize/graph';
import { SeededRandom } from '../../../lib/util/random';
import { GraphBuilder } from '../../../lib/onnx/builder';
import { buildMlp, randomLayers } from '../../../tools/build-boiler-model';
import { weldDataSet, trainWeldModel } from '../../../tools/build-weld-model';
import { buildFromNodes, graphOf, mlpForward, opTypes, runOrt } from './helpers';

type Layer = { w: Float64Array; b: Float64Array };

/**
 * Independent reference: a 1-hidden-layer ReLU MLP (weights [out, in]), MSE loss, tfjs-style Adam
 * (bias-corrected moments, ε outside the square root), batches in data order — in float64.
 */
function referenceFinetune(layers: Layer[], sizes: number[], x: Float64Array, y: Float64Array, n: number, epochs: number, lr: number, batch: number): { layers: Layer[]; lossBefore: number; lossAfter: number } {
  const [I, H] = sizes;
  const L = layers.map((l) => ({ w: Float64Array.from(l.w), b: Float64Array.from(l.b) }));
  const params = [L[0].w, L[0].b, L[1].w, L[1].b];
  const m = params.map((p) => new Float64Array(p.length));
  const v = params.map((p) => new Float64Array(p.length));
  const b1 = 0.9;
  const b2 = 0.999;
  let t = 0;
  const forward = (s: number) => {
    const h = new Float64Array(H);
    for (let o = 0; o < H; o++) {
      let a = L[0].b[o];
      for (let i = 0; i < I; i++) a += x[s * I + i] * L[0].w[o * I + i];
      h[o] = Math.max(0, a);
    }
    let out = L[1].b[0];
    for (let o = 0; o < H; o++) out += h[o] * L[1].w[o];
    return { h, out };
  };
  const loss = () => {
    let s = 0;
    for (let k = 0; k < n; k++) s += (forward(k).out - y[k]) ** 2;
    return s / n;
  };
  const lossBefore = loss();
  for (let e = 0; e < epochs; e++) {
    for (let s0 = 0; s0 < n; s0 += batch) {
      const s1 = Math.min(n, s0 + batch);
      const B = s1 - s0;
      const g = params.map((p) => new Float64Array(p.length));
      for (let s = s0; s < s1; s++) {
        const { h, out } = forward(s);
        const d = (2 * (out - y[s])) / B;
        g[3][0] += d;
        for (let o = 0; o < H; o++) {
          g[2][o] += d * h[o];
          if (h[o] > 0) {
            const dh = d * L[1].w[o];
            g[1][o] += dh;
            for (let i = 0; i < I; i++) g[0][o * I + i] += dh * x[s * I + i];
          }
        }
      }
      t++;
      params.forEach((p, k) => {
        for (let i = 0; i < p.length; i++) {
          m[k][i] = b1 * m[k][i] + (1 - b1) * g[k][i];
          v[k][i] = b2 * v[k][i] + (1 - b2) * g[k][i] ** 2;
          const mh = m[k][i] / (1 - b1 ** t);
          const vh = v[k][i] / (1 - b2 ** t);
          p[i] -= (lr * mh) / (Math.sqrt(vh) + 1e-8);
        }
      });
    }
  }
  return { layers: L, lossBefore, lossAfter: loss() };
}

function accuracy(logits: Float32Array, labels: Int32Array, classes: number): number {
  let ok = 0;
  for (let s = 0; s < labels.length; s++) {
    const row = Array.from(logits.subarray(s * classes, (s + 1) * classes));
    if (row.indexOf(Math.max(...row)) === labels[s]) ok++;
  }
  return ok / labels.length;
}

describe('optimize: fine-tuning after pruning (tfjs executor)', function () {
  this.timeout(60000);

  it('matches an independent float64 Adam on the pruned MLP: weights, losses and validation error', async () => {
    const sizes = [4, 8, 1];
    const init = randomLayers(sizes, 11);
    const model = buildMlp(sizes, { weights: init, outputName: 'y' });
    const rng = new SeededRandom(5);
    const n = 12;
    const x = Float64Array.from({ length: n * 4 }, () => rng.uniform(-1, 1));
    const y = Float64Array.from({ length: n }, (_, s) => 0.5 * x[s * 4] - 0.3 * x[s * 4 + 1] + 0.2 * x[s * 4 + 2] * x[s * 4 + 3] + 0.1);
    const xv = Float64Array.from({ length: 6 * 4 }, () => rng.uniform(-1, 1));
    const yv = Float64Array.from({ length: 6 }, (_, s) => 0.5 * xv[s * 4] - 0.3 * xv[s * 4 + 1] + 0.2 * xv[s * 4 + 2] * xv[s * 4 + 3] + 0.1);
    // reference pruning: keep the 4 hidden neurons with the largest L1 norm of incoming weights
    const score = (o: number) => Array.from(init[0].w.subarray(o * 4, o * 4 + 4)).reduce((a, b) => a + Math.abs(b), 0);
    const keep = [...Array(8).keys()].sort((a, b) => score(b) - score(a)).slice(0, 4).sort((a, b) => a - b);
    const pruned: Layer[] = [
      { w: Float64Array.from(keep.flatMap((o) => Array.from(init[0].w.subarray(o * 4, o * 4 + 4)))), b: Float64Array.from(keep.map((o) => init[0].b[o])) },
      { w: Float64Array.from(keep.map((o) => init[1].w[o])), b: Float64Array.from(init[1].b) },
    ];
    const ref = referenceFinetune(pruned, [4, 4, 1], x, y, n, 5, 0.01, 5);

    const { model: out, report } = await optimize(model, {
      prune: { keep: 4 }, finetune: { epochs: 5, learningRate: 0.01, batchSize: 5 },
      training: { inputs: { features: { shape: [n, 4], data: Float32Array.from(x) } }, expected: { y: { shape: [n, 1], data: Float32Array.from(y) } } },
      validation: { inputs: { features: { shape: [6, 4], data: Float32Array.from(xv) } }, expected: { y: { shape: [6, 1], data: Float32Array.from(yv) } } },
      latency: false,
    });
    const ft = report.steps.finetune!;
    assert.deepEqual([ft.epochs, ft.batchSize, ft.samples, ft.learningRate], [5, 5, 12, 0.01]);
    assert.deepEqual(ft.losses, { y: 'mse' });
    assert.equal(ft.history.length, 5);
    assert.equal(ft.trained.length, 4, ft.trained.join(', '));
    assert.ok(Math.abs(ft.lossBefore - ref.lossBefore) <= 1e-5 * (1 + ref.lossBefore), `${ft.lossBefore} vs ${ref.lossBefore}`);
    assert.ok(Math.abs(ft.lossAfter - ref.lossAfter) <= 1e-4 * (1 + ref.lossAfter), `${ft.lossAfter} vs ${ref.lossAfter}`);
    assert.ok(ref.lossAfter < ref.lossBefore * 0.9, 'the reference itself trains');
    // the written-back model computes the reference's function
    const got = (await runOrt(out, { features: { shape: [6, 4], data: Float32Array.from(xv) } })).y.data;
    const want = mlpForward(Float32Array.from(xv), 6, [4, 4, 1], ref.layers.map((l) => ({ w: Float32Array.from(l.w), b: Float32Array.from(l.b) })));
    for (let i = 0; i < 6; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-4, `sample ${i}: ${got[i]} vs ${want[i]}`);
    // validation error before / after, computed here from the two functions
    const before = mlpForward(Float32Array.from(xv), 6, [4, 4, 1], pruned.map((l) => ({ w: Float32Array.from(l.w), b: Float32Array.from(l.b) })));
    const mre = (p: ArrayLike<number>) => Array.from(yv).reduce((s, t, i) => s + Math.abs(p[i] - t) / Math.max(Math.abs(t), 1e-6), 0) / 6;
    assert.ok(Math.abs(ft.validationBefore!.outputs.y.value - mre(before)) < 1e-4);
    assert.ok(Math.abs(ft.validationAfter!.outputs.y.value - mre(want)) < 1e-4);
    assert.equal(report.optimized.validation!.outputs.y.value, ft.validationAfter!.outputs.y.value);
  });

  it('recovers the accuracy a hard-pruned classifier lost, on held-out data, then quantises', async () => {
    // a small weld-seam classifier (48-64-16-3), trained as the shipped one is (plain JS, seeded)
    const sizes = [48, 64, 16, 3];
    const model = buildMlp(sizes, { weights: trainWeldModel(sizes, weldDataSet(300, 1), 8, 2), outputName: 'seam_class' });
    const train = weldDataSet(150, 77);
    const held = weldDataSet(150, 78);
    const labels = (d: { y: Int32Array }) => ({ seam_class: { shape: [d.y.length], data: Float32Array.from(d.y) } });
    const base: OptimizeOptions = { prune: { keep: 4 }, validation: { inputs: { features: { shape: [150, 48], data: held.x } }, expected: labels(held) }, latency: false };
    const prunedOnly = await optimize(model, base);
    const { model: out, report } = await optimize(model, {
      ...base, finetune: { epochs: 15, learningRate: 0.01, batchSize: 30 }, int8: { mode: 'dynamic' },
      training: { inputs: { features: { shape: [150, 48], data: train.x } }, expected: labels(train) },
    });
    const heldFeeds = { features: { shape: [150, 48], data: held.x } };
    const accOrig = accuracy((await runOrt(model, heldFeeds)).seam_class.data, held.y, 3);
    const accPruned = accuracy((await runOrt(prunedOnly.model, heldFeeds)).seam_class.data, held.y, 3);
    const accTuned = accuracy((await runOrt(out, heldFeeds)).seam_class.data, held.y, 3);
    assert.ok(accOrig >= 0.95, `original ${accOrig}`);
    assert.ok(accPruned <= accOrig - 0.1, `pruning to 4 neurons must cost accuracy: ${accOrig} → ${accPruned}`);
    assert.ok(accTuned >= accPruned + 0.1 && accTuned >= 0.9, `fine-tuning recovers: ${accPruned} → ${accTuned}`);
    const ft = report.steps.finetune!;
    assert.deepEqual(ft.losses, { seam_class: 'cross-entropy' });
    assert.ok(ft.lossAfter < ft.lossBefore / 2, `${ft.lossBefore} → ${ft.lossAfter}`);
    assert.equal(ft.validationBefore!.outputs.seam_class.value, accPruned);
    assert.equal(report.optimized.validation!.outputs.seam_class.value, accTuned);
    assert.ok(opTypes(out).includes('MatMulInteger'), 'quantised after fine-tuning');
    assert.deepEqual(report.steps.pruned!.map((p) => [p.before, p.after]), [[64, 4], [16, 4]]);
  });

  it('fine-tunes a channel-pruned Conv model (conv → pool → flatten → dense); the result runs in ONNX Runtime', async () => {
    const b = new GraphBuilder({ name: 'seam-cnn', opset: 13, seed: 4 });
    const x = b.input('x', ['batch', 3, 12]);
    const h = b.conv1d(x, 8, { kernel: 3, activation: 'relu', name: 'conv1' });
    b.output(b.dense(b.flatten(b.pool1d(h, 'max', 2)), 2, { name: 'head' }), 'y');
    const bytes = b.build().toBuffer();
    const rng = new SeededRandom(9);
    const n = 24;
    const xs = Float32Array.from({ length: n * 36 }, () => rng.uniform(-1, 1));
    // class 1 when the first channel's mean is positive
    const labels = Float32Array.from({ length: n }, (_, s) => (xs.subarray(s * 36, s * 36 + 12).reduce((a, v) => a + v, 0) > 0 ? 1 : 0));
    const { model: out, report } = await optimize(bytes, {
      pruneConv: { keep: 5 }, finetune: { epochs: 30, learningRate: 0.02, batchSize: 8 },
      training: { inputs: { x: { shape: [n, 3, 12], data: xs } }, expected: { y: { shape: [n], data: labels } } }, latency: false,
    });
    const ft = report.steps.finetune!;
    assert.deepEqual(ft.losses, { y: 'cross-entropy' });
    const conv = graphOf(out).node.find((nd) => nd.opType === 'Conv')!;
    assert.ok(ft.trained.includes(conv.input[1]), `conv weight trained: ${ft.trained.join(', ')}`);
    assert.ok(ft.lossAfter < ft.lossBefore * 0.7, `${ft.lossBefore} → ${ft.lossAfter}`);
    const logits = (await runOrt(out, { x: { shape: [n, 3, 12], data: xs } })).y.data;
    assert.ok(accuracy(logits, Int32Array.from(labels), 2) >= 0.8);
  });

  it('trains weights and biases only (not input scalers or BatchNormalization statistics)', () => {
    const m = decodeModel(buildMlp([3, 4, 1], { seed: 1, style: 'matmul' }));
    assert.deepEqual(trainableInitializers(m).sort(), ['fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight']);
    const f = (k: number) => new Float32Array(k).fill(0.5);
    const bn = decodeModel(buildFromNodes('x', [2, 3], 'y', [
      ['Sub', ['x', 'x_mean'], ['xs']], ['MatMul', ['xs', 'W'], ['mm']], ['Add', ['mm', 'b'], ['h']],
      ['BatchNormalization', ['h', 'bn_scale', 'bn_bias', 'bn_mean', 'bn_var'], ['hn']], ['Clip', ['hn', 'lo', 'hi'], ['y']],
    ], { x_mean: [[3], f(3)], W: [[3, 4], f(12)], b: [[4], f(4)], bn_scale: [[4], f(4)], bn_bias: [[4], f(4)], bn_mean: [[4], f(4)], bn_var: [[4], f(4)], lo: [[], f(1)], hi: [[], f(1)] }));
    assert.deepEqual(trainableInitializers(bn), ['W', 'b', 'bn_scale', 'bn_bias']);
  });

  describe('bad training data and options → clear errors', () => {
    const model = buildMlp([4, 8, 1], { seed: 2, outputName: 'y' });
    const cls = buildMlp([4, 8, 3], { seed: 2, outputName: 'c' });
    const x = (n: number, w = 4) => ({ features: { shape: [n, w], data: new Float32Array(n * w).fill(0.5) } });
    const run = (m: Buffer, training: any, finetune: any = { epochs: 1 }) => optimize(m, { prune: { keep: 4 }, finetune, training, latency: false });
    const cases: Array<[string, () => Promise<unknown>, RegExp]> = [
      ['no training data', () => run(model, undefined), /InputError: training: expected training data/],
      ['no expected', () => run(model, { inputs: x(4) }), /InputError: training.expected: expected target outputs or class labels/],
      ['wrong input width', () => run(model, { inputs: x(4, 5), expected: { y: { shape: [4, 1], data: new Float32Array(4) } } }), /InputError: training.inputs.features.shape: expected shape \[\?, 4\]/],
      ['unknown output', () => run(model, { inputs: x(4), expected: { z: { shape: [4, 1], data: new Float32Array(4) } } }), /InputError: training.expected.z: expected one of the model's outputs \(y\)/],
      ['sample count mismatch', () => run(model, { inputs: x(4), expected: { y: { shape: [3, 1], data: new Float32Array(3) } } }), /InputError: training.expected.y.shape: expected 4 samples/],
      ['label out of range', () => run(cls, { inputs: x(4), expected: { c: { shape: [4], data: Float32Array.from([0, 1, 3, 2]) } } }), /InputError: training.expected.c.data\[2\]: expected a class label 0…2 .*got 3/],
      ['non-integer label', () => run(cls, { inputs: x(4), expected: { c: { shape: [4], data: Float32Array.from([0, 1.5, 1, 2]) } } }), /InputError: training.expected.c.data\[1\]: expected a class label/],
      ['rows not a distribution', () => run(cls, { inputs: x(2), expected: { c: { shape: [2, 3], data: Float32Array.from([1, 0, 0, 2, 0, 0]) } } }), /InputError: training.expected.c.data: expected rows summing to 1.*row 1 sums to 2/],
      ['epochs 0.5', () => run(model, { inputs: x(4), expected: { y: { shape: [4, 1], data: new Float32Array(4) } } }, { epochs: 0.5 }), /InputError: finetune.epochs: expected an integer/],
      ['learning rate 0', () => run(model, { inputs: x(4), expected: { y: { shape: [4, 1], data: new Float32Array(4) } } }, { epochs: 1, learningRate: 0 }), /InputError: finetune.learningRate: expected a number in \(0, 1\]/],
      ['batch size 0', () => run(model, { inputs: x(4), expected: { y: { shape: [4, 1], data: new Float32Array(4) } } }, { epochs: 1, batchSize: 0 }), /InputError: finetune.batchSize: expected an integer/],
    ];
    const shrink = buildFromNodes('features', [2, 4], 'y', [
      ['MatMul', ['features', 'W1'], ['m1']], ['Add', ['m1', 'b1'], ['h1']], ['Relu', ['h1'], ['r1']],
      ['MatMul', ['r1', 'W2'], ['m2']], ['Add', ['m2', 'b2'], ['h2']], ['Shrink', ['h2'], ['y']],
    ], { W1: [[4, 8], new Float32Array(32).fill(0.1)], b1: [[8], new Float32Array(8)], W2: [[8, 1], new Float32Array(8).fill(0.2)], b2: [[1], new Float32Array(1)] });
    cases.push(['an op the executor lacks (Shrink)', () => run(shrink, { inputs: x(2), expected: { y: { shape: [2, 1], data: new Float32Array(2) } } }),
      /InputError: finetune: expected a model the tfjs executor can run \(fine-tuning trains the fp32 model before quantisation\): unsupported op Shrink/]);
    const noWeights = buildFromNodes('features', [2, 4], 'y', [['Relu', ['features'], ['y']]], {});
    cases.push(['no weights to train', () => optimize(noWeights, { int8: { mode: 'dynamic' }, finetune: { epochs: 1 }, training: { inputs: x(2), expected: { y: { shape: [2, 4], data: Float32Array.from([1, 0, 0, 0, 0, 1, 0, 0]) } } }, latency: false }),
      /InputError: finetune: expected a model with float weights to train/]);
    for (const [name, f, re] of cases) it(name, () => assert.rejects(f, re));
  });

  it('options: CLI/editor values → finetune options; 0 epochs is off; bad editor values are config errors', () => {
    assert.deepEqual(chainOptions({ pruneKeep: 4, finetuneEpochs: 3, learningRate: 0.01, batchSize: 8 }).finetune, { epochs: 3, learningRate: 0.01, batchSize: 8 });
    assert.equal(chainOptions({ pruneKeep: 4, finetuneEpochs: 0 }).finetune, undefined);
    assert.deepEqual(specFromConfig({ pruneMode: 'keep', pruneValue: '4', finetuneEpochs: '5', finetuneLr: '0.003', finetuneBatch: '16' }), {
      pruneKeep: 4, int8: 'none', perChannel: false, codebook: false, finetuneEpochs: 5, learningRate: 0.003, batchSize: 16, latency: true,
    });
    assert.throws(() => specFromConfig({ pruneMode: 'keep', pruneValue: '4', finetuneEpochs: '2.5' }), /config finetune.epochs: expected an integer/);
    assert.throws(() => specFromConfig({ pruneMode: 'keep', pruneValue: '4', finetuneEpochs: '5', finetuneLr: 'fast' }), /config finetuneLr: expected a number/);
    assert.throws(() => specFromConfig({ pruneMode: 'keep', pruneValue: '4', finetuneEpochs: '5', finetuneLr: '-1' }), /config finetune.learningRate/);
  });
});
