import { strict as assert } from 'assert';
import fc from 'fast-check';
import { DualFusion, type FusionEvent } from '../../../lib/fusion/dual-fusion';
import { parseFusionOptions } from '../../../lib/fusion/options';

function make(raw: Record<string, unknown> = {}, now = 0): DualFusion<string> {
  return new DualFusion<string>(parseFusionOptions({ sourceA: 'laser', sourceB: 'xray', skew: 10, timeout: 1000, ...raw }), now);
}

const types = (events: FusionEvent<string>[]) => events.map((e) => e.type);

describe('fusion: DualFusion pairing and fallback', () => {
  it('tells sources apart by topic', () => {
    const f = make();
    assert.equal(f.sourceOf('laser'), 'a');
    assert.equal(f.sourceOf('xray'), 'b');
    assert.equal(f.sourceOf('other'), undefined);
    assert.equal(f.sourceOf(undefined), undefined);
  });

  it('fuses a pair within the skew with fixed weights, and holds the first sample until then', () => {
    const f = make({ mode: 'fixed', weightA: 0.75, weightB: 0.25 });
    assert.deepEqual(f.push('a', { value: 2.0, timestamp: 100 }, 'a1', 100), []);
    assert.equal(f.nextDeadline(), 110); // held for the skew
    const ev = f.push('b', { value: 2.04, timestamp: 108 }, 'b1', 105);
    assert.deepEqual(types(ev), ['fused']);
    const e = ev[0] as Extract<FusionEvent<string>, { type: 'fused' }>;
    assert.ok(Math.abs(e.result.value - 2.01) < 1e-12);
    assert.deepEqual(e.result.weights, { a: 0.75, b: 0.25 });
    assert.equal(e.result.timestamp, 104);
    assert.ok(Math.abs((e.result.difference as number) + 0.04) < 1e-12);
    assert.deepEqual(e.refs, ['a1', 'b1']);
    assert.equal(e.result.degraded, null);
    assert.equal(e.result.uncertainty, null); // no noise known yet
  });

  it('pairs with the closest held sample', () => {
    const f = make();
    f.push('a', { value: 1, timestamp: 100 }, 'a1', 100);
    f.push('a', { value: 1, timestamp: 108 }, 'a2', 101);
    const ev = f.push('b', { value: 1, timestamp: 107 }, 'b1', 102);
    assert.deepEqual(types(ev), ['fused']);
    assert.deepEqual((ev[0] as { refs: string[] }).refs, ['a2', 'b1']);
    // a1 is still within the skew of later b samples, so it stays held until it expires
    const later = f.tick(110);
    assert.deepEqual(later.map((e) => e.type === 'unpaired' && [e.ref, e.reason]), [['a1', 'expired']]);
  });

  it('reports a held sample that can no longer pair as soon as the other source moves past it', () => {
    const f = make();
    f.push('a', { value: 1, timestamp: 100 }, 'a1', 100);
    const ev = f.push('b', { value: 1, timestamp: 150 }, 'b1', 101);
    assert.deepEqual(ev.map((e) => e.type === 'unpaired' && [e.source, e.ref, e.reason]), [['a', 'a1', 'no-partner']]);
    assert.equal(f.nextDeadline(), 111); // b1 is held now
  });

  it('expires held samples after the skew, in arrival order', () => {
    const f = make();
    f.push('a', { value: 1, timestamp: 0 }, 'a1', 0);
    f.push('b', { value: 1, timestamp: 50 }, 'b1', 3); // reports a1 (no-partner), holds b1 until 13
    assert.deepEqual(f.tick(12), []);
    const ev = f.tick(13);
    assert.deepEqual(ev.map((e) => e.type === 'unpaired' && [e.ref, e.reason]), [['b1', 'expired']]);
  });

  it('pairs a sample arriving exactly when its partner’s skew ends, also with a skew of 0', () => {
    const f = make({ mode: 'fixed', weightA: 0.5 });
    f.push('a', { value: 1, timestamp: 100 }, 'a1', 100); // held until 110
    assert.deepEqual(types(f.push('b', { value: 3, timestamp: 110 }, 'b1', 110)), ['fused']);
    const zero = make({ mode: 'fixed', weightA: 0.5, skew: 0 });
    zero.push('a', { value: 1, timestamp: 500 }, 'a1', 500);
    const ev = zero.push('b', { value: 3, timestamp: 500 }, 'b1', 500);
    assert.deepEqual(types(ev), ['fused']);
    assert.equal((ev[0] as { result: { value: number } }).result.value, 2);
    // one millisecond later it has expired
    zero.push('a', { value: 1, timestamp: 600 }, 'a2', 600);
    assert.deepEqual(zero.push('b', { value: 3, timestamp: 600 }, 'b2', 601).map((e) => e.type === 'unpaired' && [e.ref, e.reason]), [['a2', 'expired']]);
  });

  it('drops the oldest held sample beyond maxHeld', () => {
    const f = make({ maxHeld: 2 });
    f.push('a', { value: 1, timestamp: 0 }, 'a1', 0);
    f.push('a', { value: 1, timestamp: 1 }, 'a2', 0);
    const ev = f.push('a', { value: 1, timestamp: 2 }, 'a3', 0);
    assert.deepEqual(ev.map((e) => e.type === 'unpaired' && [e.ref, e.reason]), [['a1', 'overflow']]);
    assert.equal(f.stats().sources.a.held, 2);
  });

  it('flags disagreement above the tolerance and keeps it out of the noise estimate', () => {
    const f = make({ tolerance: 0.05, mode: 'adaptive' });
    const ev1 = f.push('a', { value: 2.0, timestamp: 0 }, 'a1', 0).concat(f.push('b', { value: 2.1, timestamp: 0 }, 'b1', 0));
    assert.deepEqual(types(ev1), ['disagreement']);
    const d = ev1[0] as Extract<FusionEvent<string>, { type: 'disagreement' }>;
    assert.equal(d.result.disagreement, true);
    assert.equal(d.result.a?.value, 2.0);
    assert.equal(d.result.b?.value, 2.1);
    assert.equal(f.stats().noise.pairs, 0);
    assert.equal(f.stats().counts.disagreements, 1);
    const ev2 = f.push('a', { value: 2.0, timestamp: 10 }, 'a2', 10).concat(f.push('b', { value: 2.05, timestamp: 10 }, 'b2', 10));
    assert.deepEqual(types(ev2), ['fused']); // exactly at the tolerance is agreement
    assert.equal(f.stats().noise.pairs, 1);
  });

  it('marks a silent source stale, falls back to the other and recovers', () => {
    const f = make({ mode: 'fixed', weightA: 0.5, noiseA: 0.01, noiseB: 0.03 }, 0);
    f.push('a', { value: 1, timestamp: 0 }, 'a1', 0);
    f.push('b', { value: 1, timestamp: 0 }, 'b1', 0);
    assert.equal(f.nextDeadline(), 1000);
    // a keeps talking; b falls silent
    f.push('a', { value: 1.1, timestamp: 600 }, 'a2', 600); // held, expires at 610
    const atExpiry = f.tick(700);
    assert.deepEqual(atExpiry.map((e) => e.type === 'unpaired' && e.ref), ['a2']);
    f.push('a', { value: 1.2, timestamp: 995 }, 'a3', 995); // held until 1005; b goes stale at 1000
    const atStale = f.tick(1000);
    assert.deepEqual(types(atStale), ['stale', 'fused']);
    const stale = atStale[0] as Extract<FusionEvent<string>, { type: 'stale' }>;
    assert.deepEqual([stale.source, stale.state, stale.lastSeen], ['b', 'stale', 0]);
    const released = atStale[1] as Extract<FusionEvent<string>, { type: 'fused' }>;
    assert.deepEqual(released.refs, ['a3']);
    assert.equal(released.result.degraded, 'b');
    assert.deepEqual(released.result.weights, { a: 1, b: 0 });
    assert.ok(Math.abs((released.result.uncertainty as number) - 0.01) < 1e-12);
    assert.equal(f.state('b'), 'stale');
    // while b is stale, a goes out alone at once
    const single = f.push('a', { value: 1.3, timestamp: 1200 }, 'a4', 1200);
    assert.deepEqual(types(single), ['fused']);
    assert.equal((single[0] as { result: { value: number } }).result.value, 1.3);
    assert.equal(f.nextDeadline(), 2200); // only a's staleness is pending
    // b comes back
    const back = f.push('b', { value: 1.3, timestamp: 1300 }, 'b2', 1300);
    assert.deepEqual(types(back), ['recovered']);
    assert.equal(f.state('b'), 'live');
    const pair = f.push('a', { value: 1.3, timestamp: 1301 }, 'a5', 1301);
    assert.deepEqual(types(pair), ['fused']);
    assert.equal((pair[0] as { result: { degraded: unknown } }).result.degraded, null);
    assert.equal(f.stats().counts.degraded, 2);
  });

  it('calls a source that never sent anything missing', () => {
    const f = make({}, 5000);
    assert.equal(f.state('a'), 'waiting');
    f.push('a', { value: 1, timestamp: 5500 }, 'a1', 5500);
    const ev = f.tick(6000);
    assert.deepEqual(ev.map((e) => e.type === 'stale' && [e.source, e.state, e.lastSeen]).filter(Boolean), [['b', 'missing', null]]);
  });

  it('reset forgets the estimate and returns held samples', () => {
    const f = make();
    for (let i = 0; i < 20; i++) {
      f.push('a', { value: i % 3, timestamp: i * 10 }, `a${i}`, i * 10);
      f.push('b', { value: i % 2, timestamp: i * 10 }, `b${i}`, i * 10);
    }
    f.push('a', { value: 1, timestamp: 300 }, 'held', 300);
    assert.ok(f.stats().noise.a !== null);
    assert.deepEqual(f.reset(), ['held']);
    const s = f.stats();
    assert.equal(s.noise.a, null);
    assert.equal(s.noise.pairs, 0);
    assert.equal(s.counts.fused, 0);
    assert.equal(s.sources.a.held, 0);
  });

  it('property: every sample comes back exactly once (fused, disagreement, unpaired or drained)', () => {
    const step = fc.record({
      source: fc.constantFrom<'a' | 'b'>('a', 'b'),
      dt: fc.integer({ min: 0, max: 400 }),
      jitter: fc.integer({ min: -30, max: 30 }),
      value: fc.double({ min: 0, max: 10, noNaN: true }),
      tick: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.constantFrom('fixed', 'adaptive', 'kalman'), fc.integer({ min: 1, max: 5 }), (steps, mode, maxHeld) => {
        const f = new DualFusion<number>(parseFusionOptions({ sourceA: 'p', sourceB: 'q', mode, skew: 20, timeout: 300, tolerance: 5, maxHeld, window: 5 }), 0);
        const seen = new Map<number, number>();
        const count = (events: FusionEvent<number>[]) => {
          for (const e of events) {
            const refs = e.type === 'unpaired' ? [e.ref] : e.type === 'fused' || e.type === 'disagreement' ? e.refs : [];
            for (const r of refs) seen.set(r, (seen.get(r) ?? 0) + 1);
            if (e.type === 'fused') assert.ok(Number.isFinite(e.result.value));
          }
        };
        let now = 0;
        steps.forEach((s, i) => {
          now += s.dt;
          count(f.push(s.source, { value: s.value, timestamp: now + s.jitter }, i, now));
          if (s.tick) count(f.tick(now + 25));
        });
        for (const r of f.drain()) seen.set(r, (seen.get(r) ?? 0) + 1);
        assert.equal(seen.size, steps.length);
        for (const n of seen.values()) assert.equal(n, 1);
      }),
      { numRuns: 200, seed: 1234 },
    );
  });
});
