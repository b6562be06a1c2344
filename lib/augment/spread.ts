/**
 * What augmentation does to a data set, per field: the spread of the augmented samples against
 * the real ones (count, mean, standard deviation, min, max; curves count every point).
 */
export interface FieldStats {
  n: number;
  mean: number;
  std: number;
  min: number;
  max: number;
}

export interface FieldSpread {
  field: string;
  real: FieldStats;
  augmented: FieldStats;
  /** augmented std / real std (NaN when the real set does not vary) */
  stdRatio: number;
  /** augmented (max − min) / real (max − min) (NaN when the real set does not vary) */
  rangeRatio: number;
}

/** Population statistics of a list of numbers (std with divisor n). */
export function fieldStats(xs: number[]): FieldStats {
  const n = xs.length;
  if (n === 0) return { n: 0, mean: NaN, std: NaN, min: NaN, max: NaN };
  let sum = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of xs) {
    sum += x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / n;
  let ss = 0;
  for (const x of xs) ss += (x - mean) ** 2;
  return { n, mean, std: Math.sqrt(ss / n), min, max };
}

function collect(samples: Array<Record<string, unknown>>, field: string): number[] {
  const out: number[] = [];
  for (const s of samples) {
    const v = s[field];
    if (typeof v === 'number') out.push(v);
    else if (Array.isArray(v)) for (const x of v) if (typeof x === 'number') out.push(x);
  }
  return out;
}

/** Spread per field; `fields` defaults to every numeric field of the augmented samples. */
export function spreadReport(real: Array<Record<string, unknown>>, augmented: Array<Record<string, unknown>>, fields?: string[]): FieldSpread[] {
  const names = fields ?? [...new Set(augmented.flatMap((s) => Object.keys(s).filter((k) => typeof s[k] === 'number' || Array.isArray(s[k]))))];
  return names.map((field) => {
    const r = fieldStats(collect(real, field));
    const a = fieldStats(collect(augmented, field));
    return {
      field,
      real: r,
      augmented: a,
      stdRatio: r.std > 0 ? a.std / r.std : NaN,
      rangeRatio: r.max > r.min ? (a.max - a.min) / (r.max - r.min) : NaN,
    };
  });
}
