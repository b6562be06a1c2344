import { strict as assert } from 'assert';
import fc from 'fast-check';
import { PendingAcks } from '../../../lib/store/pending-acks';

describe('lib/store PendingAcks', () => {
  it('takes acks in delivery order as they came, and starts empty again', () => {
    const acks = new PendingAcks();
    assert.equal(acks.empty, true);
    assert.deepEqual(acks.take(), []);
    [4, 5, 9].forEach((id) => acks.add(id));
    assert.equal(acks.empty, false);
    assert.equal(acks.has(5), true);
    assert.equal(acks.has(6), false);
    assert.deepEqual(acks.take(), [4, 5, 9]);
    assert.equal(acks.empty, true);
    assert.equal(acks.has(5), false);
  });

  it('sorts acks that come out of order and drops repeats', () => {
    const acks = new PendingAcks();
    acks.addAll([7, 3, 7, 12, 3, 1]);
    assert.equal(acks.has(12), true);
    assert.equal(acks.has(2), false);
    acks.add(5); // after a search: unsorted again
    assert.deepEqual(acks.take(), [1, 3, 5, 7, 12]);
  });

  it('behaves like a set of ids (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.record({ add: fc.integer({ min: 1, max: 60 }) }), fc.record({ has: fc.integer({ min: 1, max: 60 }) }), fc.record({ take: fc.constant(true) })), { maxLength: 300 }), (ops) => {
        const acks = new PendingAcks();
        const model = new Set<number>();
        for (const o of ops) {
          if ('add' in o) {
            acks.add(o.add);
            model.add(o.add);
          } else if ('has' in o) {
            assert.equal(acks.has(o.has), model.has(o.has));
          } else {
            assert.deepEqual(acks.take(), [...model].sort((a, b) => a - b));
            model.clear();
          }
          assert.equal(acks.empty, model.size === 0);
        }
      }),
    );
  });
});
