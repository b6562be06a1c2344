/**
 * tolerance-gate's engine: grades a record by its rules. The grade of a record is the worst grade
 * of the rules it violates (pass when none); each violation is a reason naming the rule, field,
 * value and limit. Completeness rules keep per-field state (last reading time, a window of
 * present/missing counts); everything else depends on the record alone.
 */
import type { RecordReading } from '../contract/samples';
import { GRADES, GRADE_RANK, worse, type AlignmentRule, type BandRule, type ClassRule, type CompletenessRule, type GateOptions, type GeometricRule, type Grade, type Rule } from './rules';
import { GradeCounts, RunningMoments, capability } from './stats';

export interface Reason {
  /** the rule's name */
  rule: string;
  kind: Rule['kind'];
  /** for completeness: 'interval' or 'missing-rate'; for any rule: 'missing' when the field was absent */
  check?: 'interval' | 'missing-rate' | 'missing';
  /** the field (alignment: the earliest and the latest field, comma-separated) */
  field: string;
  /** the value that broke the rule (alignment: the spread in ms; interval: ms; missing rate: a fraction); null when missing */
  value: number | null;
  /** the allowed range */
  limit: { min?: number; max?: number };
  grade: Grade;
  /** one line for people */
  detail: string;
}

export interface Verdict {
  grade: Grade;
  reasons: Reason[];
}

export interface FieldStats {
  total: number;
  pass: number;
  review: number;
  reject: number;
  rates: { pass: number; review: number; reject: number };
  /** of the finite values seen */
  n: number;
  mean: number | null;
  std: number | null;
  /** tolerance bands only */
  cp?: number | null;
  cpk?: number | null;
  lsl?: number;
  usl?: number;
}

export interface GateStats {
  records: ReturnType<GradeCounts['summary']>;
  fields: Record<string, FieldStats>;
  rules: Record<string, { violations: number; missing: number }>;
}

class MissingWindow {
  private readonly missing: Float64Array;
  private readonly totals: Float64Array;
  private head = 0;
  private n = 0;
  sumMissing = 0;
  sumTotal = 0;

  constructor(readonly size: number) {
    this.missing = new Float64Array(size);
    this.totals = new Float64Array(size);
  }

  push(missing: number, total: number): void {
    if (this.n === this.size) {
      this.sumMissing -= this.missing[this.head];
      this.sumTotal -= this.totals[this.head];
    } else {
      this.n++;
    }
    this.missing[this.head] = missing;
    this.totals[this.head] = total;
    this.head = (this.head + 1) % this.size;
    this.sumMissing += missing;
    this.sumTotal += total;
  }

  rate(): number {
    return this.sumTotal > 0 ? this.sumMissing / this.sumTotal : 0;
  }
}

interface CompletenessState {
  lastTime: number | null;
  window: MissingWindow;
}

const fmt = (x: number) => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))));

export class ToleranceGate {
  private readonly completeness = new Map<CompletenessRule, CompletenessState>();
  private records = new GradeCounts();
  private fieldGrades = new Map<string, GradeCounts>();
  private moments = new Map<string, RunningMoments>();
  private ruleCounts = new Map<string, { violations: number; missing: number }>();
  /** fields with per-field statistics, in rule order */
  private readonly fields: string[] = [];
  private readonly bands = new Map<string, { lsl: number; usl: number }>();

  constructor(readonly rules: Rule[], readonly options: GateOptions) {
    for (const rule of rules) {
      if (rule.kind !== 'alignment' && !this.fields.includes(rule.field)) this.fields.push(rule.field);
      if (rule.kind === 'band' && !this.bands.has(rule.field)) this.bands.set(rule.field, { lsl: rule.nominal - rule.tolerance, usl: rule.nominal + rule.tolerance });
    }
    this.reset();
  }

  reset(): void {
    this.records = new GradeCounts();
    this.fieldGrades = new Map(this.fields.map((f) => [f, new GradeCounts()]));
    this.moments = new Map(this.fields.map((f) => [f, new RunningMoments()]));
    this.ruleCounts = new Map(this.rules.map((r) => [r.name, { violations: 0, missing: 0 }]));
    this.completeness.clear();
    for (const rule of this.rules) {
      if (rule.kind === 'completeness') this.completeness.set(rule, { lastTime: null, window: new MissingWindow(rule.window) });
    }
  }

  /** Grade one record and count it in the statistics. */
  assess(record: RecordReading): Verdict {
    const reasons: Reason[] = [];
    for (const rule of this.rules) this.apply(rule, record, reasons);
    let grade: Grade = 'pass';
    for (const r of reasons) grade = worse(grade, r.grade);

    this.records.add(grade);
    for (const field of this.fields) {
      let g: Grade = 'pass';
      for (let i = 0; i < reasons.length; i++) if (reasons[i].field === field) g = worse(g, reasons[i].grade);
      (this.fieldGrades.get(field) as GradeCounts)[g]++;
      const v = record.values[field];
      if (v !== undefined && Number.isFinite(v)) (this.moments.get(field) as RunningMoments).push(v);
    }
    for (const r of reasons) {
      const c = this.ruleCounts.get(r.rule) as { violations: number; missing: number };
      if (r.check === 'missing') c.missing++;
      else c.violations++;
    }
    return { grade, reasons };
  }

  stats(): GateStats {
    const fields: Record<string, FieldStats> = {};
    for (const field of this.fields) {
      const m = this.moments.get(field) as RunningMoments;
      const s: FieldStats = { ...(this.fieldGrades.get(field) as GradeCounts).summary(), n: m.n, mean: m.n ? m.mean : null, std: m.std() };
      const band = this.bands.get(field);
      if (band) Object.assign(s, band, capability(m.mean, m.std(), band.lsl, band.usl));
      fields[field] = s;
    }
    return { records: this.records.summary(), fields, rules: Object.fromEntries([...this.ruleCounts].map(([k, v]) => [k, { ...v }])) };
  }

  private missing(rule: Rule, field: string, reasons: Reason[], what = 'missing field (or not a finite number)'): void {
    reasons.push({ rule: rule.name, kind: rule.kind, check: 'missing', field, value: null, limit: this.limitOf(rule), grade: this.options.missingGrade, detail: what });
  }

  private limitOf(rule: Rule): { min?: number; max?: number } {
    switch (rule.kind) {
      case 'band':
        return { min: rule.nominal - rule.tolerance, max: rule.nominal + rule.tolerance };
      case 'class':
        return { min: rule.min, max: rule.max };
      case 'geometric':
        return { max: rule.max };
      case 'alignment':
        return { max: rule.maxSkewMs };
      case 'completeness':
        return rule.maxIntervalMs !== null ? { max: rule.maxIntervalMs } : { max: rule.maxMissingRate as number };
    }
  }

  private apply(rule: Rule, record: RecordReading, reasons: Reason[]): void {
    if (rule.kind === 'alignment') return this.alignment(rule, record, reasons);
    if (rule.kind === 'completeness') return this.completenessCheck(rule, record, reasons);
    const v = record.values[rule.field];
    if (v === undefined || !Number.isFinite(v)) return this.missing(rule, rule.field, reasons);
    // (no closures here: this runs for every rule of every record)
    switch (rule.kind) {
      case 'band': {
        const dev = Math.abs(v - rule.nominal);
        if (dev > rule.tolerance) reasons.push(this.violation(rule, v, `|${fmt(v)} − ${fmt(rule.nominal)}| = ${fmt(dev)} > ${fmt(rule.tolerance)}`));
        return;
      }
      case 'class':
        if (v < rule.min || v > rule.max) reasons.push(this.violation(rule, v, `${fmt(v)} outside ${fmt(rule.min)}–${fmt(rule.max)}`));
        return;
      case 'geometric':
        if (v > rule.max) reasons.push(this.violation(rule, v, `${fmt(v)} > ${fmt(rule.max)}`));
        return;
    }
  }

  private violation(rule: BandRule | ClassRule | GeometricRule, value: number, detail: string): Reason {
    return { rule: rule.name, kind: rule.kind, field: rule.field, value, limit: this.limitOf(rule), grade: rule.grade, detail };
  }

  private completenessCheck(rule: CompletenessRule, record: RecordReading, reasons: Reason[]): void {
    const state = this.completeness.get(rule) as CompletenessState;
    const v = record.values[rule.field];
    const present = v !== undefined && Number.isFinite(v);
    let missing = present ? 0 : 1;
    let total = 1;
    if (present) {
      const t = record.fieldTimestamps?.[rule.field] ?? record.timestamp;
      if (state.lastTime !== null) {
        const interval = t - state.lastTime;
        if (rule.maxIntervalMs !== null && interval > rule.maxIntervalMs) {
          reasons.push({ rule: rule.name, kind: rule.kind, check: 'interval', field: rule.field, value: interval, limit: { max: rule.maxIntervalMs }, grade: rule.grade, detail: `${fmt(interval)} ms since the previous reading > ${fmt(rule.maxIntervalMs)} ms` });
        }
        if (rule.expectedIntervalMs !== null && interval > 0) {
          const gap = Math.max(0, Math.round(interval / rule.expectedIntervalMs) - 1);
          missing += gap;
          total += gap;
        }
      }
      state.lastTime = state.lastTime === null ? t : Math.max(state.lastTime, t);
    } else {
      this.missing(rule, rule.field, reasons);
    }
    state.window.push(missing, total);
    if (rule.maxMissingRate !== null) {
      const rate = state.window.rate();
      if (rate >= rule.maxMissingRate) {
        reasons.push({ rule: rule.name, kind: rule.kind, check: 'missing-rate', field: rule.field, value: rate, limit: { max: rule.maxMissingRate }, grade: rule.grade, detail: `${fmt(state.window.sumMissing)} of ${fmt(state.window.sumTotal)} samples missing in the window (${fmt(rate * 100)} % ≥ ${fmt(rule.maxMissingRate * 100)} %)` });
      }
    }
  }

  private alignment(rule: AlignmentRule, record: RecordReading, reasons: Reason[]): void {
    const times = record.fieldTimestamps;
    let fields: string[];
    if (rule.fields === '*') {
      if (!times) return; // one read time for the whole record
      fields = Object.keys(times);
    } else {
      fields = rule.fields;
    }
    let first: { field: string; t: number } | null = null;
    let last: { field: string; t: number } | null = null;
    for (const field of fields) {
      const t = times?.[field] ?? (field in record.values ? record.timestamp : undefined);
      if (t === undefined) {
        this.missing(rule, field, reasons, 'missing field (no value and no timestamp)');
        continue;
      }
      if (!first || t < first.t) first = { field, t };
      if (!last || t > last.t) last = { field, t };
    }
    if (!first || !last) return;
    const spread = last.t - first.t;
    if (spread > rule.maxSkewMs) {
      reasons.push({ rule: rule.name, kind: rule.kind, field: `${first.field},${last.field}`, value: spread, limit: { max: rule.maxSkewMs }, grade: rule.grade, detail: `${first.field} and ${last.field} read ${fmt(spread)} ms apart > ${fmt(rule.maxSkewMs)} ms` });
    }
  }
}

/** The worse of two verdicts (for a record that already carries one): worst grade, reasons appended. */
export function combineVerdicts(earlier: Verdict, later: Verdict): Verdict {
  return { grade: GRADE_RANK[earlier.grade] >= GRADE_RANK[later.grade] ? earlier.grade : later.grade, reasons: [...earlier.reasons, ...later.reasons] };
}

/** A verdict carried in on `msg.quality` (from an earlier gate), or null when it is not a well-formed one. */
export function asVerdict(q: unknown): Verdict | null {
  if (!q || typeof q !== 'object') return null;
  const v = q as Record<string, unknown>;
  if (!(GRADES as readonly unknown[]).includes(v.grade) || !Array.isArray(v.reasons)) return null;
  return { grade: v.grade as Grade, reasons: v.reasons as Reason[] };
}
