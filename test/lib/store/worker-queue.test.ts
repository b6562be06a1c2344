import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as v8 from 'v8';
import { DurableQueue, StoreError, type AppendEntry, type CommitResult } from '../../../lib/store/queue';
import { packEntries } from '../../../lib/store/record-batch';
import { WorkerQueue, type CommitCallback } from '../../../lib/store/worker-queue';
import { StoreForwarder, type Delivery, type ForwarderEvent } from '../../../lib/store/forwarder';
import { ManualClock } from '../../../lib/store/clock';
import { encodeBody, decodeMessage } from '../../../lib/store/codec';

const b = (s: string) => Buffer.from(s);

/** WorkerQueue's asynchronous commit of plain entries. */
function commitAsync(queue: WorkerQueue, entries: AppendEntry[], acks: number[], done: CommitCallback): void {
  queue.commitBatchAsync(packEntries(entries), acks, done);
}

/** Poll the event loop until `predicate()` holds (commit results arrive as events). */
async function until(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe('lib/store WorkerQueue (SQLite on a worker thread)', () => {
  let dir: string;
  const open: Array<{ close(): void }> = [];
  const wq = (opts: Partial<ConstructorParameters<typeof WorkerQueue>[0]> = {}, name = 'q.sqlite') => {
    const queue = new WorkerQueue({ path: path.join(dir, name), synchronous: 'NORMAL', maxAgeMs: 0, ...opts });
    open.push(queue);
    return queue;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-wq-'));
  });
  afterEach(() => {
    for (const x of open.splice(0)) x.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stores and reads back exactly what DurableQueue does (ids, topics, bytes, Buffers)', () => {
    const v8Body = v8.serialize({ payload: new Float32Array([1.5, -2]) });
    // a small Buffer is a view into Node's shared 8 KB pool: only its own bytes may be stored
    const pooled = Buffer.from('pooled');
    assert.ok(pooled.byteLength < pooled.buffer.byteLength, 'test premise: a pooled view');
    const entries = [{ body: '{"a":1}', topic: 't1' }, { body: b('bb') }, { body: v8Body, topic: 't2' }, { body: pooled, topic: 't1' }, { body: 'ünïcode', topic: null }];
    const worker = wq();
    const direct = new DurableQueue({ path: path.join(dir, 'direct.sqlite'), synchronous: 'NORMAL', maxAgeMs: 0 });
    open.push(direct);
    assert.deepEqual(worker.append(entries), direct.append(entries));
    const rows = worker.readAfter(0, 10);
    const withoutTime = (rs: typeof rows) => rs.map(({ ts: _ts, ...rest }) => rest);
    assert.deepEqual(withoutTime(rows), withoutTime(direct.readAfter(0, 10)));
    assert.ok(rows.every((r) => Buffer.isBuffer(r.body)), 'bodies come back as Buffers');
    assert.equal(rows[4].body.toString(), 'ünïcode');
    assert.equal(worker.size, 5);
    assert.equal(worker.storedBytes, direct.storedBytes, 'strings are counted in UTF-8 bytes');
    assert.deepEqual(worker.head(), { id: 1, ts: worker.head()!.ts });
    const { file: _f, ...stats } = worker.stats();
    const { file: _g, ...directStats } = direct.stats();
    assert.deepEqual({ ...stats, oldestTs: 0 }, { ...directStats, oldestTs: 0 });
  });

  for (const level of ['FULL', 'NORMAL'] as const) {
    it(`sets synchronous ${level} on the worker's connection and reads it back`, () => {
      const queue = wq({ synchronous: level });
      assert.equal(queue.synchronousInForce(), level);
      assert.equal(queue.journalMode(), 'wal');
      assert.equal(queue.stats().connections, 1);
    });
  }

  it('commitBatchAsync: results come back in order as events, with the same outcome as a direct commit', async () => {
    const queue = wq({ policy: 'refuse-newest', maxCount: 3 });
    const results: CommitResult[] = [];
    commitAsync(queue, [{ body: 'a' }, { body: 'b' }], [], (err, r) => results.push(r!));
    commitAsync(queue, [{ body: 'c' }, { body: 'd' }], [], (err, r) => results.push(r!));
    commitAsync(queue, [], [1], (err, r) => results.push(r!));
    assert.equal(results.length, 0, 'nothing answered synchronously');
    assert.equal(queue.commitsInFlight, 3);
    await until(() => results.length === 3);
    assert.deepEqual(results[0].ids, [1, 2]);
    assert.deepEqual(results[1].ids, [3, null], 'the fourth record is refused (count limit 3)');
    assert.match(String(results[1].refusedReasons[1]), /queue full/);
    assert.equal(results[2].acked, 1);
    assert.equal(queue.size, 2);
  });

  it('a commit that cannot be posted fails at once and is not left waiting', () => {
    const queue = wq();
    const outcomes: Array<string> = [];
    queue.commitBatchAsync(packEntries([{ body: 'a' }]), [], (err) => outcomes.push(err ? 'failed' : 'ok'));
    const uncloneable = packEntries([{ body: 'b' }]);
    (uncloneable.topics as unknown[]).push(() => 'a function cannot cross to the worker');
    queue.commitBatchAsync(uncloneable, [], (err) => outcomes.push(err ? `failed: ${err.name}` : 'ok'));
    assert.deepEqual(outcomes, ['failed: DataCloneError']);
    assert.equal(queue.commitsInFlight, 1, 'only the first is in flight');
    queue.drain();
    assert.deepEqual(outcomes, ['failed: DataCloneError', 'ok']);
    assert.equal(queue.size, 1);
  });

  it('drain() runs the callbacks of every commit in flight before it returns', () => {
    const queue = wq();
    const ids: number[] = [];
    for (let i = 0; i < 5; i++) commitAsync(queue, [{ body: `r${i}` }], [], (err, r) => ids.push(r!.ids[0]!));
    queue.drain();
    assert.deepEqual(ids, [1, 2, 3, 4, 5]);
    assert.equal(queue.commitsInFlight, 0);
  });

  it('a call after commitBatchAsync sees the commit even before its result event was handled', () => {
    const queue = wq();
    let answered = false;
    commitAsync(queue, [{ body: 'x' }], [], () => (answered = true));
    assert.deepEqual(queue.readAfter(0, 10).map((r) => r.body.toString()), ['x']);
    assert.equal(answered, false, 'the result is still an event to come');
  });

  it('lastKnownState(): count, bytes and oldest record as of the last answer, without a call', async () => {
    const queue = wq();
    assert.deepEqual(queue.lastKnownState(), { count: 0, bytes: 0, head: null });
    let done = false;
    commitAsync(queue, [{ body: 'abc' }, { body: 'de' }], [], () => (done = true));
    assert.equal(queue.lastKnownState().count, 0, 'not yet answered');
    await until(() => done);
    const s = queue.lastKnownState();
    assert.equal(s.count, 2);
    assert.equal(s.bytes, 5);
    assert.equal(s.head?.id, 1);
    queue.reset();
    assert.deepEqual(queue.lastKnownState(), { count: 0, bytes: 0, head: null }, 'a call updates it too');
  });

  it('StoreForwarder.maintain() on a WorkerQueue expires old records through an asynchronous commit', async () => {
    const queue = wq({ maxAgeMs: 30 }, 'age.sqlite');
    const events: ForwarderEvent[] = [];
    const fwd = new StoreForwarder<string>({ queue, decode: (row) => row.body.toString(), deliver: () => undefined, onEvent: (e) => events.push(e), startOnline: false });
    open.unshift(fwd);
    for (const t of ['a', 'b', 'c']) fwd.enqueue({ body: t }, t, () => undefined);
    fwd.flush();
    queue.drain();
    assert.equal(queue.lastKnownState().count, 3);
    await new Promise((r) => setTimeout(r, 60));
    fwd.maintain();
    assert.equal(events.length, 0, 'the drop is reported by the commit result, later');
    await until(() => events.some((e) => e.type === 'dropped'));
    const dropped = events.find((e) => e.type === 'dropped') as Extract<ForwarderEvent, { type: 'dropped' }>;
    assert.equal(dropped.dropped.expired, 3);
    assert.equal(queue.lastKnownState().count, 0);
  });

  it('close() finishes the commits in flight; later calls fail with a closed StoreError', () => {
    const queue = wq({}, 'c.sqlite');
    let id: number | null = null;
    commitAsync(queue, [{ body: 'last' }], [], (err, r) => (id = r!.ids[0]));
    queue.close();
    assert.equal(id, 1);
    assert.throws(() => queue.size, (e: unknown) => e instanceof StoreError && e.code === 'closed');
    let error: Error | null = null;
    commitAsync(queue, [{ body: 'late' }], [], (err) => (error = err));
    assert.ok(error && (error as StoreError).code === 'closed');
    const reopened = wq({}, 'c.sqlite');
    assert.deepEqual(reopened.readAfter(0, 10).map((r) => r.body.toString()), ['last']);
  });

  it('a file locked by another queue is the same "locked" StoreError as on the main thread', () => {
    const holder = new DurableQueue({ path: path.join(dir, 'l.sqlite'), maxAgeMs: 0 });
    open.push(holder);
    assert.throws(() => wq({}, 'l.sqlite'), (e: unknown) => e instanceof StoreError && e.code === 'locked' && /locked by another/.test(e.message));
  });

  it('a corrupt file is moved aside on the worker and reported through `recovery`', () => {
    const file = path.join(dir, 'bad.sqlite');
    fs.writeFileSync(file, Buffer.alloc(8192, 7));
    const queue = wq({}, 'bad.sqlite');
    assert.ok(queue.recovery);
    assert.ok(fs.existsSync(queue.recovery!.movedTo));
    assert.deepEqual(queue.append([{ body: 'fresh' }]).ids, [1]);
  });

  it('bad options are refused with the queue\'s own errors', () => {
    assert.throws(() => wq({ synchronous: 'OFF' as never }), (e: unknown) => e instanceof StoreError && e.code === 'synchronous');
  });

  it('StoreForwarder over a WorkerQueue: a record read back from the file before its commit result arrives is not delivered again', async () => {
    const file = 'race.sqlite';
    const backlog = wq({}, file);
    backlog.append([{ body: 'old' }]);
    backlog.close();
    open.splice(open.indexOf(backlog), 1);
    const queue = wq({}, file);
    const clock = new ManualClock(0);
    const delivered: Array<[number, string]> = [];
    const fwd = new StoreForwarder<string>({ queue, clock, decode: (row) => `file:${row.body.toString()}`, deliver: (d) => delivered.push([d.id, d.value]), commitMaxCount: 1, ackTimeoutMs: 0 });
    open.unshift(fwd);
    let accepted = false;
    fwd.enqueue({ body: 'new' }, 'memory:new', () => (accepted = true)); // commit posted, result still to come
    clock.advance(0); // the first pump reads the file: the worker has committed 'new' by then
    assert.deepEqual(delivered, [[1, 'file:old'], [2, 'file:new']]);
    await until(() => accepted);
    clock.advance(10);
    assert.deepEqual(delivered, [[1, 'file:old'], [2, 'file:new']], 'the commit result must not deliver record 2 again from memory');
  });

  it('StoreForwarder over a WorkerQueue: replay from the file overlapping commits in flight delivers each record once, in order', async () => {
    const file = 'fwd.sqlite';
    // a backlog, so the forwarder starts by reading rows back from the file
    const backlog = wq({}, file);
    backlog.append(Array.from({ length: 300 }, (_, i) => ({ body: encodeBody({ payload: i }) as string })));
    backlog.close();
    open.splice(open.indexOf(backlog), 1);

    const queue = wq({}, file);
    const clock = new ManualClock(0);
    const delivered: Array<Delivery<Record<string, unknown>>> = [];
    const accepted: number[] = [];
    const fwd = new StoreForwarder<Record<string, unknown>>({
      queue,
      clock,
      decode: (row) => decodeMessage(row.body),
      deliver: (d) => {
        delivered.push(d);
        fwd.ack([d.id]);
      },
      commitMaxCount: 7,
      ackTimeoutMs: 0,
      maxInFlight: 20,
    });
    open.unshift(fwd); // closed before its queue
    // new records arrive while the backlog is being read back: their commits are in flight
    // while replay reads reach their rows
    for (let i = 300; i < 600; i++) {
      fwd.enqueue({ body: encodeBody({ payload: i }) }, { payload: i }, (err, id) => {
        assert.equal(err, null);
        accepted.push(id!);
      });
      if (i % 5 === 0) clock.advance(1);
      if (i % 50 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    clock.advance(50);
    await until(() => {
      clock.advance(10);
      return delivered.length >= 600 && accepted.length === 300;
    });
    clock.advance(100);
    const ids = delivered.map((d) => d.id);
    assert.deepEqual(ids, Array.from({ length: 600 }, (_, i) => i + 1), 'every record once, in id order');
    assert.deepEqual(delivered.map((d) => d.value.payload), Array.from({ length: 600 }, (_, i) => i));
    fwd.close();
    assert.equal(queue.size, 0, 'all acknowledged records removed');
  });
});
