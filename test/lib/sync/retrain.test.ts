import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { retrain, TrainingSample } from '../../../lib/sync/retrain';
import { loadModel } from '../../../lib/onnx/model';
import { turbineDataset, STATES, FAULTS } from '../../../tools/turbine-sim';

const MODEL = path.join(__dirname, '../../../models/turbine-multitask.onnx');

/** turbine windows as gateway samples: 8 records per group, labels on the last one (efficiency drifted by +shift %) */
function samples(seed: number, count: number, shift: number): TrainingSample[] {
  const out: TrainingSample[] = [];
  turbineDataset(seed, count, 8).forEach((s, i) => {
    s.records.forEach((rec, j) => {
      const last = j === s.records.length - 1;
      out.push({
        group: `w${i}`,
        payload: { ...rec },
        labels: last
          ? {
              state: STATES[s.state],
              performance: { thermal_efficiency: s.performance[0] + shift, power: s.performance[1], exhaust_temperature: s.performance[2] },
              faults: FAULTS.filter((_, k) => s.faults[k] === 1),
            }
          : undefined,
      });
    });
  });
  return out;
}

describe('lib/sync/retrain (executor fine-tuning, held-out gate)', function () {
  this.timeout(120000);
  const bytes = fs.readFileSync(MODEL);

  it('fine-tunes on drifted labels, lowers the held-out loss, and versions the model +1', async () => {
    const data = samples(424242, 60, 3);
    data.push({ payload: { speed: 1 }, labels: {} }); // lacks features: skipped
    const r = await retrain(bytes, data, { epochs: 6, learningRate: 0.003, batchSize: 16 });
    assert.deepEqual(r.heads, ['state', 'performance', 'faults']);
    assert.equal(r.trainSamples, 48);
    assert.equal(r.testSamples, 12);
    assert.equal(r.skipped, 1);
    assert.ok(r.after < r.before, `held-out loss ${r.before} -> ${r.after}`);
    assert.equal(r.accepted, true);
    assert.equal(r.previousVersion, 1);
    assert.equal(r.version, 2);
    const m = loadModel(r.bytes);
    assert.equal(m.modelVersion, 2);
    assert.equal(m.metadata.feature_names, loadModel(bytes).metadata.feature_names);
  });

  it('does not accept a fine-tuned model that is worse on the held-out samples', async () => {
    const r = await retrain(bytes, samples(77, 30, 0), { epochs: 3, learningRate: 2, batchSize: 8 });
    assert.ok(!(r.after <= r.before), `held-out loss ${r.before} -> ${r.after}`);
    assert.equal(r.accepted, false);
    assert.match(r.reason, /not published/);
  });

  it('refuses samples without labels or with too few rows', async () => {
    await assert.rejects(retrain(bytes, samples(1, 4, 0).map((s) => ({ ...s, labels: undefined }))), /no sample carries a label/);
    await assert.rejects(retrain(bytes, samples(1, 5, 0)), /too few labelled samples/);
  });
});
