/**
 * Micro-batching: up to `maxBatch` items, or whatever arrived within `maxWaitMs` of the oldest, run
 * as one batch; each item's answer goes back to its own caller, in submission order (batches run
 * one at a time). With maxBatch 1 (or maxWaitMs 0) an item runs as soon as the previous batch is
 * done, with no timer; when nothing is running or waiting it runs at once, inside `submit`, with no
 * queue entry and no extra promise. At batch size 1 a caller with a synchronous run can go further
 * with `runNow`: the item runs on the caller's stack, the answer comes back with no promise. While a
 * batch runs, new items gather for the next one, so under load batches fill by themselves.
 *
 * At most `maxPending` items wait (not counting the batch running); beyond that `submit` rejects
 * with a QueueFullError at once, so a flow faster than the model sees errors instead of growing
 * memory.
 */

export class QueueFullError extends Error {
  constructor(limit: number) {
    super(`inference queue full (${limit} messages waiting): message refused`);
    this.name = 'QueueFullError';
  }
}

/** What `runNow` gives when the item cannot run at once and has to go through `submit`. */
export const MUST_WAIT: unique symbol = Symbol('must wait');

export interface MicroBatcherOptions {
  maxBatch: number;
  maxWaitMs: number;
  maxPending?: number;
}

interface Pending<I, O> {
  item: I;
  at: number;
  resolve: (o: O) => void;
  reject: (e: Error) => void;
}

export class MicroBatcher<I, O> {
  private queue: Array<Pending<I, O>> = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: Array<() => void> = [];
  readonly maxBatch: number;
  readonly maxWaitMs: number;
  readonly maxPending: number;
  /** sizes of the last batches run (most recent last, up to 100) */
  readonly recentSizes: number[] = [];

  constructor(opts: MicroBatcherOptions, private readonly runBatch: (items: I[]) => Promise<O[]>) {
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) throw new Error('maxBatch must be an integer ≥ 1');
    if (!(opts.maxWaitMs >= 0)) throw new Error('maxWaitMs must be ≥ 0');
    this.maxBatch = opts.maxBatch;
    this.maxWaitMs = opts.maxBatch === 1 ? 0 : opts.maxWaitMs;
    this.maxPending = opts.maxPending ?? 1000;
    if (!Number.isInteger(this.maxPending) || this.maxPending < 1) throw new Error('maxPending must be an integer ≥ 1');
  }

  get pending(): number {
    return this.queue.length;
  }

  get busy(): boolean {
    return this.running;
  }

  submit(item: I): Promise<O> {
    if (this.closed) return Promise.reject(new Error('inference stopped (node closing)'));
    if (this.queue.length >= this.maxPending) return Promise.reject(new QueueFullError(this.maxPending));
    if (!this.running && this.queue.length === 0 && this.maxWaitMs === 0) return this.runOne(item);
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, at: Date.now(), resolve, reject });
      this.schedule();
    });
  }

  /**
   * At batch size 1, when the batcher is idle (nothing running or queued, not closed): run `item`
   * at once with the synchronous `run` and return its answer, as `submit` would but without a
   * promise. Otherwise run nothing and return MUST_WAIT (then call `submit`): with maxBatch > 1 a
   * run on the caller's stack would leave nothing to gather. Errors from `run` are thrown.
   */
  runNow(item: I, run: (item: I) => O): O | typeof MUST_WAIT {
    if (this.maxBatch !== 1 || this.closed || this.running || this.queue.length > 0) return MUST_WAIT;
    this.running = true; // an item submitted from inside `run` queues behind this one
    this.recordSize(1);
    try {
      return run(item);
    } finally {
      this.settled();
    }
  }

  /** Run everything still queued, then resolve; later submits are refused. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    while (this.queue.length > 0 || this.running) {
      if (!this.running) void this.flush();
      await new Promise<void>((r) => this.idleWaiters.push(r));
    }
  }

  private schedule(): void {
    if (this.running) return;
    if (this.queue.length === 0) return;
    const waited = Date.now() - this.queue[0].at;
    if (this.closed || this.queue.length >= this.maxBatch || waited >= this.maxWaitMs) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      void this.flush();
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.maxWaitMs - waited);
    }
  }

  /** Idle and no wait asked for: run this one item now (same effect as a flush of a batch of one). */
  private runOne(item: I): Promise<O> {
    this.running = true;
    this.recordSize(1);
    let out: Promise<O[]>;
    try {
      out = this.runBatch([item]);
    } catch (err) {
      out = Promise.reject(err);
    }
    return out.then(
      (answers) => {
        this.settled();
        if (answers.length !== 1) throw new Error(`batch of 1 gave ${answers.length} answers`);
        return answers[0];
      },
      (err) => {
        this.settled();
        throw err instanceof Error ? err : new Error(String(err));
      },
    );
  }

  private recordSize(n: number): void {
    this.recentSizes.push(n);
    if (this.recentSizes.length > 100) this.recentSizes.shift();
  }

  /** A batch is done: wake close() and start the next one. */
  private settled(): void {
    this.running = false;
    if (this.idleWaiters.length > 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      waiters.forEach((w) => w());
    }
    this.schedule();
  }

  private async flush(): Promise<void> {
    this.running = true;
    const batch = this.queue.splice(0, this.maxBatch);
    this.recordSize(batch.length);
    try {
      const out = await this.runBatch(batch.map((p) => p.item));
      if (out.length !== batch.length) throw new Error(`batch of ${batch.length} gave ${out.length} answers`);
      batch.forEach((p, i) => p.resolve(out[i]));
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      batch.forEach((p) => p.reject(e));
    } finally {
      this.settled();
    }
  }
}
