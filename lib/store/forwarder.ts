/**
 * StoreForwarder: store-and-forward over a DurableQueue.
 *
 * - enqueue() holds each record until its grouped commit (a count or a short timer, whichever comes
 *   first) and then calls its callback with the id: "accepted" means committed.
 * - Committed records are delivered in id order (one global FIFO), at most `maxInFlight` awaiting
 *   acknowledgement and at most `ratePerSec` per second (token bucket), so a backlog drains
 *   without flooding the uplink.
 * - ack(ids) removes records (the deletes ride on the next grouped commit). When the oldest record
 *   in flight is not acknowledged within `ackTimeoutMs`, the link is treated as down: delivery goes
 *   back to that record and, every `retryIntervalMs`, one record is sent as a probe; the first ack
 *   brings the link back up and delivery resumes in order. Records may therefore arrive more than
 *   once (at-least-once), always with the same id.
 * - setOnline(false/true) is explicit link control on top of that.
 *
 * Records committed in this process are delivered from memory (the caller's own value) while the
 * link keeps up; everything else (backlog after a restart, retries, after a long outage) is read
 * back from the file and decoded.
 *
 * The queue is a DurableQueue (commits on the calling thread) or a WorkerQueue (commits on a worker
 * thread, results as events: one commit in flight at a time while the next group gathers). With
 * the latter a read can see a commit's rows before its result has been handled here; records are
 * therefore taken into the memory cache only past the delivery cursor and only if nothing was
 * invalidated since the commit was posted.
 */
import type { AppendEntry, CommitResult, DropCounts, DurableQueue, QueueRow, QueueStats } from './queue';
import { RecordBatch, type PackedEntries } from './record-batch';
import { IdQueue } from './id-queue';
import { PendingAcks } from './pending-acks';
import { systemClock, type Clock } from './clock';

export interface Delivery<T> {
  id: number;
  value: T;
  /** true when this id may have been delivered before (a retry, or backlog from before a restart) */
  redelivery: boolean;
}

export type LinkState = 'online' | 'offline' | 'down';

export type ForwarderEvent =
  | { type: 'link'; state: LinkState; reason: 'control' | 'ack-timeout' | 'ack' }
  | { type: 'dropped'; dropped: DropCounts; count: number }
  | { type: 'error'; error: Error; context: 'commit' | 'decode' | 'deliver' | 'read' };

/** What the forwarder needs of a queue: DurableQueue, or WorkerQueue with its asynchronous commit. */
export type StoreQueue = Pick<DurableQueue, 'size' | 'isOpen' | 'maxAgeMs' | 'policy' | 'commit' | 'commitBatch' | 'lastKnownState' | 'readAfter' | 'reset' | 'stats'> & {
  commitBatchAsync?(batch: PackedEntries, acks: number[], done: (err: Error | null, result: CommitResult | null) => void): void;
  /** wait until every asynchronous commit has been answered and its callback has run */
  drain?(): void;
};

export interface ForwarderOptions<T> {
  queue: StoreQueue;
  /** turn a stored row back into the value to deliver */
  decode: (row: QueueRow) => T;
  deliver: (delivery: Delivery<T>) => void;
  clock?: Clock;
  /** commit at the latest this long after the first held record; default 10 ms */
  commitIntervalMs?: number;
  /** commit as soon as this many records are held (acks wait for the next commit); default 1000 */
  commitMaxCount?: number;
  /** no ack within this → link down and retry; 0 = no acks expected (removed once delivered). Default 10 s */
  ackTimeoutMs?: number;
  /** probe interval while the link is down; default ackTimeoutMs (or 5 s) */
  retryIntervalMs?: number;
  /** records delivered and not yet acknowledged, at most; default 100 */
  maxInFlight?: number;
  /** delivery rate limit (records/s); 0 = unlimited. Default 0 */
  ratePerSec?: number;
  /** token-bucket burst; default rate/20 (50 ms worth), at least 1 */
  burst?: number;
  /** records kept in memory for first delivery; default 10 000 */
  cacheLimit?: number;
  /** start with the link enabled; default true */
  startOnline?: boolean;
  onEvent?: (event: ForwarderEvent) => void;
}

export type AppendCallback = (err: Error | null, id: number | null) => void;

/** A record the queue refused (refuse-newest policy, or larger than the byte capacity). */
export class QueueFullError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueFullError';
  }
}

export interface ForwarderStats extends QueueStats {
  link: LinkState;
  inFlight: number;
  heldForCommit: number;
  counters: { delivered: number; redelivered: number; ackTimeouts: number; acksReceived: number; acksUnknown: number; commits: number; decodeErrors: number };
  settings: { ackTimeoutMs: number; retryIntervalMs: number; maxInFlight: number; ratePerSec: number; commitIntervalMs: number; commitMaxCount: number };
}

interface NextItem<T> {
  id: number;
  value: T;
}

/**
 * Commits a worker-thread queue may have in flight at once: while the worker commits one group the
 * next can already be on its way, and a burst is committed in groups of commitMaxCount instead of
 * one ever larger group. The worker answers them in order.
 */
const MAX_COMMITS_IN_FLIGHT = 4;

type TimerName = 'flushTimer' | 'ackTimer' | 'probeTimer' | 'pumpTimer';

export class StoreForwarder<T> {
  readonly queue: StoreQueue;
  private readonly clock: Clock;
  private readonly decode: (row: QueueRow) => T;
  private readonly deliver: (d: Delivery<T>) => void;
  private readonly onEvent: (e: ForwarderEvent) => void;
  readonly commitIntervalMs: number;
  readonly commitMaxCount: number;
  readonly ackTimeoutMs: number;
  readonly retryIntervalMs: number;
  readonly maxInFlight: number;
  readonly ratePerSec: number;
  readonly burst: number;
  private readonly cacheLimit: number;

  /** records waiting for their commit: their bytes packed as they arrive, values and callbacks beside */
  private batch = new RecordBatch();
  private heldValues: Array<T | undefined> = [];
  private heldCallbacks: AppendCallback[] = [];
  private pendingAcks = new PendingAcks();
  /** delivered, not yet acknowledged: id -> when sent */
  private inFlight = new IdQueue<number>();
  /** committed in this process, not yet delivered: id -> the caller's value */
  private cache = new IdQueue<T>();
  private cacheValid = false;
  /** raised by every invalidate(): a commit posted before cannot fill the cache */
  private cacheEpoch = 0;
  private readBuf: QueueRow[] = [];
  private readIdx = 0;
  /** rows in readBuf whose ack has been committed since they were read (see rememberAckedInReadBuf) */
  private ackedInReadBuf = new Set<number>();
  private cursor = 0;
  private maxSentId: number;
  private tokens: number;
  private lastRefill: number;
  private enabled: boolean;
  private healthy = true;
  /** commits posted and not yet answered (a synchronous queue answers before flush returns) */
  private commitsInFlight = 0;
  private pumping = false;
  private closed = false;
  private flushTimer: unknown = null;
  private ackTimer: unknown = null;
  private probeTimer: unknown = null;
  private pumpTimer: unknown = null;
  private readonly counters = { delivered: 0, redelivered: 0, ackTimeouts: 0, acksReceived: 0, acksUnknown: 0, commits: 0, decodeErrors: 0 };

  constructor(options: ForwarderOptions<T>) {
    this.queue = options.queue;
    this.clock = options.clock ?? systemClock;
    this.decode = options.decode;
    this.deliver = options.deliver;
    this.onEvent = options.onEvent ?? (() => undefined);
    this.commitIntervalMs = options.commitIntervalMs ?? 10;
    this.commitMaxCount = Math.max(1, options.commitMaxCount ?? 1000);
    this.ackTimeoutMs = options.ackTimeoutMs ?? 10_000;
    this.retryIntervalMs = options.retryIntervalMs ?? (this.ackTimeoutMs || 5000);
    this.maxInFlight = Math.max(1, options.maxInFlight ?? 100);
    this.ratePerSec = options.ratePerSec ?? 0;
    this.burst = Math.max(1, options.burst ?? Math.round(this.ratePerSec / 20));
    this.cacheLimit = options.cacheLimit ?? 10_000;
    this.enabled = options.startOnline ?? true;
    this.tokens = this.burst;
    this.lastRefill = this.clock.now();
    // everything stored before this process started may have been delivered already
    this.maxSentId = this.queue.stats().lastId;
    // an empty file has nothing to replay: records committed from now on are delivered from memory
    // (without this the first commit group would be read back from the file and decoded)
    this.cacheValid = this.queue.size === 0;
    this.schedulePump(0);
  }

  get link(): LinkState {
    if (!this.enabled) return 'offline';
    return this.healthy ? 'online' : 'down';
  }

  /** Hold `entry` for the next grouped commit; `value` (optional) is delivered as is the first time. */
  enqueue(entry: AppendEntry, value: T | undefined, cb: AppendCallback): void {
    if (this.closed) {
      cb(new Error('store is closed'), null);
      return;
    }
    this.batch.append(entry.body, entry.topic);
    this.heldValues.push(value);
    this.heldCallbacks.push(cb);
    this.scheduleFlush();
  }

  /** Acknowledge delivered records. */
  ack(ids: number[]): void {
    if (this.closed) return;
    for (const id of ids) {
      this.pendingAcks.add(id);
      this.inFlight.remove(id);
      this.cache.remove(id);
      this.counters.acksReceived++;
    }
    if (!this.healthy && this.enabled && ids.length) {
      this.healthy = true;
      this.clearTimer('probeTimer');
      this.onEvent({ type: 'link', state: 'online', reason: 'ack' });
    }
    this.scheduleFlush();
    this.pump();
  }

  /** Explicit link control. Going offline keeps what is in flight (its acks may still come). */
  setOnline(on: boolean): void {
    if (this.closed) return;
    const before = this.link;
    this.enabled = on;
    if (on) {
      this.healthy = true;
      this.clearTimer('probeTimer');
    } else {
      this.clearTimer('probeTimer');
      this.clearTimer('pumpTimer');
    }
    if (this.link !== before) this.onEvent({ type: 'link', state: this.link, reason: 'control' });
    this.pump();
  }

  /**
   * Commit whatever is held now (appends and acks); with a WorkerQueue the result comes later.
   * `evenIfEmpty`: commit with nothing held too (that applies the capacity limits).
   */
  flush(evenIfEmpty = false): void {
    this.clearTimer('flushTimer');
    if (this.queue.isOpen === false) {
      // nothing can be committed any more: every held record fails now rather than wait for ever
      this.failHeld(new Error('store is not open (closed, or its worker thread stopped)'));
      return;
    }
    if (this.commitsInFlight >= MAX_COMMITS_IN_FLIGHT) return;
    if (!evenIfEmpty && !this.heldCallbacks.length && this.pendingAcks.empty) return;
    this.commitsInFlight++;
    const values = this.heldValues;
    const callbacks = this.heldCallbacks;
    this.heldValues = [];
    this.heldCallbacks = [];
    const acks = this.pendingAcks.take();
    this.rememberAckedInReadBuf(acks);
    const records = this.batch.take();
    const epoch = this.cacheEpoch;
    if (this.queue.commitBatchAsync) {
      this.queue.commitBatchAsync(records, acks, (err, result) => this.committed(values, callbacks, acks, epoch, err, result));
      return;
    }
    let result: CommitResult;
    try {
      result = this.queue.commitBatch(records, acks);
    } catch (err) {
      this.committed(values, callbacks, acks, epoch, err instanceof Error ? err : new Error(String(err)), null);
      return;
    }
    this.committed(values, callbacks, acks, epoch, null, result);
  }

  /** A commit's outcome: accept (or refuse) its records, cache them for delivery, deliver. */
  private committed(values: Array<T | undefined>, callbacks: AppendCallback[], acks: number[], epoch: number, error: Error | null, result: CommitResult | null): void {
    this.commitsInFlight--;
    if (error || !result) {
      const err = error ?? new Error('commit gave no result');
      this.pendingAcks.addAll(acks); // kept for the next commit
      for (const cb of callbacks) safe(() => cb(err, null));
      this.onEvent({ type: 'error', error: err, context: 'commit' });
      if (this.closed) return;
      // records held meanwhile get their commit (and their answer) now; kept acks are retried
      // after the retry interval, so a store that keeps failing is not hammered
      if (this.heldCallbacks.length) this.scheduleFlush();
      else if (!this.pendingAcks.empty) this.flushAfter(this.retryIntervalMs);
      return;
    }
    this.counters.commits++;
    this.counters.acksUnknown += acks.length - result.acked;
    const droppedAny = result.droppedIds.length > 0;
    if (droppedAny) this.forget(result.droppedIds);
    if (this.cacheValid && epoch === this.cacheEpoch) {
      for (let i = 0; i < values.length; i++) {
        const id = result.ids[i];
        // null: refused; at or below the cursor: already read back from the file and delivered
        if (id === null || id <= this.cursor) continue;
        const value = values[i];
        if (value === undefined || this.cache.size >= this.cacheLimit) {
          this.invalidate();
          break;
        }
        this.cache.push(id, value);
      }
    }
    for (let i = 0; i < callbacks.length; i++) {
      const id = result.ids[i];
      try {
        if (id === null) callbacks[i](new QueueFullError(`message refused: ${result.refusedReasons[i]}`), null);
        else callbacks[i](null, id);
      } catch {
        // a caller's callback must not break the commit loop
      }
    }
    const d = result.dropped;
    const dropCount = d.oldest + d.expired + d.refused + d.thinned;
    if (dropCount) this.onEvent({ type: 'dropped', dropped: d, count: dropCount });
    if (this.closed) return;
    if (this.heldCallbacks.length || !this.pendingAcks.empty) this.scheduleFlush();
    this.pump();
  }

  /** Expire records past the age limit even when nothing new arrives (call now and then). */
  maintain(): void {
    if (this.closed || this.queue.maxAgeMs <= 0 || this.queue.policy === 'refuse-newest') return;
    // a worker queue's last known head will do: the check repeats, and must not wait for a commit
    const { head } = this.queue.lastKnownState();
    if (head && head.ts < this.clock.now() - this.queue.maxAgeMs && this.commitsInFlight === 0) {
      this.flush(true); // an empty commit: it applies the age limit, and its result reports the drops
    }
  }

  /** Drop the whole backlog (counted as reset); returns how many records were removed. */
  reset(): number {
    this.commitEverything(); // and no commit result may arrive after the rows are gone
    const n = this.queue.reset();
    this.inFlight.clear();
    this.clearTimer('ackTimer');
    this.invalidate();
    return n;
  }

  stats(): ForwarderStats {
    return {
      ...this.queue.stats(),
      link: this.link,
      inFlight: this.inFlight.size,
      heldForCommit: this.heldCallbacks.length,
      counters: { ...this.counters },
      settings: {
        ackTimeoutMs: this.ackTimeoutMs,
        retryIntervalMs: this.retryIntervalMs,
        maxInFlight: this.maxInFlight,
        ratePerSec: this.ratePerSec,
        commitIntervalMs: this.commitIntervalMs,
        commitMaxCount: this.commitMaxCount,
      },
    };
  }

  /** Commit what is held (their callbacks run) and stop every timer. The queue stays open. */
  close(): void {
    if (this.closed) return;
    this.commitEverything();
    this.closed = true;
    for (const t of ['flushTimer', 'ackTimer', 'probeTimer', 'pumpTimer'] as const) this.clearTimer(t);
    this.failHeld(new Error('store is closed'));
  }

  // ---- internals ----

  /**
   * Rows read back into readBuf before their ack was committed would otherwise be sent after the
   * commit deleted them (nextItem skips acks only while they are pending): remember those.
   */
  private rememberAckedInReadBuf(acks: number[]): void {
    if (this.readIdx >= this.readBuf.length) return;
    const first = this.readBuf[this.readIdx].id;
    const last = this.readBuf[this.readBuf.length - 1].id;
    for (const id of acks) if (id >= first && id <= last) this.ackedInReadBuf.add(id);
  }

  private failHeld(err: Error): void {
    const callbacks = this.heldCallbacks;
    this.heldCallbacks = [];
    this.heldValues = [];
    this.batch.take(); // their bytes go too
    for (const cb of callbacks) safe(() => cb(err, null));
  }

  /** Commit all that is held and wait for every commit in flight (a worker queue's results run now). */
  private commitEverything(): void {
    // a few rounds: the in-flight limit can hold back part of what is held until earlier commits answer
    for (let round = 0; round < 3; round++) {
      this.flush();
      this.queue.drain?.();
      if (!this.heldCallbacks.length && this.pendingAcks.empty) return;
    }
  }

  private scheduleFlush(): void {
    // only records count towards the commit count: acks ride on the records' next commit (or the
    // timer) instead of adding commits of their own (every commit is a WAL write, and an fsync at
    // synchronous FULL); a lost ack only means a redelivery, never a lost record
    if (this.heldCallbacks.length >= this.commitMaxCount && this.commitsInFlight < MAX_COMMITS_IN_FLIGHT) {
      this.flush();
    } else {
      this.flushAfter(this.commitIntervalMs);
    }
  }

  /** A flush in `delayMs`, unless one is already scheduled. */
  private flushAfter(delayMs: number): void {
    this.runLater('flushTimer', delayMs, () => this.flush());
  }

  /** Run `run` in `ms` on the timer `name`, unless that timer is already set. */
  private runLater(name: TimerName, ms: number, run: () => void): void {
    if (this[name]) return;
    this[name] = this.clock.setTimeout(() => {
      this[name] = null;
      run();
    }, ms);
  }

  private clearTimer(name: TimerName): void {
    if (this[name]) {
      this.clock.clearTimeout(this[name]);
      this[name] = null;
    }
  }

  /** rows were dropped by the capacity policy: forget them wherever they are remembered */
  private forget(ids: number[]): void {
    for (const id of ids) this.inFlight.remove(id);
    this.invalidate();
  }

  private invalidate(): void {
    this.cacheEpoch++;
    this.cacheValid = false;
    this.cache.clear();
    this.readBuf = [];
    this.readIdx = 0;
    this.ackedInReadBuf.clear();
  }

  pump(): void {
    if (this.pumping || this.closed || !this.queue.isOpen) return;
    this.pumping = true;
    try {
      let sentThisTurn = 0;
      while (this.enabled && this.healthy) {
        if (this.ackTimeoutMs > 0 ? this.inFlight.size >= this.maxInFlight : sentThisTurn >= this.maxInFlight) {
          if (this.ackTimeoutMs <= 0) this.schedulePump(0);
          break;
        }
        if (this.ratePerSec > 0) {
          this.refill();
          if (this.tokens < 1) {
            this.schedulePump(Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSec));
            break;
          }
        }
        const next = this.nextItemOrReport();
        if (!next) break;
        if (this.ratePerSec > 0) this.tokens -= 1;
        this.send(next);
        sentThisTurn++;
      }
    } finally {
      this.pumping = false;
    }
  }

  private schedulePump(ms: number): void {
    this.runLater('pumpTimer', ms, () => this.pump());
  }

  private refill(): void {
    const now = this.clock.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.lastRefill) * this.ratePerSec) / 1000);
    this.lastRefill = now;
  }

  /** nextItem(), with a failing read (a dead worker, an unreadable file) reported instead of thrown: callers run from timers. */
  private nextItemOrReport(): NextItem<T> | null {
    try {
      return this.nextItem();
    } catch (err) {
      this.onEvent({ type: 'error', error: err instanceof Error ? err : new Error(String(err)), context: 'read' });
      return null;
    }
  }

  private nextItem(): NextItem<T> | null {
    if (this.cacheValid) {
      const id = this.cache.firstId();
      if (id === undefined) return null;
      const value = this.cache.firstValue() as T;
      this.cache.shift();
      return { id, value };
    }
    for (;;) {
      if (this.readIdx >= this.readBuf.length) {
        this.readBuf = this.queue.readAfter(this.cursor, 256);
        this.readIdx = 0;
        this.ackedInReadBuf.clear(); // a fresh read no longer holds rows whose acks were committed
        if (!this.readBuf.length) {
          // everything after the cursor is delivered: from now on new commits are kept in memory
          this.cacheValid = true;
          this.cache.clear();
          return null;
        }
      }
      const row = this.readBuf[this.readIdx++];
      if (row.id <= this.cursor) continue;
      if (this.pendingAcks.has(row.id) || this.ackedInReadBuf.has(row.id)) {
        this.cursor = row.id;
        continue;
      }
      try {
        return { id: row.id, value: this.decode(row) };
      } catch (err) {
        // a record that cannot be decoded would block the queue for ever: report it and remove it
        this.counters.decodeErrors++;
        this.cursor = row.id;
        this.pendingAcks.add(row.id);
        this.scheduleFlush();
        this.onEvent({ type: 'error', error: new Error(`record ${row.id} cannot be decoded and was removed: ${(err as Error).message}`), context: 'decode' });
      }
    }
  }

  private send(item: NextItem<T>): void {
    this.cursor = item.id;
    const redelivery = item.id <= this.maxSentId;
    if (redelivery) this.counters.redelivered++;
    else this.maxSentId = item.id;
    this.counters.delivered++;
    if (this.ackTimeoutMs > 0) {
      this.inFlight.push(item.id, this.clock.now());
      this.armAckTimer();
    } else {
      this.pendingAcks.add(item.id);
      this.scheduleFlush();
    }
    try {
      this.deliver({ id: item.id, value: item.value, redelivery });
    } catch (err) {
      this.onEvent({ type: 'error', error: err instanceof Error ? err : new Error(String(err)), context: 'deliver' });
    }
  }

  private armAckTimer(): void {
    if (this.ackTimer || this.inFlight.size === 0) return;
    const sentAt = this.inFlight.firstValue() as number;
    this.ackTimer = this.clock.setTimeout(() => this.onAckTimer(), Math.max(0, sentAt + this.ackTimeoutMs - this.clock.now()));
  }

  private onAckTimer(): void {
    this.ackTimer = null;
    const id = this.inFlight.firstId();
    if (id === undefined) {
      // what was in flight was dropped by the capacity policy: keep probing while down
      if (!this.healthy) this.scheduleProbe();
      return;
    }
    const sentAt = this.inFlight.firstValue() as number;
    if (this.clock.now() - sentAt < this.ackTimeoutMs) {
      this.armAckTimer();
      return;
    }
    // no ack in time: go back to the oldest unacknowledged record and treat the link as down
    this.counters.ackTimeouts++;
    this.cursor = Math.min(this.cursor, id - 1);
    this.inFlight.clear();
    this.invalidate();
    const wasHealthy = this.healthy;
    this.healthy = false;
    if (wasHealthy && this.enabled) this.onEvent({ type: 'link', state: 'down', reason: 'ack-timeout' });
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (!this.enabled || this.closed) return;
    this.runLater('probeTimer', this.retryIntervalMs, () => this.probe());
  }

  private probe(): void {
    if (!this.enabled || this.healthy || this.closed) return;
    if (this.inFlight.size > 0) return; // the probe in flight decides (ack, or its timeout schedules the next)
    if (!this.queue.isOpen) return;
    const next = this.nextItemOrReport();
    if (next) this.send(next);
    else this.scheduleProbe();
  }
}

function safe(fn: () => void): void {
  try {
    fn();
  } catch {
    // a caller's callback must not break the commit loop
  }
}
