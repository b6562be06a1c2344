/**
 * Augmentation rules: their JSON schema, the reactor defaults (paper §2.2) and deploy-time
 * validation. A rule set is a JSON array of rule objects, applied in the order listed; every
 * emitted sample satisfies the constraints of every rule.
 *
 * Units are the plant's: the defaults use °C, MPa, kg, min, rpm and %, and SI for fluid and
 * vessel properties (see docs/nodes/physics-augment.md).
 */
import { ConfigError, describeValue } from '../errors';
import type { FluidProperties, VesselProperties } from './physics';

/** Add a bounded perturbation (|Δ| ≤ amplitude) and keep the result in [min, max]. */
export interface PerturbRule {
  kind: 'perturb';
  field: string;
  amplitude: number;
  min: number;
  max: number;
  /** knots of the smooth perturbation of a curve (2 = a linear ramp between two offsets) */
  knots: number;
}

/** Draw within an operating window [min, max]; with `spread`, within ±spread of the real value. */
export interface RangeRule {
  kind: 'range';
  field: string;
  min: number;
  max: number;
  spread?: number;
}

/** Vary the catalyst dose within ±relative of the standard charge; recompute rate and conversion. */
export interface KineticsRule {
  kind: 'kinetics';
  /** catalyst dose field */
  dose: string;
  relative: number;
  /** standard charge in the dose field's unit; absent = the real sample's dose */
  standardDose?: number;
  /** reactor temperature field (a number or a curve) */
  temperature: string;
  temperatureUnit: 'C' | 'K';
  /** reaction time field, min (needed for the conversion) */
  time?: string;
  /** pre-exponential factor, 1/min at the standard dose */
  A: number;
  /** activation energy, J/mol */
  Ea: number;
  rateField?: string;
  conversionField?: string;
  targetConversion?: number;
  timeToTargetField?: string;
  /**
   * Anchor the model on the real sample: scale A so that the real temperature, dose and reaction
   * time give the real (measured) conversion, then recompute with the new dose and temperature.
   */
  calibrate?: boolean;
}

export interface RatioBand {
  numerator: string;
  denominator: string;
  min: number;
  max: number;
}

/** Shift component fractions by up to ±relative, renormalise to `total`, keep ratio bands. */
export interface StoichiometryRule {
  kind: 'stoichiometry';
  fields: string[];
  relative: number;
  total: number;
  ratios: RatioBand[];
  /** optional per-component [min, max] in the unit of `total` */
  bounds: Record<string, [number, number]>;
}

export interface SpeedSegment {
  min: number;
  max: number;
  /** share of operating time in this segment (relative weights) */
  weight: number;
}

/** Sample agitator speed by operating segments; derive heat-transfer coefficient and mixing index. */
export interface StirringRule {
  kind: 'stirring';
  field: string;
  segments: SpeedSegment[];
  heatTransferField?: string;
  mixingIndexField?: string;
  mixingTimeField?: string;
  fluid: FluidProperties;
  vessel: VesselProperties;
}

export type Rule = PerturbRule | RangeRule | KineticsRule | StoichiometryRule | StirringRule;

export const RULE_KINDS = ['perturb', 'range', 'kinetics', 'stoichiometry', 'stirring'] as const;

/** Water-like liquid near 20 °C, SI units. */
export const DEFAULT_FLUID: FluidProperties = {
  density: 1000,
  viscosity: 0.001,
  heatCapacity: 4180,
  conductivity: 0.6,
  viscosityRatio: 1,
};

/** 1 m jacketed vessel with a 0.4 m flat paddle; Chilton–Drew–Jebens constants for a paddle. */
export const DEFAULT_VESSEL: VesselProperties = {
  vesselDiameter: 1.0,
  impellerDiameter: 0.4,
  powerNumber: 1.7,
  C: 0.36,
  a: 2 / 3,
  b: 1 / 3,
  mixingReferenceTime: 5,
};

/** The paper's chemical-reactor case (§2.2). */
export const REACTOR_DEFAULT_RULES: Rule[] = [
  { kind: 'perturb', field: 'temperature', amplitude: 2, min: 80, max: 120, knots: 4 },
  { kind: 'range', field: 'pressure', min: 0.6, max: 1.2 },
  {
    kind: 'kinetics', dose: 'catalyst', relative: 0.05, standardDose: 12, temperature: 'temperature', temperatureUnit: 'C',
    time: 'reactionTime', A: 5.0e6, Ea: 60000, rateField: 'rateConstant', conversionField: 'conversion',
    targetConversion: 0.95, timeToTargetField: 'timeToTarget',
  },
  {
    kind: 'stoichiometry', fields: ['feedA', 'feedB', 'solvent'], relative: 0.03, total: 100,
    ratios: [{ numerator: 'feedA', denominator: 'feedB', min: 1.9, max: 2.1 }], bounds: {},
  },
  {
    kind: 'stirring', field: 'agitatorSpeed',
    segments: [{ min: 150, max: 200, weight: 0.3 }, { min: 200, max: 250, weight: 0.5 }, { min: 250, max: 300, weight: 0.2 }],
    heatTransferField: 'heatTransferCoeff', mixingIndexField: 'mixingIndex',
    fluid: { ...DEFAULT_FLUID }, vessel: { ...DEFAULT_VESSEL },
  },
];

/** The default rules as the editor shows them. */
export function defaultRulesJson(): string {
  return JSON.stringify(REACTOR_DEFAULT_RULES, null, 2);
}

type Obj = Record<string, unknown>;

class Reader {
  constructor(private readonly obj: Obj, private readonly path: string) {}

  fail(key: string, message: string): never {
    throw new ConfigError(`${this.path}.${key}`, message);
  }

  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null && this.obj[key] !== '';
  }

  number(key: string, opts: { fallback?: number; min?: number; max?: number; above?: number; below?: number } = {}): number {
    const v = this.obj[key];
    if (!this.has(key)) {
      if (opts.fallback !== undefined) return opts.fallback;
      this.fail(key, 'missing (a number is required)');
    }
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(key, `expected a number, got ${describeValue(v)}`);
    if (opts.min !== undefined && v < opts.min) this.fail(key, `must be ≥ ${opts.min}, got ${v}`);
    if (opts.max !== undefined && v > opts.max) this.fail(key, `must be ≤ ${opts.max}, got ${v}`);
    if (opts.above !== undefined && !(v > opts.above)) this.fail(key, `must be > ${opts.above}, got ${v}`);
    if (opts.below !== undefined && !(v < opts.below)) this.fail(key, `must be < ${opts.below}, got ${v}`);
    return v;
  }

  optionalNumber(key: string, opts: { above?: number; below?: number; min?: number } = {}): number | undefined {
    return this.has(key) ? this.number(key, opts) : undefined;
  }

  field(key: string): string {
    const v = this.obj[key];
    if (typeof v !== 'string' || v.trim() === '') this.fail(key, `expected a field name, got ${describeValue(v)}`);
    return v;
  }

  optionalField(key: string): string | undefined {
    return this.has(key) ? this.field(key) : undefined;
  }

  object(key: string): Obj | undefined {
    if (!this.has(key)) return undefined;
    const v = this.obj[key];
    if (typeof v !== 'object' || Array.isArray(v)) this.fail(key, `expected an object, got ${describeValue(v)}`);
    return v as Obj;
  }

  array(key: string, required: boolean): unknown[] {
    if (!this.has(key)) {
      if (required) this.fail(key, 'missing (an array is required)');
      return [];
    }
    const v = this.obj[key];
    if (!Array.isArray(v)) this.fail(key, `expected an array, got ${describeValue(v)}`);
    return v;
  }

  only(allowed: string[]): void {
    for (const key of Object.keys(this.obj)) {
      if (!allowed.includes(key)) this.fail(key, `unknown property (allowed: ${allowed.join(', ')})`);
    }
  }
}

/** Drop properties left undefined (optional settings not given). */
function compact<T extends object>(rule: T): T {
  for (const key of Object.keys(rule) as Array<keyof T>) if (rule[key] === undefined) delete rule[key];
  return rule;
}

function asObject(value: unknown, path: string): Obj {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(path, `expected an object, got ${describeValue(value)}`);
  }
  return value as Obj;
}

/** Parse and validate a rule set (a JSON string or an array). Throws ConfigError naming the property. */
export function parseRules(input: unknown): Rule[] {
  let value = input;
  if (typeof input === 'string') {
    if (input.trim() === '') throw new ConfigError('rules', 'empty: give a JSON array of rules');
    try {
      value = JSON.parse(input);
    } catch (err) {
      throw new ConfigError('rules', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (!Array.isArray(value)) throw new ConfigError('rules', `expected a JSON array of rules, got ${describeValue(value)}`);
  if (value.length === 0) throw new ConfigError('rules', 'no rules: give at least one');
  const rules = value.map((raw, i) => parseRule(raw, `rules[${i}]`));
  checkFieldFlow(rules);
  return rules;
}

function parseRule(raw: unknown, path: string): Rule {
  const obj = asObject(raw, path);
  const r = new Reader(obj, path);
  const kind = obj.kind;
  switch (kind) {
    case 'perturb': {
      r.only(['kind', 'field', 'amplitude', 'min', 'max', 'knots', 'unit', 'comment']);
      const field = r.field('field');
      const amplitude = r.number('amplitude', { above: 0 });
      const min = r.number('min');
      const max = r.number('max');
      if (!(min < max)) r.fail('min', `range inverted or empty: min ${min} must be below max ${max}`);
      if (2 * amplitude > max - min) r.fail('amplitude', `perturbation ±${amplitude} is wider than the range ${min}–${max}`);
      const knots = r.number('knots', { fallback: 4, min: 2, max: 100 });
      if (!Number.isInteger(knots)) r.fail('knots', `must be an integer, got ${knots}`);
      return { kind, field, amplitude, min, max, knots };
    }
    case 'range': {
      r.only(['kind', 'field', 'min', 'max', 'spread', 'unit', 'comment']);
      const field = r.field('field');
      const min = r.number('min');
      const max = r.number('max');
      if (!(min < max)) r.fail('min', `range inverted or empty: min ${min} must be below max ${max}`);
      const spread = r.optionalNumber('spread', { above: 0 });
      return spread === undefined ? { kind, field, min, max } : { kind, field, min, max, spread };
    }
    case 'kinetics': {
      r.only(['kind', 'dose', 'relative', 'standardDose', 'temperature', 'temperatureUnit', 'time', 'A', 'Ea', 'rateField',
        'conversionField', 'targetConversion', 'timeToTargetField', 'calibrate', 'comment']);
      const unit = (obj.temperatureUnit ?? 'C') as 'C' | 'K';
      if (unit !== 'C' && unit !== 'K') r.fail('temperatureUnit', `expected "C" or "K", got ${describeValue(unit)}`);
      const rule: KineticsRule = {
        kind,
        dose: r.field('dose'),
        relative: r.number('relative', { above: 0, below: 1 }),
        standardDose: r.optionalNumber('standardDose', { above: 0 }),
        temperature: r.field('temperature'),
        temperatureUnit: unit,
        time: r.optionalField('time'),
        A: r.number('A', { above: 0 }),
        Ea: r.number('Ea', { min: 0 }),
        rateField: r.optionalField('rateField'),
        conversionField: r.optionalField('conversionField'),
        targetConversion: r.optionalNumber('targetConversion', { above: 0, below: 1 }),
        timeToTargetField: r.optionalField('timeToTargetField'),
        calibrate: obj.calibrate === undefined ? undefined : obj.calibrate === true ? true : obj.calibrate === false ? false : r.fail('calibrate', `expected true or false, got ${describeValue(obj.calibrate)}`),
      };
      if (rule.calibrate && (!rule.conversionField || !rule.time || rule.time === rule.timeToTargetField)) {
        r.fail('calibrate', 'needs conversionField (the measured conversion) and a time field that this rule does not rewrite');
      }
      if (rule.conversionField && !rule.time) r.fail('time', 'a reaction time field is needed to compute conversionField');
      if (rule.timeToTargetField && rule.targetConversion === undefined) r.fail('targetConversion', 'needed for timeToTargetField');
      if (!rule.rateField && !rule.conversionField && !rule.timeToTargetField) {
        r.fail('rateField', 'give at least one of rateField, conversionField, timeToTargetField');
      }
      return compact(rule);
    }
    case 'stoichiometry': {
      r.only(['kind', 'fields', 'relative', 'total', 'ratios', 'bounds', 'unit', 'comment']);
      const fields = r.array('fields', true).map((f, i) => {
        if (typeof f !== 'string' || f.trim() === '') r.fail(`fields[${i}]`, `expected a field name, got ${describeValue(f)}`);
        return f as string;
      });
      if (fields.length < 2) r.fail('fields', 'needs at least two component fields');
      if (new Set(fields).size !== fields.length) r.fail('fields', 'a component is listed twice');
      const relative = r.number('relative', { above: 0, below: 1 });
      const total = r.number('total', { fallback: 100, above: 0 });
      const ratios = r.array('ratios', false).map((raw, i) => {
        const rr = new Reader(asObject(raw, `${path}.ratios[${i}]`), `${path}.ratios[${i}]`);
        rr.only(['numerator', 'denominator', 'min', 'max']);
        const band: RatioBand = {
          numerator: rr.field('numerator'), denominator: rr.field('denominator'),
          min: rr.number('min', { above: 0 }), max: rr.number('max', { above: 0 }),
        };
        if (!fields.includes(band.numerator)) rr.fail('numerator', `"${band.numerator}" is not one of fields`);
        if (!fields.includes(band.denominator)) rr.fail('denominator', `"${band.denominator}" is not one of fields`);
        if (band.numerator === band.denominator) rr.fail('denominator', 'must differ from numerator');
        if (band.min > band.max) rr.fail('min', `band inverted: min ${band.min} above max ${band.max}`);
        return band;
      });
      const bounds: Record<string, [number, number]> = {};
      const rawBounds = r.object('bounds') ?? {};
      for (const [key, raw] of Object.entries(rawBounds)) {
        const b = raw as number[];
        if (!fields.includes(key)) r.fail(`bounds.${key}`, `"${key}" is not one of fields`);
        if (!Array.isArray(b) || b.length !== 2 || !b.every((x: unknown) => typeof x === 'number' && Number.isFinite(x))) {
          r.fail(`bounds.${key}`, `expected [min, max], got ${describeValue(b)}`);
        }
        if (!(b[0] >= 0 && b[0] <= b[1] && b[1] <= total)) r.fail(`bounds.${key}`, `needs 0 ≤ min ≤ max ≤ total (${total}), got [${b[0]}, ${b[1]}]`);
        bounds[key] = [b[0], b[1]];
      }
      checkStoichiometryFeasible(fields, total, ratios, bounds, path);
      return { kind, fields, relative, total, ratios, bounds };
    }
    case 'stirring': {
      r.only(['kind', 'field', 'segments', 'heatTransferField', 'mixingIndexField', 'mixingTimeField', 'fluid', 'vessel', 'comment']);
      const field = r.field('field');
      const segments = r.array('segments', true).map((raw, i) => {
        const sr = new Reader(asObject(raw, `${path}.segments[${i}]`), `${path}.segments[${i}]`);
        sr.only(['min', 'max', 'weight']);
        const seg = { min: sr.number('min', { above: 0 }), max: sr.number('max', { above: 0 }), weight: sr.number('weight', { fallback: 1, min: 0 }) };
        if (!(seg.min < seg.max)) sr.fail('min', `segment inverted or empty: min ${seg.min} must be below max ${seg.max}`);
        return seg;
      });
      if (segments.length === 0) r.fail('segments', 'give at least one speed segment');
      if (!(segments.reduce((s, g) => s + g.weight, 0) > 0)) r.fail('segments', 'the weights must not all be 0');
      const fluidRaw = r.object('fluid') ?? {};
      const fr = new Reader(fluidRaw, `${path}.fluid`);
      fr.only(Object.keys(DEFAULT_FLUID));
      const fluid: FluidProperties = {
        density: fr.number('density', { fallback: DEFAULT_FLUID.density, above: 0 }),
        viscosity: fr.number('viscosity', { fallback: DEFAULT_FLUID.viscosity, above: 0 }),
        heatCapacity: fr.number('heatCapacity', { fallback: DEFAULT_FLUID.heatCapacity, above: 0 }),
        conductivity: fr.number('conductivity', { fallback: DEFAULT_FLUID.conductivity, above: 0 }),
        viscosityRatio: fr.number('viscosityRatio', { fallback: DEFAULT_FLUID.viscosityRatio, above: 0 }),
      };
      const vr = new Reader(r.object('vessel') ?? {}, `${path}.vessel`);
      vr.only(Object.keys(DEFAULT_VESSEL));
      const vessel: VesselProperties = {
        vesselDiameter: vr.number('vesselDiameter', { fallback: DEFAULT_VESSEL.vesselDiameter, above: 0 }),
        impellerDiameter: vr.number('impellerDiameter', { fallback: DEFAULT_VESSEL.impellerDiameter, above: 0 }),
        powerNumber: vr.number('powerNumber', { fallback: DEFAULT_VESSEL.powerNumber, above: 0 }),
        C: vr.number('C', { fallback: DEFAULT_VESSEL.C, above: 0 }),
        a: vr.number('a', { fallback: DEFAULT_VESSEL.a, above: 0 }),
        b: vr.number('b', { fallback: DEFAULT_VESSEL.b, above: 0 }),
        mixingReferenceTime: vr.number('mixingReferenceTime', { fallback: DEFAULT_VESSEL.mixingReferenceTime, above: 0 }),
      };
      if (!(vessel.impellerDiameter < vessel.vesselDiameter)) vr.fail('impellerDiameter', 'must be smaller than vesselDiameter');
      const rule: StirringRule = {
        kind, field, segments, fluid, vessel,
        heatTransferField: r.optionalField('heatTransferField'),
        mixingIndexField: r.optionalField('mixingIndexField'),
        mixingTimeField: r.optionalField('mixingTimeField'),
      };
      return compact(rule);
    }
    default:
      throw new ConfigError(`${path}.kind`, `expected one of ${RULE_KINDS.join(', ')}, got ${describeValue(kind)}`);
  }
}

/**
 * Can the fractions sum to `total` while keeping every ratio band and bound? Ratio bands are
 * difference constraints on log fractions (log min ≤ ln f_n − ln f_d ≤ log max): they are
 * consistent iff the constraint graph has no negative cycle (Bellman–Ford). With bounds, the
 * mins must not exceed the total and the maxes must reach it.
 */
function checkStoichiometryFeasible(fields: string[], total: number, ratios: RatioBand[], bounds: Record<string, [number, number]>, path: string): void {
  const n = fields.length;
  const index = new Map(fields.map((f, i) => [f, i]));
  // edge u→v with weight w means x_v − x_u ≤ w
  const edges: Array<[number, number, number]> = [];
  for (const band of ratios) {
    const num = index.get(band.numerator) as number;
    const den = index.get(band.denominator) as number;
    edges.push([den, num, Math.log(band.max)]); // x_num − x_den ≤ ln max
    edges.push([num, den, -Math.log(band.min)]); // x_den − x_num ≤ −ln min
  }
  const dist = new Array<number>(n).fill(0);
  for (let iter = 0; iter < n; iter++) {
    let changed = false;
    for (const [u, v, w] of edges) {
      if (dist[u] + w < dist[v] - 1e-12) {
        dist[v] = dist[u] + w;
        changed = true;
      }
    }
    if (!changed) break;
    if (iter === n - 1) throw new ConfigError(`${path}.ratios`, 'the ratio bands contradict each other: no composition keeps them all');
  }
  let sumMin = 0;
  let sumMax = 0;
  for (const f of fields) {
    sumMin += bounds[f]?.[0] ?? 0;
    sumMax += bounds[f]?.[1] ?? total;
  }
  if (sumMin > total) throw new ConfigError(`${path}.bounds`, `the component minimums add up to ${sumMin}, more than the total ${total}`);
  if (sumMax < total) throw new ConfigError(`${path}.bounds`, `the component maximums add up to ${sumMax}, less than the total ${total}`);
}

/** What each rule reads from the sample and writes into it (fields). */
export function ruleFields(rule: Rule): { reads: string[]; writes: string[] } {
  switch (rule.kind) {
    case 'perturb':
      return { reads: [rule.field], writes: [rule.field] };
    case 'range':
      return { reads: rule.spread !== undefined ? [rule.field] : [], writes: [rule.field] };
    case 'kinetics': {
      const reads = [rule.temperature];
      if (rule.standardDose === undefined) reads.push(rule.dose);
      // the reaction time is read for the conversion, unless this rule itself writes it (time to target)
      if (rule.time && rule.conversionField && rule.time !== rule.timeToTargetField) reads.push(rule.time);
      // calibration reads the measured conversion (and the real dose, when there is no standard charge)
      if (rule.calibrate && rule.conversionField) reads.push(rule.conversionField);
      const writes = [rule.dose, rule.rateField, rule.timeToTargetField, rule.conversionField].filter((f): f is string => !!f);
      return { reads, writes };
    }
    case 'stoichiometry':
      return { reads: [...rule.fields], writes: [...rule.fields] };
    case 'stirring':
      return { reads: [], writes: [rule.field, rule.heatTransferField, rule.mixingIndexField, rule.mixingTimeField].filter((f): f is string => !!f) };
  }
}

/** A short id per rule for `msg.augmented.rules` and the counters: `kind:field`. */
export function ruleId(rule: Rule): string {
  switch (rule.kind) {
    case 'kinetics':
      return `kinetics:${rule.dose}`;
    case 'stoichiometry':
      return `stoichiometry:${rule.fields.join('+')}`;
    default:
      return `${rule.kind}:${rule.field}`;
  }
}

/**
 * Rules run in order; one field has one writer (two writers would undo each other's
 * constraint), and a rule must not read a field that a later rule rewrites (its derived values
 * would no longer match).
 */
function checkFieldFlow(rules: Rule[]): void {
  const writer = new Map<string, number>();
  rules.forEach((rule, i) => {
    const { writes } = ruleFields(rule);
    const own = new Set<string>();
    for (const f of writes) {
      if (own.has(f)) throw new ConfigError(`rules[${i}]`, `writes field "${f}" twice`);
      own.add(f);
      const prev = writer.get(f);
      if (prev !== undefined) throw new ConfigError(`rules[${i}]`, `field "${f}" is already written by rules[${prev}] (${ruleId(rules[prev])}); give each field one rule`);
      writer.set(f, i);
    }
  });
  rules.forEach((rule, i) => {
    const { reads } = ruleFields(rule);
    const used = rule.kind === 'kinetics' && rule.time ? [...reads, rule.time] : reads;
    for (const f of used) {
      const w = writer.get(f);
      if (w !== undefined && w > i) {
        throw new ConfigError(`rules[${w}]`, `rewrites "${f}" after rules[${i}] (${ruleId(rule)}) used it; list rules[${w}] first`);
      }
    }
  });
}
