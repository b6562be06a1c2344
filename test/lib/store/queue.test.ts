import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import fc from 'fast-check';
import Database = require('better-sqlite3');
import { DurableQueue, StoreError } from '../../../lib/store/queue';

const b = (s: string) => Buffer.from(s);

describe('lib/store DurableQueue', () => {
  let dir: string;
  const open: DurableQueue[] = [];
  const q = (opts: Partial<ConstructorParameters<typeof DurableQueue>[0]> = {}, name = 'q.sqlite') => {
    const queue = new DurableQueue({ path: path.join(dir, name), maxAgeMs: 0, ...opts });
    open.push(queue);
    return queue;
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-q-'));
  });
  afterEach(() => {
    for (const x of open.splice(0)) x.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('hands out growing ids and reads back in FIFO order', () => {
    const queue = q();
    const r = queue.append([{ body: b('a'), topic: 't1' }, { body: b('bb') }, { body: b('ccc'), topic: 't2' }]);
    assert.deepEqual(r.ids, [1, 2, 3]);
    const rows = queue.readAfter(0, 10);
    assert.deepEqual(rows.map((x) => [x.id, x.topic, x.body.toString()]), [[1, 't1', 'a'], [2, null, 'bb'], [3, 't2', 'ccc']]);
    assert.deepEqual(queue.readAfter(1, 1).map((x) => x.id), [2]);
    assert.equal(queue.size, 3);
    assert.equal(queue.storedBytes, 6);
    assert.deepEqual(queue.lastKnownState(), { count: 3, bytes: 6, head: queue.head() });
    assert.equal(queue.lastKnownState().head?.id, 1);
  });

  it('acks remove rows; ids are never reused, also after emptying and reopening', () => {
    const queue = q();
    queue.append([{ body: b('a') }, { body: b('b') }]);
    assert.equal(queue.ack([1, 2, 99]), 2);
    assert.equal(queue.size, 0);
    assert.deepEqual(queue.append([{ body: b('c') }]).ids, [3]);
    queue.ack([3]);
    queue.close();
    const again = q();
    assert.deepEqual(again.append([{ body: b('d') }]).ids, [4]);
    const s = again.stats();
    assert.equal(s.lastId, 4);
    assert.equal(s.totals.appended, 4);
    assert.equal(s.totals.acked, 3);
  });

  it('acks as runs of ids and as scattered ids both count only rows still stored, with their bytes', () => {
    const queue = q();
    queue.append(Array.from({ length: 10 }, (_, i) => ({ body: b('x'.repeat(i + 1)) }))); // ids 1..10, 1..10 bytes
    assert.equal(queue.ack([4, 3, 5, 5]), 3, 'a run, unordered, with a repeat');
    assert.equal(queue.storedBytes, 55 - 12);
    assert.equal(queue.ack([1, 9, 7]), 3, 'scattered');
    assert.equal(queue.storedBytes, 55 - 12 - 17);
    assert.equal(queue.ack(Array.from({ length: 12 }, (_, i) => i + 1)), 4, 'one run over rows already gone and ids never used');
    assert.equal(queue.size, 0);
    assert.equal(queue.storedBytes, 0);
    assert.equal(queue.stats().totals.acked, 10);
  });

  it('keeps rows and counters across reopen', () => {
    const queue = q({ maxCount: 2 });
    queue.append([{ body: b('1') }, { body: b('22') }, { body: b('333') }]);
    queue.close();
    const again = q({ maxCount: 2 });
    const s = again.stats();
    assert.equal(s.count, 2);
    assert.equal(s.bytes, 5);
    assert.equal(s.oldestId, 2);
    assert.equal(s.newestId, 3);
    assert.equal(s.totals.dropped.oldest, 1);
  });

  for (const level of ['FULL', 'NORMAL'] as const) {
    it(`sets synchronous ${level} on every connection it opens and reads it back`, () => {
      const file = path.join(dir, 'sync.sqlite');
      // the file is created and switched to WAL by another connection with the opposite setting
      const other = new Database(file);
      other.pragma('journal_mode = WAL');
      other.pragma(`synchronous = ${level === 'FULL' ? 'NORMAL' : 'FULL'}`);
      other.close();
      const queue = q({ synchronous: level }, 'sync.sqlite');
      assert.equal(queue.connectionsOpened, 1);
      assert.equal(queue.synchronousInForce(), level);
      assert.equal(queue.journalMode(), 'wal');
      assert.equal(queue.stats().synchronous, level);
      queue.close();
      // and on the connection opened after moving a corrupt file aside
      fs.writeFileSync(path.join(dir, 'bad.sqlite'), Buffer.alloc(4096, 0x41));
      const fresh = q({ synchronous: level }, 'bad.sqlite');
      assert.ok(fresh.recovery);
      assert.equal(fresh.connectionsOpened, 1);
      assert.equal(fresh.synchronousInForce(), level);
    });
  }

  it('refuses an unknown synchronous level', () => {
    assert.throws(() => q({ synchronous: 'OFF' as never }), (e: unknown) => e instanceof StoreError && e.code === 'synchronous');
  });

  it('drop-oldest by count and by bytes', () => {
    const byCount = q({ maxCount: 5, policy: 'drop-oldest' }, 'count.sqlite');
    const r = byCount.append(Array.from({ length: 8 }, (_, i) => ({ body: b(String(i)) })));
    assert.deepEqual(r.ids, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.equal(r.dropped.oldest, 3);
    assert.deepEqual(r.droppedIds, [1, 2, 3]);
    assert.deepEqual(byCount.readAfter(0, 100).map((x) => x.id), [4, 5, 6, 7, 8]);

    // sizes 4, 4, 4, then 6: 18 > 12 bytes, dropping ids 1 and 2 leaves 10
    const byBytes = q({ maxBytes: 12, policy: 'drop-oldest' }, 'bytes.sqlite');
    byBytes.append([{ body: b('aaaa') }, { body: b('bbbb') }, { body: b('cccc') }]);
    const r2 = byBytes.append([{ body: b('dddddd') }]);
    assert.deepEqual(r2.droppedIds, [1, 2]);
    assert.equal(byBytes.storedBytes, 10);
    assert.deepEqual(byBytes.readAfter(0, 10).map((x) => x.body.toString()), ['cccc', 'dddddd']);
  });

  it('refuses a record larger than the whole byte capacity, whatever the policy', () => {
    const queue = q({ maxBytes: 4, policy: 'drop-oldest' });
    const r = queue.append([{ body: b('ok') }, { body: b('too long') }]);
    assert.deepEqual(r.ids, [1, null]);
    assert.match(String(r.refusedReasons[1]), /larger than the whole capacity/);
    assert.equal(r.dropped.refused, 1);
    assert.equal(queue.size, 1);
  });

  it('refuse-newest by count, bytes and age', () => {
    const byCount = q({ maxCount: 3, policy: 'refuse-newest' }, 'c.sqlite');
    const r = byCount.append(Array.from({ length: 5 }, () => ({ body: b('x') })));
    assert.deepEqual(r.ids, [1, 2, 3, null, null]);
    assert.equal(byCount.stats().totals.dropped.refused, 2);
    byCount.ack([1]);
    // refused records never took an id
    assert.deepEqual(byCount.append([{ body: b('y') }]).ids, [4]);

    const byBytes = q({ maxBytes: 5, policy: 'refuse-newest' }, 'b.sqlite');
    assert.deepEqual(byBytes.append([{ body: b('abc') }, { body: b('def') }, { body: b('gh') }]).ids, [1, null, 2]);

    let now = 1000;
    const byAge = q({ maxAgeMs: 500, policy: 'refuse-newest', now: () => now }, 'a.sqlite');
    byAge.append([{ body: b('old') }]);
    now = 1400;
    assert.deepEqual(byAge.append([{ body: b('still fits') }]).ids, [2]);
    now = 1501;
    const r3 = byAge.append([{ body: b('refused') }]);
    assert.deepEqual(r3.ids, [null]);
    assert.match(String(r3.refusedReasons[0]), /older than 500 ms/);
    assert.equal(byAge.size, 2, 'refuse-newest never expires stored rows');
  });

  it('a large commit group (multi-row inserts plus remainder) keeps ids, order, topics and sizes', () => {
    const queue = q({ maxBytes: 10_000, policy: 'refuse-newest' });
    // 200 entries: every 50th is larger than the whole capacity and refused in the middle of a group
    const entries = Array.from({ length: 200 }, (_, i) => ({ body: i % 50 === 49 ? Buffer.alloc(10_001, 1) : b(`m${i}`), topic: i % 3 === 0 ? `t${i}` : null }));
    const r = queue.append(entries);
    const expected: Array<number | null> = [];
    let next = 1;
    for (let i = 0; i < 200; i++) expected.push(i % 50 === 49 ? null : next++);
    assert.deepEqual(r.ids, expected);
    assert.equal(r.dropped.refused, 4);
    const rows = queue.readAfter(0, 1000);
    const kept = entries.filter((_, i) => i % 50 !== 49);
    assert.deepEqual(rows.map((x) => [x.id, x.topic, x.body.toString()]), kept.map((e, i) => [i + 1, e.topic, e.body.toString()]));
    const bytes = kept.reduce((n, e) => n + e.body.length, 0);
    assert.equal(queue.size, 196);
    assert.equal(queue.storedBytes, bytes);
    // a large ack list with duplicates and unknown ids removes each stored row once
    const acks = [...Array.from({ length: 100 }, (_, i) => i + 1), 5, 6, 7, 9999, 0];
    assert.equal(queue.ack(acks), 100);
    assert.equal(queue.size, 96);
    assert.equal(queue.storedBytes, kept.slice(100).reduce((n, e) => n + e.body.length, 0));
    assert.equal(queue.readAfter(0, 1)[0].id, 101);
    // the next group continues the numbering
    assert.deepEqual(queue.append(Array.from({ length: 70 }, () => ({ body: b('z') }))).ids, Array.from({ length: 70 }, (_, i) => 197 + i));
  });

  it('thin-out keeps every k-th stored row', () => {
    const k2 = q({ maxCount: 8, policy: 'thin-out', thinKeepEvery: 2 }, 'k2.sqlite');
    const r = k2.append(Array.from({ length: 9 }, (_, i) => ({ body: b(String(i + 1)) })));
    assert.equal(r.dropped.thinned, 4);
    assert.deepEqual(k2.readAfter(0, 100).map((x) => x.id), [1, 3, 5, 7, 9]);
    assert.equal(k2.stats().totals.dropped.thinned, 4);

    const k3 = q({ maxCount: 6, policy: 'thin-out', thinKeepEvery: 3 }, 'k3.sqlite');
    k3.append(Array.from({ length: 7 }, () => ({ body: b('x') })));
    assert.deepEqual(k3.readAfter(0, 100).map((x) => x.id), [1, 4, 7]);
    // thinning again thins the already thinned part further: 1 4 7 8 9 10 11 -> 1 8 11
    k3.append(Array.from({ length: 4 }, () => ({ body: b('x') })));
    assert.deepEqual(k3.readAfter(0, 100).map((x) => x.id), [1, 8, 11]);
  });

  it('expires rows older than the age limit (drop-oldest and thin-out)', () => {
    for (const policy of ['drop-oldest', 'thin-out'] as const) {
      let now = 0;
      const queue = q({ maxAgeMs: 1500, policy, now: () => now }, `${policy}.sqlite`);
      queue.append([{ body: b('t0') }]);
      now = 1000;
      queue.append([{ body: b('t1000') }]);
      now = 1400;
      queue.append([{ body: b('t1400') }]);
      assert.equal(queue.size, 3, 'nothing older than 1500 ms yet');
      now = 2600; // cutoff 1100: t0 and t1000 are too old
      const r = queue.commit([], []);
      assert.deepEqual(r.droppedIds, [1, 2]);
      assert.equal(r.dropped.expired, 2);
      assert.deepEqual(queue.readAfter(0, 10).map((x) => x.body.toString()), ['t1400']);
    }
  });

  it('moves a file that is not a database aside and starts fresh', () => {
    const file = path.join(dir, 'garbage.sqlite');
    const garbage = Buffer.alloc(8192, 0x5a);
    fs.writeFileSync(file, garbage);
    const queue = q({}, 'garbage.sqlite');
    assert.ok(queue.recovery);
    assert.match(queue.recovery.reason, /not a database/);
    assert.ok(queue.recovery.movedTo.startsWith(file + '.corrupt-'));
    assert.deepEqual(fs.readFileSync(queue.recovery.movedTo), garbage);
    assert.deepEqual(queue.append([{ body: b('x') }]).ids, [1]);
  });

  it('detects a damaged database with quick_check and moves it aside', () => {
    const file = path.join(dir, 'damaged.sqlite');
    const first = new DurableQueue({ path: file, maxAgeMs: 0 });
    first.append(Array.from({ length: 3000 }, (_, i) => ({ body: Buffer.alloc(100, i % 256) })));
    first.close();
    const db = new Database(file);
    db.pragma('wal_checkpoint(TRUNCATE)');
    db.close();
    const bytes = fs.readFileSync(file);
    const pageSize = bytes.readUInt16BE(16);
    assert.ok(bytes.length / pageSize > 20, 'file has enough pages to damage');
    // overwrite pages 3..10 (table b-tree pages) with junk, keep the header page intact
    for (let p = 2; p < 10; p++) bytes.fill(0xee, p * pageSize, (p + 1) * pageSize);
    fs.writeFileSync(file, bytes);
    const queue = q({}, 'damaged.sqlite');
    assert.ok(queue.recovery, 'recovery reported');
    assert.ok(fs.existsSync(queue.recovery.movedTo));
    assert.equal(queue.size, 0);
  });

  it('reports a file locked by another queue clearly, without moving it', () => {
    const a = q({}, 'shared.sqlite');
    a.append([{ body: b('keep') }]);
    assert.throws(() => q({}, 'shared.sqlite'), (e: unknown) => e instanceof StoreError && e.code === 'locked' && /locked by another/.test(e.message));
    assert.equal(a.readAfter(0, 1)[0].body.toString(), 'keep');
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('corrupt')), []);
  });

  it('refuses a database whose queue table is not an edge-cache queue', () => {
    const file = path.join(dir, 'foreign.sqlite');
    const db = new Database(file);
    db.exec('CREATE TABLE queue (x TEXT)');
    db.close();
    assert.throws(() => q({}, 'foreign.sqlite'), (e: unknown) => e instanceof StoreError && e.code === 'schema');
  });

  it('reset() removes everything and counts it', () => {
    const queue = q();
    queue.append([{ body: b('a') }, { body: b('b') }]);
    assert.equal(queue.reset(), 2);
    const s = queue.stats();
    assert.equal(s.count, 0);
    assert.equal(s.totals.dropped.reset, 2);
  });

  it('a failing transaction leaves count and bytes as they were', () => {
    const queue = q();
    queue.append([{ body: b('abc') }]);
    assert.throws(() => queue.append([{ body: b('x') }, { body: { length: 1 } as unknown as Buffer }]));
    assert.equal(queue.size, 1);
    assert.equal(queue.storedBytes, 3);
    assert.deepEqual(queue.readAfter(0, 10).map((x) => x.id), [1]);
  });

  it('behaves like an in-memory FIFO model under random appends and acks (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.record({ append: fc.integer({ min: 1, max: 5 }) }), fc.record({ ack: fc.array(fc.integer({ min: 1, max: 40 }), { maxLength: 4 }) })), { maxLength: 25 }),
        fc.integer({ min: 0, max: 6 }),
        (ops, maxCount) => {
          const queue = new DurableQueue({ path: ':memory:', maxAgeMs: 0, maxCount, policy: 'drop-oldest' });
          const model: number[] = [];
          let next = 1;
          try {
            for (const op of ops) {
              if ('append' in op) {
                const r = queue.append(Array.from({ length: op.append }, () => ({ body: b('m') })));
                for (const id of r.ids) {
                  assert.equal(id, next);
                  model.push(next++);
                }
                while (maxCount > 0 && model.length > maxCount) model.shift();
              } else {
                queue.ack(op.ack);
                for (const id of op.ack) {
                  const i = model.indexOf(id);
                  if (i >= 0) model.splice(i, 1);
                }
              }
              assert.deepEqual(queue.readAfter(0, 1000).map((x) => x.id), model);
              assert.equal(queue.size, model.length);
            }
          } finally {
            queue.close();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});
