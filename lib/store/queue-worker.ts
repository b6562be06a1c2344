/**
 * The thread side of WorkerQueue (worker-queue.ts): owns one DurableQueue and answers requests
 * from the main thread in the order they were posted.
 *
 * - `commit` requests are asynchronous: the result goes back on `commitPort` and the main thread
 *   picks it up in its event loop (or at once, in WorkerQueue.drain()).
 * - every other request is a synchronous call: the main thread waits on `signal` (Atomics.wait)
 *   until the answer is on `callPort`.
 * After each answer the matching counter in `signal` is raised and notified, so a waiting main
 * thread wakes up; a counter is raised only after its message has been posted.
 */
import { parentPort, workerData, type MessagePort } from 'worker_threads';
import type { DurableQueue, QueueOptions, QueueState } from './queue';
import type { PackedEntries } from './record-batch';

export interface WorkerSetup {
  options: QueueOptions;
  /** [0]: call answers posted, [1]: commit results posted */
  signal: Int32Array;
  callPort: MessagePort;
  commitPort: MessagePort;
}

/** An asynchronous commit (its buffers are transferred, not copied). */
export interface CommitRequest {
  kind: 'commit';
  seq: number;
  batch: PackedEntries;
  acks: number[];
}

export interface CallRequest {
  kind: 'call';
  op: QueueCall;
  args: unknown[];
}

/** the DurableQueue methods the main thread calls synchronously ('open' creates the queue) */
export type QueueCall = 'open' | 'commit' | 'size' | 'storedBytes' | 'head' | 'readAfter' | 'reset' | 'stats' | 'synchronousInForce' | 'journalMode' | 'close';

export interface SerialisedError {
  name: string;
  message: string;
  code?: string;
}

export type Answer = ({ ok: true; value: unknown } | { ok: false; error: SerialisedError }) & { state?: QueueState };

function serialise(err: unknown): SerialisedError {
  const e = err instanceof Error ? err : new Error(String(err));
  const code = (e as { code?: unknown }).code;
  return { name: e.name, message: e.message, code: typeof code === 'string' ? code : undefined };
}

function serve(setup: WorkerSetup, port: MessagePort): void {
  const { signal, callPort, commitPort } = setup;
  let queue: DurableQueue | null = null;

  const answer = (op: QueueCall, args: unknown[]): unknown => {
    if (op === 'open') {
      // required here, not at the top: a failure to load better-sqlite3 becomes an answer, not a silent worker crash
      const { DurableQueue: Queue } = require('./queue') as typeof import('./queue');
      queue = new Queue(setup.options);
      const q = queue;
      return { file: q.file, synchronous: q.synchronous, policy: q.policy, maxAgeMs: q.maxAgeMs, maxBytes: q.maxBytes, maxCount: q.maxCount, thinKeepEvery: q.thinKeepEvery, recovery: q.recovery };
    }
    if (!queue) throw new Error('queue worker: the queue is not open');
    switch (op) {
      case 'commit':
        return queue.commitBatch(args[0] as PackedEntries, args[1] as number[]);
      case 'size':
        return queue.size;
      case 'storedBytes':
        return queue.storedBytes;
      case 'head':
        return queue.head();
      case 'readAfter':
        return queue.readAfter(args[0] as number, args[1] as number);
      case 'reset':
        return queue.reset();
      case 'stats':
        return queue.stats();
      case 'synchronousInForce':
        return queue.synchronousInForce();
      case 'journalMode':
        return queue.journalMode();
      case 'close':
        queue.close();
        return null;
    }
  };

  const state = (): QueueState | undefined => (queue?.isOpen ? queue.lastKnownState() : undefined);

  port.on('message', (req: CommitRequest | CallRequest) => {
    if (req.kind === 'commit') {
      let reply: Answer & { seq: number };
      try {
        if (!queue) throw new Error('queue worker: the queue is not open');
        reply = { seq: req.seq, ok: true, value: queue.commitBatch(req.batch, req.acks), state: state() };
      } catch (err) {
        reply = { seq: req.seq, ok: false, error: serialise(err), state: state() };
      }
      commitPort.postMessage(reply);
      Atomics.add(signal, 1, 1);
      Atomics.notify(signal, 1);
      return;
    }
    let reply: Answer;
    try {
      reply = { ok: true, value: answer(req.op, req.args), state: state() };
    } catch (err) {
      reply = { ok: false, error: serialise(err), state: state() };
    }
    callPort.postMessage(reply);
    Atomics.add(signal, 0, 1);
    Atomics.notify(signal, 0);
    if (req.op === 'close' || (req.op === 'open' && !reply.ok)) {
      // nothing more to serve: let the thread end on its own
      port.close();
      callPort.close();
      commitPort.close();
    }
  });
}

if (parentPort && workerData?.queueWorker) serve(workerData.queueWorker as WorkerSetup, parentPort);
