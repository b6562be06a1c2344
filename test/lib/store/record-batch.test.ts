import { strict as assert } from 'assert';
import fc from 'fast-check';
import { RecordBatch, packEntries, unpackEntries } from '../../../lib/store/record-batch';
import type { AppendEntry } from '../../../lib/store/queue';

const asBytes = (body: string | Uint8Array) => (typeof body === 'string' ? Buffer.from(body) : Buffer.from(body));
const view = (entries: AppendEntry[]) => entries.map((e) => [asBytes(e.body).toString('hex'), e.topic ?? null]);

describe('lib/store RecordBatch', () => {
  it('packs strings as UTF-8 and Buffers as they are, with their topics, and unpacks them', () => {
    const pooled = Buffer.from('pooled view'); // a view into Node's shared pool
    const entries: AppendEntry[] = [
      { body: '{"a":1}', topic: 'weld' },
      { body: 'ünïcødé ✓ 𝄞', topic: 'weld' },
      { body: pooled, topic: null },
      { body: Buffer.from([0xff, 0x0d, 0x00]), topic: 'other' },
      { body: '', topic: 'weld' },
    ];
    const packed = packEntries(entries);
    assert.deepEqual(Array.from(packed.ends), [7, 7 + Buffer.byteLength('ünïcødé ✓ 𝄞'), 7 + Buffer.byteLength('ünïcødé ✓ 𝄞') + 11, 7 + Buffer.byteLength('ünïcødé ✓ 𝄞') + 14, 7 + Buffer.byteLength('ünïcødé ✓ 𝄞') + 14]);
    assert.deepEqual(packed.topics, ['weld', 'other'], 'each topic stored once');
    assert.deepEqual(Array.from(packed.topicIndex), [0, 0, -1, 1, 0]);
    assert.deepEqual(view(unpackEntries(packed)), view(entries));
  });

  it('grows past its initial buffers and starts empty after take()', () => {
    const batch = new RecordBatch();
    const big = 'x'.repeat(100_000);
    for (let i = 0; i < 3000; i++) batch.append(i === 1500 ? big : `record ${i}`, i % 3 === 0 ? null : `t${i % 3}`);
    assert.equal(batch.count, 3000);
    const packed = batch.take();
    const out = unpackEntries(packed);
    assert.equal(out.length, 3000);
    assert.equal(out[1500].body.toString(), big);
    assert.equal(out[2999].body.toString(), 'record 2999');
    assert.equal(out[2997].topic, null);
    assert.equal(out[2998].topic, 't1');
    assert.equal(out[2999].topic, 't2');
    assert.equal(batch.count, 0);
    batch.append('next', 'n');
    assert.deepEqual(view(unpackEntries(batch.take())), [[Buffer.from('next').toString('hex'), 'n']]);
    assert.equal(out[1500].body.toString(), big, 'a taken batch is not touched by later appends');
  });

  it('round-trips any records (property)', () => {
    const body = fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)));
    const topic = fc.option(fc.constantFrom('a', 'b', 'weld/line-1', ''), { nil: null });
    fc.assert(
      fc.property(fc.array(fc.record({ body, topic }), { maxLength: 200 }), (entries) => {
        assert.deepEqual(view(unpackEntries(packEntries(entries))), view(entries));
      }),
    );
  });
});
