/**
 * The committed gas-turbine model: its metadata is complete, and the figures it claims (measured
 * with the tfjs executor at training time) are reproduced here by ONNX Runtime through the node's
 * own input mapping and head decoding on the same held-out simulated data.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { ModelHolder } from '../../../lib/infer/model-holder';
import { InputMapper } from '../../../lib/infer/input-mapping';
import { decodeBatch, type ClassificationResult, type MultilabelResult, type RegressionValue } from '../../../lib/infer/heads';
import { turbineDataset, turbineRecord, FEATURES, FAULTS, STATES } from '../../../tools/turbine-sim';
import { SeededRandom } from '../../../lib/util/random';

const MODEL = path.join(__dirname, '../../../models/turbine-multitask.onnx');

describe('models/turbine-multitask.onnx', () => {
  const holder = new ModelHolder({ runIn: 'main' });
  after(() => holder.close());

  it('carries its features, normalisation, heads and training figures', async () => {
    const m = await holder.open(new Uint8Array(fs.readFileSync(MODEL)), 'pkg:models/turbine-multitask.onnx');
    assert.equal(m.spec.name, 'gas-turbine-multitask');
    assert.deepEqual(m.spec.featureNames, [...FEATURES]);
    assert.equal(m.spec.sequenceLength, 8);
    assert.equal(m.spec.normalization?.type, 'zscore');
    assert.deepEqual(m.spec.heads.map((h) => [h.task, h.type]), [['state', 'classification'], ['performance', 'regression'], ['faults', 'multilabel']]);
    assert.ok(m.info.parameters > 10000 && m.info.bytes < 500_000, `small: ${m.info.parameters} parameters, ${m.info.bytes} bytes`);
    const metrics = JSON.parse(m.info.metadata.metrics);
    for (const k of ['state_accuracy', 'performance_mre', 'fault_exact_match']) assert.equal(typeof metrics[k], 'number', k);
  });

  it('ONNX Runtime reproduces the recorded held-out figures', async () => {
    const m = holder.current ?? (await holder.open(new Uint8Array(fs.readFileSync(MODEL))));
    const training = JSON.parse(m.info.metadata.training);
    const metrics = JSON.parse(m.info.metadata.metrics);
    const test = turbineDataset(training.seed + 1000003, metrics.test_samples, m.spec.sequenceLength);
    const mapper = new InputMapper({ fields: m.spec.featureNames, sequenceLength: m.spec.sequenceLength, normalization: m.spec.normalization });
    const rows = test.map((s) => {
      const r = mapper.map(s.records);
      assert.ok(r.ready);
      return r.row;
    });
    const out = await holder.run(m, rows);
    const answers = decodeBatch(m.spec.heads, out, rows.length);
    let stateOk = 0;
    let rel = 0;
    let exact = 0;
    answers.forEach((a, i) => {
      const s = test[i];
      if ((a.state as ClassificationResult).label === STATES[s.state]) stateOk++;
      const perf = a.performance as Record<string, RegressionValue>;
      rel += ['thermal_efficiency', 'power', 'exhaust_temperature'].reduce((acc, k, j) => acc + Math.abs(perf[k].value - s.performance[j]) / Math.abs(s.performance[j]), 0) / 3;
      const on = (a.faults as MultilabelResult).labels;
      if (FAULTS.every((f, j) => on.includes(f) === (s.faults[j] === 1))) exact++;
    });
    const n = test.length;
    assert.ok(Math.abs(stateOk / n - metrics.state_accuracy) <= 0.005, `state ${stateOk / n} vs recorded ${metrics.state_accuracy}`);
    assert.ok(Math.abs(rel / n - metrics.performance_mre) <= 0.001, `MRE ${rel / n} vs recorded ${metrics.performance_mre}`);
    assert.ok(Math.abs(exact / n - metrics.fault_exact_match) <= 0.005, `faults ${exact / n} vs recorded ${metrics.fault_exact_match}`);
  });
});

describe('tools/turbine-sim', () => {
  it('is reproducible from a seed and labels follow the documented mix', () => {
    const a = turbineDataset(5, 400, 8);
    const b = turbineDataset(5, 400, 8);
    assert.deepEqual(a, b);
    assert.notDeepEqual(turbineDataset(6, 5, 8), a.slice(0, 5));
    const counts = [0, 0, 0, 0];
    a.forEach((s) => counts[s.state]++);
    assert.ok(counts.every((c) => c > 30), `every state present: ${counts}`);
    assert.ok(a.filter((s) => s.state === 3).every((s) => s.faults.some((f) => f === 1)), 'a fault state has a fault');
    assert.ok(a.every((s) => s.records.length === 8 && s.records.every((r) => FEATURES.every((f) => Number.isFinite(r[f])))));
  });

  it('moves the signals the way the fault signatures say', () => {
    // fixed operating point and degradation, only the faults differ
    const mean = (faults: number[], f: (typeof FEATURES)[number]) => {
      const rng = new SeededRandom(2);
      let s = 0;
      for (let i = 0; i < 400; i++) s += turbineRecord(rng, 0.8, 15, 0.05, faults, i).record[f];
      return s / 400;
    };
    assert.ok(mean([1, 0, 0], 'vibration_kurtosis') - mean([0, 0, 0], 'vibration_kurtosis') > 0.6);
    assert.ok(mean([1, 0, 0], 'vibration_rms') - mean([0, 0, 0], 'vibration_rms') > 0.7);
    assert.ok(mean([0, 0, 1], 'pressure_ratio') < mean([0, 0, 0], 'pressure_ratio') - 0.2);
  });
});
