import { strict as assert } from 'assert';
import { MicroBatcher, MUST_WAIT, QueueFullError } from '../../../lib/infer/micro-batcher';

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

  it('idle at batch 1: the run starts inside submit (no queue entry, no timer); later items queue behind it in order', async () => {
    const g = gated();
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 500 }, g.run);
    const first = b.submit(1);
    // started synchronously, before any tick: nothing waits in the queue
    assert.deepEqual(g.calls, [[1]]);
    assert.equal(b.pending, 0);
    assert.equal(b.busy, true);
    const second = b.submit(2);
    const third = b.submit(3);
    assert.equal(b.pending, 2, 'items arriving while a run is going wait for it');
    const order: number[] = [];
    void first.then((v) => order.push(v));
    void second.then((v) => order.push(v));
    void third.then((v) => order.push(v));
    await g.releaseNext();
    await g.releaseNext();
    await g.releaseNext();
    assert.deepEqual(await Promise.all([first, second, third]), [10, 20, 30]);
    assert.deepEqual(order, [10, 20, 30]);
    assert.deepEqual(g.calls, [[1], [2], [3]]);
    assert.deepEqual(b.recentSizes, [1, 1, 1]);
    assert.equal(b.busy, false);
    // idle again: the next one starts at once too
    const fourth = b.submit(4);
    assert.deepEqual(g.calls[3], [4]);
    await g.releaseNext();
    assert.equal(await fourth, 40);
  });

  it('the immediate path reports failures like a batch: thrown, rejected, or a wrong answer count; the next item still runs', async () => {
    let mode: 'throw' | 'reject' | 'short' | 'ok' = 'throw';
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 0 }, (items) => {
      if (mode === 'throw') throw new Error('sync failure');
      if (mode === 'reject') return Promise.reject('plain string');
      if (mode === 'short') return Promise.resolve([]);
      return Promise.resolve(items.map((i) => -i));
    });
    await assert.rejects(b.submit(1), /sync failure/);
    assert.equal(b.busy, false);
    mode = 'reject';
    await assert.rejects(b.submit(2), (e: unknown) => e instanceof Error && e.message === 'plain string');
    mode = 'short';
    await assert.rejects(b.submit(3), /batch of 1 gave 0 answers/);
    mode = 'ok';
    assert.equal(await b.submit(4), -4);
    await b.close();
    await assert.rejects(b.submit(5), /node closing/);
  });

  it('close() waits for a run started on the immediate path', async () => {
    const g = gated();
    const b = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 0 }, g.run);
    const p = b.submit(7);
    let closed = false;
    const closing = b.close().then(() => (closed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(closed, false);
    await g.releaseNext();
    await closing;
    assert.equal(await p, 70);
  });

  it('runNow: at batch 1 and idle, runs on the caller\'s stack and returns the answer; otherwise runs nothing', async () => {
    const g = gated();
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 0 }, g.run);
    const ranNow: number[] = [];
    const now = (i: number) => {
      ranNow.push(i);
      assert.equal(b.busy, true, 'busy while it runs');
      return i * 100;
    };
    assert.equal(b.runNow(1, now), 100);
    assert.equal(b.runNow(2, now), 200);
    assert.equal(b.busy, false);
    assert.deepEqual(b.recentSizes, [1, 1]);
    // a submitted item is running: the next one must wait for it (and keeps its order)
    const queued = b.submit(3);
    assert.equal(b.runNow(4, now), MUST_WAIT);
    await g.releaseNext();
    assert.equal(await queued, 30);
    assert.equal(b.runNow(5, now), 500, 'idle again');
    assert.deepEqual(ranNow, [1, 2, 5]);
    assert.deepEqual(g.calls, [[3]]);
    await b.close();
    assert.equal(b.runNow(6, now), MUST_WAIT, 'closed');
    // batch sizes over 1 gather items: nothing runs on the caller's stack
    const batching = new MicroBatcher<number, number>({ maxBatch: 4, maxWaitMs: 0 }, async (items) => items);
    assert.equal(batching.runNow(7, now), MUST_WAIT);
    assert.deepEqual(ranNow, [1, 2, 5]);
  });

  it('runNow: a failure is thrown to the caller and leaves the batcher idle; an item submitted during the run goes after it', async () => {
    const b = new MicroBatcher<number, number>({ maxBatch: 1, maxWaitMs: 0 }, async (items) => items.map((i) => -i));
    assert.throws(() => b.runNow(1, () => {
      throw new Error('run failed');
    }), /run failed/);
    assert.equal(b.busy, false);
    let inner: Promise<number> | undefined;
    const answer = b.runNow(2, (i) => {
      inner = b.submit(3);
      assert.equal(b.pending, 1, 'queued behind the run in progress');
      return i;
    });
    assert.equal(answer, 2);
    assert.equal(await inner, -3);
    assert.deepEqual(b.recentSizes, [1, 1, 1]);
  });

  it('rejects bad options', () => {
    assert.throws(() => new MicroBatcher({ maxBatch: 0, maxWaitMs: 0 }, async () => []), /maxBatch/);
    assert.throws(() => new MicroBatcher({ maxBatch: 2, maxWaitMs: -1 }, async () => []), /maxWaitMs/);
    assert.throws(() => new MicroBatcher({ maxBatch: 2, maxWaitMs: 1, maxPending: 0 }, async () => []), /maxPending/);
  });
});
