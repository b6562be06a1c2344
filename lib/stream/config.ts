/**
 * sensor-window's configuration: parsed from the editor's strings into a checked object. Every
 * problem is a ConfigError naming the property, so the node can show it at deploy.
 */
import { ConfigError } from '../errors';
import { isStatistic, STATISTICS, type LatePolicy, type Statistic } from './window';

export interface SignalRule {
  /** validity range on the raw value */
  valid?: [number, number];
  /** engineering range mapped to [-1, 1] */
  normalise?: [number, number];
  /** statistics for this signal (default: the node's) */
  stats?: Statistic[];
}

export interface SensorWindowConfig {
  window: { kind: 'time' | 'count'; size: number };
  stats: Statistic[];
  rate: { mode: 'input' | 'count' | 'interval'; every: number };
  output: 'signal' | 'features';
  featureTopic: string;
  late: LatePolicy;
  gapMs: number;
  maxSamples: number;
  maxSignals: number;
  /** signal name for messages without msg.topic; null: msg.topic is required */
  defaultTopic: string | null;
  /** per-signal rules, in the order given (feature vectors keep this order) */
  signals: Map<string, SignalRule>;
}

/** What the editor stores (all strings or numbers as typed). */
export interface RawSensorWindowConfig {
  window?: unknown;
  windowUnit?: unknown;
  stats?: unknown;
  rate?: unknown;
  rateCount?: unknown;
  rateInterval?: unknown;
  output?: unknown;
  featureTopic?: unknown;
  late?: unknown;
  gap?: unknown;
  maxSamples?: unknown;
  maxSignals?: unknown;
  topic?: unknown;
  signals?: unknown;
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, min: 60_000, h: 3_600_000 };

function num(value: unknown, property: string, fallback: number, check: (n: number) => boolean, expected: string): number {
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  if (!Number.isFinite(n) || !check(n)) throw new ConfigError(property, `expected ${expected}, got ${JSON.stringify(value)}`);
  return n;
}

function choice<T extends string>(value: unknown, property: string, options: readonly T[], fallback: T): T {
  if (value === undefined || value === null || value === '') return fallback;
  if (typeof value === 'string' && (options as readonly string[]).includes(value)) return value as T;
  throw new ConfigError(property, `expected one of ${options.join(', ')}, got ${JSON.stringify(value)}`);
}

/** A comma-separated list (or array) of statistic names. */
export function parseStats(value: unknown, property: string): Statistic[] {
  const list = Array.isArray(value) ? value : String(value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (list.length === 0) throw new ConfigError(property, `select at least one statistic (${STATISTICS.join(', ')})`);
  const out: Statistic[] = [];
  for (const s of list) {
    if (!isStatistic(s)) throw new ConfigError(property, `unknown statistic ${JSON.stringify(s)} (known: ${STATISTICS.join(', ')})`);
    if (!out.includes(s)) out.push(s);
  }
  return out;
}

function range(value: unknown, property: string, strict: boolean): [number, number] {
  if (!Array.isArray(value) || value.length !== 2 || typeof value[0] !== 'number' || typeof value[1] !== 'number' || Number.isNaN(value[0]) || Number.isNaN(value[1])) {
    throw new ConfigError(property, `expected [from, to] (two numbers), got ${JSON.stringify(value)}`);
  }
  if (strict ? !(value[0] < value[1]) : !(value[0] <= value[1])) throw new ConfigError(property, `expected from ${strict ? '<' : '<='} to, got ${JSON.stringify(value)}`);
  if (strict && !(Number.isFinite(value[0]) && Number.isFinite(value[1]))) throw new ConfigError(property, `expected finite numbers, got ${JSON.stringify(value)}`);
  return [value[0], value[1]];
}

/** The per-signal rules: a JSON object (or its text) `{ signal: { valid, normalise, stats } }`. */
export function parseSignals(value: unknown): Map<string, SignalRule> {
  let obj = value;
  if (typeof value === 'string') {
    if (value.trim() === '') return new Map();
    try {
      obj = JSON.parse(value);
    } catch (err) {
      throw new ConfigError('signals', `not valid JSON (${(err as Error).message})`);
    }
  }
  if (obj === undefined || obj === null) return new Map();
  if (typeof obj !== 'object' || Array.isArray(obj)) throw new ConfigError('signals', `expected an object { "signal": { "valid": [lo, hi], "normalise": [lo, hi], "stats": [...] } }`);
  const rules = new Map<string, SignalRule>();
  for (const [name, rule] of Object.entries(obj as Record<string, unknown>)) {
    const at = `signals.${name}`;
    if (rule === null || typeof rule !== 'object' || Array.isArray(rule)) throw new ConfigError(at, `expected an object with valid / normalise / stats, got ${JSON.stringify(rule)}`);
    const r: SignalRule = {};
    for (const [key, v] of Object.entries(rule as Record<string, unknown>)) {
      if (key === 'valid') r.valid = range(v, `${at}.valid`, false);
      else if (key === 'normalise' || key === 'normalize') r.normalise = range(v, `${at}.${key}`, true);
      else if (key === 'stats') r.stats = parseStats(v, `${at}.stats`);
      else throw new ConfigError(`${at}.${key}`, 'unknown key (expected valid, normalise or stats)');
    }
    rules.set(name, r);
  }
  return rules;
}

export function parseConfig(raw: RawSensorWindowConfig): SensorWindowConfig {
  const unit = choice(raw.windowUnit, 'windowUnit', ['ms', 's', 'min', 'h', 'samples'] as const, 'min');
  const size = num(raw.window, 'window', 5, (n) => n > 0, 'a window length > 0');
  const window = unit === 'samples'
    ? { kind: 'count' as const, size: num(raw.window, 'window', 300_000, (n) => n >= 1 && Number.isInteger(n), 'a whole number of samples >= 1') }
    : { kind: 'time' as const, size: size * UNIT_MS[unit] };
  const rateMode = choice(raw.rate, 'rate', ['input', 'count', 'interval'] as const, 'input');
  const every = rateMode === 'count'
    ? num(raw.rateCount, 'rateCount', 1000, (n) => n >= 1 && Number.isInteger(n), 'a whole number of samples >= 1')
    : rateMode === 'interval'
      ? num(raw.rateInterval, 'rateInterval', 1000, (n) => n > 0, 'an interval in ms > 0')
      : 0;
  const maxSamples = num(raw.maxSamples, 'maxSamples', 1_000_000, (n) => n >= 1 && Number.isInteger(n), 'a whole number >= 1');
  if (window.kind === 'count' && window.size > maxSamples) throw new ConfigError('window', `a count window of ${window.size} samples is larger than maxSamples (${maxSamples})`);
  const topic = raw.topic === undefined || raw.topic === null ? '' : String(raw.topic).trim();
  const featureTopic = raw.featureTopic === undefined || raw.featureTopic === null || String(raw.featureTopic).trim() === '' ? 'features' : String(raw.featureTopic).trim();
  return {
    window,
    stats: parseStats(raw.stats === undefined || raw.stats === '' ? 'mean' : raw.stats, 'stats'),
    rate: { mode: rateMode, every },
    output: choice(raw.output, 'output', ['signal', 'features'] as const, 'signal'),
    featureTopic,
    late: choice(raw.late, 'late', ['accept', 'drop'] as const, 'accept'),
    gapMs: num(raw.gap, 'gap', 1000, (n) => n >= 0, 'a gap threshold in ms >= 0 (0 = off)'),
    maxSamples,
    maxSignals: num(raw.maxSignals, 'maxSignals', 1000, (n) => n >= 1 && Number.isInteger(n), 'a whole number >= 1'),
    defaultTopic: topic === '' ? null : topic,
    signals: parseSignals(raw.signals),
  };
}
