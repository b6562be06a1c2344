import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadRuntime } from '../../../lib/infer/session';
import { directBinding } from '../../../lib/infer/direct-session';
import { MainThreadRunner, type FloatTensor } from '../../../lib/infer/worker-runner';
import { describeModel } from '../../../lib/infer/describe';
import { parseModelSpec } from '../../../lib/infer/model-spec';
import { SeededRandom } from '../../../lib/util/random';
import { makeModel, turbineLike } from './fixtures';

const turbineFile = path.join(__dirname, '..', '..', '..', 'models', 'turbine-multitask.onnx');

/** `batch` random rows for the model's input, as the node would pass them. */
function randomFeeds(bytes: Uint8Array, batch: number, rnd: SeededRandom): Record<string, FloatTensor> {
  const spec = parseModelSpec(describeModel(bytes));
  const F = spec.featureNames.length;
  const dims = spec.inputRank === 3 ? [batch, spec.sequenceLength, F] : [batch, F];
  const data = Float32Array.from({ length: batch * spec.sequenceLength * F }, () => rnd.normal(0, 1.5));
  return { [spec.inputName]: { data, dims } };
}

function assertSameOutputs(a: Record<string, FloatTensor>, b: Record<string, FloatTensor>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), what);
  for (const k of Object.keys(a)) {
    assert.equal(a[k].data.constructor, b[k].data.constructor, `${what}: ${k} element type`);
    assert.deepEqual(a[k].dims, b[k].dims, `${what}: ${k} dims`);
    assert.deepEqual(Array.from(a[k].data), Array.from(b[k].data), `${what}: ${k} values`);
  }
}

describe('infer/direct-session (synchronous run through onnxruntime-node 1.17’s binding)', () => {
  it('is offered for the bundled 1.17.x runtime only; any other version or place falls back', () => {
    const rt = loadRuntime();
    assert.match(rt.version, /^1\.17\./, 'the package pins onnxruntime-node 1.17.0');
    assert.ok(directBinding(rt));
    assert.equal(directBinding({ ...rt, version: '1.18.0' }), undefined);
    assert.equal(directBinding({ ...rt, version: '1.20.1' }), undefined);
    assert.equal(directBinding({ version: '1.17.0', path: os.tmpdir() }), undefined, 'no binding there');
  });

  it('gives exactly the outputs of the public API, for one row and for a batch, on both models', async () => {
    const rnd = new SeededRandom(5);
    for (const [name, bytes] of [['fixture', makeModel(turbineLike(1, 2))], ['turbine', new Uint8Array(fs.readFileSync(turbineFile))]] as const) {
      const direct = await MainThreadRunner.create(bytes);
      const publicApi = await MainThreadRunner.create(bytes, { direct: false });
      try {
        assert.ok(direct.runSync, `${name}: the direct runner runs synchronously`);
        assert.equal(publicApi.runSync, undefined, `${name}: the public API has no synchronous run`);
        assert.deepEqual(direct.inputNames, publicApi.inputNames);
        assert.deepEqual(direct.outputNames, publicApi.outputNames);
        for (const batch of [1, 1, 3, 8]) {
          const feeds = randomFeeds(bytes, batch, rnd);
          const want = await publicApi.run(feeds);
          assertSameOutputs(direct.runSync!(feeds), want, `${name} batch ${batch} runSync`);
          assertSameOutputs(await direct.run(feeds), want, `${name} batch ${batch} run`);
        }
      } finally {
        await direct.close();
        await publicApi.close();
      }
    }
  });

  it('refuses feeds the native code cannot take safely, and every run after close', async () => {
    const runner = await MainThreadRunner.create(makeModel(turbineLike(1, 2)));
    const runSync = runner.runSync!;
    assert.throws(() => runSync({}), /input 'x' is missing in the feeds/);
    assert.throws(() => runSync({ x: { data: new Float32Array(3), dims: [1, 2, 2] } }), /input 'x': 3 values for dims \[1, 2, 2\]/);
    assert.throws(() => runSync({ x: { data: new Float32Array(4), dims: [1, 4] } }), /./, 'wrong rank: the runtime refuses it');
    assert.equal(runSync({ x: { data: new Float32Array(4), dims: [1, 2, 2] } }).state.data.length, 4, 'still runs after refusals');
    await runner.close();
    assert.throws(() => runSync({ x: { data: new Float32Array(4), dims: [1, 2, 2] } }), /session closed/);
    await assert.rejects(runner.run({ x: { data: new Float32Array(4), dims: [1, 2, 2] } }), /session closed/);
    await runner.close(); // twice is fine
  });
});
