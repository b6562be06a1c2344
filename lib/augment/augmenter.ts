/**
 * Turns one real sample into K augmented ones that keep every configured rule's constraints.
 *
 * A sample is a record of named values, each a number or a curve (number[], values over time).
 * Each augmented sample j has its own seed (derived from the message seed and j), so any one of
 * them can be regenerated from `msg.augmented.seed` alone. A draw runs every rule in order on a
 * copy of the real sample, then checks every rule's constraints on the result; a draw that fails
 * is redrawn up to `maxAttempts` times, after which the sample is not emitted and counted against
 * the rule that failed.
 */
import { InputError } from '../errors';
import { SeededRandom } from '../util/random';
import { conversion, heatTransferCoefficient, kelvin, mixingIndex, mixingTime, rateConstant, timeToConversion } from './physics';
import { ruleFields, ruleId, type KineticsRule, type PerturbRule, type RangeRule, type Rule, type StirringRule, type StoichiometryRule } from './rules';
import { smoothPerturbation } from './smooth';

export type Value = number | number[];
export type Sample = Record<string, unknown>;

export interface AugmentOptions {
  /** draws per sample before it counts as not emitted (default 20) */
  maxAttempts?: number;
}

export interface AugmentedSample {
  payload: Sample;
  seed: number;
  index: number;
}

export interface AugmentResult {
  samples: AugmentedSample[];
  requested: number;
  /** samples that could not be made valid, by rule id */
  rejected: Record<string, number>;
}

type Outcome = 'ok' | 'retry' | 'infeasible';

/** Relative tolerance for derived values and sums (floating-point rounding only). */
const TOL = 1e-9;

function close(a: number, b: number): boolean {
  return Math.abs(a - b) <= TOL * Math.max(1, Math.abs(a), Math.abs(b));
}

/** Mix two 32-bit integers into a well-spread 32-bit seed (murmur3 finaliser). */
export function mixSeed(a: number, b: number): number {
  let h = (a ^ Math.imul(b + 0x9e3779b9, 0x85ebca6b)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function isCurve(v: unknown): v is number[] {
  return Array.isArray(v);
}

function values(v: unknown): number[] {
  return isCurve(v) ? v : [v as number];
}

export class Augmenter {
  readonly ruleIds: string[];
  private readonly maxAttempts: number;
  /** fields each rule needs from the real sample (read before any earlier rule writes them) */
  private readonly inputFields: Array<{ field: string; rule: Rule; curveOk: boolean }>;

  constructor(readonly rules: Rule[], options: AugmentOptions = {}) {
    this.maxAttempts = options.maxAttempts ?? 20;
    if (!Number.isInteger(this.maxAttempts) || this.maxAttempts < 1) throw new RangeError('maxAttempts must be an integer ≥ 1');
    this.ruleIds = rules.map(ruleId);
    const written = new Set<string>();
    const needed = new Map<string, { field: string; rule: Rule; curveOk: boolean }>();
    for (const rule of rules) {
      const { reads, writes } = ruleFields(rule);
      for (const field of reads) {
        if (written.has(field)) continue;
        const curveOk = rule.kind === 'perturb' || rule.kind === 'range' || (rule.kind === 'kinetics' && field === rule.temperature);
        const prev = needed.get(field);
        needed.set(field, { field, rule, curveOk: prev ? prev.curveOk && curveOk : curveOk });
      }
      for (const f of writes) written.add(f);
    }
    this.inputFields = [...needed.values()];
  }

  /** Check that a real sample has every field the rules need; throws InputError naming the field. */
  validate(payload: unknown): Sample {
    if (payload === null || typeof payload !== 'object' || Array.isArray(payload) || ArrayBuffer.isView(payload)) {
      throw new InputError('msg.payload', 'an object of named numbers or curves (a record)', payload);
    }
    const sample = payload as Sample;
    for (const { field, curveOk } of this.inputFields) {
      const v = sample[field];
      const name = `msg.payload.${field}`;
      if (v === undefined) throw new InputError(name, curveOk ? 'a number or an array of numbers' : 'a number', v, 'missing field');
      if (isCurve(v)) {
        if (!curveOk) throw new InputError(name, 'a number (this rule takes no curve)', v);
        if (v.length === 0) throw new InputError(name, 'a non-empty array of numbers', v);
        for (let i = 0; i < v.length; i++) {
          if (typeof v[i] !== 'number' || !Number.isFinite(v[i])) throw new InputError(`${name}[${i}]`, 'a finite number', v[i]);
        }
      } else if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InputError(name, curveOk ? 'a finite number or an array of numbers' : 'a finite number', v);
      }
    }
    for (const rule of this.rules) {
      if (rule.kind === 'stoichiometry') {
        let sum = 0;
        for (const f of rule.fields) {
          const v = sample[f] as number;
          if (v < 0) throw new InputError(`msg.payload.${f}`, 'a component fraction ≥ 0', v);
          sum += v;
        }
        if (!(sum > 0)) throw new InputError(`msg.payload.${rule.fields[0]}`, 'component fractions with a positive sum', sample[rule.fields[0]]);
      } else if (rule.kind === 'kinetics' && rule.standardDose === undefined && typeof sample[rule.dose] === 'number' && !((sample[rule.dose] as number) > 0)) {
        throw new InputError(`msg.payload.${rule.dose}`, 'a catalyst dose > 0 (the standard charge)', sample[rule.dose]);
      } else if (rule.kind === 'kinetics' && rule.time && typeof sample[rule.time] === 'number' && (sample[rule.time] as number) < 0) {
        throw new InputError(`msg.payload.${rule.time}`, 'a reaction time ≥ 0', sample[rule.time]);
      }
      if (rule.kind === 'kinetics' && rule.calibrate) {
        // calibration needs the measured values of this very sample, not ones an earlier rule drew
        const x = sample[rule.conversionField as string];
        const t = sample[rule.time as string];
        if (typeof x !== 'number' || !(x > 0 && x < 1)) throw new InputError(`msg.payload.${rule.conversionField}`, 'a measured conversion between 0 and 1 (exclusive) to calibrate on', x);
        if (typeof t !== 'number' || !(t > 0)) throw new InputError(`msg.payload.${rule.time}`, 'a reaction time > 0 to calibrate on', t);
        const temp = sample[rule.temperature];
        if (typeof temp !== 'number' && !isCurve(temp)) throw new InputError(`msg.payload.${rule.temperature}`, 'the measured temperature to calibrate on', temp);
        const dose = sample[rule.dose];
        if (dose !== undefined && !(typeof dose === 'number' && Number.isFinite(dose) && dose > 0)) {
          throw new InputError(`msg.payload.${rule.dose}`, 'the real catalyst dose > 0 (or no dose: the standard charge)', dose);
        }
      }
    }
    return sample;
  }

  /** K augmented samples of one real sample. `seed` is the message seed. */
  augment(payload: unknown, count: number, seed: number): AugmentResult {
    const real = this.validate(payload);
    const samples: AugmentedSample[] = [];
    const rejected: Record<string, number> = {};
    for (let j = 0; j < count; j++) {
      const sampleSeed = mixSeed(seed, j);
      const one = this.generate(real, sampleSeed);
      if ('payload' in one) samples.push({ payload: one.payload, seed: sampleSeed, index: j });
      else rejected[one.failed] = (rejected[one.failed] ?? 0) + 1;
    }
    return { samples, requested: count, rejected };
  }

  /** One augmented sample from its own seed (the real sample must have passed `validate`). */
  generate(real: Sample, seed: number): { payload: Sample } | { failed: string } {
    const rng = new SeededRandom(seed);
    let failed = this.ruleIds[0];
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const work = copySample(real);
      let outcome: Outcome = 'ok';
      for (let i = 0; i < this.rules.length && outcome === 'ok'; i++) {
        outcome = applyRule(this.rules[i], real, work, rng);
        if (outcome !== 'ok') failed = this.ruleIds[i];
      }
      if (outcome === 'infeasible') return { failed };
      if (outcome === 'retry') continue;
      const broken = this.rules.findIndex((rule) => violation(rule, real, work) !== null);
      if (broken < 0) return { payload: work };
      failed = this.ruleIds[broken];
    }
    return { failed };
  }

  /** Every constraint the sample breaks, as `ruleId: reason` (empty when valid). */
  violations(real: Sample, augmented: Sample): string[] {
    const out: string[] = [];
    this.rules.forEach((rule, i) => {
      const v = violation(rule, real, augmented);
      if (v) out.push(`${this.ruleIds[i]}: ${v}`);
    });
    return out;
  }
}

function copySample(s: Sample): Sample {
  const out: Sample = {};
  for (const key of Object.keys(s)) {
    const v = s[key];
    out[key] = Array.isArray(v) ? v.slice() : v;
  }
  return out;
}

function applyRule(rule: Rule, real: Sample, work: Sample, rng: SeededRandom): Outcome {
  switch (rule.kind) {
    case 'perturb':
      return applyPerturb(rule, work, rng);
    case 'range':
      return applyRange(rule, work, rng);
    case 'kinetics':
      return applyKinetics(rule, real, work, rng);
    case 'stoichiometry':
      return applyStoichiometry(rule, real, work, rng);
    case 'stirring':
      return applyStirring(rule, work, rng);
  }
}

function violation(rule: Rule, real: Sample, out: Sample): string | null {
  switch (rule.kind) {
    case 'perturb':
      return perturbViolation(rule, real, out);
    case 'range':
      return rangeViolation(rule, real, out);
    case 'kinetics':
      return kineticsViolation(rule, real, out);
    case 'stoichiometry':
      return stoichiometryViolation(rule, real, out);
    case 'stirring':
      return stirringViolation(rule, out);
  }
}

// ---- bounded perturbation --------------------------------------------------------------------

function applyPerturb(rule: PerturbRule, work: Sample, rng: SeededRandom): Outcome {
  const v = work[rule.field];
  const a = rule.amplitude;
  if (!isCurve(v)) {
    const x = v as number;
    const lo = Math.max(rule.min, x - a);
    const hi = Math.min(rule.max, x + a);
    if (lo > hi) return 'infeasible';
    work[rule.field] = Math.min(hi, rng.uniform(lo, hi));
    return 'ok';
  }
  const n = v.length;
  const lo = new Array<number>(n);
  const hi = new Array<number>(n);
  let inside = true;
  for (let i = 0; i < n; i++) {
    lo[i] = Math.max(rule.min, v[i] - a);
    hi[i] = Math.min(rule.max, v[i] + a);
    if (lo[i] > hi[i]) return 'infeasible';
    if (v[i] < rule.min || v[i] > rule.max) inside = false;
  }
  let delta: number[] = [];
  if (inside) {
    // Draw a few smooth shapes; take the first that fits whole, else the best one scaled down to fit.
    let bestScale = -1;
    for (let t = 0; t < 4 && bestScale < 1; t++) {
      const d = smoothPerturbation(n, a, rule.knots, rng);
      let s = 1;
      for (let i = 0; i < n; i++) {
        if (v[i] + d[i] > rule.max) s = Math.min(s, (rule.max - v[i]) / d[i]);
        else if (v[i] + d[i] < rule.min) s = Math.min(s, (rule.min - v[i]) / d[i]);
      }
      if (s > bestScale) {
        bestScale = s;
        delta = s < 1 ? d.map((x) => x * s) : d;
      }
    }
  } else {
    // The real curve leaves the range: clip the smooth perturbation pointwise into the feasible band.
    delta = smoothPerturbation(n, a, rule.knots, rng);
  }
  work[rule.field] = v.map((x, i) => Math.min(hi[i], Math.max(lo[i], x + delta[i])));
  return 'ok';
}

function perturbViolation(rule: PerturbRule, real: Sample, out: Sample): string | null {
  const x = values(real[rule.field]);
  const y = out[rule.field];
  if (isCurve(real[rule.field]) !== isCurve(y) || values(y).length !== x.length) return 'shape changed';
  const ys = values(y);
  for (let i = 0; i < x.length; i++) {
    if (!(ys[i] >= rule.min && ys[i] <= rule.max)) return `value ${ys[i]} outside ${rule.min}–${rule.max}`;
    if (Math.abs(ys[i] - x[i]) > rule.amplitude * (1 + TOL) + TOL * Math.abs(x[i])) return `moved ${ys[i] - x[i]}, more than ±${rule.amplitude}`;
  }
  return null;
}

// ---- range sampling --------------------------------------------------------------------------

function applyRange(rule: RangeRule, work: Sample, rng: SeededRandom): Outcome {
  const v = work[rule.field];
  const spread = rule.spread;
  if (!isCurve(v)) {
    let lo = rule.min;
    let hi = rule.max;
    if (spread !== undefined) {
      lo = Math.max(lo, (v as number) - spread);
      hi = Math.min(hi, (v as number) + spread);
      if (lo > hi) return 'infeasible';
    }
    work[rule.field] = Math.min(hi, rng.uniform(lo, hi));
    return 'ok';
  }
  // A curve keeps its shape: one level shift that puts the whole curve inside the window.
  let cmin = Infinity;
  let cmax = -Infinity;
  for (const x of v) {
    cmin = Math.min(cmin, x);
    cmax = Math.max(cmax, x);
  }
  let lo = rule.min - cmin;
  let hi = rule.max - cmax;
  if (spread !== undefined) {
    lo = Math.max(lo, -spread);
    hi = Math.min(hi, spread);
  }
  if (lo > hi) return 'infeasible';
  const offset = rng.uniform(lo, hi);
  work[rule.field] = v.map((x) => Math.min(rule.max, Math.max(rule.min, x + offset)));
  return 'ok';
}

function rangeViolation(rule: RangeRule, real: Sample, out: Sample): string | null {
  const y = out[rule.field];
  if (y === undefined) return 'missing';
  const ys = values(y);
  for (let i = 0; i < ys.length; i++) {
    if (!(ys[i] >= rule.min && ys[i] <= rule.max)) return `value ${ys[i]} outside ${rule.min}–${rule.max}`;
  }
  if (rule.spread !== undefined) {
    const x = values(real[rule.field]);
    if (x.length !== ys.length) return 'shape changed';
    for (let i = 0; i < x.length; i++) {
      if (Math.abs(ys[i] - x[i]) > rule.spread * (1 + TOL) + TOL * Math.abs(x[i])) return `moved ${ys[i] - x[i]}, more than ±${rule.spread}`;
    }
  }
  return null;
}

// ---- kinetics --------------------------------------------------------------------------------

function standardDose(rule: KineticsRule, real: Sample): number {
  return rule.standardDose ?? (real[rule.dose] as number);
}

/** Rate constant (1/min) over a temperature that may be a curve: the time-average of k(T(t)). */
function meanRate(rule: KineticsRule, temperature: unknown, dose: number, std: number): number {
  const ts = values(temperature);
  let sum = 0;
  for (const t of ts) sum += rateConstant({ preExponential: rule.A, activationEnergy: rule.Ea }, rule.temperatureUnit === 'C' ? kelvin(t) : t, dose, std);
  return sum / ts.length;
}

/**
 * The factor on A that makes the model reproduce the real sample's measured conversion
 * (1 without `calibrate`): k_measured = −ln(1 − X)/t over k_model(real T, real dose).
 */
function calibration(rule: KineticsRule, real: Sample): number {
  if (!rule.calibrate) return 1;
  const std = standardDose(rule, real);
  const realDose = real[rule.dose] === undefined ? std : (real[rule.dose] as number);
  const measured = -Math.log1p(-(real[rule.conversionField as string] as number)) / (real[rule.time as string] as number);
  return measured / meanRate(rule, real[rule.temperature], realDose, std);
}

function applyKinetics(rule: KineticsRule, real: Sample, work: Sample, rng: SeededRandom): Outcome {
  const std = standardDose(rule, real);
  const dose = Math.min(std * (1 + rule.relative), rng.uniform(std * (1 - rule.relative), std * (1 + rule.relative)));
  const k = calibration(rule, real) * meanRate(rule, work[rule.temperature], dose, std);
  if (!(k > 0) || !Number.isFinite(k)) return 'infeasible';
  work[rule.dose] = dose;
  if (rule.rateField) work[rule.rateField] = k;
  if (rule.timeToTargetField) work[rule.timeToTargetField] = timeToConversion(k, rule.targetConversion as number);
  if (rule.conversionField) work[rule.conversionField] = conversion(k, work[rule.time as string] as number);
  return 'ok';
}

function kineticsViolation(rule: KineticsRule, real: Sample, out: Sample): string | null {
  const std = standardDose(rule, real);
  const dose = out[rule.dose] as number;
  if (!(dose >= std * (1 - rule.relative) * (1 - TOL) && dose <= std * (1 + rule.relative) * (1 + TOL))) {
    return `dose ${dose} outside ±${rule.relative * 100} % of ${std}`;
  }
  const k = calibration(rule, real) * meanRate(rule, out[rule.temperature], dose, std);
  if (rule.rateField && !close(out[rule.rateField] as number, k)) return `${rule.rateField} does not match the Arrhenius rate`;
  if (rule.timeToTargetField && !close(out[rule.timeToTargetField] as number, timeToConversion(k, rule.targetConversion as number))) {
    return `${rule.timeToTargetField} does not match the time to ${rule.targetConversion} conversion`;
  }
  if (rule.conversionField) {
    const x = out[rule.conversionField] as number;
    if (!(x >= 0 && x < 1) || !close(x, conversion(k, out[rule.time as string] as number))) return `${rule.conversionField} does not match first-order conversion`;
  }
  return null;
}

// ---- stoichiometry ---------------------------------------------------------------------------

/** The real fractions rescaled to the rule's total: the reference for the ±relative shift. */
function referenceFractions(rule: StoichiometryRule, real: Sample): number[] {
  const raw = rule.fields.map((f) => real[f] as number);
  const sum = raw.reduce((s, x) => s + x, 0);
  return raw.map((x) => (x * rule.total) / sum);
}

function applyStoichiometry(rule: StoichiometryRule, real: Sample, work: Sample, rng: SeededRandom): Outcome {
  const ref = referenceFractions(rule, real);
  const shifted = ref.map((x) => x * (1 + rng.uniform(-rule.relative, rule.relative)));
  const sum = shifted.reduce((s, x) => s + x, 0);
  rule.fields.forEach((f, i) => {
    work[f] = (shifted[i] * rule.total) / sum;
  });
  return stoichiometryViolation(rule, real, work) === null ? 'ok' : 'retry';
}

function stoichiometryViolation(rule: StoichiometryRule, real: Sample, out: Sample): string | null {
  const ref = referenceFractions(rule, real);
  let sum = 0;
  for (let i = 0; i < rule.fields.length; i++) {
    const f = rule.fields[i];
    const y = out[f] as number;
    if (!(y >= 0)) return `${f} = ${y} is negative`;
    sum += y;
    if (Math.abs(y - ref[i]) > rule.relative * ref[i] * (1 + TOL) + TOL) return `${f} shifted more than ±${rule.relative * 100} %`;
    const b = rule.bounds[f];
    if (b && !(y >= b[0] && y <= b[1])) return `${f} = ${y} outside [${b[0]}, ${b[1]}]`;
  }
  if (!close(sum, rule.total)) return `fractions sum to ${sum}, not ${rule.total}`;
  for (const band of rule.ratios) {
    const r = (out[band.numerator] as number) / (out[band.denominator] as number);
    if (!(r >= band.min && r <= band.max)) return `${band.numerator}/${band.denominator} = ${r} outside ${band.min}–${band.max}`;
  }
  return null;
}

// ---- stirring --------------------------------------------------------------------------------

function applyStirring(rule: StirringRule, work: Sample, rng: SeededRandom): Outcome {
  const totalWeight = rule.segments.reduce((s, g) => s + g.weight, 0);
  let pick = rng.next() * totalWeight;
  const weighted = rule.segments.filter((g) => g.weight > 0);
  let segment = weighted[weighted.length - 1];
  for (const g of weighted) {
    if (pick < g.weight) {
      segment = g;
      break;
    }
    pick -= g.weight;
  }
  const rpm = Math.min(segment.max, rng.uniform(segment.min, segment.max));
  work[rule.field] = rpm;
  if (rule.heatTransferField) work[rule.heatTransferField] = heatTransferCoefficient(rule.fluid, rule.vessel, rpm);
  if (rule.mixingIndexField) work[rule.mixingIndexField] = mixingIndex(rule.vessel, rpm);
  if (rule.mixingTimeField) work[rule.mixingTimeField] = mixingTime(rule.vessel, rpm);
  return 'ok';
}

function stirringViolation(rule: StirringRule, out: Sample): string | null {
  const rpm = out[rule.field] as number;
  if (!rule.segments.some((g) => g.weight > 0 && rpm >= g.min && rpm <= g.max)) return `speed ${rpm} outside the operating segments`;
  if (rule.heatTransferField && !close(out[rule.heatTransferField] as number, heatTransferCoefficient(rule.fluid, rule.vessel, rpm))) {
    return `${rule.heatTransferField} does not match the correlation`;
  }
  if (rule.mixingIndexField && !close(out[rule.mixingIndexField] as number, mixingIndex(rule.vessel, rpm))) return `${rule.mixingIndexField} does not match`;
  if (rule.mixingTimeField && !close(out[rule.mixingTimeField] as number, mixingTime(rule.vessel, rpm))) return `${rule.mixingTimeField} does not match`;
  return null;
}
