/**
 * Codebook (non-uniform) quantisation, paper eq. 4:
 *   Δ = fine (0.01)   where the value density ρ(x) > threshold,
 *   Δ = coarse (0.1)  where ρ(x) ≤ threshold.
 *
 * Reading taken here (the paper gives no definition of ρ): the value range is cut into coarse
 * cells of width `coarse` aligned at multiples of it; ρ of a cell is the fraction of values in it
 * divided by its width (a histogram density estimate). Dense cells are split into fine cells of
 * width `fine`. Every non-empty cell gets one level, the mean of the values in it, so the error
 * of a value is below the width of its cell. The default threshold is the density of a uniform
 * spread over the range, 1 / (max − min): cells denser than average get the fine step.
 * At most 256 levels (uint8 indices): while there are more, the least dense fine cells are
 * demoted to coarse ones.
 */

export interface CodebookOptions {
  fine?: number;
  coarse?: number;
  /** density threshold ρ (values per unit); default 1 / (max − min) */
  threshold?: number;
  /** most levels (≤ 256, default 256) */
  maxLevels?: number;
}

export interface Codebook {
  levels: Float32Array;
  indices: Uint8Array;
  /** largest |x − levels[index]| */
  maxError: number;
  /** how many values fell in dense (fine) cells */
  denseCount: number;
  threshold: number;
}

export function codebookQuantize(x: Float32Array, opts: CodebookOptions = {}): Codebook {
  const fine = opts.fine ?? 0.01;
  const coarse = opts.coarse ?? 0.1;
  const maxLevels = opts.maxLevels ?? 256;
  if (!(fine > 0) || !(coarse > 0) || fine > coarse) throw new RangeError(`codebook steps need 0 < fine ≤ coarse, got fine ${fine}, coarse ${coarse}`);
  if (!Number.isInteger(maxLevels) || maxLevels < 2 || maxLevels > 256) throw new RangeError(`maxLevels must be 2..256, got ${maxLevels}`);
  if (x.length === 0) return { levels: new Float32Array([0]), indices: new Uint8Array(0), maxError: 0, denseCount: 0, threshold: opts.threshold ?? 0 };
  let min = Infinity;
  let max = -Infinity;
  for (const v of x) {
    if (!Number.isFinite(v)) throw new RangeError('codebook: values must be finite');
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const threshold = opts.threshold ?? (max > min ? 1 / (max - min) : 0);
  if (!(threshold >= 0)) throw new RangeError(`density threshold must be ≥ 0, got ${opts.threshold}`);
  const ratio = Math.max(1, Math.round(coarse / fine));
  const cellOf = (v: number) => Math.floor(v / coarse);
  const c0 = cellOf(min);
  const nCells = cellOf(max) - c0 + 1;
  const counts = new Float64Array(nCells);
  for (const v of x) counts[cellOf(v) - c0]++;
  const density = (c: number) => counts[c] / x.length / coarse;
  const dense = new Uint8Array(nCells);
  for (let c = 0; c < nCells; c++) if (counts[c] > 0 && density(c) > threshold) dense[c] = 1;
  const subOf = (v: number, c: number) => Math.min(ratio - 1, Math.max(0, Math.floor((v - (c + c0) * coarse) / fine)));
  // A level per non-empty cell: key = coarse cell · (ratio + 1) + fine sub-cell, or + ratio for a whole coarse cell.
  const build = () => {
    const keyOf = (v: number) => {
      const c = cellOf(v) - c0;
      return dense[c] ? c * (ratio + 1) + subOf(v, c) : c * (ratio + 1) + ratio;
    };
    const sums = new Map<number, { s: number; n: number }>();
    for (const v of x) {
      const k = keyOf(v);
      const e = sums.get(k);
      if (e) { e.s += v; e.n++; } else sums.set(k, { s: v, n: 1 });
    }
    return { keyOf, sums };
  };
  let { keyOf, sums } = build();
  while (sums.size > maxLevels) {
    // Demote the least dense cells (each turns its fine levels into one) until the count fits;
    // if none is left to demote, no fit is possible with these steps.
    const finePerCell = new Map<number, number>();
    for (const k of sums.keys()) {
      const c = Math.floor(k / (ratio + 1));
      if (dense[c]) finePerCell.set(c, (finePerCell.get(c) ?? 0) + 1);
    }
    const order = [...finePerCell.keys()].sort((a, b) => counts[a] - counts[b] || a - b);
    if (order.length === 0) throw new RangeError(`codebook: ${sums.size} coarse levels exceed ${maxLevels}; use a larger coarse step`);
    let estimate = sums.size;
    for (const c of order) {
      if (estimate <= maxLevels) break;
      dense[c] = 0;
      estimate -= finePerCell.get(c)! - 1;
    }
    ({ keyOf, sums } = build());
  }
  const keys = [...sums.keys()].sort((a, b) => a - b);
  const levelIndex = new Map<number, number>();
  const levels = new Float32Array(keys.length);
  keys.forEach((k, i) => {
    const e = sums.get(k)!;
    levels[i] = e.s / e.n;
    levelIndex.set(k, i);
  });
  const indices = new Uint8Array(x.length);
  let maxError = 0;
  let denseCount = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    const idx = levelIndex.get(keyOf(v))!;
    indices[i] = idx;
    const e = Math.abs(v - levels[idx]);
    if (e > maxError) maxError = e;
    if (dense[cellOf(v) - c0]) denseCount++;
  }
  return { levels, indices, maxError, denseCount, threshold };
}

/** Expand indices back to values. */
export function codebookExpand(cb: Pick<Codebook, 'levels' | 'indices'>): Float32Array {
  const out = new Float32Array(cb.indices.length);
  for (let i = 0; i < out.length; i++) out[i] = cb.levels[cb.indices[i]];
  return out;
}
