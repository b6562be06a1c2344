import { strict as assert } from 'assert';
import { onnx } from 'onnx-proto';
import { InputError } from '../../../lib/errors';
import { GraphBuilder } from '../../../lib/onnx/builder';
import { optimize } from '../../../lib/optimize/optimize';
import { SeededRandom } from '../../../lib/util/random';
import { buildMlp, randomLayers } from '../../../tools/build-boiler-model';
import { buildFromNodes, graphOf, initDims, maxAbs, maxAbsDiff, mlpForward, opsetOf, opTypes, runOrt } from './helpers';

const rng = new SeededRandom(11);
function inputs(batch: number, width: number): Float32Array {
  return Float32Array.from({ length: batch * width }, () => rng.uniform(-1, 1));
}

/** MLP (Gemm, transB = 1) where 12 of the 32 first-layer neurons have zero weights and bias. */
function mlpWithDeadNeurons() {
  const sizes = [8, 32, 16, 2];
  const layers = randomLayers(sizes, 4);
  const dead = [0, 3, 5, 7, 9, 12, 15, 18, 21, 24, 27, 31];
  const r = new SeededRandom(2);
  for (let o = 0; o < 32; o++) {
    for (let i = 0; i < 8; i++) layers[0].w[o * 8 + i] = dead.includes(o) ? 0 : (r.next() < 0.5 ? -1 : 1) * r.uniform(0.4, 0.6);
    if (dead.includes(o)) layers[0].b[o] = 0;
  }
  return { sizes, layers, dead, bytes: buildMlp(sizes, { weights: layers, outputName: 'y' }) };
}

describe('optimize: transformations on builder models (ONNX Runtime checks)', () => {
  it('L1 pruning (threshold 0.3) of a Gemm/transB MLP drops exactly the dead neurons; outputs unchanged', async () => {
    const { sizes, layers, bytes } = mlpWithDeadNeurons();
    const x = inputs(5, 8);
    const { model, report } = await optimize(bytes, { prune: { threshold: 0.3 }, validation: { inputs: { features: { shape: [5, 8], data: x } } }, latency: false });
    const fc1 = report.steps.pruned!.find((p) => p.layer === 'fc1')!;
    assert.deepEqual([fc1.before, fc1.after], [32, 20]);
    assert.ok(!opTypes(model).includes('Gemm'));
    const g = graphOf(model);
    const mm = g.node.filter((n) => n.opType === 'MatMul');
    assert.deepEqual(initDims(model, mm[0].input[1]), [8, 20]);
    assert.deepEqual(initDims(model, mm[1].input[1])?.[0], 20);
    const expected = mlpForward(x, 5, sizes, layers);
    const got = (await runOrt(model, { features: { shape: [5, 8], data: x } })).y;
    assert.deepEqual(got.dims, [5, 2]);
    assert.ok(maxAbsDiff(got.data, expected) < 1e-5, `diff ${maxAbsDiff(got.data, expected)}`);
    // the output layer is never pruned (its width is the model's output)
    assert.ok(report.steps.pruneSkipped!.some((s) => s.layer === 'fc3' && /graph output/.test(s.reason)));
  });

  it('L1 pruning shrinks BatchNormalization parameters between the layers (MatMul → Add → BatchNormalization → Relu → MatMul)', async () => {
    const K = 6;
    const N = 10;
    const dead = [2, 5, 9];
    const W1 = Float32Array.from({ length: K * N }, (_, i) => (dead.includes(i % N) ? 0 : rng.uniform(0.3, 0.6) * (i % 2 ? 1 : -1)));
    const b1 = Float32Array.from({ length: N }, (_, j) => (dead.includes(j) ? 0 : rng.normal(0, 0.1)));
    const gamma = Float32Array.from({ length: N }, () => rng.uniform(0.5, 1.5));
    const beta = Float32Array.from({ length: N }, (_, j) => (dead.includes(j) ? 0 : rng.normal(0, 0.2)));
    const mean = Float32Array.from({ length: N }, (_, j) => (dead.includes(j) ? 0 : rng.normal(0, 0.1)));
    const variance = Float32Array.from({ length: N }, () => rng.uniform(0.5, 2));
    const W2 = Float32Array.from({ length: N * 2 }, () => rng.normal(0, 0.5));
    const bytes = buildFromNodes('x', [3, K], 'y', [
      ['MatMul', ['x', 'W1'], ['h']],
      ['Add', ['h', 'b1'], ['hb']],
      ['BatchNormalization', ['hb', 'gamma', 'beta', 'mean', 'var'], ['bn']],
      ['Relu', ['bn'], ['r']],
      ['MatMul', ['r', 'W2'], ['y']],
    ], { W1: [[K, N], W1], b1: [[N], b1], gamma: [[N], gamma], beta: [[N], beta], mean: [[N], mean], var: [[N], variance], W2: [[N, 2], W2] });
    const x = inputs(3, K);
    const { model, report } = await optimize(bytes, { prune: { threshold: 0.3 }, latency: false });
    assert.deepEqual(report.steps.pruned!.map((p) => [p.before, p.after]), [[10, 7]]);
    const g = graphOf(model);
    const bn = g.node.find((n) => n.opType === 'BatchNormalization')!;
    for (const i of bn.input.slice(1)) assert.deepEqual(initDims(model, i), [7]);
    // independent: the full model in plain JS (dead neurons give exactly 0 after BN and ReLU)
    const expected = new Float64Array(6);
    for (let s = 0; s < 3; s++) for (let o = 0; o < 2; o++) {
      let v = 0;
      for (let j = 0; j < N; j++) {
        let h = b1[j];
        for (let k = 0; k < K; k++) h += x[s * K + k] * W1[k * N + j];
        const z = (gamma[j] * (h - mean[j])) / Math.sqrt(variance[j] + 1e-5) + beta[j];
        v += Math.max(0, z) * W2[j * 2 + o];
      }
      expected[s * 2 + o] = v;
    }
    const got = (await runOrt(model, { x: { shape: [3, K], data: x } })).y;
    assert.ok(maxAbsDiff(got.data, expected) < 1e-5, `diff ${maxAbsDiff(got.data, expected)}`);
  });

  it('keep-count pruning keeps the neurons with the largest L1 norms and shrinks the consumer rows', async () => {
    const sizes = [16, 64, 8, 1];
    const layers = randomLayers(sizes, 9);
    const bytes = buildMlp(sizes, { weights: layers, style: 'matmul', outputName: 'nox' });
    const { model, report } = await optimize(bytes, { prune: { keep: 16 }, latency: false });
    assert.deepEqual(report.steps.pruned!.map((p) => [p.before, p.after]), [[64, 16]]);
    // independent: top-16 rows of W1 [out, in] by L1 norm
    const l1 = Array.from({ length: 64 }, (_, o) => layers[0].w.subarray(o * 16, o * 16 + 16).reduce((a, v) => a + Math.abs(v), 0));
    const top = l1.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, 16).map((p) => p[1]).sort((a, b) => a - b);
    const kept = { w: new Float32Array(16 * 16), b: new Float32Array(16) };
    const next = { w: new Float32Array(8 * 16), b: layers[1].b };
    top.forEach((o, j) => {
      kept.w.set(layers[0].w.subarray(o * 16, o * 16 + 16), j * 16);
      kept.b[j] = layers[0].b[o];
      for (let r = 0; r < 8; r++) next.w[r * 16 + j] = layers[1].w[r * 64 + o];
    });
    const x = inputs(4, 16);
    const expected = mlpForward(x, 4, [16, 16, 8, 1], [kept, next, layers[2]]);
    const got = (await runOrt(model, { features: { shape: [4, 16], data: x } })).nox;
    assert.ok(maxAbsDiff(got.data, expected) < 1e-5);
  });

  it('low-rank factorisation of an exactly rank-4 weight is exact; energy search finds rank 4; no-gain ranks are skipped', async () => {
    const sizes = [128, 96, 3];
    const layers = randomLayers(sizes, 5);
    // W1 [96, 128] = A (96×4) · B (4×128)
    const A = Float32Array.from({ length: 96 * 4 }, () => rng.normal(0, 0.3));
    const B = Float32Array.from({ length: 4 * 128 }, () => rng.normal(0, 0.3));
    for (let o = 0; o < 96; o++) for (let i = 0; i < 128; i++) {
      let v = 0;
      for (let r = 0; r < 4; r++) v += A[o * 4 + r] * B[r * 128 + i];
      layers[0].w[o * 128 + i] = v;
    }
    const bytes = buildMlp(sizes, { weights: layers, outputName: 'y' });
    const x = inputs(3, 128);
    const expected = mlpForward(x, 3, sizes, layers);
    for (const lowRank of [{ rank: 4 }, { energy: 0.999 }]) {
      const { model, report } = await optimize(bytes, { lowRank, latency: false });
      const l = report.steps.lowRank!.find((f) => f.layer === 'fc1')!;
      assert.equal(l.rank, 4);
      assert.deepEqual([l.paramsBefore, l.paramsAfter], [128 * 96, 4 * (128 + 96)]);
      assert.ok(l.relativeError < 1e-5);
      assert.equal(opTypes(model).filter((t) => t === 'MatMul').length, 3);
      const got = (await runOrt(model, { features: { shape: [3, 128], data: x } })).y;
      assert.ok(maxAbsDiff(got.data, expected) < 1e-4, `diff ${maxAbsDiff(got.data, expected)}`);
    }
    const { report } = await optimize(bytes, { lowRank: { rank: 60 }, latency: false });
    assert.equal(report.steps.lowRank!.length, 0);
    assert.ok(report.steps.lowRankSkipped!.some((s) => /saves nothing/.test(s.reason)));
  });

  it('dynamic int8: DynamicQuantizeLinear → MatMulInteger → Cast → Mul, no float MatMul left, within 3 % of the range', async () => {
    const sizes = [32, 64, 32, 4];
    const layers = randomLayers(sizes, 6);
    const bytes = buildMlp(sizes, { weights: layers, outputName: 'y' });
    for (const perChannel of [false, true]) {
      const { model, report } = await optimize(bytes, { int8: { mode: 'dynamic', perChannel }, latency: false });
      const ops = opTypes(model);
      assert.ok(!ops.includes('MatMul') && !ops.includes('Gemm'));
      assert.equal(ops.filter((o) => o === 'MatMulInteger').length, 3);
      assert.equal(ops.filter((o) => o === 'DynamicQuantizeLinear').length, 3);
      const g = graphOf(model);
      for (const mi of g.node.filter((n) => n.opType === 'MatMulInteger')) {
        assert.equal(g.node.find((n) => n.output.includes(mi.input[0]))!.opType, 'DynamicQuantizeLinear');
        const cast = g.node.find((n) => n.input.includes(mi.output[0]))!;
        assert.equal(cast.opType, 'Cast');
        assert.equal(g.node.find((n) => n.input.includes(cast.output[0]))!.opType, 'Mul');
        const w = g.initializer.find((t) => t.name === mi.input[1])!;
        assert.equal(w.dataType, 3); // int8
      }
      assert.equal(report.steps.quantized!.length, 3);
      const x = inputs(6, 32);
      const expected = mlpForward(x, 6, sizes, layers);
      const got = (await runOrt(model, { features: { shape: [6, 32], data: x } })).y;
      assert.ok(maxAbsDiff(got.data, expected) < 0.03 * maxAbs(expected), `diff ${maxAbsDiff(got.data, expected)} of ${maxAbs(expected)}`);
      assert.ok(report.optimized.bytes < 0.5 * report.original.bytes, `${report.optimized.bytes} of ${report.original.bytes} bytes`);
    }
  });

  it('static int8 (calibrated, per-tensor and per-channel; fixed paper range): full QDQ around every MatMul incl. the output pair', async () => {
    const sizes = [16, 48, 24, 2];
    const layers = randomLayers(sizes, 8, 0.5);
    const bytes = buildMlp(sizes, { weights: layers, outputName: 'y' });
    const calib = inputs(64, 16);
    const x = inputs(8, 16);
    const expected = mlpForward(x, 8, sizes, layers);
    for (const int8 of [{ mode: 'static' as const }, { mode: 'static' as const, perChannel: true }, { mode: 'static' as const, activations: 'fixed' as const }]) {
      const { model } = await optimize(bytes, { int8, calibration: { inputs: { features: { shape: [64, 16], data: calib } } }, latency: false });
      const g = graphOf(model);
      const mms = g.node.filter((n) => n.opType === 'MatMul');
      assert.equal(mms.length, 3);
      for (const mm of mms) {
        for (const i of mm.input) assert.equal(g.node.find((n) => n.output.includes(i))!.opType, 'DequantizeLinear');
        const q = g.node.filter((n) => n.input.includes(mm.output[0]));
        assert.deepEqual(q.map((n) => n.opType), ['QuantizeLinear']);
        assert.deepEqual(g.node.filter((n) => n.input.includes(q[0].output[0])).map((n) => n.opType), ['DequantizeLinear']);
      }
      if (int8.perChannel) assert.equal(opsetOf(model), 13);
      const got = (await runOrt(model, { features: { shape: [8, 16], data: x } })).y;
      // calibrated: within 4 % of the output range; the fixed range [-8, 7.875] has steps of 0.062,
      // coarse for these small activations: within 0.15 absolute (a few steps)
      const tol = int8.activations === 'fixed' ? 0.15 : 0.04 * maxAbs(expected);
      assert.ok(maxAbsDiff(got.data, expected) < tol, `${JSON.stringify(int8)}: diff ${maxAbsDiff(got.data, expected)} of ${maxAbs(expected)}`);
    }
  });

  it('paper eq. 3: a fixed weight scale s = 0.125 stores round(W / 0.125) and reports saturated weights', async () => {
    const sizes = [4, 6, 1];
    const layers = randomLayers(sizes, 2);
    layers[0].w.set([20, -0.3, 0.06, 1]); // 20 / 0.125 = 160 → saturates at 127
    const bytes = buildMlp(sizes, { weights: layers, outputName: 'y' });
    const { model, report } = await optimize(bytes, { int8: { mode: 'dynamic', weightScale: 0.125 }, latency: false });
    assert.equal(report.steps.quantized!.reduce((s, l) => s + l.saturated, 0), 1);
    assert.match(report.notes.join(' '), /1 weights saturated/);
    const g = graphOf(model);
    const mi = g.node.find((n) => n.opType === 'MatMulInteger')!;
    const w = onnx.ModelProto.decode(model).graph!.initializer!.find((t) => t.name === mi.input[1])!;
    const q = new Int8Array(Uint8Array.from(w.rawData!).buffer); // copy: rawData is a view into the file
    // W is [in, out] after normalisation: W[0][0..3] = fc1.weight[0..3][0] (transposed)
    assert.deepEqual([q[0], q[6], q[12], q[18]], [127, -2, 0, 8]); // 160→127, -2.4→-2, 0.48→0, 8
  });

  it('codebook quantisation: uint8 indices + codebook expanded by Cast → Gather; file ≤ 35 %; values within Δ', async () => {
    const sizes = [64, 128, 1];
    const layers = randomLayers(sizes, 3);
    const bytes = buildMlp(sizes, { weights: layers, outputName: 'y' });
    const { model, report } = await optimize(bytes, { codebook: {}, latency: false });
    assert.ok(opTypes(model).includes('Gather') && opTypes(model).includes('Cast'));
    assert.ok(report.optimized.bytes < 0.35 * report.original.bytes, `${report.optimized.bytes} vs ${report.original.bytes}`);
    for (const c of report.steps.codebook!) assert.ok(c.levels <= 256 && c.maxError < 0.1);
    const x = inputs(4, 64);
    const expected = mlpForward(x, 4, sizes, layers);
    const got = (await runOrt(model, { features: { shape: [4, 64], data: x } })).y;
    assert.ok(maxAbsDiff(got.data, expected) < 0.1 * maxAbs(expected) + 0.05);
  });

  it('conv channel pruning 12 → 8 by mean activation (calibration), propagated to the next Conv; outputs unchanged', async () => {
    const b = new GraphBuilder({ name: 'weld', opset: 13, seed: 3 });
    const x = b.input('x', ['batch', 4, 16]);
    const w1 = Float32Array.from({ length: 12 * 4 * 3 }, () => rng.normal(0, 0.4));
    const silent = [1, 4, 7, 10];
    for (const c of silent) w1.fill(0, c * 12, c * 12 + 12);
    const h1 = b.conv1d(x, 12, { kernel: 3, activation: 'relu', weight: w1, name: 'conv1' });
    const h2 = b.conv1d(h1, 6, { kernel: 3, activation: 'relu', name: 'conv2' });
    const p = b.pool1d(h2, 'max', 2);
    const f = b.flatten(p);
    b.output(b.dense(f, 3, { name: 'head' }), 'y');
    const bytes = b.build().toBuffer();
    const calib = inputs(16, 64);
    const { model, report } = await optimize(bytes, { pruneConv: { keep: 8 }, calibration: { inputs: { x: { shape: [16, 4, 16], data: calib } } }, latency: false });
    const conv = report.steps.prunedConv!;
    assert.deepEqual(conv.map((c) => [c.before, c.after, c.score]), [[12, 8, 'activation'], [6, 6, 'activation']].filter((r) => r[1] !== r[0]));
    const g = graphOf(model);
    const convs = g.node.filter((n) => n.opType === 'Conv');
    assert.deepEqual(initDims(model, convs[0].input[1]), [8, 4, 3]);
    assert.deepEqual(initDims(model, convs[1].input[1]), [6, 8, 3]);
    const xin = inputs(2, 64);
    const before = (await runOrt(bytes, { x: { shape: [2, 4, 16], data: xin } })).y;
    const after = (await runOrt(model, { x: { shape: [2, 4, 16], data: xin } })).y;
    assert.ok(maxAbsDiff(before.data, after.data) < 1e-5);
  });

  it('conv → pool → flatten → dense: channel pruning shrinks the dense rows block-wise; int8 dynamic uses ConvInteger', async () => {
    const b = new GraphBuilder({ name: 'weld2', opset: 13, seed: 4 });
    const x = b.input('x', ['batch', 3, 12]);
    const h = b.conv1d(x, 8, { kernel: 3, activation: 'relu', name: 'conv1' });
    const p = b.pool1d(h, 'max', 2); // [batch, 8, 5]
    b.output(b.dense(b.flatten(p), 2, { name: 'head' }), 'y');
    const bytes = b.build().toBuffer();
    const xin = inputs(3, 36);
    const feeds = { x: { shape: [3, 3, 12], data: xin } };
    const pruned = await optimize(bytes, { pruneConv: { keep: 5 }, latency: false });
    const g = graphOf(pruned.model);
    assert.deepEqual(initDims(pruned.model, g.node.find((n) => n.opType === 'Conv')!.input[1]), [5, 3, 3]);
    assert.deepEqual(initDims(pruned.model, g.node.find((n) => n.opType === 'MatMul')!.input[1]), [25, 2]);
    assert.match(pruned.report.notes.join(' '), /L1 norm/);
    const q = await optimize(bytes, { int8: { mode: 'dynamic' }, latency: false });
    assert.ok(opTypes(q.model).includes('ConvInteger') && opTypes(q.model).includes('MatMulInteger'));
    assert.ok(!opTypes(q.model).includes('Conv'));
    const before = (await runOrt(bytes, feeds)).y;
    const after = (await runOrt(q.model, feeds)).y;
    assert.ok(maxAbsDiff(before.data, after.data) < 0.05 * maxAbs(before.data) + 1e-3);
    const st = await optimize(bytes, { int8: { mode: 'static', perChannel: true }, calibration: { inputs: feeds }, latency: false });
    const sg = graphOf(st.model);
    const c = sg.node.find((n) => n.opType === 'Conv')!;
    assert.equal(c.input.length, 3);
    for (const i of c.input) assert.equal(sg.node.find((n) => n.output.includes(i))!.opType, 'DequantizeLinear');
    assert.equal(sg.node.find((n) => n.input.includes(c.output[0]))!.opType, 'QuantizeLinear');
    const sAfter = (await runOrt(st.model, feeds)).y;
    assert.ok(maxAbsDiff(before.data, sAfter.data) < 0.05 * maxAbs(before.data) + 1e-3);
  });

  it('chains prune → low-rank → int8 and reports parameters, bytes, latency and validation error', async () => {
    const sizes = [16, 256, 256, 1];
    const bytes = buildMlp(sizes, { seed: 2, outputName: 'nox' });
    const x = inputs(16, 16);
    const ref = (await runOrt(bytes, { features: { shape: [16, 16], data: x } })).nox;
    const validation = { inputs: { features: { shape: [16, 16], data: x } }, expected: { nox: { shape: [16, 1], data: ref.data } } };
    const { model, report } = await optimize(bytes, { prune: { keepRatio: 0.5 }, lowRank: { rank: 32 }, int8: { mode: 'dynamic' }, validation, repeats: 3 });
    assert.deepEqual(report.steps.pruned!.map((p) => p.after), [128, 128]);
    assert.deepEqual(report.steps.lowRank!.map((l) => l.shape), [[128, 128]]);
    assert.ok(report.optimized.parameters < report.original.parameters / 3);
    assert.equal(report.optimized.bytes, model.length);
    assert.ok(report.original.latencyMs!.batch1 > 0 && report.optimized.latencyMs!.batch32 > 0);
    assert.equal(report.original.validation!.outputs.nox.value, 0); // the original against its own outputs
    assert.equal(report.optimized.validation!.outputs.nox.metric, 'meanRelativeError');
    assert.ok(report.original.layers.length === 3 && report.optimized.layers.every((l) => l.parameters > 0));
  });
});

describe('optimize: bad input', () => {
  const bytes = buildMlp([4, 8, 1], { seed: 1, outputName: 'y' });
  const rejects = (p: Promise<unknown>, field: RegExp) => assert.rejects(p, (e: Error) => e instanceof InputError && field.test(e.message));

  it('not an ONNX file', async () => {
    await rejects(optimize(Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.alloc(32)]), { int8: { mode: 'dynamic' } }), /^model: .*PNG/);
    await rejects(optimize(Buffer.from('hello world, not a model'), { int8: { mode: 'dynamic' } }), /^model:/);
  });

  it('thresholds and options out of range', async () => {
    await rejects(optimize(bytes, { prune: { threshold: 1.5 } }), /^prune.threshold/);
    await rejects(optimize(bytes, { prune: { keep: 0 } }), /^prune.keep/);
    await rejects(optimize(bytes, { lowRank: { energy: 1.2 } }), /^lowrank.energy/);
    await rejects(optimize(bytes, { int8: { mode: 'fast' as 'static' } }), /^int8.mode/);
    await rejects(optimize(bytes, { int8: { mode: 'static' } }), /^calibration/);
    await rejects(optimize(bytes, {}), /^options/);
  });

  it('calibration data of the wrong shape or for an unknown input', async () => {
    await rejects(optimize(bytes, { int8: { mode: 'static' }, calibration: { inputs: { features: { shape: [2, 5], data: new Float32Array(10) } } } }), /^calibration.inputs.features.shape: expected shape \[\?, 4\]/);
    await rejects(optimize(bytes, { int8: { mode: 'static' }, calibration: { inputs: { x: { shape: [2, 4], data: new Float32Array(8) } } } }), /^calibration.inputs.x/);
  });

  it('a layer chosen for pruning that cannot be pruned names the reason (unsupported op, graph output)', async () => {
    const b = new GraphBuilder({ name: 'sm', opset: 13, seed: 1 });
    const x = b.input('x', ['batch', 4]);
    const h = b.dense(x, 8, { name: 'fc1', activation: 'softmax' });
    b.output(b.dense(h, 2, { name: 'fc2' }), 'y');
    const m = b.build().toBuffer();
    const fc1 = graphOf(m).node.find((n) => n.opType === 'MatMul')!.name;
    await rejects(optimize(m, { prune: { threshold: 0.3, layers: [fc1] } }), /unsupported op Softmax/);
    await rejects(optimize(bytes, { prune: { threshold: 0.3, layers: ['fc2'] } }), /graph output/);
    await rejects(optimize(bytes, { prune: { threshold: 0.3, layers: ['nope'] } }), /^prune.layers/);
  });
});
