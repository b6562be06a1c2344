/**
 * Low-rank factorisation of MatMul weights (paper §4.2: 4096 × 4096 → 4096 × 64 · 64 × 4096):
 * W (K × N) ≈ (U_r √Σ) (√Σ V_rᵀ), so MatMul(X, W) becomes MatMul(MatMul(X, W1), W2).
 * The rank is given, or the smallest one that keeps a fraction of the weight's energy
 * (Σ σ² of the kept values over ‖W‖²_F); a layer is skipped where the factors would not have fewer
 * parameters than W (r · (K + N) ≥ K · N) or is smaller than `minSize`.
 */
import { InputError } from '../errors';
import { GraphEditor, makeNode } from './graph';
import { frobenius2, truncatedSvd } from './svd';

export interface LowRankOptions {
  /** target rank (paper: 64) */
  rank?: number;
  /** or: smallest rank keeping this fraction of the energy (0 < e < 1), searched up to maxRank */
  energy?: number;
  /** cap for the energy search (default 256) */
  maxRank?: number;
  /** skip weights with fewer elements (default 4096) */
  minSize?: number;
  layers?: string[];
  /** progress callback per layer (index, total) */
  onLayer?: (i: number, total: number, name: string) => void;
}

export interface FactorizedLayer {
  layer: string;
  shape: [number, number];
  rank: number;
  paramsBefore: number;
  paramsAfter: number;
  /** ‖W − W1·W2‖_F / ‖W‖_F */
  relativeError: number;
  energyKept: number;
}

export function validateLowRank(opts: LowRankOptions): void {
  if ((opts.rank === undefined) === (opts.energy === undefined)) throw new InputError('lowrank', 'exactly one of rank or energy', opts);
  if (opts.rank !== undefined && !(Number.isInteger(opts.rank) && opts.rank >= 1)) throw new InputError('lowrank.rank', 'an integer ≥ 1', opts.rank);
  if (opts.energy !== undefined && !(opts.energy > 0 && opts.energy < 1)) throw new InputError('lowrank.energy', 'a number in (0, 1)', opts.energy);
}

export function factorize(g: GraphEditor, opts: LowRankOptions): { layers: FactorizedLayer[]; skipped: Array<{ layer: string; reason: string }> } {
  validateLowRank(opts);
  const minSize = opts.minSize ?? 4096;
  const wanted = opts.layers ? new Set(opts.layers) : undefined;
  const candidates = g.nodes.filter((n) => {
    if (n.opType !== 'MatMul' || g.hasInit(n.input![0])) return false;
    const w = g.floatInit(n.input![1]);
    if (!w || w.dims.length !== 2) return false;
    return !wanted || [n.name ?? '', n.input![1], n.output![0]].some((x) => wanted.has(x));
  });
  const layers: FactorizedLayer[] = [];
  const skipped: Array<{ layer: string; reason: string }> = [];
  candidates.forEach((n, idx) => {
    const label = g.nodeLabel(n);
    opts.onLayer?.(idx, candidates.length, label);
    const w = g.floatInit(n.input![1])!;
    const [K, N] = w.dims;
    const breakEven = Math.floor((K * N) / (K + N));
    if (K * N < minSize) return skipped.push({ layer: label, reason: `weight ${K}×${N} below ${minSize} elements` });
    let rank = opts.rank ?? 0;
    const total = frobenius2(w.data);
    let svd;
    if (opts.rank !== undefined) {
      if (rank >= breakEven) return skipped.push({ layer: label, reason: `rank ${rank} saves nothing on ${K}×${N} (break-even ${breakEven})` });
      svd = truncatedSvd(w.data, K, N, rank);
    } else {
      const cap = Math.min(opts.maxRank ?? 256, breakEven - 1);
      if (cap < 1) return skipped.push({ layer: label, reason: `${K}×${N} too small to factorize` });
      svd = truncatedSvd(w.data, K, N, cap);
      let acc = 0;
      rank = 0;
      while (rank < svd.k && acc < opts.energy! * total) acc += svd.s[rank] * svd.s[rank++];
      if (acc < opts.energy! * total) return skipped.push({ layer: label, reason: `energy ${opts.energy} needs rank > ${cap}` });
    }
    rank = Math.min(rank, svd.k);
    const W1 = new Float32Array(K * rank);
    const W2 = new Float32Array(rank * N);
    let kept = 0;
    for (let r = 0; r < rank; r++) {
      const sq = Math.sqrt(svd.s[r]);
      kept += svd.s[r] * svd.s[r];
      for (let i = 0; i < K; i++) W1[i * rank + r] = svd.Ut[r * K + i] * sq;
      for (let j = 0; j < N; j++) W2[r * N + j] = svd.Vt[r * N + j] * sq;
    }
    // exact reconstruction error (one pass, K·N·r)
    let err = 0;
    const row = new Float64Array(N);
    for (let i = 0; i < K; i++) {
      row.fill(0);
      for (let r = 0; r < rank; r++) {
        const a = W1[i * rank + r];
        for (let j = 0; j < N; j++) row[j] += a * W2[r * N + j];
      }
      for (let j = 0; j < N; j++) {
        const d = w.data[i * N + j] - row[j];
        err += d * d;
      }
    }
    const base = n.name || n.output![0];
    const w1 = g.fresh(`${n.input![1]}_lowrank_U`);
    const w2 = g.fresh(`${n.input![1]}_lowrank_V`);
    const mid = g.fresh(`${base}_lowrank`);
    g.setFloat(w1, [K, rank], W1);
    g.setFloat(w2, [rank, N], W2);
    g.replace(n, [
      makeNode('MatMul', [n.input![0], w1], [mid], g.fresh(`${base}_lowrank_1`)),
      makeNode('MatMul', [mid, w2], [n.output![0]], g.fresh(`${base}_lowrank_2`)),
    ]);
    layers.push({
      layer: label, shape: [K, N], rank, paramsBefore: K * N, paramsAfter: rank * (K + N),
      relativeError: total > 0 ? Math.sqrt(err / total) : 0, energyKept: total > 0 ? kept / total : 1,
    });
  });
  g.pruneUnusedInits();
  g.clearValueInfo();
  return { layers, skipped };
}
