/**
 * Accuracy of dual-fusion on generated data with known truth and known noise (paper eq. 2,
 * |H − H_true| ≤ 0.01 mm). The expectations are computed here in closed form, not by the code
 * under test:
 * - one source alone: RMSE σi; equal weights: √(σa² + σb²) / 2;
 * - best linear combination of two independent measurements (inverse variance):
 *   σ* = √(σa²σb² / (σa² + σb²)), with weight σb² / (σa² + σb²) on source a;
 * - Kalman filter on a random walk with step variance Q and measurement variance R = σ*²:
 *   steady-state P⁻ = (Q + √(Q² + 4QR)) / 2 and P = P⁻R / (P⁻ + R).
 */
import { strict as assert } from 'assert';
import { DualFusion, type FusionEvent } from '../../../lib/fusion/dual-fusion';
import { parseFusionOptions } from '../../../lib/fusion/options';
import { SeededRandom } from '../../../lib/util/random';

const SA = 0.003; // laser gauge noise, mm
const SB = 0.009; // X-ray gauge noise, mm
const DT = 10; // ms between readings
const N = 20_000;
const WARMUP = 1000; // pairs skipped before errors are counted

interface Run {
  rmse: number;
  rmseA: number;
  rmseB: number;
  rmseEqual: number;
  meanWeightA: number;
  meanUncertainty: number;
  withinTarget: number;
}

function simulate(config: Record<string, unknown>, truthAt: (i: number, rnd: SeededRandom, prev: number) => number, seed: number): Run {
  const rnd = new SeededRandom(seed);
  const fusion = new DualFusion<number>(parseFusionOptions({ sourceA: 'laser', sourceB: 'xray', skew: 5, timeout: 1000, window: 500, ...config }), 0);
  let truth = 2;
  const sq = { fused: 0, a: 0, b: 0, eq: 0 };
  let weightA = 0;
  let uncertainty = 0;
  let within = 0;
  let n = 0;
  for (let i = 0; i < N; i++) {
    const t = i * DT;
    truth = truthAt(i, rnd, truth);
    const a = truth + rnd.normal(0, SA);
    const b = truth + rnd.normal(0, SB);
    fusion.push('a', { value: a, timestamp: t }, i, t);
    const events = fusion.push('b', { value: b, timestamp: t }, i, t);
    const fused = events.find((e) => e.type === 'fused') as Extract<FusionEvent<number>, { type: 'fused' }>;
    assert.ok(fused, `pair ${i} was not fused`);
    if (i < WARMUP) continue;
    const err = fused.result.value - truth;
    sq.fused += err * err;
    sq.a += (a - truth) ** 2;
    sq.b += (b - truth) ** 2;
    sq.eq += ((a + b) / 2 - truth) ** 2;
    weightA += fused.result.weights.a;
    uncertainty += fused.result.uncertainty as number;
    if (Math.abs(err) <= 0.01) within++;
    n++;
  }
  return {
    rmse: Math.sqrt(sq.fused / n),
    rmseA: Math.sqrt(sq.a / n),
    rmseB: Math.sqrt(sq.b / n),
    rmseEqual: Math.sqrt(sq.eq / n),
    meanWeightA: weightA / n,
    meanUncertainty: uncertainty / n,
    withinTarget: within / n,
  };
}

const sine = (i: number) => 2 + 0.05 * Math.sin((2 * Math.PI * i * DT) / 60_000);
const OPTIMAL = Math.sqrt((SA * SA * SB * SB) / (SA * SA + SB * SB));
const EQUAL = Math.sqrt(SA * SA + SB * SB) / 2;

describe('fusion: accuracy against closed-form expectations', () => {
  it('the simulation itself matches its noise levels (single sources and equal weights)', () => {
    const r = simulate({ mode: 'fixed', weightA: 0.5, weightB: 0.5 }, sine, 1);
    assert.ok(Math.abs(r.rmseA / SA - 1) < 0.03, `laser ${r.rmseA}`);
    assert.ok(Math.abs(r.rmseB / SB - 1) < 0.03, `xray ${r.rmseB}`);
    assert.ok(Math.abs(r.rmse / EQUAL - 1) < 0.03, `equal ${r.rmse} vs ${EQUAL}`);
    assert.ok(Math.abs(r.rmse - r.rmseEqual) < 1e-12);
  });

  it('adaptive weights reach the inverse-variance optimum and beat either source and equal weights', () => {
    const r = simulate({ mode: 'adaptive' }, sine, 2);
    assert.ok(r.rmse < 1.05 * OPTIMAL && r.rmse > 0.95 * OPTIMAL, `adaptive ${r.rmse} vs optimum ${OPTIMAL}`);
    assert.ok(r.rmse < r.rmseA && r.rmse < r.rmseB && r.rmse < r.rmseEqual, JSON.stringify(r));
    const expectedWeight = (SB * SB) / (SA * SA + SB * SB); // 0.9
    assert.ok(Math.abs(r.meanWeightA - expectedWeight) < 0.03, `weight ${r.meanWeightA} vs ${expectedWeight}`);
    assert.ok(Math.abs(r.meanUncertainty / OPTIMAL - 1) < 0.1, `reported uncertainty ${r.meanUncertainty} vs ${OPTIMAL}`);
    // the paper's target |H − H_true| ≤ 0.01 mm is 3.5 σ* here: P(|z| > 3.5) ≈ 0.05 %
    assert.ok(r.withinTarget > 0.995, `within ±0.01: ${r.withinTarget}`);
  });

  it('Kalman reaches its steady-state error on a random walk and beats adaptive, either source and equal weights', () => {
    const R = OPTIMAL * OPTIMAL;
    const Q = R / 100; // truth's variance growth per 10 ms step
    const qPerSecond = Q / (DT / 1000);
    const pPred = (Q + Math.sqrt(Q * Q + 4 * Q * R)) / 2;
    const expected = Math.sqrt((pPred * R) / (pPred + R));
    const walk = (_i: number, rnd: SeededRandom, prev: number) => prev + rnd.normal(0, Math.sqrt(Q));
    const k = simulate({ mode: 'kalman', processNoise: Math.sqrt(qPerSecond) }, walk, 3);
    const adaptive = simulate({ mode: 'adaptive' }, walk, 3);
    assert.ok(Math.abs(k.rmse / expected - 1) < 0.1, `kalman ${k.rmse} vs steady state ${expected}`);
    assert.ok(Math.abs(k.meanUncertainty / expected - 1) < 0.15, `reported ${k.meanUncertainty} vs ${expected}`);
    assert.ok(k.rmse < adaptive.rmse && k.rmse < k.rmseA && k.rmse < k.rmseB && k.rmse < k.rmseEqual, JSON.stringify({ k, adaptive }));
  });

  it('Kalman with the process noise estimated from the data still beats adaptive on a slow signal', () => {
    const k = simulate({ mode: 'kalman' }, sine, 4);
    const adaptive = simulate({ mode: 'adaptive' }, sine, 4);
    assert.ok(k.rmse < adaptive.rmse && k.rmse < k.rmseEqual && k.rmse < k.rmseA, JSON.stringify({ k: k.rmse, adaptive: adaptive.rmse }));
  });
});
