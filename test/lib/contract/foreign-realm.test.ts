import { strict as assert } from 'assert';
import vm = require('vm');
import { readSamples, sameRealmFloats } from '../../../lib/contract/samples';

describe('message contract: typed arrays from another realm', () => {
  it('reads a Float64Array made in another realm (a Function node) without copying', () => {
    const foreign = vm.runInNewContext('new Float64Array([1, 2, 3])');
    assert.equal(foreign instanceof Float64Array, false);
    const batch = readSamples({ topic: 'v', payload: foreign, sampleRate: 1000, timestamp: 5 });
    assert.ok(batch.values instanceof Float64Array);
    assert.deepEqual(Array.from(batch.values), [1, 2, 3]);
    assert.equal((batch.values as Float64Array).buffer, foreign.buffer);
    assert.equal(batch.intervalMs, 1);
  });

  it('reads foreign Float32Array payloads and timestamps', () => {
    const p = vm.runInNewContext('new Float32Array([0.5, 1.5])');
    const t = vm.runInNewContext('new Float64Array([10, 20])');
    const batch = readSamples({ topic: 'v', payload: p, timestamps: t });
    assert.deepEqual(Array.from(batch.values), [0.5, 1.5]);
    assert.deepEqual(Array.from(batch.timestamps as ArrayLike<number>), [10, 20]);
  });

  it('leaves everything else to the contract reader', () => {
    assert.equal(sameRealmFloats(7), 7);
    const own = new Float64Array(2);
    assert.equal(sameRealmFloats(own), own);
    const ints = vm.runInNewContext('new Int16Array(2)');
    assert.equal(sameRealmFloats(ints), ints);
    assert.throws(() => readSamples({ topic: 'v', payload: ints, sampleRate: 1 }), /^InputError: msg\.payload: expected a number/);
    assert.deepEqual(readSamples({ topic: 'v', payload: 3, timestamp: 1 }).values, [3]);
  });
});
