/**
 * tolerance-gate's rules (paper §2.3, the engine-line three-level assessment) and their
 * validation. The editor sends each rule as an object of strings; `parseRules` turns the list
 * into typed rules or throws a ConfigError naming the rule and what is wrong with it.
 */
import { ConfigError } from '../errors';
import { isBlank } from '../util/config';

export type Grade = 'pass' | 'review' | 'reject';
export const GRADES: readonly Grade[] = ['pass', 'review', 'reject'];
/** pass < review < reject */
export const GRADE_RANK: Record<Grade, number> = { pass: 0, review: 1, reject: 2 };

export function worse(a: Grade, b: Grade): Grade {
  return GRADE_RANK[a] >= GRADE_RANK[b] ? a : b;
}

export type RuleKind = 'band' | 'class' | 'geometric' | 'completeness' | 'alignment';
export const RULE_KINDS: readonly RuleKind[] = ['band', 'class', 'geometric', 'completeness', 'alignment'];

/** Grade a violation gets when the rule does not say. */
export const DEFAULT_GRADES: Record<RuleKind, Grade> = {
  band: 'review', // outside nominal ± tolerance: suspect, for review
  class: 'review', // outside the high-quality range: manual re-inspection
  geometric: 'reject', // over a geometric limit: not a conforming part
  completeness: 'review', // sampling gap or missing samples in the window
  alignment: 'reject', // fields read too far apart: the paper drops such sequences
};

interface RuleBase {
  /** unique name, used in reasons and statistics */
  name: string;
  /** grade of a record that violates the rule */
  grade: Grade;
}

/** nominal ± tolerance (e.g. bore diameter ± 0.02 mm) */
export interface BandRule extends RuleBase {
  kind: 'band';
  field: string;
  nominal: number;
  tolerance: number;
}

/** a high-quality range (e.g. roughness Ra 0.8–1.6 µm) */
export interface ClassRule extends RuleBase {
  kind: 'class';
  field: string;
  min: number;
  max: number;
}

/** an upper limit on a geometric deviation (e.g. flatness ≤ 0.05 mm) */
export interface GeometricRule extends RuleBase {
  kind: 'geometric';
  field: string;
  max: number;
}

/** a signal's sampling interval and missing rate over a window of records */
export interface CompletenessRule extends RuleBase {
  kind: 'completeness';
  field: string;
  /** longest interval between two readings of the field, ms (null: not checked) */
  maxIntervalMs: number | null;
  /** highest fraction of missing samples in the window (pass when below; null: not checked) */
  maxMissingRate: number | null;
  /** records in the missing-rate window */
  window: number;
  /** nominal sampling interval, ms: longer gaps count as round(gap / interval) − 1 missing samples */
  expectedIntervalMs: number | null;
}

/** fields read at different times (msg.timestamps) must be within maxSkewMs of each other */
export interface AlignmentRule extends RuleBase {
  kind: 'alignment';
  /** the fields to compare, or '*' for every field in msg.timestamps */
  fields: string[] | '*';
  maxSkewMs: number;
}

export type Rule = BandRule | ClassRule | GeometricRule | CompletenessRule | AlignmentRule;

export interface GateOptions {
  /** grade of a record that lacks a field a rule needs */
  missingGrade: Grade;
}

/** Validate the editor's rule list; throws ConfigError('rules', 'rule N (kind field): …'). */
export function parseRules(raw: unknown): Rule[] {
  let list = raw;
  if (typeof list === 'string') {
    try {
      list = JSON.parse(list);
    } catch {
      throw new ConfigError('rules', 'expected a list of rules (JSON array)');
    }
  }
  if (!Array.isArray(list)) throw new ConfigError('rules', 'expected a list of rules');
  if (list.length === 0) throw new ConfigError('rules', 'add at least one rule');
  const names = new Set<string>();
  return list.map((r, i) => {
    const rule = parseRule(r, i + 1);
    let name = rule.name;
    for (let k = 2; names.has(name); k++) name = `${rule.name} #${k}`;
    names.add(name);
    rule.name = name;
    return rule;
  });
}

function parseRule(raw: unknown, index: number): Rule {
  if (raw === null || typeof raw !== 'object') throw new ConfigError('rules', `rule ${index}: expected an object, got ${JSON.stringify(raw)}`);
  const r = raw as Record<string, unknown>;
  const kind = String(r.kind ?? r.t ?? '').trim();
  if (!(RULE_KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError('rules', `rule ${index}: kind must be one of ${RULE_KINDS.join(', ')}, got ${JSON.stringify(r.kind)}`);
  }
  const k = kind as RuleKind;
  const field = isBlank(r.field) ? '' : String(r.field).trim();
  const where = `rule ${index} (${k}${field ? ' ' + field : ''})`;
  const fail = (message: string): never => {
    throw new ConfigError('rules', `${where}: ${message}`);
  };
  const number = (key: string, label: string): number => {
    const v = r[key];
    if (isBlank(v)) return fail(`${label} is required`);
    const n = typeof v === 'number' ? v : Number(String(v).trim());
    if (!Number.isFinite(n)) return fail(`${label} must be a number, got ${JSON.stringify(v)}`);
    return n;
  };
  const optional = (key: string, label: string): number | null => (isBlank(r[key]) ? null : number(key, label));
  if (!field) fail('a field is required');
  let grade = DEFAULT_GRADES[k];
  if (!isBlank(r.grade)) {
    const g = String(r.grade).trim();
    if (!(GRADES as readonly string[]).includes(g) || g === 'pass') fail(`grade must be review or reject, got ${JSON.stringify(r.grade)}`);
    grade = g as Grade;
  }
  const name = isBlank(r.name) ? `${k} ${field}` : String(r.name).trim();
  switch (k) {
    case 'band': {
      const nominal = number('nominal', 'nominal');
      const tolerance = number('tolerance', 'tolerance');
      if (!(tolerance > 0)) fail(`tolerance must be > 0, got ${tolerance}`);
      return { kind: k, name, grade, field, nominal, tolerance };
    }
    case 'class': {
      const min = number('min', 'min');
      const max = number('max', 'max');
      if (min > max) fail(`min (${min}) must not be greater than max (${max})`);
      return { kind: k, name, grade, field, min, max };
    }
    case 'geometric': {
      const max = number('max', 'max');
      if (!(max > 0)) fail(`the limit must be > 0, got ${max}`);
      return { kind: k, name, grade, field, max };
    }
    case 'completeness': {
      const maxIntervalMs = optional('interval', 'max interval (ms)');
      const maxMissingRate = optional('missingRate', 'max missing rate');
      const window = isBlank(r.window) ? 1000 : number('window', 'window');
      const expectedIntervalMs = optional('expected', 'expected interval (ms)');
      if (maxIntervalMs === null && maxMissingRate === null) fail('set a max interval, a max missing rate, or both');
      if (maxIntervalMs !== null && !(maxIntervalMs > 0)) fail(`max interval must be > 0 ms, got ${maxIntervalMs}`);
      if (maxMissingRate !== null && !(maxMissingRate > 0 && maxMissingRate <= 1)) fail(`max missing rate must be a fraction in (0, 1], got ${maxMissingRate}`);
      if (!Number.isInteger(window) || window < 1) fail(`window must be a whole number of records ≥ 1, got ${window}`);
      if (expectedIntervalMs !== null && !(expectedIntervalMs > 0)) fail(`expected interval must be > 0 ms, got ${expectedIntervalMs}`);
      return { kind: k, name, grade, field, maxIntervalMs, maxMissingRate, window, expectedIntervalMs };
    }
    case 'alignment': {
      const maxSkewMs = number('skew', 'max skew (ms)');
      if (!(maxSkewMs >= 0)) fail(`max skew must be ≥ 0 ms, got ${maxSkewMs}`);
      const fields = field === '*' ? '*' : field.split(',').map((f) => f.trim()).filter(Boolean);
      if (fields !== '*' && fields.length < 2) fail('name at least two fields (comma-separated), or * for every field in msg.timestamps');
      return { kind: k, name, grade, fields, maxSkewMs };
    }
  }
}

/** Node-level options: the grade of a record missing a field. */
export function parseGateOptions(raw: Record<string, unknown>): GateOptions {
  const g = isBlank(raw.missingGrade) ? 'reject' : String(raw.missingGrade).trim();
  if (g !== 'review' && g !== 'reject') throw new ConfigError('missingGrade', `expected review or reject, got ${JSON.stringify(raw.missingGrade)}`);
  return { missingGrade: g };
}
