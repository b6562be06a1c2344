/**
 * The forwarder's commit pipeline under asynchronous commits (what a worker-thread queue gives):
 * acknowledged records and the replay read buffer, failing commits, close() and a dead worker,
 * randomised interleavings checked against what was committed, DurableQueue range deletes, and
 * RecordBatch / IdQueue edge cases. Deterministic: ManualClock for time; asynchronous commit
 * results are released by hand through DeferredQueue (a DurableQueue whose commits are applied at
 * once, as the worker does in posting order, but whose results come back only when the test says
 * so — the interleaving a busy Node-RED thread sees with a fast worker).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DurableQueue, type CommitResult, type QueueOptions } from '../../../lib/store/queue';
import { RecordBatch, unpackEntries, type PackedEntries } from '../../../lib/store/record-batch';
import { IdQueue } from '../../../lib/store/id-queue';
import { WorkerQueue } from '../../../lib/store/worker-queue';
import { StoreForwarder, type Delivery, type ForwarderEvent, type ForwarderOptions, type StoreQueue } from '../../../lib/store/forwarder';
import { ManualClock } from '../../../lib/store/clock';
import { stringForwarder } from './string-forwarder';

type Done = (err: Error | null, result: CommitResult | null) => void;

/** A DurableQueue with commitBatchAsync whose results the test releases (in order). */
class DeferredQueue {
  readonly inner: DurableQueue;
  private waiting: Array<{ done: Done; result: CommitResult | null; error: Error | null }> = [];
  /** when set, the next posted commits fail (nothing is written) */
  failNext = 0;

  constructor(inner: DurableQueue) {
    this.inner = inner;
  }
  get size() {
    return this.inner.size;
  }
  get isOpen() {
    return this.inner.isOpen;
  }
  get maxAgeMs() {
    return this.inner.maxAgeMs;
  }
  get policy() {
    return this.inner.policy;
  }
  get inFlight() {
    return this.waiting.length;
  }
  commit(...a: Parameters<DurableQueue['commit']>) {
    this.drain();
    return this.inner.commit(...a);
  }
  commitBatch(...a: Parameters<DurableQueue['commitBatch']>) {
    this.drain();
    return this.inner.commitBatch(...a);
  }
  head() {
    return this.inner.head();
  }
  readAfter(after: number, limit: number) {
    return this.inner.readAfter(after, limit);
  }
  reset() {
    this.drain();
    return this.inner.reset();
  }
  stats() {
    return this.inner.stats();
  }
  lastKnownState() {
    return this.inner.lastKnownState();
  }
  commitBatchAsync(batch: PackedEntries, acks: number[], done: Done): void {
    if (this.failNext > 0) {
      this.failNext--;
      this.waiting.push({ done, result: null, error: new Error('SQLITE_FULL: database or disk is full') });
      return;
    }
    this.waiting.push({ done, result: this.inner.commitBatch(batch, acks), error: null });
  }
  /** hand back the oldest outstanding result */
  answerOne(): boolean {
    const w = this.waiting.shift();
    if (!w) return false;
    w.done(w.error, w.result);
    return true;
  }
  drain(): void {
    while (this.answerOne());
  }
}

/** xorshift32, for seeded randomised tests */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x100000000;
  };
}

describe('lib/store commit pipeline', () => {
  let dir: string;
  const toClose: Array<{ close(): void }> = [];

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-pipeline-'));
  });
  afterEach(() => {
    for (const x of toClose.splice(0)) {
      try {
        x.close();
      } catch {
        // already failing
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function durable(clock: ManualClock, opts: Partial<QueueOptions> = {}, name = 'q.sqlite'): DurableQueue {
    const q = new DurableQueue({ path: path.join(dir, name), synchronous: 'NORMAL', maxAgeMs: 0, now: () => clock.now(), ...opts });
    toClose.push(q);
    return q;
  }

  function forwarder(queue: StoreQueue, clock: ManualClock, delivered: Array<Delivery<string>>, opts: Partial<ForwarderOptions<string>> = {}, events: ForwarderEvent[] = []) {
    const fwd = stringForwarder(queue, clock, delivered, events, opts);
    toClose.unshift(fwd);
    return fwd;
  }

  // ---------------------------------------------------------------------------------------------
  describe('forwarder: acknowledged records and the replay read buffer', () => {
    it('a late ack for a record already read back into the replay buffer is not delivered again after the ack is committed (rate-limited replay)', () => {
      const clock = new ManualClock(1_000_000);
      const queue = durable(clock);
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { maxInFlight: 10, ratePerSec: 100, burst: 1 });
      for (const t of ['a', 'b', 'c', 'd', 'e']) fwd.enqueue({ body: t }, t, () => undefined);
      clock.advance(10); // committed
      clock.advance(50); // first round 1..5 delivered at 10 ms spacing
      assert.deepEqual(delivered.map((d) => d.id), [1, 2, 3, 4, 5]);
      clock.advance(1000); // no ack for 1: link down, back to 1
      assert.equal(fwd.link, 'down');
      clock.advance(500); // probe: record 1 (read back with 2..5 into the read buffer)
      assert.deepEqual(delivered.slice(5).map((d) => d.id), [1]);
      fwd.ack([1]); // link up; rate-limited replay: 2 now, 3 in 10 ms ...
      fwd.ack([4]); // late ack of the first round's record 4 (it did arrive)
      clock.advance(200); // the ack of 4 is committed (row deleted); replay goes on
      assert.equal(queue.readAfter(3, 1)[0]?.id, 5, 'test premise: record 4 is deleted from the file');
      assert.deepEqual(delivered.slice(6).map((d) => d.id), [2, 3, 5], 'record 4 was acknowledged and deleted: it must not be sent again');
    });

    it('after a restart, an ack for a backlog record (confirming a delivery from before the restart) keeps it from being replayed once the ack is committed', () => {
      const clock = new ManualClock(1_000_000);
      const seed = durable(clock, {}, 'restart.sqlite');
      seed.append(['a', 'b', 'c', 'd', 'e'].map((t) => ({ body: t })));
      seed.close();
      const queue = durable(clock, {}, 'restart.sqlite');
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { ratePerSec: 100, burst: 1 });
      clock.advance(0); // replay starts at the delivery rate: 1 now
      assert.deepEqual(delivered.map((d) => d.id), [1]);
      fwd.ack([4]); // the uplink's confirmation of record 4, delivered before the restart
      clock.advance(200);
      assert.equal(queue.readAfter(3, 1)[0]?.id, 5, 'test premise: record 4 is deleted from the file');
      assert.deepEqual(delivered.map((d) => d.id), [1, 2, 3, 5], 'record 4 is acknowledged and deleted: replaying it is a needless duplicate');
    });

    it('a late ack for a record in the replay buffer is honoured after going offline and online again', () => {
      const clock = new ManualClock(1_000_000);
      const queue = durable(clock);
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { maxInFlight: 10 });
      for (const t of ['a', 'b', 'c', 'd', 'e']) fwd.enqueue({ body: t }, t, () => undefined);
      clock.advance(10);
      assert.equal(delivered.length, 5);
      clock.advance(1000); // down
      clock.advance(500); // probe of 1, the rest of the file in the read buffer
      fwd.setOnline(false);
      fwd.ack([4]); // late
      clock.advance(10); // committed
      fwd.setOnline(true);
      assert.deepEqual(delivered.slice(5).map((d) => d.id), [1, 2, 3, 5], 'the existing test "a late ack during the outage is not sent again", with the ack committed first');
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('forwarder: commits that fail', () => {
    it('a record held back by the in-flight limit is committed once the commits ahead of it fail (its done() is called)', () => {
      const clock = new ManualClock(0);
      const queue = new DeferredQueue(durable(clock));
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { commitMaxCount: 1 });
      const results: Array<[string, Error | null, number | null]> = [];
      queue.failNext = 4; // e.g. SQLITE_FULL, the disk frees up afterwards
      for (const t of ['a', 'b', 'c', 'd', 'e']) fwd.enqueue({ body: t }, t, (err, id) => results.push([t, err, id]));
      assert.equal(queue.inFlight, 4, 'test premise: four commits in flight, "e" held');
      clock.advance(10); // the commit timer finds four in flight
      queue.drain(); // the four fail ("e" may be committed right behind them)
      assert.ok(results.slice(0, 4).every(([, err]) => err instanceof Error));
      clock.advance(10_000);
      queue.drain();
      assert.deepEqual(results.slice(4), [['e', null, 1]], '"e" must not stay held for ever: its done() never comes');
    });

    it('acks of a failed commit are committed again without waiting for new traffic', () => {
      const clock = new ManualClock(0);
      const queue = new DeferredQueue(durable(clock));
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered);
      fwd.enqueue({ body: 'a' }, 'a', () => undefined);
      clock.advance(10);
      queue.drain();
      assert.deepEqual(delivered.map((d) => d.id), [1]);
      fwd.ack([1]);
      queue.failNext = 1;
      clock.advance(10); // the ack's commit is posted, and fails
      queue.drain();
      clock.advance(900); // well before the ack timeout could matter
      queue.drain();
      assert.equal(queue.inner.size, 0, 'the kept ack is committed by the next timer, not only by the next message');
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('forwarder over a WorkerQueue: close() and a dead worker', () => {
    it('close() with the in-flight limit reached still commits the acks it holds', () => {
      const clock = new ManualClock(0);
      const file = path.join(dir, 'acks.sqlite');
      const queue = new WorkerQueue({ path: file, synchronous: 'NORMAL', maxAgeMs: 0 });
      toClose.push(queue);
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { commitMaxCount: 1, ackTimeoutMs: 60_000 });
      fwd.enqueue({ body: 'a' }, 'a', () => undefined);
      queue.drain();
      assert.deepEqual(delivered.map((d) => d.id), [1]);
      for (const t of ['b', 'c', 'd', 'e']) fwd.enqueue({ body: t }, t, () => undefined);
      assert.equal(queue.commitsInFlight, 4, 'test premise: four commits in flight');
      fwd.ack([1]); // the uplink confirmed record 1
      fwd.close(); // redeploy
      queue.close();
      const reopened = durable(clock, {}, 'acks.sqlite');
      assert.deepEqual(reopened.readAfter(0, 10).map((r) => r.id), [2, 3, 4, 5], 'record 1 was acknowledged before close: its delete must be committed');
    });

    it('a dead worker does not make a timer throw (with the system clock that is an uncaught exception)', async () => {
      const clock = new ManualClock(0);
      const file = path.join(dir, 'dead.sqlite');
      const seed = new DurableQueue({ path: file, synchronous: 'NORMAL', maxAgeMs: 0 });
      seed.append([{ body: 'old1' }, { body: 'old2' }]);
      seed.close();
      const queue = new WorkerQueue({ path: file, synchronous: 'NORMAL', maxAgeMs: 0 });
      toClose.push(queue);
      const delivered: Array<Delivery<string>> = [];
      const events: ForwarderEvent[] = [];
      forwarder(queue, clock, delivered, { maxInFlight: 1 }, events);
      const worker = (queue as unknown as { worker: { terminate(): Promise<number>; once(e: string, f: () => void): void } }).worker;
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      await worker.terminate();
      await exited;
      // the forwarder's first pump (scheduled in its constructor) reads the backlog from the file
      assert.doesNotThrow(() => clock.advance(0), 'an exception out of a timer callback crashes Node-RED');
    });

    it('after the worker died, held records are refused with an error (done(err)) and nothing is delivered', async () => {
      const clock = new ManualClock(0);
      const queue = new WorkerQueue({ path: path.join(dir, 'dead2.sqlite'), synchronous: 'NORMAL', maxAgeMs: 0 });
      toClose.push(queue);
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered);
      const worker = (queue as unknown as { worker: { terminate(): Promise<number>; once(e: string, f: () => void): void } }).worker;
      const exited = new Promise<void>((r) => worker.once('exit', () => r()));
      await worker.terminate();
      await exited;
      const results: Array<[Error | null, number | null]> = [];
      fwd.enqueue({ body: 'x' }, 'x', (err, id) => results.push([err, id]));
      clock.advance(10);
      assert.equal(results.length, 1);
      assert.ok(results[0][0] instanceof Error);
      assert.equal(delivered.length, 0);
      fwd.close();
      assert.equal(results.length, 1, 'exactly one callback');
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('forwarder: randomised interleavings of commit results, acks, link flaps and timeouts', () => {
    for (const seed of Array.from({ length: Number(process.env.PIPELINE_SEEDS || 10) }, (_, i) => i + 1)) {
      it(`seed ${seed}: only committed, unacknowledged rows are delivered; no id twice without a rewind; ids ascend between rewinds; no throw`, () => {
        const random = rng(seed);
        const clock = new ManualClock(1_000_000);
        const capacity = seed % 3 === 0 ? {} : { maxCount: 12, policy: seed % 3 === 1 ? ('drop-oldest' as const) : ('thin-out' as const) };
        const inner = durable(clock, capacity, `fuzz${seed}.sqlite`);
        const queue = new DeferredQueue(inner);
        const delivered: Array<Delivery<string>> = [];
        const events: ForwarderEvent[] = [];
        const problems: string[] = [];
        const committedIds = new Set<number>();
        const ackedCommitted = new Set<number>();
        let lastSinceRewind = 0;
        let rewinds = 0;
        const seenSinceRewind = new Set<number>();
        const fwd = new StoreForwarder<string>({
          queue,
          clock,
          decode: (row) => row.body.toString(),
          deliver: (d) => {
            // an ack timeout (also one while offline or already down) goes back: start a new run
            const timeouts = (fwd as unknown as { counters: { ackTimeouts: number } }).counters.ackTimeouts;
            if (timeouts !== rewinds) {
              rewinds = timeouts;
              lastSinceRewind = 0;
              seenSinceRewind.clear();
            }
            // a delivered row must exist in the file (it may be read before its result arrived)
            const inFile = inner.readAfter(d.id - 1, 1)[0]?.id === d.id;
            if (!inFile && !committedIds.has(d.id)) problems.push(`delivered ${d.id}, never committed`);
            if (ackedCommitted.has(d.id)) problems.push(`delivered ${d.id} after its ack was committed${(fwd as any).cacheValid ? ' (from memory)' : ' (from the read buffer)'}`);
            if (seenSinceRewind.has(d.id)) problems.push(`delivered ${d.id} twice without a rewind`);
            if (d.id <= lastSinceRewind) problems.push(`delivered ${d.id} after ${lastSinceRewind} without a rewind`);
            seenSinceRewind.add(d.id);
            lastSinceRewind = d.id;
            delivered.push(d);
          },
          onEvent: (e) => events.push(e),
          commitIntervalMs: 10,
          commitMaxCount: 3,
          ackTimeoutMs: 200,
          retryIntervalMs: 100,
          maxInFlight: 5,
          ratePerSec: random() < 0.5 ? 0 : 500,
        });
        toClose.unshift(fwd);
        // remember every committed id and every committed ack, whatever the forwarder does
        const origAsync = queue.commitBatchAsync.bind(queue);
        queue.commitBatchAsync = (batch, acks, done) => {
          const before = inner.stats().lastId;
          // a commit that fails writes nothing: its acks are not committed, and a record read back
          // before its failure comes back may be sent again (a duplicate with its id, as
          // at-least-once allows), so only the acks of commits that succeed count here
          const willFail = queue.failNext > 0;
          origAsync(batch, acks, done);
          const after = inner.stats().lastId;
          for (let id = before + 1; id <= after; id++) committedIds.add(id);
          if (!willFail) for (const id of acks) ackedCommitted.add(id);
        };
        let n = 0;
        const callbacks = new Map<string, number>();
        const outstanding: number[] = [];
        try {
          for (let step = 0; step < Number(process.env.PIPELINE_STEPS || 1500); step++) {
            const r = random();
            if (r < 0.3) {
              const t = `m${n++}`;
              fwd.enqueue({ body: t }, t, () => {
                callbacks.set(t, (callbacks.get(t) ?? 0) + 1);
              });
            } else if (r < 0.49) {
              queue.answerOne();
            } else if (r < 0.5) {
              queue.failNext = 1;
            } else if (r < 0.65) {
              clock.advance(Math.floor(random() * 60));
            } else if (r < 0.8) {
              // the uplink confirms something it received (possibly late, possibly out of order)
              for (const d of delivered.slice(-8)) if (random() < 0.5) outstanding.push(d.id);
              if (outstanding.length) {
                const i = Math.floor(random() * outstanding.length);
                fwd.ack([outstanding.splice(i, 1)[0]]);
              }
            } else if (r < 0.84) {
              fwd.setOnline(false);
            } else if (r < 0.9) {
              fwd.setOnline(true);
            } else if (r < 0.915) {
              fwd.flush();
            } else if (r < 0.92) {
              if (random() < 0.2) fwd.reset();
              else fwd.maintain();
            } else {
              clock.advance(Math.floor(random() * 400));
            }
          }
        } catch (err) {
          problems.push(`threw: ${(err as Error).stack}`);
        }
        let ackedUpTo = 0;
        // the end: the link comes back for good and the uplink acknowledges everything it gets
        try {
          fwd.setOnline(true);
          for (let round = 0; round < 200; round++) {
            queue.drain();
            const fresh = delivered.slice(ackedUpTo).map((d) => d.id);
            ackedUpTo = delivered.length;
            if (fresh.length) fwd.ack(fresh);
            clock.advance(600);
          }
          queue.drain();
          if (inner.size !== 0) problems.push(`${inner.size} rows never delivered and acknowledged: ${inner.readAfter(0, 5).map((r) => r.id)}`);
          for (let i = 0; i < n; i++) if (callbacks.get(`m${i}`) !== 1) problems.push(`m${i}: callback called ${callbacks.get(`m${i}`) ?? 0} times`);
        } catch (err) {
          problems.push(`threw at the end: ${(err as Error).stack}`);
        }
        const shown = process.env.PIPELINE_HIDE_READBUF ? problems.filter((p) => !p.includes('(from the read buffer)')) : problems;
        assert.deepEqual(shown.slice(0, 5), []);
      });
    }
  });

  // ---------------------------------------------------------------------------------------------
  describe('forwarder: configuration from the environment', () => {
    it('an unrelated environment variable MCIF does not change whether messages are committed (debug knob in forwarder.ts)', () => {
      const script = `
        const { DurableQueue } = require(${JSON.stringify(path.join(__dirname, '../../../lib/store/queue'))});
        const { StoreForwarder } = require(${JSON.stringify(path.join(__dirname, '../../../lib/store/forwarder'))});
        const { ManualClock } = require(${JSON.stringify(path.join(__dirname, '../../../lib/store/clock'))});
        const clock = new ManualClock(0);
        const queue = new DurableQueue({ path: ':memory:', maxAgeMs: 0 });
        const fwd = new StoreForwarder({ queue, clock, decode: (r) => r.body.toString(), deliver: () => {} });
        let result = 'never called';
        fwd.enqueue({ body: 'x' }, 'x', (err, id) => { result = err ? err.message : 'id ' + id; });
        clock.advance(1000);
        process.stdout.write(result);
      `;
      const run = (mcif: string) => {
        const out = require('child_process').spawnSync(process.execPath, ['-r', 'tsx/cjs', '-e', script], { env: { ...process.env, MCIF: mcif }, encoding: 'utf8', cwd: path.join(__dirname, '../../..') });
        return String(out.stdout) + String(out.stderr).slice(0, 300);
      };
      assert.equal(run('0'), 'id 1', 'with MCIF=0 in the environment');
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('DurableQueue range deletes and close()', () => {
    it('acks (runs, scattered, duplicates, unknown ids) keep count, bytes and the acked total equal to the rows on disk (property)', () => {
      const clock = new ManualClock(0);
      const queue = durable(clock, {}, 'acks-prop.sqlite');
      const random = rng(99);
      const model = new Map<number, number>();
      let ackedTotal = 0;
      for (let round = 0; round < 300; round++) {
        const entries = Array.from({ length: Math.floor(random() * 40) }, () => ({ body: 'x'.repeat(1 + Math.floor(random() * 50)) }));
        const acks: number[] = [];
        const live = [...model.keys()];
        const mode = random();
        if (live.length && mode < 0.4) {
          // a run, perhaps with duplicates and an unknown id past the end
          const start = Math.floor(random() * live.length);
          for (let i = start; i < Math.min(live.length, start + Math.floor(random() * 30)); i++) acks.push(live[i]);
          if (acks.length && random() < 0.5) acks.push(acks[0]);
          acks.push(1_000_000 + round);
        } else if (live.length && mode < 0.8) {
          for (const id of live) if (random() < 0.2) acks.push(id);
          acks.push(-5, 0);
        }
        const result = queue.commit(entries, acks);
        let removed = 0;
        for (const id of new Set(acks)) if (model.delete(id)) removed++;
        assert.equal(result.acked, removed, `round ${round}: acked`);
        ackedTotal += removed;
        result.ids.forEach((id, i) => model.set(id as number, Buffer.byteLength(entries[i].body)));
        assert.equal(queue.size, model.size, `round ${round}: count`);
        assert.equal(queue.storedBytes, [...model.values()].reduce((a, b) => a + b, 0), `round ${round}: bytes`);
      }
      const s = queue.stats();
      assert.equal(s.totals.acked, ackedTotal);
      assert.deepEqual(queue.readAfter(0, 100_000).map((r) => r.id), [...model.keys()]);
    });

    it('StoreForwarder.close() leaves no timer behind, whatever state it is in (held, in flight, down, rate-limited)', () => {
      const clock = new ManualClock(0);
      const queue = durable(clock, {}, 'timers.sqlite');
      const delivered: Array<Delivery<string>> = [];
      const fwd = forwarder(queue, clock, delivered, { ratePerSec: 10, burst: 1, maxInFlight: 3 });
      for (let i = 0; i < 10; i++) fwd.enqueue({ body: `r${i}` }, `r${i}`, () => undefined);
      clock.advance(10);
      clock.advance(1000); // ack timeout: down, probing
      fwd.enqueue({ body: 'held' }, 'held', () => undefined);
      fwd.ack([1]);
      fwd.close();
      assert.equal(clock.pending, 0);
    });
  });

  // ---------------------------------------------------------------------------------------------
  describe('RecordBatch and IdQueue edge cases', () => {
    it('RecordBatch: the buffer handed out by take() is never written again (transfer-safe), also after growth', () => {
      const batch = new RecordBatch();
      batch.append('x'.repeat(70_000), 't');
      const first = batch.take();
      const copy = Buffer.from(new Uint8Array(first.bytes).slice());
      for (let i = 0; i < 2000; i++) batch.append(`ü€${i}😀`, i % 3 ? 'a' : null);
      batch.take();
      assert.ok(Buffer.from(first.bytes).equals(copy), 'the first batch was not touched by later appends');
      const { port1, port2 } = new (require('worker_threads').MessageChannel)();
      const again = new RecordBatch();
      again.append('abc');
      const p = again.take();
      port1.postMessage(p, [p.bytes, p.ends.buffer, p.topicIndex.buffer]);
      assert.equal(p.bytes.byteLength, 0, 'transferred: detached');
      again.append('defg'); // must write into a fresh buffer, not the detached one
      const q = again.take();
      assert.deepEqual(unpackEntries(q).map((e) => e.body.toString()), ['defg']);
      port1.close();
      port2.close();
    });

    it('RecordBatch: Buffers that are views (pooled, subarray, typed-array views) keep only their own bytes; lone surrogates and empty records', () => {
      const batch = new RecordBatch();
      const big = Buffer.from('0123456789');
      const view = big.subarray(3, 6);
      const f32 = new Float32Array([1, 2, 3, 4]);
      const u8view = new Uint8Array(f32.buffer, 4, 8);
      batch.append(view, 'v');
      batch.append(u8view);
      batch.append('');
      batch.append('\ud800x\udc00');
      batch.append(Buffer.alloc(0), '');
      const out = unpackEntries(batch.take());
      assert.equal(out[0].body.toString(), '345');
      assert.deepEqual([...(out[1].body as Buffer)], [...Buffer.from(f32.buffer, 4, 8)]);
      assert.equal(out[2].body.length, 0);
      assert.deepEqual(out[3].body, Buffer.from('\ud800x\udc00'));
      assert.equal(out[4].body.length, 0);
      assert.deepEqual(out.map((e) => e.topic), ['v', null, null, null, '']);
    });

    it('IdQueue: removing every entry leaves it empty and lets ascending pushes continue; tombstones across compaction', () => {
      const q = new IdQueue<number>();
      for (let i = 1; i <= 3000; i++) q.push(i, i);
      for (let i = 2; i <= 3000; i += 2) q.remove(i);
      for (let i = 0; i < 1200; i++) q.shift();
      assert.equal(q.size, 300);
      assert.equal(q.firstId(), 2401);
      for (let i = 2401; i <= 3000; i += 2) assert.ok(q.remove(i));
      assert.equal(q.size, 0);
      assert.equal(q.firstId(), undefined);
      q.push(3001, 1);
      assert.equal(q.firstId(), 3001);
      assert.throws(() => q.push(3001, 1));
    });
  });
});
