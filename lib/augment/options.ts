/**
 * physics-augment's node-level options (besides the rules) and their validation. Accepts the
 * editor's values (numbers typed as strings, blanks for "not set") and refuses anything that
 * cannot work with a ConfigError naming the property.
 */
import { ConfigError } from '../errors';
import { parseRules, type Rule } from './rules';
import { isBlank } from '../util/config';

export type AugmentOutput = 'each' | 'batch';

export interface AugmentNodeOptions {
  rules: Rule[];
  /** augmented samples asked for per real sample */
  count: number;
  /** node seed; null: blank (the node draws a random one at deploy) */
  seed: number | null;
  output: AugmentOutput;
  /** draws per sample before it counts as not emitted */
  maxAttempts: number;
}

export const AUGMENT_DEFAULTS = { count: 10, maxAttempts: 20, output: 'each' as AugmentOutput };
export const MAX_COUNT = 100000;
export const MAX_ATTEMPTS = 1000;
export const MAX_SEED = 0xffffffff;

/** A whole number in [min, max]; blank gives `fallback` (when there is one). */
function integer(v: unknown, property: string, min: number, max: number, fallback?: number): number {
  if (isBlank(v)) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(property, `expected an integer ${min}–${max}, got ${JSON.stringify(v)}`);
  }
  const n = typeof v === 'number' ? v : Number(String(v).trim());
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(property, `expected an integer ${min}–${max}, got ${JSON.stringify(v)}`);
  return n;
}

/** Validate raw (editor) config into options; throws ConfigError. */
export function parseAugmentOptions(raw: Record<string, unknown>): AugmentNodeOptions {
  const rules = parseRules(raw.rules ?? '');
  const count = integer(raw.count, 'count', 1, MAX_COUNT, AUGMENT_DEFAULTS.count);
  const maxAttempts = integer(raw.maxAttempts, 'maxAttempts', 1, MAX_ATTEMPTS, AUGMENT_DEFAULTS.maxAttempts);
  const seed = isBlank(raw.seed) ? null : integer(raw.seed, 'seed', 0, MAX_SEED);
  const output = isBlank(raw.output) ? AUGMENT_DEFAULTS.output : raw.output;
  if (output !== 'each' && output !== 'batch') throw new ConfigError('output', `expected "each" or "batch", got ${JSON.stringify(raw.output)}`);
  return { rules, count, seed, output, maxAttempts };
}

/** Whether `v` is a valid seed (an integer 0–4294967295), e.g. a `msg.seed` replaying a set. */
export function isSeed(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_SEED;
}
