/**
 * Reference statistics for the tests, computed independently of lib/stream: Shewchuk's exact
 * summation (Python's math.fsum: the correctly rounded sum) and two-pass central moments.
 */
export function fsum(xs: ArrayLike<number>): number {
  const partials: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    let x = xs[i];
    let j = 0;
    for (let k = 0; k < partials.length; k++) {
      let y = partials[k];
      if (Math.abs(x) < Math.abs(y)) {
        const tmp = x;
        x = y;
        y = tmp;
      }
      const hi = x + y;
      const lo = y - (hi - x);
      if (lo !== 0) partials[j++] = lo;
      x = hi;
    }
    partials.length = j;
    partials.push(x);
  }
  let n = partials.length;
  if (n === 0) return 0;
  let hi = partials[--n];
  let lo = 0;
  while (n > 0) {
    const x = hi;
    const y = partials[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo !== 0) break;
  }
  if (n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0))) {
    const y = lo * 2;
    const x = hi + y;
    if (y === x - hi) hi = x;
  }
  return hi;
}

export interface ExactStats {
  mean: number;
  min: number;
  max: number;
  std: number;
  rms: number;
  ptp: number;
  kurtosis: number;
  last: number;
}

/** Population statistics of xs, two-pass with exact sums. */
export function exactStats(xs: ArrayLike<number>): ExactStats {
  const n = xs.length;
  const mean = fsum(xs) / n;
  const d2: number[] = new Array(n);
  const d3: number[] = new Array(n);
  const d4: number[] = new Array(n);
  const sq: number[] = new Array(n);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < n; i++) {
    const d = xs[i] - mean;
    d2[i] = d * d;
    d3[i] = d * d * d;
    d4[i] = d * d * d * d;
    sq[i] = xs[i] * xs[i];
    if (xs[i] < min) min = xs[i];
    if (xs[i] > max) max = xs[i];
  }
  // the mean is rounded: moments about it are corrected by c = mean(x − mean) (binomial expansion)
  const dev: number[] = new Array(n);
  for (let i = 0; i < n; i++) dev[i] = xs[i] - mean;
  const c = fsum(dev) / n;
  const e2 = fsum(d2) / n;
  const e3 = fsum(d3) / n;
  const m2 = e2 - c * c;
  const m4 = fsum(d4) / n - 4 * c * e3 + 6 * c * c * e2 - 3 * c * c * c * c;
  return { mean, min, max, std: Math.sqrt(m2), rms: Math.sqrt(fsum(sq) / n), ptp: max - min, kurtosis: m4 / (m2 * m2), last: xs[n - 1] };
}

/** |a − b| ≤ tol · max(1, |b|) */
export function close(a: number, b: number, tol: number): boolean {
  return Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));
}
