import { strict as assert } from 'assert';
import { truncatedSvd } from '../../../lib/optimize/svd';
import { SeededRandom } from '../../../lib/util/random';

/** Random matrix with orthonormal columns (m × k), by Gram–Schmidt. */
function orthonormal(m: number, k: number, rng: SeededRandom): Float64Array[] {
  const cols: Float64Array[] = [];
  while (cols.length < k) {
    const v = Float64Array.from({ length: m }, () => rng.normal());
    for (const c of cols) {
      let d = 0;
      for (let i = 0; i < m; i++) d += v[i] * c[i];
      for (let i = 0; i < m; i++) v[i] -= d * c[i];
    }
    const n = Math.hypot(...v);
    cols.push(v.map((x) => x / n));
  }
  return cols;
}

function build(m: number, n: number, s: number[], rng: SeededRandom): Float32Array {
  const U = orthonormal(m, s.length, rng);
  const V = orthonormal(n, s.length, rng);
  const A = new Float32Array(m * n);
  for (let r = 0; r < s.length; r++) for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) A[i * n + j] += s[r] * U[r][i] * V[r][j];
  return A;
}

describe('optimize: truncated SVD', () => {
  it('recovers known singular values and vectors (small: exact Jacobi)', () => {
    // diag(3, 2) embedded: A = [[3, 0], [0, 2], [0, 0]]
    const r = truncatedSvd(new Float32Array([3, 0, 0, 2, 0, 0]), 3, 2, 2);
    assert.deepEqual(Array.from(r.s, (v) => +v.toFixed(12)), [3, 2]);
    assert.ok(Math.abs(Math.abs(r.Ut[0]) - 1) < 1e-12 && Math.abs(Math.abs(r.Vt[0]) - 1) < 1e-12);
  });

  for (const [m, n] of [[300, 200], [120, 500]]) {
    it(`randomized path: ${m}×${n} with known spectrum, rank 8`, () => {
      const rng = new SeededRandom(5);
      const s = [50, 40, 30, 20, 10, 5, 2, 1, 0.5, 0.2, 0.1, 0.05];
      const A = build(m, n, s, rng);
      const r = truncatedSvd(A, m, n, 8);
      assert.equal(r.k, 8);
      for (let i = 0; i < 8; i++) assert.ok(Math.abs(r.s[i] - s[i]) < 1e-4 * s[0], `σ${i} ${r.s[i]} vs ${s[i]}`);
      // orthonormal factors and reconstruction error = tail energy
      for (let a = 0; a < 8; a++) for (let b = 0; b < 8; b++) {
        let du = 0;
        let dv = 0;
        for (let i = 0; i < m; i++) du += r.Ut[a * m + i] * r.Ut[b * m + i];
        for (let j = 0; j < n; j++) dv += r.Vt[a * n + j] * r.Vt[b * n + j];
        assert.ok(Math.abs(du - (a === b ? 1 : 0)) < 1e-6 && Math.abs(dv - (a === b ? 1 : 0)) < 1e-6);
      }
      let err = 0;
      for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
        let v = 0;
        for (let k = 0; k < 8; k++) v += r.Ut[k * m + i] * r.s[k] * r.Vt[k * n + j];
        err += (A[i * n + j] - v) ** 2;
      }
      const tail = s.slice(8).reduce((a, b) => a + b * b, 0);
      assert.ok(Math.abs(Math.sqrt(err) - Math.sqrt(tail)) < 1e-3, `residual ${Math.sqrt(err)} vs ${Math.sqrt(tail)}`);
    });
  }

  it('rejects a bad rank or size', () => {
    assert.throws(() => truncatedSvd(new Float32Array(6), 3, 2, 0), RangeError);
    assert.throws(() => truncatedSvd(new Float32Array(5), 3, 2, 1), RangeError);
  });
});
