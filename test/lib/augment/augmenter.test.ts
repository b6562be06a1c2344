import { strict as assert } from 'assert';
import fc from 'fast-check';
import { InputError } from '../../../lib/errors';
import { Augmenter, mixSeed, type Sample } from '../../../lib/augment/augmenter';
import { parseRules, REACTOR_DEFAULT_RULES } from '../../../lib/augment/rules';

// ---- the reactor defaults' constraints, written out independently of lib/augment ------------------
const R = 8.314462618;
const EPS = 1e-9;
const nums = (v: unknown): number[] => (Array.isArray(v) ? v : [v as number]);
const relClose = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

/** Every constraint of REACTOR_DEFAULT_RULES, checked on one augmented sample of `real`. */
function reactorViolations(real: Sample, out: Sample): string[] {
  const bad: string[] = [];
  // temperature: |Δ| ≤ 2 °C per point, inside 80–120 °C, same shape
  const tx = nums(real.temperature);
  const ty = nums(out.temperature);
  if (Array.isArray(real.temperature) !== Array.isArray(out.temperature) || tx.length !== ty.length) bad.push('temperature shape');
  ty.forEach((y, i) => {
    if (!(y >= 80 && y <= 120)) bad.push(`temperature[${i}] ${y} outside 80–120`);
    if (Math.abs(y - tx[i]) > 2 + EPS * Math.max(1, Math.abs(tx[i]))) bad.push(`temperature[${i}] moved ${y - tx[i]}`);
  });
  // pressure: 0.6–1.2 MPa
  if (!((out.pressure as number) >= 0.6 && (out.pressure as number) <= 1.2)) bad.push(`pressure ${out.pressure}`);
  // catalyst within 12 kg ± 5 %; k = A·exp(−Ea/RT)·dose/12 averaged over the temperature points
  const dose = out.catalyst as number;
  if (!(dose >= 11.4 - EPS && dose <= 12.6 + EPS)) bad.push(`catalyst ${dose}`);
  const k = ty.reduce((s, t) => s + 5e6 * Math.exp(-60000 / (R * (t + 273.15))) * (dose / 12), 0) / ty.length;
  if (!relClose(out.rateConstant as number, k)) bad.push(`rateConstant ${out.rateConstant} vs ${k}`);
  if (!relClose(out.conversion as number, 1 - Math.exp(-k * (out.reactionTime as number)))) bad.push(`conversion ${out.conversion}`);
  if (out.reactionTime !== real.reactionTime) bad.push('reactionTime changed');
  if (!relClose(out.timeToTarget as number, Math.log(20) / k)) bad.push(`timeToTarget ${out.timeToTarget}`);
  // fractions: sum 100 %, each within ±3 % of the real one (rescaled to 100 %), feedA/feedB in 1.9–2.1
  const comps = ['feedA', 'feedB', 'solvent'];
  const realSum = comps.reduce((s, c) => s + (real[c] as number), 0);
  const outSum = comps.reduce((s, c) => s + (out[c] as number), 0);
  if (Math.abs(outSum - 100) > 1e-9 * 100) bad.push(`fractions sum ${outSum}`);
  for (const c of comps) {
    const ref = ((real[c] as number) * 100) / realSum;
    if (Math.abs((out[c] as number) - ref) > 0.03 * ref + EPS) bad.push(`${c} ${out[c]} vs ${ref}`);
  }
  const ratio = (out.feedA as number) / (out.feedB as number);
  if (!(ratio >= 1.9 && ratio <= 2.1)) bad.push(`feedA/feedB ${ratio}`);
  // agitator 150–300 rpm; h = 0.36·Re^(2/3)·Pr^(1/3)·0.6/1.0; M = 1 − 0.05^(5/θ95)
  const rpm = out.agitatorSpeed as number;
  if (!(rpm >= 150 && rpm <= 300)) bad.push(`agitatorSpeed ${rpm}`);
  const re = (1000 * (rpm / 60) * 0.16) / 0.001;
  const h = (0.36 * re ** (2 / 3) * ((4180 * 0.001) / 0.6) ** (1 / 3) * 0.6) / 1.0;
  if (!relClose(out.heatTransferCoeff as number, h)) bad.push(`heatTransferCoeff ${out.heatTransferCoeff} vs ${h}`);
  const theta = (5.2 * 1.7 ** (-1 / 3) * 6.25) / (rpm / 60);
  if (!relClose(out.mixingIndex as number, 1 - 0.05 ** (5 / theta))) bad.push(`mixingIndex ${out.mixingIndex}`);
  return bad;
}

// ---- generators --------------------------------------------------------------------------------
const temperatureIn = (lo: number, hi: number) => fc.oneof(
  fc.double({ min: lo, max: hi, noNaN: true }),
  fc.array(fc.double({ min: lo, max: hi, noNaN: true }), { minLength: 1, maxLength: 40 }),
);

function reactorSample(temperature: fc.Arbitrary<number | number[]>, ratio: fc.Arbitrary<number>): fc.Arbitrary<Sample> {
  return fc.record({
    temperature,
    pressure: fc.double({ min: 0, max: 2, noNaN: true }),
    catalyst: fc.double({ min: 5, max: 20, noNaN: true }),
    reactionTime: fc.double({ min: 0, max: 600, noNaN: true }),
    feedB: fc.double({ min: 5, max: 30, noNaN: true }),
    ratio,
    solvent: fc.double({ min: 10, max: 80, noNaN: true }),
    agitatorSpeed: fc.double({ min: 0, max: 400, noNaN: true }),
  }).map(({ ratio: r, ...s }) => ({ ...s, feedA: s.feedB * r, batch: 'B-17' }));
}

const seedArb = fc.integer({ min: 0, max: 0xffffffff });
const countArb = fc.integer({ min: 1, max: 20 });

describe('Augmenter', () => {
  const reactor = new Augmenter(REACTOR_DEFAULT_RULES);

  it('property: every emitted sample satisfies every constraint, for any input and seed', () => {
    fc.assert(fc.property(reactorSample(temperatureIn(76, 124), fc.double({ min: 1.5, max: 2.5, noNaN: true })), seedArb, countArb, (real, seed, k) => {
      const result = reactor.augment(real, k, seed);
      const rejected = Object.values(result.rejected).reduce((s, x) => s + x, 0);
      assert.equal(result.samples.length + rejected, k);
      for (const s of result.samples) assert.deepEqual(reactorViolations(real, s.payload), []);
      assert.deepEqual(result.samples.map((s) => s.seed), result.samples.map((s) => mixSeed(seed, s.index)));
    }), { numRuns: 150 });
  });

  it('property: a feasible sample yields at least 90 % of the K samples asked for (never none)', () => {
    let asked = 0;
    let emitted = 0;
    fc.assert(fc.property(reactorSample(temperatureIn(80, 120), fc.double({ min: 1.92, max: 2.08, noNaN: true })), seedArb, countArb, (real, seed, k) => {
      const result = reactor.augment(real, k, seed);
      asked += k;
      emitted += result.samples.length;
      assert.ok(result.samples.length >= Math.ceil(0.9 * k), `only ${result.samples.length} of ${k} emitted: ${JSON.stringify(result.rejected)}`);
    }), { numRuns: 150 });
    assert.ok(asked > 0 && emitted / asked >= 0.99, `emitted ${emitted} of ${asked}`);
  });

  it('same seed gives the same samples; another seed gives others', () => {
    const real = { temperature: [100, 101, 103, 104, 104.5], pressure: 0.9, catalyst: 12, reactionTime: 120, feedA: 30, feedB: 15, solvent: 55, agitatorSpeed: 200 };
    const a = reactor.augment(real, 8, 1234);
    const b = new Augmenter(parseRules(JSON.stringify(REACTOR_DEFAULT_RULES))).augment(real, 8, 1234);
    assert.deepEqual(a, b);
    const c = reactor.augment(real, 8, 1235);
    assert.notDeepEqual(a.samples.map((s) => s.payload), c.samples.map((s) => s.payload));
    // one sample regenerates from its own seed
    assert.deepEqual(reactor.generate(real, a.samples[3].seed), { payload: a.samples[3].payload });
    // the real sample is not modified
    assert.deepEqual(real.temperature, [100, 101, 103, 104, 104.5]);
  });

  it('perturbs a curve smoothly: bounded by ±a, in range, steps no larger than π·a/L', () => {
    const knots = 4;
    const aug = new Augmenter(parseRules([{ kind: 'perturb', field: 'T', amplitude: 2, min: 80, max: 120, knots }]));
    fc.assert(fc.property(fc.array(fc.double({ min: 80, max: 120, noNaN: true }), { minLength: 10, maxLength: 200 }), seedArb, (curve, seed) => {
      const out = aug.augment({ T: curve }, 3, seed);
      assert.equal(out.samples.length, 3);
      const span = (curve.length - 1) / (knots - 1);
      for (const s of out.samples) {
        const y = s.payload.T as number[];
        const d = y.map((v, i) => v - curve[i]);
        for (let i = 0; i < d.length; i++) {
          assert.ok(Math.abs(d[i]) <= 2 + 1e-9 && y[i] >= 80 && y[i] <= 120);
          if (i > 0) assert.ok(Math.abs(d[i] - d[i - 1]) <= (Math.PI * 2) / span + 1e-9, `step ${d[i] - d[i - 1]} at ${i}`);
        }
      }
    }), { numRuns: 100 });
  });

  it('a flat curve in the middle of the range gets a full-size, non-constant drift', () => {
    const aug = new Augmenter(parseRules([{ kind: 'perturb', field: 'T', amplitude: 2, min: 80, max: 120, knots: 4 }]));
    const out = aug.augment({ T: new Array(100).fill(100) }, 20, 5);
    const deltas = out.samples.map((s) => (s.payload.T as number[]).map((v) => v - 100));
    const maxAbs = Math.max(...deltas.flat().map(Math.abs));
    assert.ok(maxAbs > 1 && maxAbs <= 2, `largest offset ${maxAbs}`);
    for (const d of deltas) assert.ok(Math.max(...d) - Math.min(...d) > 0, 'the perturbation varies along the curve');
  });

  it('a value that cannot be brought into range is not emitted, and counted against its rule', () => {
    const real = { temperature: 125, pressure: 0.9, catalyst: 12, reactionTime: 120, feedA: 30, feedB: 15, solvent: 55, agitatorSpeed: 200 };
    const out = reactor.augment(real, 10, 1);
    assert.equal(out.samples.length, 0);
    assert.deepEqual(out.rejected, { 'perturb:temperature': 10 });
    // 121.5 °C is 1.5 above the range: within ±2 of [119.5, 120]
    const near = reactor.augment({ ...real, temperature: 121.5 }, 10, 1);
    assert.equal(near.samples.length, 10);
    for (const s of near.samples) assert.ok((s.payload.temperature as number) >= 119.5 && (s.payload.temperature as number) <= 120);
  });

  it('fractions whose ratio cannot reach its band are redrawn, then counted as not emitted', () => {
    // feedA/feedB = 3: ±3 % shifts reach at most 3·1.03/0.97 = 3.19, never 1.9–2.1
    const real = { temperature: 100, pressure: 0.9, catalyst: 12, reactionTime: 120, feedA: 36, feedB: 12, solvent: 52, agitatorSpeed: 200 };
    const out = reactor.augment(real, 5, 9);
    assert.equal(out.samples.length, 0);
    assert.deepEqual(out.rejected, { 'stoichiometry:feedA+feedB+solvent': 5 });
  });

  it('renormalises fractions that do not sum to 100 and keeps the ±3 % shift against the rescaled ones', () => {
    const aug = new Augmenter(parseRules([{ kind: 'stoichiometry', fields: ['a', 'b', 'c'], relative: 0.03, total: 100 }]));
    // 20 + 30 + 49 = 99: the reference is 20.20, 30.30, 49.49
    const out = aug.augment({ a: 20, b: 30, c: 49 }, 50, 3);
    assert.equal(out.samples.length, 50);
    for (const s of out.samples) {
      const p = s.payload as Record<string, number>;
      assert.ok(Math.abs(p.a + p.b + p.c - 100) < 1e-9);
      assert.ok(Math.abs(p.a / (2000 / 99) - 1) <= 0.03 + 1e-12);
      assert.ok(Math.abs(p.c / (4900 / 99) - 1) <= 0.03 + 1e-12);
    }
  });

  it('range sampling: uniform in the window, or a level shift of a curve within ±spread', () => {
    const win = new Augmenter(parseRules([{ kind: 'range', field: 'p', min: 0.6, max: 1.2 }]));
    const draws = win.augment({}, 400, 11).samples.map((s) => s.payload.p as number);
    assert.equal(draws.length, 400);
    assert.ok(draws.every((p) => p >= 0.6 && p <= 1.2));
    assert.ok(Math.min(...draws) < 0.65 && Math.max(...draws) > 1.15, 'draws cover the window');
    const shift = new Augmenter(parseRules([{ kind: 'range', field: 'p', min: 0.6, max: 1.2, spread: 0.05 }]));
    const curve = [0.8, 0.85, 0.9, 1.0, 1.16];
    for (const s of shift.augment({ p: curve }, 20, 2).samples) {
      const y = s.payload.p as number[];
      const off = y[0] - curve[0];
      assert.ok(off >= -0.05 - 1e-12 && off <= 0.04 + 1e-12, `offset ${off}`); // 1.16 + 0.04 = 1.2
      y.forEach((v, i) => assert.ok(Math.abs(v - curve[i] - off) < 1e-12, 'shape kept'));
    }
    assert.deepEqual(shift.augment({ p: 1.5 }, 3, 1).rejected, { 'range:p': 3 });
  });

  it('kinetics over a temperature curve uses the time-averaged rate; time-to-target may set the reaction time', () => {
    const aug = new Augmenter(parseRules([{
      kind: 'kinetics', dose: 'cat', relative: 0.05, standardDose: 12, temperature: 'T', time: 't', A: 5e6, Ea: 60000,
      rateField: 'k', conversionField: 'X', targetConversion: 0.95, timeToTargetField: 't',
    }]));
    const out = aug.augment({ T: [80, 120] }, 5, 4);
    assert.equal(out.samples.length, 5);
    for (const s of out.samples) {
      const p = s.payload as Record<string, number>;
      // k at 80 °C = 0.006675831, at 120 °C = 0.05338436 (standard dose): mean 0.03003010, times dose/12
      assert.ok(Math.abs(p.k / (p.cat / 12) - 0.03003010) < 1e-7);
      assert.ok(Math.abs(p.t - Math.log(20) / p.k) < 1e-9);
      assert.ok(Math.abs(p.X - 0.95) < 1e-12);
    }
    // without a standard dose the real dose is the standard: 8 kg ± 5 %
    const rel = new Augmenter(parseRules([{ kind: 'kinetics', dose: 'cat', relative: 0.05, temperature: 'T', A: 5e6, Ea: 60000, rateField: 'k' }]));
    for (const s of rel.augment({ T: 100, cat: 8 }, 30, 1).samples) assert.ok((s.payload.cat as number) >= 7.6 && (s.payload.cat as number) <= 8.4);
  });

  it('calibrated kinetics reproduces the measured conversion and scales it by dose and temperature', () => {
    const kinetics = {
      kind: 'kinetics', dose: 'cat', relative: 0.05, standardDose: 12, temperature: 'T', time: 't', A: 5e6, Ea: 60000,
      rateField: 'k', conversionField: 'X', calibrate: true,
    };
    // temperature unchanged: k_new = k_measured·dose/d0 with k_measured = −ln(1 − 0.85)/100, so X_new = 1 − 0.15^(dose/12.3)
    const plain = new Augmenter(parseRules([kinetics]));
    const out = plain.augment({ T: 100, cat: 12.3, t: 100, X: 0.85 }, 20, 8);
    assert.equal(out.samples.length, 20);
    for (const s of out.samples) {
      const p = s.payload as Record<string, number>;
      assert.ok(p.cat >= 11.4 && p.cat <= 12.6);
      assert.ok(Math.abs(p.X - (1 - 0.15 ** (p.cat / 12.3))) < 1e-12, `X ${p.X}`);
      assert.ok(Math.abs(p.k - (-Math.log(0.15) / 100) * (p.cat / 12.3)) < 1e-12);
    }
    // with a perturbed temperature: X_new = 1 − 0.15^((dose/d0)·exp(−Ea/R·(1/T − 1/T0)))
    const perturbed = new Augmenter(parseRules([{ kind: 'perturb', field: 'T', amplitude: 2, min: 80, max: 120 }, kinetics]));
    for (const s of perturbed.augment({ T: 100, cat: 12.3, t: 100, X: 0.85 }, 20, 9).samples) {
      const p = s.payload as Record<string, number>;
      const arrhenius = Math.exp((-60000 / 8.314462618) * (1 / (p.T + 273.15) - 1 / 373.15));
      assert.ok(Math.abs(p.X - (1 - 0.15 ** ((p.cat / 12.3) * arrhenius))) < 1e-12, `X ${p.X} at ${p.T} °C`);
    }
    assert.throws(() => plain.augment({ T: 100, cat: 12.3, t: 100, X: 1 }, 1, 1), /msg\.payload\.X: expected a measured conversion between 0 and 1/);
    assert.throws(() => plain.augment({ T: 100, cat: 12.3, t: 0, X: 0.5 }, 1, 1), /msg\.payload\.t: expected a reaction time > 0/);
    assert.throws(() => plain.augment({ T: 100, cat: -1, t: 10, X: 0.5 }, 1, 1), /msg\.payload\.cat: expected the real catalyst dose > 0/);
  });

  it('stirring speed follows the segment weights', () => {
    const aug = new Augmenter(REACTOR_DEFAULT_RULES.filter((r) => r.kind === 'stirring'));
    const speeds = aug.augment({}, 2000, 77).samples.map((s) => s.payload.agitatorSpeed as number);
    const share = (lo: number, hi: number) => speeds.filter((v) => v >= lo && v < hi).length / speeds.length;
    assert.ok(Math.abs(share(150, 200) - 0.3) < 0.04, `150–200: ${share(150, 200)}`);
    assert.ok(Math.abs(share(200, 250) - 0.5) < 0.04, `200–250: ${share(200, 250)}`);
    assert.ok(Math.abs(share(250, 300.0001) - 0.2) < 0.04, `250–300: ${share(250, 300.0001)}`);
    const one = new Augmenter(parseRules([{ kind: 'stirring', field: 'n', segments: [{ min: 150, max: 160, weight: 0 }, { min: 280, max: 300, weight: 1 }] }]));
    assert.ok(one.augment({}, 100, 1).samples.every((s) => (s.payload.n as number) >= 280));
  });

  it('names the missing or malformed field of a real sample', () => {
    const base = { temperature: 100, pressure: 0.9, catalyst: 12, reactionTime: 120, feedA: 30, feedB: 15, solvent: 55 };
    const fails = (payload: unknown, field: string, text: RegExp) => assert.throws(() => reactor.augment(payload, 3, 1), (err: unknown) => {
      assert.ok(err instanceof InputError);
      assert.equal(err.field, field);
      assert.match(err.message, text);
      return true;
    });
    const { temperature: _t, ...noTemperature } = base;
    fails(noTemperature, 'msg.payload.temperature', /missing field/);
    const { reactionTime: _r, ...noTime } = base;
    fails(noTime, 'msg.payload.reactionTime', /missing field/);
    fails({ ...base, feedA: [30, 31] }, 'msg.payload.feedA', /a number \(this rule takes no curve\)/);
    fails({ ...base, feedB: -1 }, 'msg.payload.feedB', /≥ 0/);
    fails({ ...base, temperature: [100, NaN] }, 'msg.payload.temperature[1]', /finite number/);
    fails({ ...base, temperature: '100' }, 'msg.payload.temperature', /got string "100"/);
    fails([1, 2, 3], 'msg.payload', /object/);
    // catalyst and pressure are drawn (standard dose configured, no spread): not required
    assert.equal(reactor.augment({ ...base, catalyst: undefined, pressure: undefined }, 2, 1).samples.length, 2);
  });
});
