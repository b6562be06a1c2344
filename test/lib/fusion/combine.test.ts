import { strict as assert } from 'assert';
import { combineFixed, combineInverseVariance, kalmanStep } from '../../../lib/fusion/combine';

const close = (a: number, b: number, eps = 1e-12) => assert.ok(Math.abs(a - b) <= eps, `${a} vs ${b}`);

describe('fusion: combiners', () => {
  it('fixed weights: H = w1·H1 + w2·H2 with the propagated uncertainty', () => {
    const c = combineFixed(2, 3, 0.7, 0.3, 0.01, 0.04);
    close(c.value, 2.3);
    close(c.uncertainty as number, Math.sqrt(0.49 * 0.01 + 0.09 * 0.04));
    assert.equal(combineFixed(2, 3, 0.5, 0.5, null, 0.04).uncertainty, null);
  });

  it('inverse variance: variances 1 and 4 give weights 0.8 / 0.2 and variance 0.8', () => {
    const c = combineInverseVariance(10, 20, 1, 4);
    close(c.wa, 0.8);
    close(c.wb, 0.2);
    close(c.value, 12);
    close(c.uncertainty as number, Math.sqrt(0.8));
  });

  it('Kalman: the first step starts from the measurements', () => {
    const { state, combined } = kalmanStep(null, 1000, 1, { z: 10, r: 1 }, { z: 20, r: 4 });
    close(state.x, 12);
    close(state.p, 0.8);
    assert.equal(state.t, 1000);
    close(combined.wPrior as number, 0);
  });

  it('Kalman: predict and update by hand', () => {
    // x=1, p=1 at t=0; q=0.5 per s, Δt=2 s → P⁻ = 2; two measurements z=3, r=1 → combined r=0.5
    // K = 2 / 2.5 = 0.8; x = 1 + 0.8·(3 − 1) = 2.6; P = 0.2·2 = 0.4
    const { state, combined } = kalmanStep({ x: 1, p: 1, t: 0 }, 2000, 0.5, { z: 3, r: 1 }, { z: 3, r: 1 });
    close(state.x, 2.6);
    close(state.p, 0.4);
    close(combined.wPrior as number, 0.2);
    close(combined.wa, 0.4);
    close(combined.wb, 0.4);
    close(combined.uncertainty as number, Math.sqrt(0.4));
  });

  it('Kalman: two measurements equal two sequential scalar updates', () => {
    const prior = { x: 5, p: 0.3, t: 0 };
    const q = 0.02;
    const a = { z: 5.4, r: 0.05 };
    const b = { z: 4.9, r: 0.2 };
    // sequential, written out independently
    let p = prior.p + q * 1.5;
    let x = prior.x;
    let k = p / (p + a.r);
    x += k * (a.z - x);
    p *= 1 - k;
    k = p / (p + b.r);
    x += k * (b.z - x);
    p *= 1 - k;
    const { state, combined } = kalmanStep(prior, 1500, q, a, b);
    close(state.x, x, 1e-12);
    close(state.p, p, 1e-12);
    close(combined.wa + combined.wb + (combined.wPrior as number), 1, 1e-12);
    close(combined.wPrior! * (prior.x) + combined.wa * a.z + combined.wb * b.z, x, 1e-12);
  });

  it('Kalman: one measurement only, and none refused', () => {
    const { state, combined } = kalmanStep({ x: 0, p: 1, t: 0 }, 0, 0, null, { z: 1, r: 1 });
    close(state.x, 0.5);
    assert.equal(combined.wa, 0);
    close(combined.wb, 0.5);
    assert.throws(() => kalmanStep(null, 0, 0, null, null), RangeError);
  });

  it('Kalman: time going backwards does not shrink the variance', () => {
    const { state } = kalmanStep({ x: 0, p: 1, t: 5000 }, 1000, 10, { z: 0, r: 1 }, null);
    close(state.p, 0.5); // Δt clamped to 0: P⁻ = 1, K = 0.5
    assert.equal(state.t, 5000);
  });
});
