import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InputMapper } from '../../../lib/infer/input-mapping';
import { InputError } from '../../../lib/errors';

const zs = { type: 'zscore' as const, offset: [10, 0], divisor: [2, 4], raw: {} };

describe('infer/input-mapping', () => {
  it('normalises one record per row when L = 1', () => {
    const m = new InputMapper({ fields: ['a', 'b'], sequenceLength: 1, normalization: zs });
    const r = m.map({ a: 14, b: -2, other: 'ignored' });
    assert.ok(r.ready);
    assert.deepEqual(Array.from(r.row), [2, -0.5]);
  });

  it('keeps the last L records, oldest first, per key', () => {
    const m = new InputMapper({ fields: ['a'], sequenceLength: 3 });
    assert.deepEqual(m.map({ a: 1 }, 'k1'), { ready: false, have: 1, need: 3 });
    assert.deepEqual(m.map({ a: 100 }, 'k2'), { ready: false, have: 1, need: 3 });
    m.map({ a: 2 }, 'k1');
    const r3 = m.map({ a: 3 }, 'k1');
    assert.ok(r3.ready);
    assert.deepEqual(Array.from(r3.row), [1, 2, 3]);
    const r4 = m.map({ a: 4 }, 'k1');
    assert.ok(r4.ready);
    assert.deepEqual(Array.from(r4.row), [2, 3, 4]);
    assert.equal(m.windowLength('k2'), 1);
    m.reset();
    assert.equal(m.windowLength('k1'), 0);
  });

  it('pads with the oldest record when told to', () => {
    const m = new InputMapper({ fields: ['a'], sequenceLength: 3, partial: 'pad' });
    const r = m.map({ a: 5 });
    assert.ok(r.ready);
    assert.deepEqual(Array.from(r.row), [5, 5, 5]);
    assert.equal(r.padded, 2);
  });

  it('takes a whole sequence without touching the window', () => {
    const m = new InputMapper({ fields: ['a', 'b'], sequenceLength: 2, normalization: zs });
    const r = m.map([{ a: 10, b: 4 }, { a: 12, b: 8 }]);
    assert.ok(r.ready);
    assert.deepEqual(Array.from(r.row), [0, 1, 1, 2]);
    assert.equal(m.windowLength(), 0);
  });

  it('names the bad field and leaves the window as it was', () => {
    const m = new InputMapper({ fields: ['a', 'b'], sequenceLength: 2, property: 'msg.data' });
    m.map({ a: 1, b: 1 });
    const cases: Array<[unknown, RegExp]> = [
      [{ a: 1 }, /^msg\.data\.b: expected a finite number, got undefined \(missing field\)$/],
      [{ a: NaN, b: 1 }, /^msg\.data\.a: expected a finite number, got NaN$/],
      [{ a: '3', b: 1 }, /^msg\.data\.a: .*string "3"/],
      [{ a: 1, b: Infinity }, /^msg\.data\.b: .*Infinity/],
      [[{ a: 1, b: 1 }], /^msg\.data: expected a record or an array of 2 records, got array of length 1$/],
      [[{ a: 1, b: 1 }, { a: 1 }], /^msg\.data\[1\]\.b/],
      [null, /^msg\.data: expected an object/],
      [new Float32Array(2), /^msg\.data: expected an object/],
    ];
    for (const [v, re] of cases) {
      assert.throws(() => m.map(v), (e: unknown) => e instanceof InputError && re.test((e as Error).message));
    }
    assert.equal(m.windowLength(), 1);
  });

  it('keeps at most maxWindows windows, dropping the least recently used', () => {
    const m = new InputMapper({ fields: ['a'], sequenceLength: 2, maxWindows: 2 });
    m.map({ a: 1 }, 'x');
    m.map({ a: 1 }, 'y');
    m.map({ a: 1 }, 'x');
    m.map({ a: 1 }, 'z');
    assert.equal(m.windowLength('y'), 0);
    assert.equal(m.windowLength('x'), 2);
    // the same key twice in a row, then another: the one used longest ago goes
    m.map({ a: 1 }, 'x');
    m.map({ a: 1 }, 'z');
    m.map({ a: 1 }, 'z');
    m.map({ a: 1 }, 'y');
    assert.equal(m.windowLength('x'), 0);
    assert.equal(m.windowLength('z'), 2);
    m.reset();
    m.map({ a: 1 }, 'x');
    m.map({ a: 1 }, 'y');
    m.map({ a: 1 }, 'x');
    m.map({ a: 1 }, 'z');
    assert.equal(m.windowLength('y'), 0, 'after a reset');
    assert.equal(m.windowLength('x'), 2);
  });

  it('window rows always equal the last L records (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 5 }), fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 30 }), (L, values) => {
      const m = new InputMapper({ fields: ['v'], sequenceLength: L });
      let last: number[] | undefined;
      values.forEach((v) => {
        const r = m.map({ v });
        if (r.ready) last = Array.from(r.row);
      });
      if (values.length < L) return last === undefined;
      const want = values.slice(-L).map((v) => Math.fround(v));
      return JSON.stringify(last) === JSON.stringify(want);
    }));
  });

  it('writes into a given row buffer the same values it would put in a new row', () => {
    const fresh = new InputMapper({ fields: ['a', 'b'], sequenceLength: 2, normalization: zs, partial: 'pad' });
    const reusing = new InputMapper({ fields: ['a', 'b'], sequenceLength: 2, normalization: zs, partial: 'pad' });
    const buffer = new Float32Array(4);
    for (const value of [{ a: 12, b: 4 }, { a: 8, b: -4 }, [{ a: 10, b: 0 }, { a: 14, b: 8 }], { a: 11, b: 1 }]) {
      const want = fresh.map(value);
      const got = reusing.map(value, '', buffer);
      assert.ok(want.ready && got.ready);
      assert.equal(got.row, buffer, 'the row is the buffer given');
      assert.notEqual(want.row, buffer);
      assert.deepEqual(Array.from(got.row), Array.from(want.row));
      assert.equal(got.padded, want.padded);
    }
    assert.throws(() => reusing.map({ a: 1, b: 2 }, '', new Float32Array(3)), /row buffer of 3 values, the mapping makes 4/);
  });

  it('adopts windows across a compatible model change', () => {
    const a = new InputMapper({ fields: ['a'], sequenceLength: 2 });
    a.map({ a: 1 });
    const b = new InputMapper({ fields: ['a'], sequenceLength: 2, normalization: { type: 'zscore', offset: [1], divisor: [1], raw: {} } });
    assert.ok(b.compatibleWith(a));
    b.adoptWindows(a);
    const r = b.map({ a: 3 });
    assert.ok(r.ready);
    assert.deepEqual(Array.from(r.row), [0, 2]);
    assert.ok(!new InputMapper({ fields: ['a'], sequenceLength: 3 }).compatibleWith(a));
  });
});
