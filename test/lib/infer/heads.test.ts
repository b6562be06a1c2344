import { strict as assert } from 'assert';
import fc from 'fast-check';
import { decodeBatch, decodeHead, HeadDecoder, softmax, sigmoid } from '../../../lib/infer/heads';
import { parseModelSpec, type ModelDescription } from '../../../lib/infer/model-spec';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) < eps, `${a} ≠ ${b}`);

describe('infer/heads', () => {
  it('softmax and sigmoid give known values and stay finite on large inputs', () => {
    const p = softmax([0, Math.log(3)]);
    close(p[0], 0.25);
    close(p[1], 0.75);
    assert.deepEqual(softmax([1000, 1000]), [0.5, 0.5]);
    close(sigmoid(0), 0.5);
    close(sigmoid(Math.log(3)), 0.75);
    close(sigmoid(-800), 0);
    fc.assert(fc.property(fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 8 }), (xs) => {
      const s = softmax(xs);
      return Math.abs(s.reduce((a, b) => a + b, 0) - 1) < 1e-9 && s.every((v) => v >= 0 && v <= 1);
    }));
  });

  it('decodes classification rows to label, index and probabilities', () => {
    const head = { task: 'state', output: 's', type: 'classification' as const, labels: ['a', 'b', 'c'], activation: 'none' as const };
    const r = decodeHead(head, { data: [0.1, 0.7, 0.2, 0.5, 0.2, 0.3], dims: [2, 3] }, 1, 2);
    assert.deepEqual(r, { label: 'a', index: 0, probabilities: { a: 0.5, b: 0.2, c: 0.3 } });
    const soft = decodeHead({ ...head, activation: 'softmax' }, { data: [0, Math.log(3), -Infinity], dims: [1, 3] }, 0, 1) as any;
    assert.equal(soft.label, 'b');
    close(soft.probabilities.b, 0.75);
  });

  it('decodes regression with scaling and units, single and several columns', () => {
    const one = decodeHead({ task: 'p', output: 'p', type: 'regression', names: ['power'], units: ['MW'], scale: { mean: [20], std: [5] } }, { data: [1, -2], dims: [2, 1] }, 1, 2);
    assert.deepEqual(one, { value: 10, unit: 'MW' });
    const two = decodeHead({ task: 'p', output: 'p', type: 'regression', names: ['eff', 'power'], units: ['%', 'MW'] }, { data: [35.5, 21], dims: [1, 2] }, 0, 1);
    assert.deepEqual(two, { eff: { value: 35.5, unit: '%' }, power: { value: 21, unit: 'MW' } });
  });

  it('decodes multi-label with a threshold per label (inclusive)', () => {
    const head = { task: 'f', output: 'f', type: 'multilabel' as const, labels: ['x', 'y', 'z'], thresholds: [0.5, 0.9, 0.1], activation: 'none' as const };
    assert.deepEqual(decodeHead(head, { data: [0.5, 0.8, 0.1], dims: [1, 3] }, 0, 1), { labels: ['x', 'z'], scores: { x: 0.5, y: 0.8, z: 0.1 } });
    const sig = decodeHead({ ...head, activation: 'sigmoid', thresholds: 0.5 }, { data: [0, -1, 1], dims: [1, 3] }, 0, 1) as any;
    assert.deepEqual(sig.labels, ['x', 'z']);
  });

  it('a HeadDecoder kept per model gives each row the answer decodeHead gives, answers independent of the next decode', () => {
    const heads = [
      { task: 'state', output: 's', type: 'classification' as const, labels: ['a', 'b', 'c'], activation: 'softmax' as const },
      { task: 'perf', output: 'p', type: 'regression' as const, names: ['eff', 'power'], units: ['%'], scale: { mean: [30, 10], std: [2, 4] } },
      { task: 'faults', output: 'f', type: 'multilabel' as const, labels: ['x', 'y'], activation: 'sigmoid' as const, thresholds: [0.5, 0.2] },
    ];
    const outputs = {
      s: { data: Float32Array.from([1, 2, 0.5, -3, 0, 3]), dims: [2, 3] },
      p: { data: Float32Array.from([0.5, -1, 2, 0]), dims: [2, 2] },
      f: { data: Float32Array.from([0, -1, 4, -4]), dims: [2, 2] },
    };
    const decoder = new HeadDecoder(heads);
    const first = decoder.decode(outputs, 0, 2);
    const copy = structuredClone(first);
    const second = decoder.decode(outputs, 1, 2);
    assert.deepEqual(first, copy, 'decoding the next row leaves the first answer as it was');
    for (const [b, answer] of [[0, first], [1, second]] as const) {
      for (const h of heads) assert.deepEqual(answer[h.task], decodeHead(h, outputs[h.output as 's' | 'p' | 'f'], b, 2));
    }
    assert.deepEqual(Object.keys(first), ['state', 'perf', 'faults']);
    assert.deepEqual(second.perf, { eff: { value: 34, unit: '%' }, power: { value: 10, unit: '' } });
    assert.deepEqual((second.faults as any).labels, ['x']);
    assert.deepEqual(decoder.decodeBatch(outputs, 2), [first, second]);
  });

  it('refuses rows that do not fit the head', () => {
    assert.throws(() => decodeHead({ task: 's', output: 's', type: 'classification', labels: ['a', 'b'] }, { data: [1, 2, 3], dims: [1, 3] }, 0, 1), /3 outputs for 2 labels/);
    assert.throws(() => decodeBatch([{ task: 's', output: 'missing', type: 'regression', names: ['a'] }], {}, 1), /no output "missing"/);
  });
});

describe('infer/model-spec', () => {
  const desc = (meta: Record<string, string>, inputDims = [-1, 4, 2], outputs = [{ name: 's', dims: [-1, 2] }]): ModelDescription => ({
    metadata: meta,
    modelVersion: 3,
    inputs: [{ name: 'x', dims: inputDims }],
    outputs,
  });
  const heads = JSON.stringify([{ task: 'state', output: 's', type: 'classification', labels: ['ok', 'bad'] }]);

  it('reads features, window length from the shape, min-max normalisation and heads', () => {
    const s = parseModelSpec(desc({ name: 'm', feature_names: '["a","b"]', heads, normalization: '{"type":"minmax","min":[0,10],"max":[2,30]}' }));
    assert.equal(s.name, 'm');
    assert.equal(s.version, 3);
    assert.equal(s.sequenceLength, 4);
    assert.deepEqual(s.featureNames, ['a', 'b']);
    // x' = 2 (x - min) / (max - min) - 1: a=2 → 1, b=10 → -1
    assert.equal((2 - s.normalization!.offset[0]) / s.normalization!.divisor[0], 1);
    assert.equal((10 - s.normalization!.offset[1]) / s.normalization!.divisor[1], -1);
  });

  it('takes sequence_length from metadata when the axis is symbolic, and L = 1 for rank-2 inputs', () => {
    assert.equal(parseModelSpec(desc({ feature_names: '["a","b"]', heads, sequence_length: '6' }, [-1, -1, 2])).sequenceLength, 6);
    assert.equal(parseModelSpec(desc({ feature_names: '["a","b"]', heads }, [-1, 2])).sequenceLength, 1);
  });

  it('names what is wrong in bad metadata', () => {
    const bad: Array<[Record<string, string>, RegExp, number[]?]> = [
      [{ heads }, /feature_names/],
      [{ feature_names: '["a"]', heads }, /1 names for an input of width 2/],
      [{ feature_names: '["a","b"]', heads: 'nope' }, /heads: not valid JSON/],
      [{ feature_names: '["a","b"]', heads: '[]' }, /non-empty JSON array/],
      [{ feature_names: '["a","b"]', heads: JSON.stringify([{ task: 't', output: 's', type: 'classification', labels: ['a', 'b', 'c'] }]) }, /3 entries for output "s" of width 2/],
      [{ feature_names: '["a","b"]', heads: JSON.stringify([{ task: 't', output: 's', type: 'cluster' }]) }, /expected classification, regression or multilabel/],
      [{ feature_names: '["a","b"]', heads, normalization: '{"type":"zscore","mean":[0,0],"std":[1,0]}' }, /std must be > 0/],
      [{ feature_names: '["a","b"]', heads, normalization: '{"mean":[0],"std":[1]}' }, /expected 2 finite numbers/],
      [{ feature_names: '["a","b"]', heads }, /sequence_length/, [-1, -1, 2]],
      [{ feature_names: '["a","b"]', heads: JSON.stringify([{ task: 't', output: 's', type: 'regression', names: ['a', 'b'] }, { task: 't', output: 's', type: 'regression', names: ['a', 'b'] }]) }, /appears twice/],
    ];
    for (const [meta, re, dims] of bad) assert.throws(() => parseModelSpec(desc(meta, dims)), re, JSON.stringify(meta));
    assert.throws(() => parseModelSpec({ ...desc({}), inputs: [] }), /one input tensor/);
  });
});
