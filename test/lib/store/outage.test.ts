/**
 * The paper's welding line (§4.3): weld-seam records every 50 ms (20 Hz), a 30-minute network
 * outage, then recovery. Runs on a ManualClock, so 40 simulated minutes take a second or two.
 * The queue is an in-memory SQLite database here (this is about order, rate and capacity; what
 * survives a crash on disk is the fault test's job, test/nodes/edge-cache-fault.test.ts).
 */
import { strict as assert } from 'assert';
import { DurableQueue } from '../../../lib/store/queue';
import { StoreForwarder } from '../../../lib/store/forwarder';
import { ManualClock } from '../../../lib/store/clock';

const PERIOD_MS = 50; // 20 Hz
const MIN = 60_000;

interface Received {
  id: number;
  seq: number;
  at: number;
}

function simulate(opts: { outageMin: number; maxAgeMin: number; rate: number; burst: number; afterMin: number }) {
  const clock = new ManualClock(Date.UTC(2024, 0, 1));
  const t0 = clock.now();
  const queue = new DurableQueue({ path: ':memory:', synchronous: 'NORMAL', maxAgeMs: opts.maxAgeMin * MIN, now: () => clock.now() });
  let linkUp = true;
  const received: Received[] = [];
  const linkStates: string[] = [];
  const fwd: StoreForwarder<{ seq: number }> = new StoreForwarder<{ seq: number }>({
    queue,
    clock,
    decode: (row) => JSON.parse(row.body.toString()),
    deliver: (d) => {
      if (!linkUp) return; // lost on the way: no ack
      received.push({ id: d.id, seq: d.value.seq, at: clock.now() });
      clock.setTimeout(() => fwd.ack([d.id]), 20); // the uplink confirms after 20 ms
    },
    onEvent: (e) => {
      if (e.type === 'link') linkStates.push(e.state);
    },
    commitIntervalMs: 100,
    ackTimeoutMs: 5000,
    retryIntervalMs: 10_000,
    maxInFlight: 50,
    ratePerSec: opts.rate,
    burst: opts.burst,
  });
  let seq = 0;
  const produced: number[] = [];
  const accepted = new Set<number>();
  const produceFor = (ms: number) => {
    for (let t = 0; t < ms; t += PERIOD_MS) {
      const s = seq++;
      const record = { seq: s, current: 180 + (s % 7), voltage: 24 + (s % 3) * 0.1, wireFeed: 8.2, seam: ((s % 11) - 5) * 0.05 };
      produced.push(s);
      fwd.enqueue({ body: Buffer.from(JSON.stringify(record)) }, record, (err) => {
        if (!err) accepted.add(s);
      });
      clock.advance(PERIOD_MS);
    }
  };
  produceFor(1 * MIN);
  linkUp = false;
  produceFor(opts.outageMin * MIN);
  const backlogAtRecovery = queue.size;
  const statsAtRecovery = fwd.stats();
  const recoveredAt = clock.now();
  linkUp = true;
  produceFor(opts.afterMin * MIN);
  // stop producing; let the rest drain
  let drainedAt = queue.size === 0 ? clock.now() : -1;
  for (let i = 0; i < 20 * 60 && drainedAt < 0; i++) {
    clock.advance(1000);
    if (queue.size === 0 && fwd.stats().inFlight === 0) drainedAt = clock.now();
  }
  const end = fwd.stats();
  fwd.close();
  queue.close();
  return { t0, produced, accepted, received, linkStates, backlogAtRecovery, statsAtRecovery, recoveredAt, drainedAt, end };
}

/** First receptions must be every accepted seq, in order; repeats must carry the first id. */
function checkDelivery(accepted: Set<number>, received: Received[]) {
  const firstId = new Map<number, number>();
  const order: number[] = [];
  let duplicates = 0;
  for (const r of received) {
    const id = firstId.get(r.seq);
    if (id === undefined) {
      firstId.set(r.seq, r.id);
      order.push(r.seq);
    } else {
      duplicates++;
      assert.equal(r.id, id, `seq ${r.seq} delivered again with another id`);
    }
  }
  for (let i = 1; i < order.length; i++) assert.ok(order[i] > order[i - 1], `out of order at ${i}: ${order[i - 1]} then ${order[i]}`);
  for (const s of accepted) assert.ok(firstId.has(s), `accepted seq ${s} never delivered`);
  return { duplicates, order };
}

/** Most receptions in any window of `windowMs` (two pointers over sorted times). */
function maxInWindow(times: number[], windowMs: number): number {
  let best = 0;
  for (let i = 0, j = 0; j < times.length; j++) {
    while (times[j] - times[i] >= windowMs) i++;
    best = Math.max(best, j - i + 1);
  }
  return best;
}

describe('lib/store outage at the paper\'s rates (fake clock)', () => {
  it('30-minute outage at 20 Hz: everything replayed in order, uplink never above the rate limit', () => {
    const rate = 100;
    const burst = 5;
    const r = simulate({ outageMin: 30, maxAgeMin: 45, rate, burst, afterMin: 2});
    // 20 Hz for 30 minutes = 36 000 records held (+ those in flight when the link dropped)
    assert.ok(r.backlogAtRecovery >= 36_000 && r.backlogAtRecovery <= 36_000 + 60, `backlog ${r.backlogAtRecovery}`);
    assert.equal(r.statsAtRecovery.link, 'down');
    assert.deepEqual(r.linkStates.slice(0, 2), ['down', 'online']);
    assert.equal(r.accepted.size, r.produced.length, 'every record accepted');
    const { duplicates, order } = checkDelivery(r.accepted, r.received);
    assert.equal(order.length, r.produced.length);
    assert.ok(duplicates <= 50, `duplicates ${duplicates} (at most one window in flight when the link dropped)`);
    // the uplink never sees more than rate/s (+ the burst) in any second
    const peak = maxInWindow(r.received.map((x) => x.at), 1000);
    assert.ok(peak <= rate + burst, `peak ${peak}/s`);
    // drain: 2 minutes at (rate - 20/s) while still producing, then the rest at the full rate;
    // the link is noticed at the next probe (at most one retry interval, 10 s)
    assert.ok(r.drainedAt > 0, 'backlog drained');
    const drainS = (r.drainedAt - r.recoveredAt) / 1000;
    const expectedS = 120 + (r.backlogAtRecovery + 20 * 120 - rate * 120) / rate;
    assert.ok(drainS >= expectedS - 2 && drainS <= expectedS + 10 + 3, `drained in ${drainS} s, expected about ${expectedS} s`);
    assert.equal(r.end.count, 0);
    assert.deepEqual(r.end.totals.dropped, { oldest: 0, expired: 0, refused: 0, thinned: 0, reset: 0 });
  });

  it('a 40-minute outage with the default 30-minute capacity keeps the last 30 minutes and counts the rest', () => {
    const r = simulate({ outageMin: 40, maxAgeMin: 30, rate: 200, burst: 10, afterMin: 0});
    // only the last 30 minutes (36 000 records at 20 Hz) remain; commits group 2 records
    assert.ok(Math.abs(r.backlogAtRecovery - 36_000) <= 4, `backlog ${r.backlogAtRecovery}`);
    const expired = r.statsAtRecovery.totals.dropped.expired;
    const producedBefore = 41 * MIN / PERIOD_MS; // 1 min online + 40 min outage
    const deliveredBeforeOutage = 1 * MIN / PERIOD_MS;
    assert.ok(Math.abs(expired - (producedBefore - deliveredBeforeOutage - r.backlogAtRecovery)) <= 50, `expired ${expired}`);
    assert.ok(expired >= 10 * MIN / PERIOD_MS - 50, 'about 10 minutes of records expired');
    // what remains is delivered in order, and is exactly the newest records
    const { order } = checkDelivery(new Set(), r.received);
    const afterOutage = order.filter((s) => s >= deliveredBeforeOutage + 10 * MIN / PERIOD_MS + 5);
    const expected = r.produced.filter((s) => s >= deliveredBeforeOutage + 10 * MIN / PERIOD_MS + 5);
    assert.deepEqual(afterOutage, expected);
  });
});
