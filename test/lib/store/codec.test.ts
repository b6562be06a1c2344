import { strict as assert } from 'assert';
import { encodeMessage, decodeMessage } from '../../../lib/store/codec';
import { InputError } from '../../../lib/errors';

describe('lib/store codec', () => {
  it('stores plain data as JSON and reads it back', () => {
    const msg = { topic: 'weld', payload: { current: 182.5, ok: true, tags: ['a', null] }, timestamp: 1700000000000 };
    const body = encodeMessage(msg);
    assert.equal(body.toString(), JSON.stringify(msg));
    assert.deepEqual(decodeMessage(body), msg);
  });

  it('keeps Buffers, typed arrays, Dates, NaN and undefined through V8 serialisation', () => {
    const msg = { payload: new Float32Array([1.5, -2]), raw: Buffer.from([1, 2, 3]), at: new Date(5), bad: NaN, list: [1, undefined, 3], big: 10n };
    const body = encodeMessage(msg);
    assert.equal(body[0], 0xff);
    const back = decodeMessage(body) as any;
    assert.ok(back.payload instanceof Float32Array);
    assert.deepEqual([...back.payload], [1.5, -2]);
    assert.ok(Buffer.isBuffer(back.raw));
    assert.deepEqual([...back.raw], [1, 2, 3]);
    assert.equal(back.at.getTime(), 5);
    assert.ok(Number.isNaN(back.bad));
    assert.deepEqual(back.list, [1, undefined, 3]);
    assert.equal(back.big, 10n);
  });

  it('keeps a circular message', () => {
    const msg: any = { payload: { a: 1 } };
    msg.payload.self = msg.payload;
    const back = decodeMessage(encodeMessage(msg)) as any;
    assert.equal(back.payload.self, back.payload);
  });

  it('never stores ack, control or _cacheId', () => {
    assert.deepEqual(decodeMessage(encodeMessage({ payload: 1, ack: 3, control: 'x', _cacheId: 9 })), { payload: 1 });
  });

  it('never changes the message it stores, and stores the same text with or without control fields', () => {
    const msg = { topic: 'weld', payload: { seq: 1 }, _msgid: 'abc' };
    const copy = JSON.parse(JSON.stringify(msg));
    const body = encodeMessage(msg);
    assert.deepEqual(msg, copy);
    assert.equal(body.toString(), '{"topic":"weld","payload":{"seq":1},"_msgid":"abc"}');
    assert.equal(encodeMessage({ ...msg, _cacheId: 4 }).toString(), body.toString());
    assert.equal(encodeMessage({ topic: 'weld', _cacheId: undefined, payload: { seq: 1 }, _msgid: 'abc' }).toString(), body.toString());
  });

  it('stores a message object with a class prototype as its own fields', () => {
    class Msg {
      payload = 7;
      topic = 'x';
    }
    assert.deepEqual(decodeMessage(encodeMessage(new Msg() as unknown as Record<string, unknown>)), { payload: 7, topic: 'x' });
  });

  it('names the field that cannot be stored', () => {
    assert.throws(
      () => encodeMessage({ payload: { values: [1, 2, { fn: () => 1 }] } }),
      (e: unknown) => e instanceof InputError && e.field === 'msg.payload.values[2].fn' && /expected a message that can be stored/.test(e.message),
    );
    assert.throws(() => encodeMessage({ payload: Symbol('s') }), (e: unknown) => e instanceof InputError && e.field === 'msg.payload');
  });
});
