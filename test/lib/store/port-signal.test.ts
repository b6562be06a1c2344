import { strict as assert } from 'assert';
import { MessageChannel, Worker } from 'worker_threads';
import { receiveSignalled } from '../../../lib/store/port-signal';

/**
 * A worker that answers like queue-worker.ts (post, raise the counter, notify), with two pauses it
 * is told about: before answering, and between raising the counter and notifying. The second
 * pause plays a thread descheduled at the worst moment, which on a busy CI machine happens by
 * itself now and then.
 */
const ANSWERING_WORKER = `
const { workerData, parentPort } = require('worker_threads');
const { signal, port } = workerData;
const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
parentPort.on('message', (req) => {
  sleep(req.answerAfterMs);
  port.postMessage({ answer: req.id });
  Atomics.add(signal, 0, 1);
  sleep(req.notifyAfterMs);
  Atomics.notify(signal, 0);
});
`;

/** Block this thread for `ms`. */
const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

describe('lib/store receiveSignalled (blocking receive woken by a shared counter)', () => {
  let worker: Worker | undefined;
  afterEach(async () => {
    await worker?.terminate();
    worker = undefined;
  });

  function start() {
    const signal = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    worker = new Worker(ANSWERING_WORKER, { eval: true, workerData: { signal, port: port2 }, transferList: [port2] });
    return { signal, port: port1 };
  }

  it('a late notify from the previous answer does not end the wait for the next one', () => {
    const { signal, port } = start();
    // answer 1 is posted at once and its notify 300 ms later; we pick answer 1 up as soon as the
    // counter shows it, before that notify
    worker!.postMessage({ id: 1, answerAfterMs: 0, notifyAfterMs: 300 });
    const deadline = Date.now() + 5000;
    while (Atomics.load(signal, 0) === 0 && Date.now() < deadline) sleep(1);
    assert.deepEqual(receiveSignalled(port, signal, 0, 5000), { answer: 1 });
    // so the wait for answer 2 meets answer 1's late notify first; answer 2 comes 200 ms after it
    worker!.postMessage({ id: 2, answerAfterMs: 200, notifyAfterMs: 0 });
    const started = Date.now();
    assert.deepEqual(receiveSignalled(port, signal, 0, 5000), { answer: 2 });
    assert.ok(Date.now() - started >= 200, 'answer 2 is only posted 200 ms after the late notify');
  });

  it('answers in order when answers are already waiting on the port', () => {
    const { signal, port } = start();
    for (const id of [1, 2, 3]) worker!.postMessage({ id, answerAfterMs: 0, notifyAfterMs: 0 });
    assert.deepEqual(receiveSignalled(port, signal, 0, 5000), { answer: 1 });
    assert.deepEqual(receiveSignalled(port, signal, 0, 5000), { answer: 2 });
    assert.deepEqual(receiveSignalled(port, signal, 0, 5000), { answer: 3 });
  });

  it('gives up with undefined after the timeout when nothing is posted', () => {
    const { signal, port } = start();
    const started = Date.now();
    assert.equal(receiveSignalled(port, signal, 0, 150), undefined);
    assert.ok(Date.now() - started >= 150);
  });

  it('keeps the whole timeout when woken by a notify without an answer', async () => {
    const { signal, port } = start();
    // notifies until it has woken someone, then writes how many it woke into woken[0]
    const woken = new Int32Array(new SharedArrayBuffer(4));
    const waker = new Worker(
      `const { workerData: { signal, woken } } = require('worker_threads');
       const beat = () => { const n = Atomics.notify(signal, 0); if (n > 0) Atomics.store(woken, 0, n); else setTimeout(beat, 5); };
       beat();`,
      { eval: true, workerData: { signal, woken } },
    );
    const started = Date.now();
    assert.equal(receiveSignalled(port, signal, 0, 1500), undefined);
    assert.ok(Date.now() - started >= 1500, 'a bare notify is not an answer and not the end of the wait');
    assert.equal(Atomics.load(woken, 0), 1, 'the wait was woken by the notify at least once');
    await waker.terminate();
  });
});
