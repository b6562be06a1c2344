import { strict as assert } from 'assert';
import { WindowVariance, PairNoiseEstimator } from '../../../lib/fusion/noise-estimator';
import { SeededRandom } from '../../../lib/util/random';

function sampleVariance(xs: number[]): number {
  const m = xs.reduce((s, x) => s + x, 0) / xs.length;
  return xs.reduce((s, x) => s + (x - m) ** 2, 0) / (xs.length - 1);
}

describe('fusion: WindowVariance', () => {
  it('gives the sample variance of what it holds', () => {
    const w = new WindowVariance(10);
    assert.equal(w.variance(), null);
    w.push(1);
    assert.equal(w.variance(), null);
    for (const x of [2, 3, 4]) w.push(x);
    // 1,2,3,4: mean 2.5, squared deviations 2.25+0.25+0.25+2.25 = 5, / 3
    assert.ok(Math.abs((w.variance() as number) - 5 / 3) < 1e-12);
    assert.equal(w.mean(), 2.5);
  });

  it('slides: only the last `size` values count', () => {
    const w = new WindowVariance(3);
    for (const x of [100, -50, 3, 4, 5]) w.push(x);
    assert.equal(w.count, 3);
    assert.ok(Math.abs((w.variance() as number) - 1) < 1e-12);
    assert.ok(Math.abs((w.mean() as number) - 4) < 1e-12);
  });

  it('stays exact over many values with a large offset (no drift)', () => {
    const rnd = new SeededRandom(7);
    const w = new WindowVariance(50);
    const all: number[] = [];
    for (let i = 0; i < 100_003; i++) {
      const x = 1e6 + rnd.normal(0, 0.01);
      all.push(x);
      w.push(x);
    }
    const expected = sampleVariance(all.slice(-50));
    assert.ok(Math.abs((w.variance() as number) - expected) / expected < 1e-3, `${w.variance()} vs ${expected}`);
  });

  it('refuses a window smaller than 2', () => {
    assert.throws(() => new WindowVariance(1), RangeError);
  });
});

describe('fusion: PairNoiseEstimator', () => {
  it('answers only after minPairs pairs', () => {
    const e = new PairNoiseEstimator(50, 10);
    for (let i = 0; i < 9; i++) e.push(i, i + 0.1 * (i % 2));
    assert.equal(e.estimate(), null);
    e.push(9, 9);
    assert.notEqual(e.estimate(), null);
  });

  it('recovers each gauge’s noise under a moving truth and a constant bias between gauges', () => {
    const rnd = new SeededRandom(11);
    const sa = 0.004;
    const sb = 0.012;
    const e = new PairNoiseEstimator(20_000);
    let truth = 2;
    for (let i = 0; i < 20_000; i++) {
      truth += rnd.normal(0, 0.003) + 0.0005 * Math.sin(i / 50); // random walk plus a drift pattern
      e.push(truth + rnd.normal(0, sa), truth + 0.05 + rnd.normal(0, sb));
    }
    const est = e.estimate();
    assert.ok(est);
    // relative error of a variance estimate from n = 20 000 is about sqrt(2/n) ≈ 1 %; the split adds
    // the increment variances' error, so allow 10 % on the standard deviations
    assert.ok(Math.abs(Math.sqrt(est.varA) / sa - 1) < 0.1, `σa ${Math.sqrt(est.varA)}`);
    assert.ok(Math.abs(Math.sqrt(est.varB) / sb - 1) < 0.1, `σb ${Math.sqrt(est.varB)}`);
    // the truth's step variance: 0.003² plus the drift's small contribution
    assert.ok(Math.abs(Math.sqrt(est.truthStepVar) / 0.003 - 1) < 0.15, `truth step ${Math.sqrt(est.truthStepVar)}`);
  });

  it('keeps both variances positive when one gauge is nearly perfect', () => {
    // a constant, b alternating ±0.1: S = var(a − b), Va = 0, Vb = var(±0.2 steps);
    // the raw split S/2 − Vb/4 is negative for a, so it is held at S·1e-3
    const e = new PairNoiseEstimator(30);
    const d: number[] = [];
    const steps: number[] = [];
    for (let i = 0; i < 30; i++) {
      const b = i % 2 ? 5.1 : 4.9;
      e.push(5, b);
      d.push(5 - b);
      if (i) steps.push(b - (i % 2 ? 4.9 : 5.1));
    }
    const s = sampleVariance(d);
    const vb = sampleVariance(steps);
    assert.ok(s / 2 - vb / 4 < 0);
    const est = e.estimate();
    assert.ok(est);
    assert.ok(Math.abs(est.varA - s * 1e-3) < 1e-15);
    assert.ok(Math.abs(est.varB - (s / 2 + vb / 4)) < 1e-12);
  });

  it('breakChain stops an increment spanning a gap', () => {
    const e = new PairNoiseEstimator(100, 3);
    e.push(0, 0);
    e.push(0, 0);
    e.breakChain();
    e.push(1000, 1000); // a jump across a gap: no increment recorded
    e.push(1000, 1000);
    const est = e.estimate();
    assert.ok(est);
    assert.equal(est.truthStepVar, 0);
  });
});
