/**
 * Differential check: the executor's outputs equal ONNX Runtime's (lib/infer/session.ts) within
 * |a − b| ≤ 1e-4 + 1e-4·|b| on the project's builder models (before and after training and
 * write-back) and on every libonnx-testdata model the executor passes (same inputs through both).
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { GraphBuilder } from '../../../lib/onnx/builder';
import { OnnxModel } from '../../../lib/onnx/model';
import { Tensor, decodeTensor, makeTensor } from '../../../lib/onnx/tensor';
import { Session } from '../../../lib/infer/session';
import { tf, useBackend, preferredBackend } from '../../../lib/onnx/executor/backend';
import { GraphExecutor } from '../../../lib/onnx/executor/graph';
import { Trainer } from '../../../lib/onnx/executor/train';
import { runCase, compareTensors, DEFAULT_TESTDATA } from '../../../lib/onnx/executor/conformance';
import { f32, rand, opModel } from './executor/helpers';

async function ortRun(model: OnnxModel, feeds: Record<string, Tensor>): Promise<Record<string, Tensor>> {
  const s = await Session.create(model, { logSeverityLevel: 4 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function execRun(model: OnnxModel, feeds: Record<string, Tensor>): Record<string, Tensor> {
  const ex = new GraphExecutor(tf, model, { trainable: [] });
  try {
    return ex.run(feeds);
  } finally {
    ex.dispose();
  }
}

function assertSame(got: Record<string, Tensor>, want: Record<string, Tensor>, what: string): void {
  assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), what);
  for (const k of Object.keys(want)) {
    const r = compareTensors(got[k], want[k], 1e-4, 1e-4);
    assert.equal(r.error, undefined, `${what} output '${k}': ${r.error}`);
  }
}

const builderModels: [string, () => OnnxModel, number[]][] = [
  ['MLP relu/sigmoid/softmax', () => {
    const b = new GraphBuilder({ name: 'mlp', seed: 2 });
    const x = b.input('x', ['batch', 16]);
    const h = b.dense(b.dense(x, 32, { activation: 'relu', name: 'a', bias: rand(32, 1) }), 16, { activation: 'sigmoid', name: 'b' });
    b.output(b.dense(h, 4, { activation: 'softmax', name: 'c' }), 'y');
    return b.build();
  }, [5, 16]],
  ['conv1d same/stride/dilation/groups + pools', () => {
    const b = new GraphBuilder({ name: 'conv', seed: 3 });
    const x = b.input('x', ['batch', 4, 32]);
    let c = b.conv1d(x, 8, { kernel: 5, padding: 'same', stride: 2, activation: 'leaky_relu', name: 'c1', bias: rand(8, 2) });
    c = b.conv1d(c, 8, { kernel: 3, dilation: 2, groups: 2, activation: 'elu', name: 'c2' });
    c = b.pool1d(c, 'max', 2);
    c = b.conv1d(c, 6, { kernel: 2, padding: [1, 0], name: 'c3' });
    c = b.pool1d(c, 'average', 2, 1);
    b.output(b.dense(b.globalAveragePool1d(c), 3, { activation: 'tanh', name: 'out' }), 'y');
    return b.build();
  }, [3, 4, 32]],
  ['LSTM sequences → GRU (linear_before_reset) → dense', () => {
    const b = new GraphBuilder({ name: 'rnn', seed: 4 });
    const x = b.input('x', ['batch', 7, 5]);
    const s = b.lstm(x, 6, { returnSequences: true, bias: rand(48, 3) });
    const g = b.gru(s, 4, { linearBeforeReset: 1, bias: rand(24, 4) });
    b.output(b.dense(g, 2, { name: 'out' }), 'y');
    return b.build();
  }, [3, 7, 5]],
  ['graph convolution + multi-head', () => {
    const b = new GraphBuilder({ name: 'gcn', seed: 5 });
    const x = b.input('x', ['batch', 4, 3]);
    const adj = [[0, 1, 0, 0], [1, 0, 1, 1], [0, 1, 0, 0], [0, 1, 0, 0]];
    const g = b.graphConv(x, adj, 5, { activation: 'relu' });
    b.heads(b.flatten(g), [{ name: 'state', units: 3, activation: 'softmax' }, { name: 'perf', units: 1, hidden: [8] }, { name: 'fault', units: 2, activation: 'sigmoid' }]);
    return b.build();
  }, [2, 4, 3]],
];

describe('executor vs ONNX Runtime', function () {
  this.timeout(120000);
  before(async () => useBackend(await preferredBackend()));

  for (const [name, make, dims] of builderModels) {
    it(`builder model: ${name}`, async () => {
      const m = make();
      const feeds = { x: f32(dims, rand(dims.reduce((a, b) => a * b), 17).map(v => 2 * v)) };
      assertSame(execRun(m, feeds), await ortRun(m, feeds), name);
    });
  }

  for (const kind of ['LSTM', 'GRU'] as const) {
    it(`${kind} bidirectional with sequence_lens and initial state (ONNX Runtime as the reference)`, async () => {
      const [seq, batch, inp, H, G] = [5, 3, 4, 3, kind === 'LSTM' ? 4 : 3];
      const outs: [string, 'float32', number[]][] = [['Y', 'float32', [seq, 2, batch, H]], ['Yh', 'float32', [2, batch, H]]];
      const m = opModel({ opType: kind, inputs: ['x', 'W', 'R', 'B', 'sl', 'h0'], outputs: outs.map(o => o[0]), attributes: { hidden_size: H, direction: 'bidirectional' } },
        [['x', 'float32', [seq, batch, inp]], ['sl', 'int32', [batch]], ['h0', 'float32', [2, batch, H]]], outs,
        [f32([2, G * H, inp], rand(2 * G * H * inp, 61), 'W'), f32([2, G * H, H], rand(2 * G * H * H, 62), 'R'), f32([2, 2 * G * H], rand(4 * G * H, 63), 'B')]);
      const feeds = { x: f32([seq, batch, inp], rand(seq * batch * inp, 64)), sl: makeTensor('int32', [batch], [5, 2, 4]), h0: f32([2, batch, H], rand(2 * batch * H, 65)) };
      assertSame(execRun(m, feeds), await ortRun(m, feeds), kind);
    });
  }

  it('after training and write-back, ONNX Runtime runs the trained model as the executor does', async () => {
    const m = builderModels[2][1]();
    const feeds = { x: f32([8, 7, 5], rand(280, 5)) };
    const before = await ortRun(m, feeds);
    const t = await Trainer.create(m, { optimizer: 'adam', learningRate: 0.05 });
    try {
      await t.fit([{ feeds, targets: { y: f32([8, 2], rand(16, 6)) } }], [{ output: 'y', kind: 'mse' }], { epochs: 5 });
      const trained = await t.run(feeds);
      t.writeBack();
      const after = await ortRun(OnnxModel.fromBuffer(m.toBuffer()), feeds);
      assertSame(trained, after, 'trained');
      assert.notEqual(compareTensors(after.y, before.y, 1e-4, 1e-4).error, undefined, 'training changed the outputs');
    } finally {
      t.dispose();
    }
  });

  it('every libonnx-testdata case the executor passes gives ONNX Runtime\'s outputs too', async function () {
    if (!fs.existsSync(DEFAULT_TESTDATA)) {
      console.log('      libonnx-testdata not installed: differential over conformance models not run');
      this.skip();
    }
    let compared = 0;
    const ortRefused: string[] = [];
    for (const suite of ['node', 'pytorch-converted']) {
      for (const c of fs.readdirSync(path.join(DEFAULT_TESTDATA, suite)).sort()) {
        const dir = path.join(DEFAULT_TESTDATA, suite, c);
        if (runCase(tf, dir).status !== 'pass') continue;
        const m = OnnxModel.load(path.join(dir, 'model.onnx'));
        const set = path.join(dir, 'test_data_set_0');
        const names = m.inputs.map(i => i.name);
        const feeds: Record<string, Tensor> = {};
        fs.readdirSync(set).filter(f => f.startsWith('input_')).sort((a, b) => Number(a.replace(/\D/g, '')) - Number(b.replace(/\D/g, ''))).forEach((f, i) => {
          const t = decodeTensor(fs.readFileSync(path.join(set, f)));
          feeds[t.name && names.includes(t.name) ? t.name : names[i]] = t;
        });
        let want: Record<string, Tensor>;
        try {
          want = await ortRun(m, feeds);
        } catch {
          ortRefused.push(c);
          continue;
        }
        let got: Record<string, Tensor>;
        try {
          got = execRun(m, feeds);
        } catch (e) {
          throw new Error(`${suite}/${c}: ${(e as Error).message}`);
        }
        for (const k of Object.keys(want)) {
          const w = want[k].type === 'int64' ? { ...want[k], data: BigInt64Array.from(want[k].data as BigInt64Array) } : want[k];
          const r = compareTensors(got[k], w, 1e-4, 1e-4);
          assert.equal(r.error, undefined, `${suite}/${c} output '${k}': ${r.error}`);
        }
        compared++;
      }
    }
    console.log(`      ${compared} conformance models agree with ONNX Runtime; ONNX Runtime 1.17 refused ${ortRefused.length} (layout=1 RNNs, opset-6 legacy attributes): ${ortRefused.join(' ')}`);
    assert.ok(compared >= 200);
  });
});
