/**
 * Running statistics for tolerance-gate: grade counts and rates, mean and standard deviation
 * (Welford), and process capability for a tolerance band:
 *   Cp  = (USL − LSL) / 6σ
 *   Cpk = min(USL − μ, μ − LSL) / 3σ
 * with σ the sample standard deviation of every value seen since the last reset.
 */
import type { Grade } from './rules';

export class RunningMoments {
  n = 0;
  mean = 0;
  private m2 = 0;

  push(x: number): void {
    this.n++;
    const d = x - this.mean;
    this.mean += d / this.n;
    this.m2 += d * (x - this.mean);
  }

  /** sample standard deviation; null below two values */
  std(): number | null {
    return this.n < 2 ? null : Math.sqrt(this.m2 / (this.n - 1));
  }
}

export interface Capability {
  cp: number | null;
  cpk: number | null;
}

/** Cp and Cpk from mean and σ; null when σ is unknown or zero. */
export function capability(mean: number, std: number | null, lsl: number, usl: number): Capability {
  if (std === null || !(std > 0)) return { cp: null, cpk: null };
  return { cp: (usl - lsl) / (6 * std), cpk: Math.min(usl - mean, mean - lsl) / (3 * std) };
}

export class GradeCounts {
  pass = 0;
  review = 0;
  reject = 0;

  add(g: Grade): void {
    this[g]++;
  }

  get total(): number {
    return this.pass + this.review + this.reject;
  }

  summary(): { total: number; pass: number; review: number; reject: number; rates: { pass: number; review: number; reject: number } } {
    const total = this.total;
    const rate = (n: number) => (total ? n / total : 0);
    return { total, pass: this.pass, review: this.review, reject: this.reject, rates: { pass: rate(this.pass), review: rate(this.review), reject: rate(this.reject) } };
  }
}
