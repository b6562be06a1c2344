import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DurableQueue, type QueueOptions } from '../../../lib/store/queue';
import { StoreForwarder, QueueFullError, type Delivery, type ForwarderEvent, type ForwarderOptions } from '../../../lib/store/forwarder';
import { ManualClock } from '../../../lib/store/clock';
import { stringForwarder } from './string-forwarder';

interface Rig {
  clock: ManualClock;
  queue: DurableQueue;
  fwd: StoreForwarder<string>;
  delivered: Array<Delivery<string>>;
  events: ForwarderEvent[];
  accepted: Array<[string, Error | null, number | null]>;
  put(text: string): void;
}

describe('lib/store StoreForwarder', () => {
  let dir: string;
  const rigs: Rig[] = [];

  function rig(opts: Partial<ForwarderOptions<string>> = {}, qopts: Partial<QueueOptions> = {}, file = 'f.sqlite', clock = new ManualClock(1_000_000)): Rig {
    const queue = new DurableQueue({ path: path.join(dir, file), synchronous: 'NORMAL', maxAgeMs: 0, now: () => clock.now(), ...qopts });
    const delivered: Array<Delivery<string>> = [];
    const events: ForwarderEvent[] = [];
    const accepted: Array<[string, Error | null, number | null]> = [];
    const fwd = stringForwarder(queue, clock, delivered, events, opts);
    const r: Rig = {
      clock,
      queue,
      fwd,
      delivered,
      events,
      accepted,
      put: (text) => fwd.enqueue({ body: Buffer.from(text) }, text, (err, id) => accepted.push([text, err, id])),
    };
    rigs.push(r);
    return r;
  }
  const closeRig = (r: Rig) => {
    r.fwd.close();
    r.queue.close();
    rigs.splice(rigs.indexOf(r), 1);
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-f-'));
  });
  afterEach(() => {
    for (const r of rigs.splice(0)) {
      r.fwd.close();
      r.queue.close();
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('accepts a message only at its grouped commit, then delivers it', () => {
    const r = rig();
    r.put('a');
    r.put('b');
    r.clock.advance(9);
    assert.equal(r.accepted.length, 0, "nothing accepted before the commit");
    assert.equal(r.queue.size, 0, 'nothing stored before the commit');
    assert.equal(r.delivered.length, 0);
    r.clock.advance(1);
    assert.deepEqual(r.accepted, [['a', null, 1], ['b', null, 2]]);
    assert.equal(r.fwd.stats().counters.commits, 1, 'both in one transaction');
    assert.deepEqual(r.delivered.map((d) => [d.id, d.value, d.redelivery]), [[1, 'a', false], [2, 'b', false]]);
  });

  it('on an empty file the first commit group is delivered from memory (the caller\'s values, not decoded rows)', () => {
    let decoded = 0;
    // the count commits at once, before the constructor's first pump timer has run
    const r = rig({ decode: (row) => `decoded:${(decoded++, row.body.toString())}`, commitMaxCount: 2 });
    r.put('a');
    r.put('b');
    assert.deepEqual(r.delivered.map((d) => [d.id, d.value]), [[1, 'a'], [2, 'b']]);
    assert.equal(decoded, 0);
  });

  it('with a backlog on open, the backlog is read back from the file before new records', () => {
    const first = rig({}, {}, 'b.sqlite');
    first.fwd.setOnline(false);
    first.put('old');
    first.clock.advance(10);
    closeRig(first);
    const r = rig({}, {}, 'b.sqlite');
    r.put('new');
    r.clock.advance(10);
    assert.deepEqual(r.delivered.map((d) => [d.id, d.value, d.redelivery]), [[1, 'old', true], [2, 'new', false]]);
  });

  it('commits as soon as the count is reached', () => {
    const r = rig({ commitMaxCount: 3, commitIntervalMs: 1000 });
    r.put('a');
    r.put('b');
    assert.equal(r.accepted.length, 0);
    r.put('c');
    assert.deepEqual(r.accepted.map((x) => x[2]), [1, 2, 3]);
  });

  it('counts only records for the commit count: acks ride on the records\' commit or the timer', () => {
    const r = rig({ commitMaxCount: 3, commitIntervalMs: 1000 });
    ['a', 'b', 'c'].forEach(r.put);
    assert.equal(r.fwd.stats().counters.commits, 1);
    r.fwd.ack([1, 2]);
    r.put('d');
    r.put('e');
    assert.equal(r.fwd.stats().counters.commits, 1, '2 records + 2 acks held: below the count of either');
    assert.equal(r.accepted.length, 3);
    r.put('f');
    assert.equal(r.fwd.stats().counters.commits, 2, 'the third record commits, acks included');
    assert.deepEqual(r.accepted.map((x) => x[2]), [1, 2, 3, 4, 5, 6]);
    assert.equal(r.queue.stats().totals.acked, 2);
    r.fwd.ack([3, 4, 5, 6]);
    assert.equal(r.fwd.stats().counters.commits, 2, 'acks alone do not commit by count');
    assert.equal(r.queue.size, 4);
    r.clock.advance(999);
    assert.equal(r.queue.size, 4);
    r.clock.advance(1);
    assert.equal(r.fwd.stats().counters.commits, 3, 'they commit at the commit interval');
    assert.equal(r.queue.size, 0);
  });

  it('acks remove messages; at most maxInFlight await an ack', () => {
    const r = rig({ maxInFlight: 2 });
    ['a', 'b', 'c', 'd', 'e'].forEach(r.put);
    r.clock.advance(10);
    assert.deepEqual(r.delivered.map((d) => d.value), ['a', 'b']);
    r.fwd.ack([1]);
    assert.deepEqual(r.delivered.map((d) => d.value), ['a', 'b', 'c']);
    r.fwd.ack([2, 3]);
    assert.deepEqual(r.delivered.map((d) => d.value), ['a', 'b', 'c', 'd', 'e']);
    r.fwd.ack([4, 5]);
    r.clock.advance(10);
    assert.equal(r.queue.size, 0);
    assert.equal(r.queue.stats().totals.acked, 5);
  });

  it('without an ack in time: link down, go back, probe, resume in order on the first ack', () => {
    const r = rig({ maxInFlight: 10 });
    ['a', 'b', 'c'].forEach(r.put);
    r.clock.advance(10);
    assert.equal(r.delivered.length, 3);
    r.clock.advance(999);
    assert.equal(r.fwd.link, 'online');
    r.clock.advance(1); // 1000 ms after delivery
    assert.equal(r.fwd.link, 'down');
    assert.deepEqual(r.events.filter((e) => e.type === 'link'), [{ type: 'link', state: 'down', reason: 'ack-timeout' }]);
    r.put('d');
    r.clock.advance(499);
    assert.equal(r.delivered.length, 3, 'nothing sent while down until the probe');
    r.clock.advance(1);
    assert.deepEqual(r.delivered.slice(3).map((d) => [d.id, d.redelivery]), [[1, true]], 'the probe is the oldest unacked message');
    // probe not acked: another timeout, another probe of the same message
    r.clock.advance(1000 + 500);
    assert.deepEqual(r.delivered.slice(4).map((d) => d.id), [1]);
    r.fwd.ack([1]);
    assert.equal(r.fwd.link, 'online');
    assert.deepEqual(r.delivered.slice(5).map((d) => [d.id, d.value]), [[2, 'b'], [3, 'c'], [4, 'd']]);
    assert.equal(r.fwd.stats().counters.ackTimeouts, 2);
  });

  it('a late ack during the outage is not sent again', () => {
    const r = rig({ maxInFlight: 10 });
    ['a', 'b', 'c'].forEach(r.put);
    r.clock.advance(10);
    r.clock.advance(1000); // down
    r.fwd.setOnline(false);
    r.fwd.ack([2]); // arrives late
    r.fwd.setOnline(true);
    const again = r.delivered.slice(3).map((d) => d.id);
    assert.deepEqual(again, [1, 3]);
  });

  it('offline holds delivery; online resumes in order', () => {
    const r = rig();
    r.fwd.setOnline(false);
    ['a', 'b'].forEach(r.put);
    r.clock.advance(100);
    assert.deepEqual(r.accepted.map((x) => x[2]), [1, 2], 'still accepted while offline');
    assert.equal(r.delivered.length, 0);
    assert.equal(r.fwd.stats().link, 'offline');
    r.fwd.setOnline(true);
    assert.deepEqual(r.delivered.map((d) => d.value), ['a', 'b']);
    assert.deepEqual(
      r.events.filter((e) => e.type === 'link').map((e) => (e as { state: string }).state),
      ['offline', 'online'],
    );
  });

  it('limits the delivery rate with a token bucket', () => {
    const r = rig({ ratePerSec: 50, burst: 5, maxInFlight: 1000, ackTimeoutMs: 0 }, {}, 'rate.sqlite');
    r.fwd.setOnline(false);
    for (let i = 0; i < 300; i++) r.put(`m${i}`);
    r.clock.advance(10);
    r.fwd.setOnline(true);
    const perSecond: number[] = [];
    for (let s = 0; s < 6; s++) {
      const before = r.delivered.length;
      r.clock.advance(1000);
      perSecond.push(r.delivered.length - before);
    }
    // the first second may use the initial burst; after that 50 per second
    assert.ok(perSecond[0] <= 55, `first second ${perSecond[0]}`);
    for (const n of perSecond.slice(1, 5)) assert.ok(n >= 49 && n <= 51, `per second ${perSecond.join(',')}`);
    assert.equal(r.delivered.length, 300, 'all delivered after 6 s');
    assert.deepEqual(r.delivered.map((d) => d.value), Array.from({ length: 300 }, (_, i) => `m${i}`));
  });

  it('ack timeout 0: removed once delivered', () => {
    const r = rig({ ackTimeoutMs: 0 });
    ['a', 'b'].forEach(r.put);
    r.clock.advance(10);
    assert.equal(r.delivered.length, 2);
    r.clock.advance(10);
    assert.equal(r.queue.size, 0);
  });

  it('replays the backlog after a restart, marked as possible redelivery, with the same ids', () => {
    const clock = new ManualClock(5000);
    const first = rig({}, {}, 'restart.sqlite', clock);
    first.fwd.setOnline(false);
    ['a', 'b', 'c'].forEach(first.put);
    clock.advance(10);
    first.fwd.setOnline(true);
    first.fwd.ack([1]);
    clock.advance(10);
    closeRig(first);
    const second = rig({}, {}, 'restart.sqlite', clock);
    clock.advance(0);
    assert.deepEqual(second.delivered.map((d) => [d.id, d.value, d.redelivery]), [[2, 'b', true], [3, 'c', true]]);
    second.put('d');
    clock.advance(10);
    assert.deepEqual(second.delivered.slice(2).map((d) => [d.id, d.value, d.redelivery]), [[4, 'd', false]]);
  });

  it('close() commits what it holds, so nothing accepted is lost on redeploy', () => {
    const r = rig({ commitIntervalMs: 10_000 });
    r.put('x');
    assert.equal(r.accepted.length, 0);
    r.fwd.close();
    assert.deepEqual(r.accepted, [['x', null, 1]]);
    assert.equal(r.queue.size, 1);
  });

  it('reports refused messages through their callback and drops as events', () => {
    const refuse = rig({}, { maxCount: 2, policy: 'refuse-newest' }, 'refuse.sqlite');
    refuse.fwd.setOnline(false);
    ['a', 'b', 'c'].forEach(refuse.put);
    refuse.clock.advance(10);
    assert.equal(refuse.accepted[2][2], null);
    assert.ok(refuse.accepted[2][1] instanceof QueueFullError);
    assert.match(String(refuse.accepted[2][1]?.message), /queue full: 2 messages \(limit 2\)/);

    const drop = rig({}, { maxCount: 2, policy: 'drop-oldest' }, 'drop.sqlite');
    drop.fwd.setOnline(false);
    ['a', 'b', 'c', 'd'].forEach(drop.put);
    drop.clock.advance(10);
    const ev = drop.events.find((e) => e.type === 'dropped') as Extract<ForwarderEvent, { type: 'dropped' }>;
    assert.equal(ev.count, 2);
    assert.equal(ev.dropped.oldest, 2);
    drop.fwd.setOnline(true);
    assert.deepEqual(drop.delivered.map((d) => [d.id, d.value]), [[3, 'c'], [4, 'd']]);
  });

  it('maintain() expires old messages when nothing new arrives', () => {
    const r = rig({}, { maxAgeMs: 60_000 }, 'age.sqlite');
    r.fwd.setOnline(false);
    r.put('old');
    r.clock.advance(10);
    r.clock.advance(60_000);
    r.fwd.maintain();
    assert.equal(r.queue.size, 1, 'exactly 60 s old is not older than the limit');
    r.clock.advance(1);
    r.fwd.maintain();
    assert.equal(r.queue.size, 0);
    assert.equal(r.queue.stats().totals.dropped.expired, 1);
  });

  it('removes (and reports) a stored record it cannot decode instead of blocking the queue', () => {
    const clock = new ManualClock(0);
    const queue = new DurableQueue({ path: path.join(dir, 'bad.sqlite'), maxAgeMs: 0, now: () => clock.now() });
    queue.append([{ body: Buffer.from('good1') }, { body: Buffer.from('BAD') }, { body: Buffer.from('good2') }]);
    const delivered: string[] = [];
    const events: ForwarderEvent[] = [];
    const fwd = new StoreForwarder<string>({
      queue,
      clock,
      decode: (row) => {
        if (row.body.toString() === 'BAD') throw new Error('garbled');
        return row.body.toString();
      },
      deliver: (d) => {
        delivered.push(d.value);
        fwd.ack([d.id]);
      },
      onEvent: (e) => events.push(e),
    });
    clock.advance(100);
    assert.deepEqual(delivered, ['good1', 'good2']);
    assert.equal(queue.size, 0);
    assert.equal(fwd.stats().counters.decodeErrors, 1);
    assert.ok(events.some((e) => e.type === 'error' && /record 2 cannot be decoded/.test(e.error.message)));
    fwd.close();
    queue.close();
  });
});
