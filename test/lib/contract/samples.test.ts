import { strict as assert } from 'assert';
import { readSample, readSamples, readRecord, readField, timestampAt, readTimestamp } from '../../../lib/contract/samples';
import { InputError } from '../../../lib/errors';

describe('message contract readers', () => {
  it('reads a sample, defaulting the timestamp to arrival time', () => {
    assert.deepEqual(readSample({ topic: 'T', payload: 3.5 }, { now: 1000 }), { topic: 'T', value: 3.5, timestamp: 1000 });
    assert.deepEqual(readSample({ topic: 'T', payload: '2.25', timestamp: 7 }), { topic: 'T', value: 2.25, timestamp: 7 });
    assert.equal(readTimestamp({ timestamp: new Date(5000) }), 5000);
  });

  it('names the field of a bad sample', () => {
    assert.throws(() => readSample({ topic: 'T', payload: 'hot' }), (e: InputError) => e.field === 'msg.payload' && /got string "hot"/.test(e.message));
    assert.throws(() => readSample({ payload: 1 }), (e: InputError) => e.field === 'msg.topic');
    assert.throws(() => readSample({ topic: 'T', payload: 1, timestamp: 'noon' }), (e: InputError) => e.field === 'msg.timestamp');
  });

  it('reads an evenly spaced batch from sampleRate', () => {
    const b = readSamples({ topic: 'vib', payload: new Float32Array([1, 2, 3]), timestamp: 1000, sampleRate: 1000 });
    assert.equal(b.values.length, 3);
    assert.deepEqual([0, 1, 2].map((i) => timestampAt(b, i)), [1000, 1001, 1002]);
  });

  it('reads a batch with one timestamp per sample', () => {
    const b = readSamples({ topic: 'p', payload: [1, 2], timestamps: [10, 30] });
    assert.deepEqual([timestampAt(b, 0), timestampAt(b, 1)], [10, 30]);
  });

  it('treats a single sample as a batch of one', () => {
    const b = readSamples({ topic: 'p', payload: 4, timestamp: 99 });
    assert.deepEqual(Array.from(b.values), [4]);
    assert.equal(timestampAt(b, 0), 99);
  });

  it('rejects batches without timing or with mismatched timestamps', () => {
    assert.throws(() => readSamples({ topic: 'p', payload: [1, 2] }), (e: InputError) => e.field === 'msg.sampleRate');
    assert.throws(() => readSamples({ topic: 'p', payload: [1, 2], timestamps: [1] }), (e: InputError) => e.field === 'msg.timestamps');
    assert.throws(() => readSamples({ topic: 'p', payload: [1, 'x'], sampleRate: 10 }), (e: InputError) => e.field === 'msg.payload[1]');
  });

  it('reads records, named fields and per-field timestamps', () => {
    const r = readRecord({ payload: { a: 1, b: 2, note: 'x' }, timestamp: 5, timestamps: { a: 4, b: 6 } });
    assert.deepEqual(r, { values: { a: 1, b: 2 }, timestamp: 5, fieldTimestamps: { a: 4, b: 6 } });
    assert.deepEqual(readRecord({ payload: { a: 1, b: 2 } }, { fields: ['b'], now: 1 }).values, { b: 2 });
    assert.throws(() => readRecord({ payload: { a: 1 } }, { fields: ['b'] }), (e: InputError) => e.field === 'msg.payload.b' && /missing field/.test(e.message));
    assert.throws(() => readRecord({ payload: [1, 2] }), (e: InputError) => e.field === 'msg.payload');
    assert.throws(() => readField({ a: NaN }, 'a'), /msg.payload.a: expected a finite number, got NaN/);
  });
});
