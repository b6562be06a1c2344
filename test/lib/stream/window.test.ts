import { strict as assert } from 'assert';
import fc from 'fast-check';
import { SignalWindow, makeSchedule, STATISTICS, type Statistic } from '../../../lib/stream/window';
import { SeededRandom } from '../../../lib/util/random';
import { exactStats, fsum, close } from './exact';

const ALL: Statistic[] = [...STATISTICS];

describe('lib/stream SignalWindow', () => {
  describe('statistics against an exact recomputation', () => {
    it('matches for random data, count windows of random size and random batch splits', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 40 }),
          fc.array(fc.double({ min: -1e3, max: 1e3, noNaN: true }), { minLength: 1, maxLength: 200 }),
          fc.array(fc.integer({ min: 1, max: 17 }), { minLength: 1, maxLength: 10 }),
          (size, xs, cuts) => {
            const win = new SignalWindow({ kind: 'count', size, stats: ALL });
            let i = 0;
            let c = 0;
            while (i < xs.length) {
              const len = Math.min(cuts[c++ % cuts.length], xs.length - i);
              win.ingest(xs.slice(i, i + len), 0, i, 1, null, null);
              i += len;
            }
            const expected = xs.slice(Math.max(0, xs.length - size));
            assert.deepEqual([...win.values()], expected);
            const got = win.statistics();
            const want = exactStats(expected);
            assert.equal(got.min, want.min);
            assert.equal(got.max, want.max);
            assert.equal(got.ptp, want.ptp);
            assert.equal(got.last, want.last);
            assert.ok(close(got.mean!, want.mean, 1e-12), `mean ${got.mean} vs ${want.mean}`);
            assert.ok(close(got.rms!, want.rms, 1e-12), `rms ${got.rms} vs ${want.rms}`);
            // std/kurtosis: absolute scale of the data for std; kurtosis only where the spread is not at rounding level
            const scale = Math.max(...expected.map(Math.abs), 1);
            assert.ok(Math.abs(got.std! - want.std) <= 1e-9 * scale, `std ${got.std} vs ${want.std}`);
            if (want.std > 1e-6 * scale) assert.ok(close(got.kurtosis!, want.kurtosis, 1e-6), `kurtosis ${got.kurtosis} vs ${want.kurtosis}`);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('keeps the time window (t − W, t] exactly, for irregular timestamps', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 50 }),
          fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.double({ min: -100, max: 100, noNaN: true })), { minLength: 1, maxLength: 150 }),
          (W, steps) => {
            const win = new SignalWindow({ kind: 'time', size: W, stats: ['mean', 'min', 'max'] });
            const ts: number[] = [];
            const xs: number[] = [];
            let t = 1000;
            for (const [dt, x] of steps) {
              t += dt;
              ts.push(t);
              xs.push(x);
            }
            win.ingest(xs, 0, 0, null, ts, null);
            const tEnd = ts[ts.length - 1];
            const inWindow = xs.filter((_, k) => ts[k] > tEnd - W);
            assert.deepEqual([...win.values()], inWindow);
            assert.equal(win.statistics().max, Math.max(...inWindow));
            assert.equal(win.statistics().min, Math.min(...inWindow));
          },
        ),
        { numRuns: 200 },
      );
    });

    it('gives exactly the same mean through the mean-only batch loops as through the general batch loop', () => {
      fc.assert(
        fc.property(
          fc.constantFrom<'time' | 'count'>('time', 'count'),
          fc.integer({ min: 1, max: 60 }),
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 40 }), fc.array(fc.oneof(fc.double({ min: -50, max: 50, noNaN: true }), fc.constant(NaN), fc.constant(1e6), fc.constant(-0)), { maxLength: 25 })),
            { minLength: 1, maxLength: 12 },
          ),
          (kind, size, batches) => {
            // mean only, no gap detection: specialised loops; with min as well: the general loop,
            // which adds and subtracts the same terms in the same order
            const valid = [-1000, 1000] as [number, number];
            const fast = new SignalWindow({ kind, size, stats: ['mean'], valid });
            const general = new SignalWindow({ kind, size, stats: ['mean', 'min'], valid });
            let t = 0;
            for (const [skip, dt, xs] of batches) {
              t += skip;
              fast.ingest(xs, 0, t, dt / 10, null, null);
              general.ingest(xs, 0, t, dt / 10, null, null);
              t += (xs.length * dt) / 10;
              assert.deepEqual([...fast.values()], [...general.values()]);
              assert.deepEqual(fast.counts, general.counts);
              // bit-identical (Object.is also tells -0 from 0)
              const a = fast.statistics().mean!;
              const b = general.statistics().mean!;
              assert.ok(Object.is(a, b), `mean: ${a} vs ${b}`);
            }
            assert.equal(fast.latestTime, general.latestTime);
            assert.equal(fast.oldestTime, general.oldestTime);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('gives the same window through the in-order batch path as through the per-sample loop', () => {
      fc.assert(
        fc.property(
          fc.constantFrom<'time' | 'count'>('time', 'count'),
          fc.integer({ min: 1, max: 60 }),
          fc.array(
            fc.tuple(fc.integer({ min: 0, max: 30 }), fc.integer({ min: 0, max: 40 }), fc.array(fc.oneof(fc.double({ min: -50, max: 50, noNaN: true }), fc.constant(NaN), fc.constant(1e6)), { maxLength: 25 })),
            { minLength: 1, maxLength: 12 },
          ),
          (kind, size, batches) => {
            const opts = { kind, size, stats: ALL, valid: [-1000, 1000] as [number, number], gapMs: 20 };
            const fast = new SignalWindow(opts);
            const slow = new SignalWindow(opts);
            const perSample = makeSchedule('input', 0);
            let t = 0;
            for (const [skip, dt, xs] of batches) {
              t += skip;
              fast.ingest(xs, 0, t, dt / 10, null, null);
              slow.ingest(xs, 0, t, dt / 10, null, perSample);
              t += (xs.length * dt) / 10;
            }
            assert.deepEqual([...fast.values()], [...slow.values()]);
            assert.deepEqual(fast.counts, slow.counts);
            assert.deepEqual(fast.takeGaps(), slow.takeGaps());
            assert.equal(fast.latestTime, slow.latestTime);
            assert.equal(fast.oldestTime, slow.oldestTime);
            const a = fast.statistics();
            const b = slow.statistics();
            // std at rounding level of the data (a near-constant window) makes kurtosis ill-conditioned: compare it only above
            const scale = Math.max(1, ...[...slow.values()].map(Math.abs));
            for (const s of ALL) {
              if (s === 'kurtosis' && !(b.std! > 1e-6 * scale)) continue;
              if (Number.isNaN(b[s])) assert.ok(Number.isNaN(a[s]), s);
              else if (s === 'std') assert.ok(Math.abs(a.std! - b.std!) <= 1e-9 * scale, `std: ${a.std} vs ${b.std}`);
              else assert.ok(close(a[s]!, b[s]!, 1e-9), `${s}: ${a[s]} vs ${b[s]}`);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('holds exactly 300 000 samples for a 5-min window at 1 kHz (paper eq. 1)', () => {
      const win = new SignalWindow({ kind: 'time', size: 300_000, stats: ['mean'] });
      const batch = new Float64Array(1000).fill(1);
      for (let k = 0; k < 400; k++) win.ingest(batch, 0, k * 1000, 1, null, null);
      assert.equal(win.length, 300_000);
      assert.equal(win.oldestTime, 100_000);
      assert.equal(win.latestTime, 399_999);
    });

    it('does not drift over hours of 1 kHz samples (mean, std, RMS, kurtosis against exact sums)', function () {
      this.timeout(60_000);
      // 3 h at 1 kHz = 10.8 M samples through a 5-min window; a large offset with small noise is
      // the hard case for running sums (cancellation) and makes a naive running sum drift
      const rate = 1000;
      const W = 300_000;
      const total = 3 * 3600 * rate;
      const rng = new SeededRandom(42);
      const all = new Float64Array(total);
      for (let i = 0; i < total; i++) all[i] = 1_000_000 + 500 * Math.sin(i / 5000) + (rng.next() - rng.next()) + (i % 9973 === 0 ? 40 : 0);
      const win = new SignalWindow({ kind: 'count', size: W, stats: ['mean', 'std', 'rms', 'kurtosis', 'min', 'max'] });
      let naive = 0;
      let worstMean = 0;
      let worstNaive = 0;
      const checkpoints = new Set([W, total / 2, total].map(Math.floor));
      for (let i = 0; i < total; i += 1000) {
        win.ingest(all.subarray(i, i + 1000), 0, i, 1, null, null);
        for (let k = i; k < i + 1000; k++) {
          naive += all[k];
          if (k >= W) naive -= all[k - W];
        }
        const end = i + 1000;
        if (checkpoints.has(end)) {
          const xs = all.subarray(end - W, end);
          const want = exactStats(xs);
          const got = win.statistics();
          worstMean = Math.max(worstMean, Math.abs(got.mean! - want.mean) / want.mean);
          worstNaive = Math.max(worstNaive, Math.abs(naive / W - want.mean) / want.mean);
          assert.ok(Math.abs(got.mean! - want.mean) <= 2 * Number.EPSILON * want.mean, `mean at ${end}: ${got.mean} vs ${want.mean}`);
          assert.ok(Math.abs(got.std! - want.std) / want.std < 1e-9, `std at ${end}: ${got.std} vs ${want.std}`);
          assert.ok(Math.abs(got.rms! - want.rms) / want.rms < 1e-15, `rms at ${end}: ${got.rms} vs ${want.rms}`);
          assert.ok(Math.abs(got.kurtosis! - want.kurtosis) / want.kurtosis < 1e-8, `kurtosis at ${end}: ${got.kurtosis} vs ${want.kurtosis}`);
          assert.equal(got.max, want.max);
          assert.equal(got.min, want.min);
        }
      }
      // the test signal is one where drift shows: a naive running sum is off by orders of magnitude more
      assert.ok(worstNaive > 100 * Math.max(worstMean, Number.EPSILON), `naive drift ${worstNaive} vs window ${worstMean}`);
    });

    it('computes std and kurtosis of a small spread on a huge offset (raw power sums would cancel)', () => {
      const rng = new SeededRandom(7);
      const xs = Array.from({ length: 5000 }, () => 1e9 + rng.normal(0, 1e-3));
      const win = new SignalWindow({ kind: 'count', size: 5000, stats: ['std', 'kurtosis'] });
      win.ingest(xs, 0, 0, 1, null, null);
      const want = exactStats(xs);
      const got = win.statistics();
      // the spacing of doubles near 1e9 is 1.2e-7, so the data itself is quantised at 1e-4 of the std
      assert.ok(Math.abs(got.std! - want.std) / want.std < 1e-9, `std ${got.std} vs ${want.std}`);
      assert.ok(Math.abs(got.kurtosis! - want.kurtosis) / want.kurtosis < 1e-8, `kurtosis ${got.kurtosis} vs ${want.kurtosis}`);
    });

    it('gives known values: sine RMS, Gaussian kurtosis ≈ 3, constant window', () => {
      const win = new SignalWindow({ kind: 'count', size: 1000, stats: ['rms', 'mean', 'kurtosis', 'std', 'ptp'] });
      // one full period of a sine sampled at 1000 points: RMS = A/√2, mean 0, kurtosis 1.5
      win.ingest(Array.from({ length: 1000 }, (_, i) => 2 * Math.sin((2 * Math.PI * i) / 1000)), 0, 0, 1, null, null);
      const s = win.statistics();
      assert.ok(Math.abs(s.rms! - Math.SQRT2) < 1e-12);
      assert.ok(Math.abs(s.mean!) < 1e-12);
      assert.ok(Math.abs(s.kurtosis! - 1.5) < 1e-9);
      const c = new SignalWindow({ kind: 'count', size: 10, stats: ['std', 'kurtosis', 'ptp'] });
      c.ingest(new Array(10).fill(812.3), 0, 0, 1, null, null);
      assert.deepEqual(c.statistics(), { std: 0, kurtosis: NaN, ptp: 0 });
      const g = new SignalWindow({ kind: 'count', size: 200_000, stats: ['kurtosis'] });
      const rng = new SeededRandom(3);
      g.ingest(Array.from({ length: 200_000 }, () => rng.normal(5, 2)), 0, 0, 1, null, null);
      assert.ok(Math.abs(g.statistics().kurtosis! - 3) < 0.05, `gaussian kurtosis ${g.statistics().kurtosis}`);
    });

    it('reports NaN for every statistic of an empty window', () => {
      const win = new SignalWindow({ kind: 'time', size: 10, stats: ALL });
      for (const v of Object.values(win.statistics())) assert.ok(Number.isNaN(v));
    });
  });

  describe('validity, normalisation and counts', () => {
    it('drops out-of-range and non-finite values and counts them apart', () => {
      const win = new SignalWindow({ kind: 'count', size: 100, stats: ['mean', 'min', 'max'], valid: [300, 800] });
      win.ingest([299.9, 300, 550, 800, 800.1, NaN, Infinity, -Infinity, 1e308 * 10], 0, 0, 1, null, null);
      assert.deepEqual([...win.values()], [300, 550, 800]);
      assert.deepEqual(win.statistics(), { mean: 550, min: 300, max: 800 });
      assert.equal(win.counts.accepted, 3);
      assert.equal(win.counts.outOfRange, 2);
      assert.equal(win.counts.nonFinite, 4);
    });

    it('drops non-finite values without a validity range', () => {
      const win = new SignalWindow({ kind: 'count', size: 100, stats: ['mean'] });
      win.ingest([1, NaN, Infinity, 3], 0, 0, 1, null, null);
      assert.equal(win.statistics().mean, 2);
      assert.equal(win.counts.nonFinite, 2);
      assert.equal(win.counts.outOfRange, 0);
    });

    it('maps the engineering range to [-1, 1] after the validity check and clamps beyond it', () => {
      const win = new SignalWindow({ kind: 'count', size: 100, stats: ['last', 'min', 'max'], normalise: [2, 12], valid: [0, 100] });
      win.ingest([2, 7, 12, 17, 0, 150], 0, 0, 1, null, null);
      // 2 → −1, 7 → 0, 12 → 1, 17 → 2 clamped to 1, 0 → −1.4 clamped to −1, 150 invalid
      assert.deepEqual([...win.values()], [-1, 0, 1, 1, -1]);
      assert.equal(win.counts.clamped, 2);
      assert.equal(win.counts.outOfRange, 1);
    });
  });

  describe('time order, gaps and bounds', () => {
    it('keeps a late sample at the latest time (accept) and counts it', () => {
      const win = new SignalWindow({ kind: 'time', size: 100, stats: ['mean'], late: 'accept' });
      win.ingest([1, 2, 3], 0, 0, null, [0, 50, 40], null);
      assert.equal(win.counts.late, 1);
      assert.equal(win.statistics().mean, 2);
      // the late sample sits at t = 50, so it leaves the window with the sample at 50
      win.push(10, 149);
      assert.deepEqual([...win.values()], [2, 3, 10]);
      win.push(20, 150);
      assert.deepEqual([...win.values()], [10, 20]);
    });

    it('drops late samples under the drop policy', () => {
      const win = new SignalWindow({ kind: 'time', size: 100, stats: ['mean'], late: 'drop' });
      win.ingest([1, 2, 3, 4], 0, 0, null, [0, 50, 40, 60], null);
      assert.deepEqual([...win.values()], [1, 2, 4]);
      assert.equal(win.counts.late, 1);
      assert.equal(win.counts.accepted, 3);
    });

    it('refuses timestamps that go back by more than the window, before taking anything', () => {
      const win = new SignalWindow({ kind: 'time', size: 100, stats: ['mean'] });
      win.push(1, 1000);
      assert.throws(() => win.checkTimes(900, 1, null, 3, 'msg.timestamp'), /^InputError: msg\.timestamp: expected a time after .*goes back by more than the window\), got 900/);
      win.checkTimes(901, 1, null, 3, 'msg.timestamp');
      assert.throws(() => win.checkTimes(0, null, [1001, 1200, 1101, 1100], 4, 'msg.timestamp'), /msg\.timestamps\[3\]/);
      const c = new SignalWindow({ kind: 'count', size: 3, stats: ['mean'] });
      c.ingest([1, 2, 3, 4], 0, 10, 1, null, null);
      // a count window holds t = 11..13: going back before 11 is refused
      assert.throws(() => c.checkTimes(10, 1, null, 1, 'msg.timestamp'), /goes back/);
      c.checkTimes(11, 1, null, 1, 'msg.timestamp');
    });

    it('reports gaps longer than the threshold', () => {
      const win = new SignalWindow({ kind: 'time', size: 10_000, stats: ['mean'], gapMs: 100 });
      win.ingest([1, 2, 3], 0, 0, null, [0, 100, 250], null);
      win.ingest([4, 5], 0, 1000, 10, null, null);
      assert.equal(win.counts.gaps, 2);
      assert.deepEqual(win.takeGaps(), [{ from: 100, to: 250, ms: 150 }, { from: 250, to: 1000, ms: 750 }]);
      assert.deepEqual(win.takeGaps(), []);
    });

    it('keeps memory bounded by the window for a time window at a steady rate', () => {
      const win = new SignalWindow({ kind: 'time', size: 1000, stats: ['mean', 'max', 'min'] });
      const batch = new Float64Array(100);
      for (let k = 0; k < 2000; k++) win.ingest(batch, 0, k * 100, 1, null, null);
      assert.equal(win.length, 1000);
      // ring of 2048 (a power of two ≥ 1000 + one batch): values, times, two deques
      assert.ok(win.bytes <= 2048 * (8 + 8 + 4 + 4), `bytes ${win.bytes}`);
    });

    it('caps a time window at maxSamples and counts the overflow', () => {
      const win = new SignalWindow({ kind: 'time', size: 1_000_000, stats: ['mean'], maxSamples: 100 });
      win.ingest(Array.from({ length: 250 }, (_, i) => i), 0, 0, 1, null, null);
      assert.equal(win.length, 100);
      assert.equal(win.counts.overflow, 150);
      assert.equal(win.statistics().mean, fsum(Array.from({ length: 100 }, (_, i) => 150 + i)) / 100);
    });

    it('reset forgets samples and counts', () => {
      const win = new SignalWindow({ kind: 'time', size: 100, stats: ['mean'], valid: [0, 10] });
      win.ingest([1, 20, 3], 0, 0, 1, null, null);
      win.reset();
      assert.equal(win.length, 0);
      assert.equal(win.counts.accepted, 0);
      assert.equal(win.counts.outOfRange, 0);
      win.push(5, 0);
      assert.equal(win.statistics().mean, 5);
    });
  });

  describe('schedules', () => {
    it('stops after every N accepted samples (dropped ones do not count)', () => {
      const win = new SignalWindow({ kind: 'count', size: 100, stats: ['mean'], valid: [0, 100] });
      const sched = makeSchedule('count', 3);
      const xs = [1, 2, 999, 3, 4, 5, 6];
      const stops: number[] = [];
      let i = 0;
      while (i < xs.length) {
        i = win.ingest(xs, i, 0, 1, null, sched);
        if (sched.countdown === 0) {
          stops.push(win.statistics().mean!);
          sched.countdown = 3;
        }
      }
      assert.deepEqual(stops, [2, 3.5]);
    });

    it('stops before the first sample past an interval boundary', () => {
      const win = new SignalWindow({ kind: 'time', size: 1000, stats: ['mean'] });
      const sched = makeSchedule('interval', 10);
      const i = win.ingest([1, 2, 3, 4], 0, 0, null, [3, 8, 10, 12], sched);
      assert.equal(sched.boundary, 10);
      assert.equal(i, 3);
      assert.equal(win.pendingTime, 12);
      assert.equal(win.statistics().mean, 2);
    });
  });

  it('rejects impossible options', () => {
    assert.throws(() => new SignalWindow({ kind: 'time', size: 0, stats: ['mean'] }), /size must be > 0/);
    assert.throws(() => new SignalWindow({ kind: 'count', size: 10, stats: ['median' as Statistic] }), /unknown statistic "median"/);
    assert.throws(() => new SignalWindow({ kind: 'count', size: 10, stats: ['mean'], valid: [5, 1] }), /validity range/);
    assert.throws(() => new SignalWindow({ kind: 'count', size: 10, stats: ['mean'], normalise: [5, 5] }), /normalisation range/);
  });
});
