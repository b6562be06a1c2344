/**
 * Executor forward+backward (one training step: forward, MSE loss, gradients for every weight,
 * Adam update) against the executor's forward alone and ONNX Runtime's forward, on a mid-size MLP
 * and an LSTM, on each tfjs backend available (tensorflow if @tensorflow/tfjs-node loads, wasm,
 * cpu). The Conv1d model also runs on wasm with conv: 'native' (conv2d, whose filter gradient
 * wasm lacks: the step falls back to cpu) beside the default im2col.
 *   npx tsx bench/onnx-executor.ts        (BENCH_QUICK=1 for a few-second run)
 */
import { GraphBuilder } from '../lib/onnx/builder';
import { OnnxModel } from '../lib/onnx/model';
import { Tensor, makeTensor } from '../lib/onnx/tensor';
import { Session } from '../lib/infer/session';
import { Trainer } from '../lib/onnx/executor/train';
import { availableBackends, BackendName } from '../lib/onnx/executor/backend';
import { SeededRandom } from '../lib/util/random';

const QUICK = process.env.BENCH_QUICK === '1';
const rng = new SeededRandom(7);
const randn = (n: number) => Float32Array.from({ length: n }, () => rng.normal(0, 1));
const f32 = (dims: number[]) => makeTensor('float32', dims, randn(dims.reduce((a, b) => a * b)));

interface Case { name: string; model: () => OnnxModel; x: number[]; y: number[] }

const cases: Case[] = [
  {
    name: 'MLP 256-512-512-128-8, batch 64',
    model: () => {
      const b = new GraphBuilder({ name: 'mlp', seed: 1 });
      let h = b.input('x', ['batch', 256]);
      h = b.dense(h, 512, { activation: 'relu', name: 'd1' });
      h = b.dense(h, 512, { activation: 'relu', name: 'd2' });
      h = b.dense(h, 128, { activation: 'relu', name: 'd3' });
      b.output(b.dense(h, 8, { name: 'out' }), 'y');
      return b.build();
    },
    x: [64, 256], y: [64, 8],
  },
  {
    name: 'LSTM 32→24, 20 steps, batch 64',
    model: () => {
      const b = new GraphBuilder({ name: 'lstm', seed: 2 });
      const x = b.input('x', ['batch', 20, 32]);
      b.output(b.dense(b.lstm(x, 24), 1, { name: 'out' }), 'y');
      return b.build();
    },
    x: [64, 20, 32], y: [64, 1],
  },
  {
    name: 'Conv1d 8→16→16 k5, length 128, batch 8',
    model: () => {
      const b = new GraphBuilder({ name: 'conv', seed: 3 });
      const x = b.input('x', ['batch', 8, 128]);
      let c = b.conv1d(x, 16, { kernel: 5, padding: 'same', activation: 'relu', name: 'c1' });
      c = b.conv1d(c, 16, { kernel: 5, padding: 'same', activation: 'relu', name: 'c2' });
      b.output(b.dense(b.globalAveragePool1d(c), 1, { name: 'out' }), 'y');
      return b.build();
    },
    x: [8, 8, 128], y: [8, 1],
  },
];

async function timeIt(fn: () => Promise<unknown>, reps: number): Promise<number> {
  for (let i = 0; i < Math.min(2, reps); i++) await fn(); // warm-up
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / 1e6 / reps;
}

async function main(): Promise<void> {
  const backends = await availableBackends();
  const reps = QUICK ? 2 : 10;
  console.log(`executor bench (${QUICK ? 'quick' : 'full'}, ${reps} reps after warm-up), tfjs backends here: ${backends.join(', ')}`);
  console.log('ms per call | ORT forward | executor forward | executor forward+backward+Adam | backend used for the step');
  for (const c of cases) {
    const model = c.model();
    const feeds: Record<string, Tensor> = { x: f32(c.x) };
    const targets = { y: f32(c.y) };
    const session = await Session.create(model, { intraOpThreads: 1 });
    const ort = await timeIt(() => session.run(feeds), reps * 5);
    await session.release();
    const runs: { backend: BackendName; conv?: 'native' }[] = (backends as BackendName[]).map(backend => ({ backend }));
    // on wasm a conv model trains as im2col by default; conv2d there means falling back to cpu for the step
    if (c.name.startsWith('Conv') && backends.includes('wasm')) runs.splice(1, 0, { backend: 'wasm', conv: 'native' });
    for (const { backend: b, conv } of runs) {
      const t = await Trainer.create(model.clone(), { backend: b, optimizer: 'adam', learningRate: 1e-3, conv });
      try {
        const fwd = await timeIt(() => t.run(feeds), reps);
        const step = await timeIt(() => t.step(feeds, targets, [{ output: 'y', kind: 'mse' }]), reps);
        const info = t.backendInfo;
        const used = (info.fellBack.length ? `${info.backend} (fell back from ${info.fellBack.map(f => `${f.from}: no ${f.kernel}`).join(', ')})` : info.backend)
          + (c.name.startsWith('Conv') ? `, conv as ${info.conv}` : '');
        console.log(`${c.name.padEnd(42)} [${(b + (conv ? ', conv: native' : '')).padEnd(18)}] | ORT ${ort.toFixed(2).padStart(7)} | fwd ${fwd.toFixed(2).padStart(8)} | fwd+bwd ${step.toFixed(2).padStart(8)} | ${used}`);
      } finally {
        t.dispose();
      }
    }
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
