/**
 * Smooth random perturbation of a curve: `knots` offsets drawn uniformly in [−amplitude, +amplitude]
 * at evenly spaced points, joined by cosine interpolation (C¹: zero slope at each knot). The curve
 * never leaves the knots' range, so |δ| ≤ amplitude everywhere, and its step between neighbouring
 * points is at most π·amplitude/L for L points per knot interval: a slow drift, not white noise.
 */
import type { SeededRandom } from '../util/random';

export function smoothPerturbation(length: number, amplitude: number, knots: number, rng: SeededRandom): number[] {
  if (length <= 0) return [];
  const k = Math.max(2, Math.min(knots, length));
  const values = Array.from({ length: k }, () => rng.uniform(-amplitude, amplitude));
  if (length === 1) return [values[0]];
  const out = new Array<number>(length);
  const span = (length - 1) / (k - 1);
  for (let i = 0; i < length; i++) {
    const pos = i / span;
    const j = Math.min(Math.floor(pos), k - 2);
    const u = pos - j;
    const w = (1 - Math.cos(Math.PI * u)) / 2;
    out[i] = values[j] + (values[j + 1] - values[j]) * w;
  }
  return out;
}
