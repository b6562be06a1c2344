/**
 * The three ways dual-fusion combines two measurements of one quantity (paper eq. 2,
 * H = w1·H1 + w2·H2 with w1 + w2 = 1):
 * - fixed weights;
 * - inverse-variance weights wi = (1/σi²) / (1/σ1² + 1/σ2²), the minimum-variance unbiased
 *   combination of two independent measurements, with variance σ1²σ2² / (σ1² + σ2²);
 * - a one-dimensional Kalman filter (random-walk state), which adds the previous estimate as a
 *   third term: H = wp·H_pred + w1·H1 + w2·H2, wp + w1 + w2 = 1.
 */

export interface Combined {
  value: number;
  /** standard deviation of the combined value's error, when the noise is known */
  uncertainty: number | null;
  wa: number;
  wb: number;
  /** Kalman only: weight of the prediction from the previous estimate */
  wPrior?: number;
}

/** Fixed weights; uncertainty from the noise variances when they are known. */
export function combineFixed(a: number, b: number, wa: number, wb: number, varA: number | null, varB: number | null): Combined {
  const uncertainty = varA !== null && varB !== null ? Math.sqrt(wa * wa * varA + wb * wb * varB) : null;
  return { value: wa * a + wb * b, uncertainty, wa, wb };
}

/** Inverse-variance weights (both variances > 0). */
export function combineInverseVariance(a: number, b: number, varA: number, varB: number): Combined {
  const wa = varB / (varA + varB);
  const wb = 1 - wa;
  return { value: wa * a + wb * b, uncertainty: Math.sqrt((varA * varB) / (varA + varB)), wa, wb };
}

export interface KalmanState {
  /** estimate */
  x: number;
  /** its error variance */
  p: number;
  /** time of the estimate, ms */
  t: number;
}

/** One measurement for a Kalman step: value and its noise variance. */
export interface Measurement {
  z: number;
  r: number;
}

/**
 * One Kalman step for a random-walk state: predict (P += q·Δt, Δt in seconds, q the truth's
 * variance growth per second), then update with one or two measurements. Two measurements are
 * combined first by inverse variance, which is the same as two sequential updates.
 * Without a previous state, the measurements themselves start the filter.
 * Returns the new state and the combination (weights of prior, a and b).
 */
export function kalmanStep(state: KalmanState | null, t: number, q: number, a: Measurement | null, b: Measurement | null): { state: KalmanState; combined: Combined } {
  if (!a && !b) throw new RangeError('kalmanStep needs at least one measurement');
  // combined measurement
  let z: number;
  let r: number;
  let fa: number;
  let fb: number;
  if (a && b) {
    fa = b.r / (a.r + b.r);
    fb = 1 - fa;
    z = fa * a.z + fb * b.z;
    r = (a.r * b.r) / (a.r + b.r);
  } else if (a) {
    fa = 1;
    fb = 0;
    z = a.z;
    r = a.r;
  } else {
    fa = 0;
    fb = 1;
    z = (b as Measurement).z;
    r = (b as Measurement).r;
  }
  if (!state) {
    return { state: { x: z, p: r, t }, combined: { value: z, uncertainty: Math.sqrt(r), wa: fa, wb: fb, wPrior: 0 } };
  }
  const dt = Math.max(0, (t - state.t) / 1000);
  const pPred = state.p + q * dt;
  const k = pPred / (pPred + r);
  const x = state.x + k * (z - state.x);
  const p = (1 - k) * pPred;
  return {
    state: { x, p, t: Math.max(t, state.t) },
    combined: { value: x, uncertainty: Math.sqrt(p), wa: k * fa, wb: k * fb, wPrior: 1 - k },
  };
}
