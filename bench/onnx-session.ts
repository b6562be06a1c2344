/**
 * ONNX model I/O and the ONNX Runtime wrapper, side by side on one MLP built with the project's
 * builder (run: npx tsx bench/onnx-session.ts; BENCH_QUICK=1 for a short setting):
 *  1. model I/O: decode + validate, encode, all initializers as typed arrays;
 *  2. one run at batch 1: onnxruntime-node directly vs the Session wrapper (input checks, Tensor out);
 *  3. 32 samples: 32 single runs vs runBatch (stack, one run, split) vs one batch-32 tensor;
 *  4. fp32 vs dynamic int8 (DynamicQuantizeLinear → MatMulInteger → Cast → Mul) in onnxruntime-node
 *     1.17.0, one intra-op thread, with the largest output difference.
 * Figures are medians of repeated runs; the variants compared are timed in turn (interleaved).
 */
import type * as OrtApi from 'onnxruntime-common';
import { Session, runtimeInfo } from '../lib/infer/session';
import { GraphBuilder } from '../lib/onnx/builder';
import { OnnxModel, makeValueInfo } from '../lib/onnx/model';
import { makeTensor } from '../lib/onnx/tensor';
import { SeededRandom } from '../lib/util/random';

const ort: typeof OrtApi = require('onnxruntime-node');
const QUICK = process.env.BENCH_QUICK === '1';
const LAYERS = QUICK ? [256, 512, 512, 64] : [256, 1024, 1024, 64];
const REPS = QUICK ? 30 : 300;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}


/** Medians of several functions timed in turn (interleaved, so drift on a shared machine hits all alike). */
async function compareMs(reps: number, fns: (() => unknown)[]): Promise<number[]> {
  for (let i = 0; i < Math.min(5, reps); i++) for (const f of fns) await f();
  const t: number[][] = fns.map(() => []);
  for (let i = 0; i < reps; i++) {
    for (let k = 0; k < fns.length; k++) {
      const s = process.hrtime.bigint();
      await fns[k]();
      t[k].push(Number(process.hrtime.bigint() - s) / 1e6);
    }
  }
  return t.map(median);
}

function mlp(): OnnxModel {
  const b = new GraphBuilder({ name: 'mlp', seed: 7 });
  let v = b.input('x', ['batch', LAYERS[0]]);
  for (let i = 1; i < LAYERS.length; i++) {
    v = b.dense(v, LAYERS[i], { name: `l${i}`, activation: i < LAYERS.length - 1 ? 'relu' : 'linear', bias: Array.from({ length: LAYERS[i] }, (_, k) => 0.01 * Math.sin(k + i)) });
  }
  b.output(v, 'y');
  return b.build();
}

/** The same MLP with int8 weights (symmetric per tensor) and dynamic uint8 activations. */
function dynamicInt8(fp: OnnxModel): OnnxModel {
  const nodes: { opType: string; input: string[]; output: string[]; attribute?: { name: string; type: number; i: number }[] }[] = [];
  const inits: ReturnType<typeof makeTensor>[] = [];
  let x = 'x';
  for (let i = 1; i < LAYERS.length; i++) {
    const W = fp.getInitializer(`l${i}_W`);
    const w = W.data as Float32Array;
    let max = 0;
    for (const v of w) max = Math.max(max, Math.abs(v));
    const scale = max / 127;
    inits.push(makeTensor('int8', W.dims, Int8Array.from(w, (v) => Math.round(v / scale)), `q${i}_W`));
    inits.push(makeTensor('float32', [], [scale], `q${i}_ws`));
    inits.push({ ...fp.getInitializer(`l${i}_B`), name: `q${i}_B` });
    const p = `q${i}`;
    nodes.push(
      { opType: 'DynamicQuantizeLinear', input: [x], output: [`${p}_xq`, `${p}_xs`, `${p}_xz`] },
      { opType: 'MatMulInteger', input: [`${p}_xq`, `${p}_W`, `${p}_xz`], output: [`${p}_acc`] },
      { opType: 'Cast', input: [`${p}_acc`], output: [`${p}_accf`], attribute: [{ name: 'to', type: 2, i: 1 }] },
      { opType: 'Mul', input: [`${p}_xs`, `${p}_ws`], output: [`${p}_s`] },
      { opType: 'Mul', input: [`${p}_accf`, `${p}_s`], output: [`${p}_mm`] },
      { opType: 'Add', input: [`${p}_mm`, `${p}_B`], output: [i < LAYERS.length - 1 ? `${p}_pre` : 'y'] },
    );
    if (i < LAYERS.length - 1) nodes.push({ opType: 'Relu', input: [`${p}_pre`], output: [`${p}_out`] });
    x = `${p}_out`;
  }
  const m = new OnnxModel({
    irVersion: 8, opsetImport: [{ domain: '', version: 13 }],
    graph: { name: 'mlp-int8', node: nodes, input: [makeValueInfo('x', 'float32', ['batch', LAYERS[0]])], output: [makeValueInfo('y', 'float32', ['batch', LAYERS.at(-1)!])] },
  });
  for (const t of inits) m.setInitializer(t);
  const problems = m.validate();
  if (problems.length) throw new Error(problems.join('; '));
  return m;
}

async function main(): Promise<void> {
  const rt = runtimeInfo();
  const model = mlp();
  const bytes = model.toBuffer();
  console.log(`MLP ${LAYERS.join('-')}: ${model.parameterCount().toLocaleString('en')} parameters, ${(bytes.length / 1e6).toFixed(1)} MB; onnxruntime-node ${rt.version} [${rt.providers.join(', ')}]; ${REPS} reps, medians${QUICK ? ' (BENCH_QUICK)' : ''}`);

  // 1. model I/O
  const [load, save, inits] = await compareMs(Math.max(15, Math.ceil(REPS / 10)), [
    () => OnnxModel.fromBuffer(bytes), () => model.toBuffer(), () => model.initializers(),
  ]);
  console.log('\n1. model I/O (ms)');
  console.log(`   decode+validate ${load.toFixed(2)}   encode ${save.toFixed(2)}   initializers→typed arrays ${inits.toFixed(2)}`);

  // 2. batch 1: raw ORT vs wrapper
  const rng = new SeededRandom(1);
  const x1 = Float32Array.from({ length: LAYERS[0] }, () => rng.normal());
  const raw = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' });
  const sess = await Session.create(model, { intraOpThreads: 1, interOpThreads: 1 });
  const [rawMs, wrapMs] = await compareMs(REPS, [
    () => raw.run({ x: new ort.Tensor('float32', x1, [1, LAYERS[0]]) }),
    () => sess.run({ x: { dims: [1, LAYERS[0]], data: x1 } }),
  ]);
  console.log('\n2. one run, batch 1, 1 thread (ms)');
  console.log(`   onnxruntime-node ${rawMs.toFixed(3)}   Session.run ${wrapMs.toFixed(3)}   wrapper overhead ${((wrapMs - rawMs) * 1000).toFixed(0)} µs`);

  // 3. 32 samples
  const N = 32;
  const samples = Array.from({ length: N }, () => Float32Array.from({ length: LAYERS[0] }, () => rng.normal()));
  const stacked = new Float32Array(N * LAYERS[0]);
  samples.forEach((s, i) => stacked.set(s, i * LAYERS[0]));
  const [singles, batched, one] = await compareMs(Math.ceil(REPS / 4), [
    async () => {
      for (const s of samples) await sess.run({ x: { dims: [1, LAYERS[0]], data: s } });
    },
    () => sess.runBatch(samples.map((s) => ({ x: { dims: [LAYERS[0]], data: s } }))),
    () => sess.run({ x: { dims: [N, LAYERS[0]], data: stacked } }),
  ]);
  console.log(`\n3. ${N} samples (ms for all ${N})`);
  console.log(`   ${N}× run ${singles.toFixed(2)}   runBatch ${batched.toFixed(2)}   one batch-${N} tensor ${one.toFixed(2)}   runBatch speed-up ×${(singles / batched).toFixed(1)}`);

  // 4. fp32 vs dynamic int8
  const q = dynamicInt8(model);
  const qs = await Session.create(q, { intraOpThreads: 1, interOpThreads: 1 });
  let maxDiff = 0, maxRef = 0;
  for (const s of samples) {
    const a = (await sess.run({ x: { dims: [1, LAYERS[0]], data: s } })).y.data as Float32Array;
    const b = (await qs.run({ x: { dims: [1, LAYERS[0]], data: s } })).y.data as Float32Array;
    a.forEach((v, i) => { maxDiff = Math.max(maxDiff, Math.abs(v - b[i])); maxRef = Math.max(maxRef, Math.abs(v)); });
  }
  const [fp1, q1] = await compareMs(REPS, [
    () => sess.run({ x: { dims: [1, LAYERS[0]], data: x1 } }), () => qs.run({ x: { dims: [1, LAYERS[0]], data: x1 } }),
  ]);
  const [fp32b, q32b] = await compareMs(Math.ceil(REPS / 4), [
    () => sess.run({ x: { dims: [N, LAYERS[0]], data: stacked } }), () => qs.run({ x: { dims: [N, LAYERS[0]], data: stacked } }),
  ]);
  console.log('\n4. fp32 vs dynamic int8, 1 thread (ms)');
  console.log(`   batch 1:  fp32 ${fp1.toFixed(3)}   int8 ${q1.toFixed(3)}   ×${(fp1 / q1).toFixed(1)}`);
  console.log(`   batch ${N}: fp32 ${fp32b.toFixed(3)}   int8 ${q32b.toFixed(3)}   ×${(fp32b / q32b).toFixed(1)}`);
  console.log(`   model size: fp32 ${(bytes.length / 1e6).toFixed(2)} MB, int8 ${(q.toBuffer().length / 1e6).toFixed(2)} MB; largest |fp32 − int8| ${maxDiff.toExponential(2)} (outputs up to ${maxRef.toFixed(3)})`);

  await raw.release();
  await sess.release();
  await qs.release();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
