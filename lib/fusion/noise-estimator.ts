/**
 * Online estimate of the measurement-noise variance of two gauges that measure the same quantity,
 * without knowing the true value.
 *
 * Over a sliding window of recent pairs (a_k, b_k) it keeps three sample variances:
 *   S  = var(a_k − b_k)            = σa² + σb²               (the truth cancels)
 *   Va = var(a_k − a_{k−1})        = T + 2σa²                (T: variance of the truth's increment)
 *   Vb = var(b_k − b_{k−1})        = T + 2σb²
 * so σa² = S/2 + (Va − Vb)/4 and σb² = S/2 − (Va − Vb)/4, and T = (Va + Vb)/2 − S.
 * This holds for any slowly or quickly varying truth as long as each gauge's noise is white and
 * independent of the other gauge's (both gauges see the same truth increment between two pairs).
 * A constant bias between the gauges does not inflate the estimates (variances, not mean squares).
 */

/** Sliding-window sample variance, O(1) per value, recomputed exactly every `size` values. */
export class WindowVariance {
  private readonly values: Float64Array;
  private head = 0;
  private n = 0;
  private sum = 0;
  private sumSq = 0;
  /** sums are of (x − shift), shift near the values, so a large offset does not cancel precision away */
  private shift = 0;
  private sinceRecompute = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 2) throw new RangeError(`window size must be an integer ≥ 2, got ${size}`);
    this.values = new Float64Array(size);
  }

  get count(): number {
    return this.n;
  }

  push(x: number): void {
    if (this.n === 0) this.shift = x;
    if (this.n === this.size) {
      const old = this.values[this.head] - this.shift;
      this.sum -= old;
      this.sumSq -= old * old;
    } else {
      this.n++;
    }
    this.values[this.head] = x;
    this.head = (this.head + 1) % this.size;
    const d = x - this.shift;
    this.sum += d;
    this.sumSq += d * d;
    if (++this.sinceRecompute >= this.size) this.recompute();
  }

  /** Sample variance (n − 1 in the denominator); null with fewer than two values. */
  variance(): number | null {
    if (this.n < 2) return null;
    const mean = this.sum / this.n;
    const v = (this.sumSq - this.n * mean * mean) / (this.n - 1);
    return v > 0 ? v : 0;
  }

  mean(): number | null {
    return this.n ? this.shift + this.sum / this.n : null;
  }

  clear(): void {
    this.head = 0;
    this.n = 0;
    this.sum = 0;
    this.sumSq = 0;
    this.shift = 0;
    this.sinceRecompute = 0;
  }

  /** Sums from scratch around the window's mean, so rounding errors of the running update cannot pile up. */
  private recompute(): void {
    let s = 0;
    let q = 0;
    const start = (this.head - this.n + this.size) % this.size;
    let total = 0;
    for (let i = 0; i < this.n; i++) total += this.values[(start + i) % this.size];
    this.shift = total / this.n;
    for (let i = 0; i < this.n; i++) {
      const d = this.values[(start + i) % this.size] - this.shift;
      s += d;
      q += d * d;
    }
    this.sum = s;
    this.sumSq = q;
    this.sinceRecompute = 0;
  }
}

export interface NoiseEstimate {
  /** noise variance of source a */
  varA: number;
  /** noise variance of source b */
  varB: number;
  /** variance of the truth's increment between consecutive pairs (≥ 0) */
  truthStepVar: number;
  /** pairs in the window */
  pairs: number;
}

export class PairNoiseEstimator {
  private readonly diff: WindowVariance;
  private readonly stepA: WindowVariance;
  private readonly stepB: WindowVariance;
  private prev: { a: number; b: number } | null = null;

  /**
   * @param window pairs kept (the estimate follows changes in noise over about this many pairs)
   * @param minPairs pairs needed before `estimate()` answers
   */
  constructor(readonly window: number, readonly minPairs = Math.min(10, window)) {
    this.diff = new WindowVariance(window);
    this.stepA = new WindowVariance(window);
    this.stepB = new WindowVariance(window);
  }

  push(a: number, b: number): void {
    this.diff.push(a - b);
    if (this.prev) {
      this.stepA.push(a - this.prev.a);
      this.stepB.push(b - this.prev.b);
    }
    this.prev = { a, b };
  }

  /** Forget the previous pair, so no increment spans a gap (after a period on one source). */
  breakChain(): void {
    this.prev = null;
  }

  clear(): void {
    this.diff.clear();
    this.stepA.clear();
    this.stepB.clear();
    this.prev = null;
  }

  get pairs(): number {
    return this.diff.count;
  }

  /** The current estimate, or null until `minPairs` pairs (and increments) are in the window. */
  estimate(): NoiseEstimate | null {
    if (this.diff.count < this.minPairs || this.stepA.count < this.minPairs - 1 || this.stepA.count < 2) return null;
    const s = this.diff.variance() as number;
    const va = this.stepA.variance() as number;
    const vb = this.stepB.variance() as number;
    // Sampling noise can push one estimate below zero when one gauge is far better than the other:
    // keep each at least a small fraction of S (weights then stay finite, ≈ 1 − 1e-3).
    const floor = Math.max(s * 1e-3, Number.MIN_VALUE);
    const half = s / 2;
    const split = (va - vb) / 4;
    return {
      varA: Math.max(half + split, floor),
      varB: Math.max(half - split, floor),
      truthStepVar: Math.max((va + vb) / 2 - s, 0),
      pairs: this.diff.count,
    };
  }
}
