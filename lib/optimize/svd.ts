/**
 * Truncated SVD of a dense row-major matrix A (m × n): randomized range finder with power
 * iterations (Halko, Martinsson, Tropp 2011, alg. 4.4), then an exact SVD of the small projected
 * matrix by one-sided Jacobi rotations. All arithmetic in Float64.
 *
 * Cost: (2·q + 2) products of A with an n × l block (l = rank + oversampling), each m·n·l
 * multiply-adds, written as contiguous dot products / axpys: 4096 × 4096 → rank 64 takes seconds.
 * For small matrices (min(m, n) ≤ l) the Jacobi SVD runs on A itself (exact).
 */
import { SeededRandom } from '../util/random';

export interface SvdResult {
  /** left singular vectors, k columns stored as k rows of length m (U transposed) */
  Ut: Float64Array;
  /** singular values, descending, length k */
  s: Float64Array;
  /** right singular vectors, k rows of length n (V transposed) */
  Vt: Float64Array;
  k: number;
  m: number;
  n: number;
}

export interface SvdOptions {
  /** extra columns in the random sketch (default 10) */
  oversample?: number;
  /** power iterations (default 2) */
  powerIterations?: number;
  seed?: number;
}

type Mat = ArrayLike<number>;

/** Orthonormalise the `l` rows (each of length len) of X in place: modified Gram–Schmidt, twice. */
function orthonormalizeRows(X: Float64Array, l: number, len: number): void {
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < l; i++) {
      const oi = i * len;
      for (let j = 0; j < i; j++) {
        const oj = j * len;
        let d = 0;
        for (let t = 0; t < len; t++) d += X[oi + t] * X[oj + t];
        for (let t = 0; t < len; t++) X[oi + t] -= d * X[oj + t];
      }
      let nrm = 0;
      for (let t = 0; t < len; t++) nrm += X[oi + t] * X[oi + t];
      nrm = Math.sqrt(nrm);
      if (nrm > 1e-300) for (let t = 0; t < len; t++) X[oi + t] /= nrm;
      else for (let t = 0; t < len; t++) X[oi + t] = 0;
    }
  }
}

/** Y (l × m) = (A · Ωᵀ)ᵀ where Ω is l × n: Y[c, i] = A[i, :] · Ω[c, :]. Four dot products per pass over a row. */
function timesRowsT(A: Mat, m: number, n: number, Om: Float64Array, l: number): Float64Array {
  const Y = new Float64Array(l * m);
  const row = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    const ai = i * n;
    for (let j = 0; j < n; j++) row[j] = A[ai + j];
    let c = 0;
    for (; c + 4 <= l; c += 4) {
      const o0 = c * n, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
      let d0 = 0, d1 = 0, d2 = 0, d3 = 0;
      for (let j = 0; j < n; j++) {
        const x = row[j];
        d0 += x * Om[o0 + j];
        d1 += x * Om[o1 + j];
        d2 += x * Om[o2 + j];
        d3 += x * Om[o3 + j];
      }
      Y[c * m + i] = d0;
      Y[(c + 1) * m + i] = d1;
      Y[(c + 2) * m + i] = d2;
      Y[(c + 3) * m + i] = d3;
    }
    for (; c < l; c++) {
      const oc = c * n;
      let d = 0;
      for (let j = 0; j < n; j++) d += row[j] * Om[oc + j];
      Y[c * m + i] = d;
    }
  }
  return Y;
}

/** Z (l × n) = Q · A where Q is l × m: Z[c, :] = Σ_i Q[c, i] · A[i, :]. Four rows of A per pass. */
function leftTimes(A: Mat, m: number, n: number, Q: Float64Array, l: number): Float64Array {
  const Z = new Float64Array(l * n);
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const a0 = i * n, a1 = a0 + n, a2 = a1 + n, a3 = a2 + n;
    for (let c = 0; c < l; c++) {
      const qo = c * m + i;
      const q0 = Q[qo], q1 = Q[qo + 1], q2 = Q[qo + 2], q3 = Q[qo + 3];
      const oc = c * n;
      for (let j = 0; j < n; j++) Z[oc + j] += q0 * A[a0 + j] + q1 * A[a1 + j] + q2 * A[a2 + j] + q3 * A[a3 + j];
    }
  }
  for (; i < m; i++) {
    const ai = i * n;
    for (let c = 0; c < l; c++) {
      const q = Q[c * m + i];
      const oc = c * n;
      for (let j = 0; j < n; j++) Z[oc + j] += q * A[ai + j];
    }
  }
  return Z;
}

/**
 * One-sided Jacobi on the l rows (length n) of B (B = V Σ Uᵀ with V l × l): rotates rows of B and
 * J together until all rows of B are mutually orthogonal. Returns σ (row norms), the normalised
 * rows (right singular vectors, Uᵀ) and J's rows (columns of the left factor), sorted by σ.
 */
function jacobiRows(B: Float64Array, l: number, n: number): { s: Float64Array; rows: Float64Array; J: Float64Array; order: number[] } {
  const J = new Float64Array(l * l);
  for (let i = 0; i < l; i++) J[i * l + i] = 1;
  const eps = 1e-15;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < l - 1; p++) {
      for (let q = p + 1; q < l; q++) {
        const op = p * n;
        const oq = q * n;
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let t = 0; t < n; t++) {
          const x = B[op + t];
          const y = B[oq + t];
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= eps * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (let k = 0; k < n; k++) {
          const x = B[op + k];
          const y = B[oq + k];
          B[op + k] = c * x - s * y;
          B[oq + k] = s * x + c * y;
        }
        const jp = p * l;
        const jq = q * l;
        for (let k = 0; k < l; k++) {
          const x = J[jp + k];
          const y = J[jq + k];
          J[jp + k] = c * x - s * y;
          J[jq + k] = s * x + c * y;
        }
      }
    }
    if (!rotated) break;
  }
  const s = new Float64Array(l);
  for (let i = 0; i < l; i++) {
    let nrm = 0;
    for (let t = 0; t < n; t++) nrm += B[i * n + t] * B[i * n + t];
    s[i] = Math.sqrt(nrm);
    if (s[i] > 0) for (let t = 0; t < n; t++) B[i * n + t] /= s[i];
  }
  const order = Array.from({ length: l }, (_, i) => i).sort((a, b) => s[b] - s[a]);
  return { s, rows: B, J, order };
}

/**
 * Exact SVD of a small l × n matrix B given as rows: B = L · diag(s) · R with L (l × l) and R's rows
 * orthonormal. Implemented as one-sided Jacobi on the rows of B (B = J'ᵀ... see jacobiRows).
 */
function smallSvd(B: Float64Array, l: number, n: number, k: number): { Lt: Float64Array; s: Float64Array; Rt: Float64Array } {
  // Rotating rows: Jrot · B = W with orthogonal rows, Jrot orthogonal → B = Jrotᵀ · W = Jrotᵀ · diag(σ) · Ŵ.
  // The left singular vector for output i is column i of Jrotᵀ = row i of Jrot.
  const { s, rows, J, order } = jacobiRows(B, l, n);
  const kk = Math.min(k, l);
  const Lt = new Float64Array(kk * l);
  const Rt = new Float64Array(kk * n);
  const sv = new Float64Array(kk);
  for (let r = 0; r < kk; r++) {
    const i = order[r];
    sv[r] = s[i];
    Lt.set(J.subarray(i * l, i * l + l), r * l);
    Rt.set(rows.subarray(i * n, i * n + n), r * n);
  }
  return { Lt, s: sv, Rt };
}

/** Rank-`k` truncated SVD of row-major A (m × n). */
export function truncatedSvd(A: Mat, m: number, n: number, k: number, opts: SvdOptions = {}): SvdResult {
  if (A.length !== m * n) throw new RangeError(`matrix has ${A.length} values, not ${m}×${n}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`rank must be a positive integer, got ${k}`);
  k = Math.min(k, m, n);
  const p = opts.oversample ?? 10;
  const q = opts.powerIterations ?? 2;
  const l = Math.min(k + p, m, n);
  if (l >= Math.min(m, n)) {
    // Small: exact Jacobi SVD. Work on the side with fewer rows.
    if (m <= n) {
      const B = Float64Array.from(A as ArrayLike<number>);
      const { Lt, s, Rt } = smallSvd(B, m, n, k);
      return { Ut: Lt, s, Vt: Rt, k: s.length, m, n };
    }
    const At = new Float64Array(n * m);
    for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) At[j * m + i] = A[i * n + j];
    const { Lt, s, Rt } = smallSvd(At, n, m, k);
    return { Ut: Rt, s, Vt: Lt, k: s.length, m, n };
  }
  const rng = new SeededRandom(opts.seed ?? 1);
  const Om = new Float64Array(l * n);
  for (let i = 0; i < Om.length; i++) Om[i] = rng.normal();
  let Y = timesRowsT(A, m, n, Om, l); // l × m, columns of A·Ω stored as rows
  orthonormalizeRows(Y, l, m);
  for (let it = 0; it < q; it++) {
    const Z = leftTimes(A, m, n, Y, l); // l × n = (Aᵀ Q)ᵀ
    orthonormalizeRows(Z, l, n);
    Y = timesRowsT(A, m, n, Z, l);
    orthonormalizeRows(Y, l, m);
  }
  const B = leftTimes(A, m, n, Y, l); // l × n = Qᵀ A
  const { Lt, s, Rt } = smallSvd(B, l, n, k);
  // A ≈ Q · B = Q · L · diag(s) · R: left vectors u_r = Σ_c L[c, r] · Q[:, c]
  const kk = s.length;
  const Ut = new Float64Array(kk * m);
  for (let r = 0; r < kk; r++) {
    for (let c = 0; c < l; c++) {
      const w = Lt[r * l + c];
      if (w === 0) continue;
      for (let i = 0; i < m; i++) Ut[r * m + i] += w * Y[c * m + i];
    }
  }
  return { Ut, s, Vt: Rt, k: kk, m, n };
}

/** Frobenius norm squared. */
export function frobenius2(A: Mat): number {
  let s = 0;
  for (let i = 0; i < A.length; i++) s += A[i] * A[i];
  return s;
}
