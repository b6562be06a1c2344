import { strict as assert } from 'assert';
import fc from 'fast-check';
import { IdQueue } from '../../../lib/store/id-queue';

describe('lib/store IdQueue', () => {
  it('keeps entries in id order: front, shift, remove anywhere, size', () => {
    const q = new IdQueue<string>();
    assert.equal(q.firstId(), undefined);
    q.push(3, 'c');
    q.push(5, 'e');
    q.push(9, 'i');
    q.push(12, 'l');
    assert.equal(q.size, 4);
    assert.equal(q.remove(9), true, 'from the middle');
    assert.equal(q.remove(9), false, 'not twice');
    assert.equal(q.remove(4), false, 'never there');
    assert.equal(q.has(9), false);
    assert.equal(q.has(12), true);
    assert.equal(q.size, 3);
    assert.deepEqual([q.firstId(), q.firstValue()], [3, 'c']);
    q.shift();
    assert.equal(q.remove(5), true, 'from the front');
    assert.deepEqual([q.firstId(), q.firstValue(), q.size], [12, 'l', 1], 'the tombstone of 9 is passed over');
    q.shift();
    assert.equal(q.size, 0);
    assert.equal(q.firstId(), undefined);
  });

  it('refuses an id that does not ascend', () => {
    const q = new IdQueue<number>();
    q.push(10, 1);
    assert.throws(() => q.push(10, 2), /ids must ascend/);
    assert.throws(() => q.push(7, 2), /ids must ascend/);
    q.clear();
    q.push(7, 2);
    assert.equal(q.firstId(), 7);
  });

  it('behaves like an ordered map under random pushes, shifts and removals (property)', () => {
    const op = fc.oneof(fc.record({ push: fc.integer({ min: 1, max: 5 }) }), fc.record({ shift: fc.constant(true) }), fc.record({ remove: fc.integer({ min: 0, max: 4000 }) }), fc.record({ clear: fc.constant(true) }));
    fc.assert(
      fc.property(fc.array(op, { maxLength: 3000 }), (ops) => {
        const q = new IdQueue<number>();
        const model = new Map<number, number>(); // insertion order = id order
        let next = 1;
        for (const o of ops) {
          if ('push' in o) {
            next += o.push; // gaps between ids, as after refusals
            q.push(next, next * 10);
            model.set(next, next * 10);
          } else if ('shift' in o) {
            q.shift();
            const first = model.keys().next();
            if (!first.done) model.delete(first.value);
          } else if ('remove' in o) {
            assert.equal(q.remove(o.remove), model.delete(o.remove));
          } else {
            q.clear();
            model.clear();
          }
          assert.equal(q.size, model.size);
          const first = model.entries().next();
          assert.deepEqual([q.firstId(), q.firstValue()], first.done ? [undefined, undefined] : first.value);
        }
      }),
      { numRuns: 50 },
    );
  });
});
