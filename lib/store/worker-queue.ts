/**
 * WorkerQueue: a DurableQueue whose SQLite connection lives in a worker thread.
 *
 * Why: a grouped commit (inserts, deletes of acknowledged rows, the WAL write and, at synchronous
 * FULL, the fsync) costs a few microseconds per message; on Node-RED's thread that time is taken
 * from every other node. Here the commit runs on the worker while the main thread goes on
 * accepting messages, and its result comes back as an event (`commitBatchAsync`).
 *
 * Everything else (size, head, readAfter, stats, reset, close, and a synchronous commit) keeps
 * DurableQueue's synchronous signature: the main thread posts the call and blocks on an
 * Atomics.wait until the worker has answered. Those calls are rare (status once a second, replay
 * reads of 256 rows, controls) and the worker answers them in the order of everything posted
 * before, so a call made after commitBatchAsync sees that commit's rows — possibly before the main
 * thread has handled the commit's result event. StoreForwarder allows for that.
 *
 * The queue's file, durability and policies are DurableQueue's (queue.ts), unchanged.
 */
import * as path from 'path';
import { MessageChannel, Worker, type MessagePort } from 'worker_threads';
import { receiveSignalled } from './port-signal';
import { StoreError, type QueueState, type AppendEntry, type CommitResult, type OverflowPolicy, type QueueOptions, type QueueRow, type QueueStats, type Recovery, type Synchronous } from './queue';
import type { Answer, CallRequest, CommitRequest, QueueCall, SerialisedError, WorkerSetup } from './queue-worker';
import { packEntries, type PackedEntries } from './record-batch';

export type CommitCallback = (err: Error | null, result: CommitResult | null) => void;

/** Options as DurableQueue's, without `now` (a function cannot cross to the worker: the worker uses Date.now). */
export type WorkerQueueOptions = Omit<QueueOptions, 'now'> & {
  /** how long a synchronous call waits for the worker before failing; default 60 s (opening runs quick_check) */
  callTimeoutMs?: number;
};

interface OpenInfo {
  file: string;
  synchronous: Synchronous;
  policy: OverflowPolicy;
  maxAgeMs: number;
  maxBytes: number;
  maxCount: number;
  thinKeepEvery: number;
  recovery: Recovery | null;
}

const CALLS = 0;
const COMMITS = 1;

function revive(e: SerialisedError): Error {
  if (e.name === 'StoreError') return new StoreError(e.code as StoreError['code'], e.message);
  const err = new Error(e.message) as Error & { code?: string };
  err.name = e.name;
  if (e.code) err.code = e.code;
  return err;
}

/** A Buffer over a structured-cloned Uint8Array, without copying. */
function asBuffer(b: Uint8Array): Buffer {
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

/** The worker thread: compiled JavaScript in the package; under the TypeScript test runner, via tsx. */
function startWorker(setup: WorkerSetup): Worker {
  const transferList = [setup.callPort, setup.commitPort];
  const workerData = { queueWorker: setup };
  if (path.extname(__filename) === '.ts') {
    const entry = path.join(__dirname, 'queue-worker.ts');
    return new Worker(`require('tsx/cjs'); require(${JSON.stringify(entry)});`, { eval: true, workerData, transferList });
  }
  return new Worker(path.join(__dirname, 'queue-worker.js'), { workerData, transferList });
}

export class WorkerQueue {
  readonly file: string;
  readonly synchronous: Synchronous;
  readonly policy: OverflowPolicy;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly maxCount: number;
  readonly thinKeepEvery: number;
  readonly recovery: Recovery | null;

  private readonly worker: Worker;
  private readonly signal = new Int32Array(new SharedArrayBuffer(8));
  private readonly callPort: MessagePort;
  private readonly commitPort: MessagePort;
  private readonly callTimeoutMs: number;
  private readonly pending = new Map<number, CommitCallback>();
  private nextSeq = 1;
  private known: QueueState = { count: 0, bytes: 0, head: null };
  private closed = false;
  private failure: Error | null = null;

  constructor(options: WorkerQueueOptions) {
    const { callTimeoutMs, ...queueOptions } = options;
    this.callTimeoutMs = callTimeoutMs ?? 60_000;
    const calls = new MessageChannel();
    const commits = new MessageChannel();
    this.callPort = calls.port1;
    this.commitPort = commits.port1;
    this.worker = startWorker({ options: queueOptions, signal: this.signal, callPort: calls.port2, commitPort: commits.port2 });
    // the worker and its ports never keep the process alive: the owner closes the queue
    this.worker.unref();
    this.callPort.unref();
    this.commitPort.on('message', (m: Answer & { seq: number }) => this.settle(m));
    this.commitPort.unref();
    this.worker.on('error', (err) => this.fail(err));
    this.worker.on('exit', (code) => {
      if (!this.closed) this.fail(new Error(`edge-cache queue worker stopped (exit code ${code})`));
    });
    let info: OpenInfo;
    try {
      info = this.call('open') as OpenInfo;
    } catch (err) {
      this.closed = true;
      void this.worker.terminate();
      throw err;
    }
    this.file = info.file;
    this.synchronous = info.synchronous;
    this.policy = info.policy;
    this.maxAgeMs = info.maxAgeMs;
    this.maxBytes = info.maxBytes;
    this.maxCount = info.maxCount;
    this.thinKeepEvery = info.thinKeepEvery;
    this.recovery = info.recovery;
  }

  /** false once closed, or once the worker thread has failed (nothing can be committed any more) */
  get isOpen(): boolean {
    return !this.closed && !this.failure;
  }

  get size(): number {
    return this.call('size') as number;
  }

  get storedBytes(): number {
    return this.call('storedBytes') as number;
  }

  /**
   * Count, bytes and oldest record as of the last answer from the worker (a commit's result or a
   * call), without asking: for a status display, which must not wait behind a commit in flight.
   */
  lastKnownState(): QueueState {
    return this.known;
  }

  /** commits posted whose result has not been handled yet */
  get commitsInFlight(): number {
    return this.pending.size;
  }

  /**
   * Commit a packed batch (record-batch.ts) on the worker; `done` runs on the main thread with the
   * result once it is committed (or with the error). The batch's buffers are transferred: the
   * caller must not use it afterwards.
   */
  commitBatchAsync(batch: PackedEntries, acks: number[], done: CommitCallback): void {
    if (this.closed || this.failure) {
      done(this.failure ?? new StoreError('closed', `queue ${this.file} is closed`), null);
      return;
    }
    const seq = this.nextSeq++;
    this.pending.set(seq, done);
    const request: CommitRequest = { kind: 'commit', seq, batch, acks };
    try {
      this.worker.postMessage(request, [batch.bytes, batch.ends.buffer as ArrayBuffer, batch.topicIndex.buffer as ArrayBuffer]);
    } catch (err) {
      // not posted (out of memory, a worker already gone): this commit fails now, not never
      this.pending.delete(seq);
      done(err instanceof Error ? err : new Error(String(err)), null);
    }
  }

  /** Wait (blocking) until every posted commit has been answered, and run their callbacks now. */
  drain(): void {
    while (this.pending.size > 0 && !this.failure) {
      const answer = receiveSignalled(this.commitPort, this.signal, COMMITS, this.callTimeoutMs);
      if (answer === undefined) {
        this.fail(new Error(`edge-cache queue worker did not finish a commit within ${this.callTimeoutMs} ms`));
      } else {
        this.settle(answer as Answer & { seq: number });
      }
    }
  }

  commit(entries: AppendEntry[], acks: number[] = []): CommitResult {
    return this.commitBatch(packEntries(entries), acks);
  }

  commitBatch(batch: PackedEntries, acks: number[] = []): CommitResult {
    this.drain();
    return this.call('commit', batch, acks) as CommitResult;
  }

  append(entries: AppendEntry[]): CommitResult {
    return this.commit(entries, []);
  }

  ack(ids: number[]): number {
    return this.commit([], ids).acked;
  }

  readAfter(afterId: number, limit: number): QueueRow[] {
    const rows = this.call('readAfter', afterId, limit) as QueueRow[];
    for (const r of rows) r.body = asBuffer(r.body);
    return rows;
  }

  head(): { id: number; ts: number } | null {
    return this.call('head') as { id: number; ts: number } | null;
  }

  reset(): number {
    this.drain();
    return this.call('reset') as number;
  }

  stats(): QueueStats {
    return this.call('stats') as QueueStats;
  }

  synchronousInForce(): Synchronous {
    return this.call('synchronousInForce') as Synchronous;
  }

  journalMode(): string {
    return this.call('journalMode') as string;
  }

  /** Finish the commits in flight (their callbacks run), close the file and let the thread end. */
  close(): void {
    if (this.closed) return;
    try {
      this.drain();
      if (!this.failure) this.call('close');
    } finally {
      this.closed = true;
      this.commitPort.close();
      this.callPort.close();
    }
  }

  private settle(m: Answer & { seq: number }): void {
    const done = this.pending.get(m.seq);
    if (!done) return;
    this.pending.delete(m.seq);
    if (m.state) this.known = m.state;
    if (m.ok) done(null, m.value as CommitResult);
    else done(revive(m.error), null);
  }

  /** The worker is gone: every waiting commit fails, and so does every later call. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const waiting = [...this.pending.values()];
    this.pending.clear();
    for (const done of waiting) done(err, null);
  }

  private call(op: QueueCall, ...args: unknown[]): unknown {
    if (this.failure) throw this.failure;
    if (this.closed) throw new StoreError('closed', `queue ${this.file} is closed`);
    const request: CallRequest = { kind: 'call', op, args };
    this.worker.postMessage(request);
    const answer = receiveSignalled(this.callPort, this.signal, CALLS, this.callTimeoutMs) as Answer | undefined;
    if (answer === undefined) {
      const err = new Error(`edge-cache queue worker did not answer "${op}" within ${this.callTimeoutMs} ms`);
      this.fail(err);
      throw err;
    }
    if (answer.state) this.known = answer.state;
    if (!answer.ok) throw revive(answer.error);
    return answer.value;
  }
}
