/**
 * dual-fusion's options and their validation. Accepts the editor's values (numbers typed as
 * strings, blanks for "not set") and refuses anything that cannot work with a ConfigError naming
 * the property.
 */
import { ConfigError } from '../errors';
import { isBlank } from '../util/config';

export type FusionMode = 'fixed' | 'adaptive' | 'kalman';
export const FUSION_MODES: readonly FusionMode[] = ['fixed', 'adaptive', 'kalman'];

export interface DualFusionOptions {
  /** msg.topic of source a and of source b */
  sources: { a: string; b: string };
  /** payload key of the fused value */
  field: string;
  mode: FusionMode;
  /** fixed mode: weights (sum 1) */
  weights: { a: number; b: number };
  /** largest timestamp difference of a pair, ms; also the longest an unpaired sample is held */
  skewMs: number;
  /** a source with no sample for this long is stale, ms (> skewMs) */
  timeoutMs: number;
  /** |a − b| above this flags a disagreement; null: never */
  tolerance: number | null;
  /** pairs in the noise estimate's window */
  window: number;
  /** noise standard deviation of each source when known (used until the estimate is ready); null: unknown */
  noise: { a: number | null; b: number | null };
  /** Kalman: standard deviation of the truth's change per √s; null: estimated from the data */
  processNoise: number | null;
  /** most samples held per source while waiting for a partner */
  maxHeld: number;
}

export const FUSION_DEFAULTS = {
  field: 'value',
  mode: 'adaptive' as FusionMode,
  skewMs: 20,
  timeoutMs: 2000,
  window: 200,
  maxHeld: 100,
};

function num(v: unknown, property: string): number {
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isFinite(n)) throw new ConfigError(property, `expected a number, got ${JSON.stringify(v)}`);
  return n;
}

function optionalNum(v: unknown, property: string, fallback: number): number {
  return isBlank(v) ? fallback : num(v, property);
}

function text(v: unknown): string {
  return isBlank(v) ? '' : String(v).trim();
}

/** Validate raw (editor) config into options; throws ConfigError. */
export function parseFusionOptions(raw: Record<string, unknown>): DualFusionOptions {
  const a = text(raw.sourceA);
  const b = text(raw.sourceB);
  if (!a) throw new ConfigError('sourceA', 'the msg.topic of the first source is required');
  if (!b) throw new ConfigError('sourceB', 'the msg.topic of the second source is required');
  if (a === b) throw new ConfigError('sourceB', `the two sources need different topics (both are "${a}")`);
  const field = text(raw.field) || FUSION_DEFAULTS.field;

  const modeText = text(raw.mode) || FUSION_DEFAULTS.mode;
  if (!(FUSION_MODES as readonly string[]).includes(modeText)) throw new ConfigError('mode', `expected one of ${FUSION_MODES.join(', ')}, got ${JSON.stringify(raw.mode)}`);
  const mode = modeText as FusionMode;

  let weights = { a: 0.5, b: 0.5 };
  if (mode === 'fixed') {
    const wa = optionalNum(raw.weightA, 'weightA', 0.5);
    const wb = isBlank(raw.weightB) ? 1 - wa : num(raw.weightB, 'weightB');
    if (wa < 0 || wa > 1) throw new ConfigError('weightA', `a weight must be between 0 and 1, got ${wa}`);
    if (wb < 0 || wb > 1) throw new ConfigError('weightB', `a weight must be between 0 and 1, got ${wb}`);
    if (Math.abs(wa + wb - 1) > 1e-6) throw new ConfigError('weightB', `the weights must sum to 1 (w1 + w2 = 1), got ${wa} + ${wb} = ${wa + wb}`);
    weights = { a: wa, b: wb };
  }

  const skewMs = optionalNum(raw.skew, 'skew', FUSION_DEFAULTS.skewMs);
  if (skewMs < 0) throw new ConfigError('skew', `must be ≥ 0 ms, got ${skewMs}`);
  const timeoutMs = optionalNum(raw.timeout, 'timeout', FUSION_DEFAULTS.timeoutMs);
  if (!(timeoutMs > skewMs)) throw new ConfigError('timeout', `must be longer than the pairing skew (${skewMs} ms), got ${timeoutMs}`);

  const tolerance = isBlank(raw.tolerance) ? null : num(raw.tolerance, 'tolerance');
  if (tolerance !== null && !(tolerance > 0)) throw new ConfigError('tolerance', `must be > 0 (or blank for no disagreement check), got ${tolerance}`);

  const window = optionalNum(raw.window, 'window', FUSION_DEFAULTS.window);
  if (!Number.isInteger(window) || window < 3) throw new ConfigError('window', `must be a whole number of pairs ≥ 3, got ${window}`);

  const noiseA = isBlank(raw.noiseA) ? null : num(raw.noiseA, 'noiseA');
  const noiseB = isBlank(raw.noiseB) ? null : num(raw.noiseB, 'noiseB');
  if (noiseA !== null && !(noiseA > 0)) throw new ConfigError('noiseA', `a noise standard deviation must be > 0, got ${noiseA}`);
  if (noiseB !== null && !(noiseB > 0)) throw new ConfigError('noiseB', `a noise standard deviation must be > 0, got ${noiseB}`);

  const processNoise = isBlank(raw.processNoise) ? null : num(raw.processNoise, 'processNoise');
  if (processNoise !== null && processNoise < 0) throw new ConfigError('processNoise', `must be ≥ 0 (or blank to estimate it), got ${processNoise}`);

  const maxHeld = optionalNum(raw.maxHeld, 'maxHeld', FUSION_DEFAULTS.maxHeld);
  if (!Number.isInteger(maxHeld) || maxHeld < 1) throw new ConfigError('maxHeld', `must be a whole number ≥ 1, got ${maxHeld}`);

  return { sources: { a, b }, field, mode, weights, skewMs, timeoutMs, tolerance, window, noise: { a: noiseA, b: noiseB }, processNoise, maxHeld };
}
