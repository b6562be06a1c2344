/**
 * Blocking receive on a MessagePort, woken by a counter in shared memory.
 *
 * The other thread answers with `port.postMessage(answer)`, then `Atomics.add(signal, index, 1)`,
 * then `Atomics.notify(signal, index)`. Waking up is not proof of an answer: a notify that belongs
 * to the *previous* answer can arrive late (its thread was descheduled between add and notify,
 * while this thread had already seen the counter change and read that answer) and wakes a wait
 * that started after it. So the port itself is the only truth: look at it, and wait again until
 * the answer is there or the deadline has passed.
 */
import { receiveMessageOnPort, type MessagePort } from 'worker_threads';

/** The next message on `port`, waiting at most `timeoutMs`; undefined if none came in time. */
export function receiveSignalled(port: MessagePort, signal: Int32Array, index: number, timeoutMs: number): unknown {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // read the counter before looking at the port: an answer posted after the look moves the counter, so the wait returns at once
    const seen = Atomics.load(signal, index);
    const received = receiveMessageOnPort(port);
    if (received) return received.message;
    const left = deadline - Date.now();
    if (left <= 0) return undefined;
    Atomics.wait(signal, index, seen, left);
  }
}
