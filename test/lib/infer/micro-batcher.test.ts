import { strict as assert } from 'assert';
import { MicroBatcher, QueueFullError } from '../../../lib/infer/micro-batcher';

/** A batch function whose batches finish only when the test releases them. */
function gated() {
  const calls: number[][] = [];
  const gates: Array<() => void> = [];
  const run = (items: number[]) => {
    calls.push(items);
    return new Promise<number[]>((resolve) => gates.push(() => resolve(items.map((i) => i * 10))));
  };
  const releaseNext = async () => {
    while (gates.length === 0) await new Promise((r) => setImmediate(r));
    gates.shift()!();
  };
  return { calls, run, releaseNext };
}

describe('infer/micro-batcher', () => {
  it('batch size 1 runs each item at once, in order', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 1000 }, async (items) => {
      calls.push(items);
      return items.map((i) => i + 1);
    });
    const started = Date.now();
    const out = await Promise.all([1, 2, 3].map((i) => b.submit(i)));
    assert.deepEqual(out, [2, 3, 4]);
    assert.deepEqual(calls, [[1], [2], [3]]);
    assert.equal(b.maxWaitMs, 0, 'no wait at batch 1');
    assert.ok(Date.now() - started < 900, 'did not wait for the 1 s timer');
  });

  it('a full batch runs without waiting; items arriving while it runs form the next', async () => {
    const g = gated();
    const b = new MicroBatcher<number, number>({ maxBatch: 3, maxWaitMs: 60_000 }, g.run);
    const p = [1, 2, 3, 4, 5, 6, 7].map((i) => b.submit(i));
    await g.releaseNext();
    await g.releaseNext();
    assert.deepEqual(g.calls, [[1, 2, 3], [4, 5, 6]]);
    assert.equal(b.pending, 1);
    // the last item waits for the timer (60 s) or close()
    const closing = b.close();
    await g.releaseNext();
    await closing;
    assert.deepEqual(await Promise.all(p), [10, 20, 30, 40, 50, 60, 70]);
    assert.deepEqual(g.calls, [[1, 2, 3], [4, 5, 6], [7]]);
    await assert.rejects(b.submit(8), /node closing/);
  });

  it('a partial batch runs when the oldest item has waited maxWaitMs', async () => {
    const calls: number[][] = [];
    const b = new MicroBatcher<number, number>({ maxBatch: 10, maxWaitMs: 20 }, async (items) => {
      calls.push(items);
      return items;
    });
    const out = await Promise.all([b.submit(1), b.submit(2)]);
    assert.deepEqual(out, [1, 2]);
    assert.deepEqual(calls, [[1, 2]]);
  });

  it('refuses beyond maxPending and fails every item of a failed batch', async () => {
    const g = gated();
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 0, maxPending: 2 }, g.run);
    const first = b.submit(1); // running
    const queued = [b.submit(2), b.submit(3)];
    await assert.rejects(b.submit(4), (e: unknown) => e instanceof QueueFullError && /2 messages waiting/.test((e as Error).message));
    await g.releaseNext();
    await g.releaseNext();
    await g.releaseNext();
    assert.deepEqual(await Promise.all([first, ...queued]), [10, 20, 30]);

    const failing = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: 0 }, async () => {
      throw new Error('model exploded');
    });
    const r = await Promise.allSettled([failing.submit(1), failing.submit(2)]);
    assert.ok(r.every((x) => x.status === 'rejected' && /model exploded/.test(String(x.reason))));
    const short = new MicroBatcher<number, number>({ maxBatch: 2, maxWaitMs: 0 }, async (items) => items.slice(1));
    await assert.rejects(short.submit(1), /batch of 1 gave 0 answers/);
  });

  it('rejects bad options', () => {
    assert.throws(() => new MicroBatcher({ maxBatch: 0, maxWaitMs: 0 }, async () => []), /maxBatch/);
    assert.throws(() => new MicroBatcher({ maxBatch: 2, maxWaitMs: -1 }, async () => []), /maxWaitMs/);
    assert.throws(() => new MicroBatcher({ maxBatch: 2, maxWaitMs: 1, maxPending: 0 }, async () => []), /maxPending/);
  });
});
