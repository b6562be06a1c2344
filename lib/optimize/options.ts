/**
 * One flat, serialisable description of a chain (what the editor, the CLI flags and a worker
 * message carry) and its translation into OptimizeOptions.
 */
import { ConfigError, InputError } from '../errors';
import { validateChain, type OptimizeOptions } from './optimize';

export interface ChainSpec {
  /** L1 neuron pruning: relative threshold (paper 0.3) */
  pruneL1?: number;
  /** L1 neuron pruning: neurons to keep per layer (512 → 128) */
  pruneKeep?: number;
  /** L1 neuron pruning: fraction to keep per layer */
  pruneRatio?: number;
  /** conv channel pruning: channels to keep per layer (12 → 8) */
  pruneConvKeep?: number;
  /** conv channel pruning: fraction to keep */
  pruneConvRatio?: number;
  /** layers to prune (names); default all eligible */
  pruneLayers?: string[];
  lowRank?: number;
  lowRankEnergy?: number;
  /** fine-tuning after pruning / low-rank: epochs (0 or unset: off); needs training data */
  finetuneEpochs?: number;
  /** fine-tuning: Adam learning rate (default 1e-3) */
  learningRate?: number;
  /** fine-tuning: samples per step (default 32) */
  batchSize?: number;
  int8?: 'none' | 'dynamic' | 'static';
  perChannel?: boolean;
  /** fixed weight scale (paper eq. 3: 0.125) */
  weightScale?: number;
  /** static activations: 'calibrate' (default), 'fixed' (paper [−8, 7.875]) or [low, high] */
  activations?: 'calibrate' | 'fixed' | [number, number];
  codebook?: boolean;
  codebookFine?: number;
  codebookCoarse?: number;
  codebookThreshold?: number;
  latency?: boolean;
  repeats?: number;
}

const num = (v: unknown) => v !== undefined && v !== null && v !== '';

export function chainOptions(spec: ChainSpec): OptimizeOptions {
  const o: OptimizeOptions = {};
  const pruneGiven = [spec.pruneL1, spec.pruneKeep, spec.pruneRatio].filter(num).length;
  if (pruneGiven > 1) throw new InputError('prune', 'one of pruneL1, pruneKeep, pruneRatio', spec);
  if (num(spec.pruneL1)) o.prune = { threshold: Number(spec.pruneL1) };
  if (num(spec.pruneKeep)) o.prune = { keep: Number(spec.pruneKeep) };
  if (num(spec.pruneRatio)) o.prune = { keepRatio: Number(spec.pruneRatio) };
  if (o.prune && spec.pruneLayers?.length) o.prune.layers = spec.pruneLayers;
  if (num(spec.pruneConvKeep) && num(spec.pruneConvRatio)) throw new InputError('pruneConv', 'one of pruneConvKeep, pruneConvRatio', spec);
  if (num(spec.pruneConvKeep)) o.pruneConv = { keep: Number(spec.pruneConvKeep) };
  if (num(spec.pruneConvRatio)) o.pruneConv = { keepRatio: Number(spec.pruneConvRatio) };
  if (num(spec.lowRank) && num(spec.lowRankEnergy)) throw new InputError('lowrank', 'one of rank or energy', spec);
  if (num(spec.lowRank)) o.lowRank = { rank: Number(spec.lowRank) };
  if (num(spec.lowRankEnergy)) o.lowRank = { energy: Number(spec.lowRankEnergy) };
  if (num(spec.finetuneEpochs) && Number(spec.finetuneEpochs) !== 0) {
    o.finetune = { epochs: Number(spec.finetuneEpochs) };
    if (num(spec.learningRate)) o.finetune.learningRate = Number(spec.learningRate);
    if (num(spec.batchSize)) o.finetune.batchSize = Number(spec.batchSize);
  }
  if (spec.int8 && spec.int8 !== 'none') {
    o.int8 = { mode: spec.int8, perChannel: !!spec.perChannel, activations: spec.activations ?? 'calibrate' };
    if (num(spec.weightScale)) o.int8.weightScale = Number(spec.weightScale);
  }
  if (spec.codebook) {
    o.codebook = {};
    if (num(spec.codebookFine)) o.codebook.fine = Number(spec.codebookFine);
    if (num(spec.codebookCoarse)) o.codebook.coarse = Number(spec.codebookCoarse);
    if (num(spec.codebookThreshold)) o.codebook.threshold = Number(spec.codebookThreshold);
  }
  if (spec.latency === false) o.latency = false;
  if (num(spec.repeats)) o.repeats = Number(spec.repeats);
  return o;
}

/** The editor's config (strings from the form) → a ChainSpec; throws ConfigError naming the property. */
export interface RawNodeConfig {
  pruneMode?: string; // 'none' | 'l1' | 'keep' | 'ratio'
  pruneValue?: string | number;
  pruneConvKeep?: string | number;
  lowRankMode?: string; // 'none' | 'rank' | 'energy'
  lowRankValue?: string | number;
  int8?: string; // 'none' | 'dynamic' | 'static'
  perChannel?: boolean;
  weightScaleMode?: string; // 'data' | 'fixed'
  weightScale?: string | number;
  activations?: string; // 'calibrate' | 'fixed'
  codebook?: boolean;
  /** fine-tuning epochs ('' or 0: off), learning rate, batch size */
  finetuneEpochs?: string | number;
  finetuneLr?: string | number;
  finetuneBatch?: string | number;
  latency?: boolean;
}

export function specFromConfig(c: RawNodeConfig): ChainSpec {
  const n = (v: unknown, prop: string): number => {
    const x = typeof v === 'number' ? v : Number(String(v ?? '').trim());
    if (v === undefined || v === '' || !Number.isFinite(x)) throw new ConfigError(prop, `expected a number, got ${JSON.stringify(v)}`);
    return x;
  };
  const spec: ChainSpec = {};
  const pm = c.pruneMode ?? 'none';
  if (pm === 'l1') spec.pruneL1 = n(c.pruneValue, 'pruneValue');
  else if (pm === 'keep') spec.pruneKeep = n(c.pruneValue, 'pruneValue');
  else if (pm === 'ratio') spec.pruneRatio = n(c.pruneValue, 'pruneValue');
  else if (pm !== 'none') throw new ConfigError('pruneMode', `expected none, l1, keep or ratio, got ${JSON.stringify(pm)}`);
  if (c.pruneConvKeep !== undefined && c.pruneConvKeep !== '') spec.pruneConvKeep = n(c.pruneConvKeep, 'pruneConvKeep');
  const lm = c.lowRankMode ?? 'none';
  if (lm === 'rank') spec.lowRank = n(c.lowRankValue, 'lowRankValue');
  else if (lm === 'energy') spec.lowRankEnergy = n(c.lowRankValue, 'lowRankValue');
  else if (lm !== 'none') throw new ConfigError('lowRankMode', `expected none, rank or energy, got ${JSON.stringify(lm)}`);
  const q = c.int8 ?? 'none';
  if (q !== 'none' && q !== 'dynamic' && q !== 'static') throw new ConfigError('int8', `expected none, dynamic or static, got ${JSON.stringify(q)}`);
  spec.int8 = q;
  spec.perChannel = !!c.perChannel;
  if (c.weightScaleMode === 'fixed') spec.weightScale = n(c.weightScale, 'weightScale');
  if (c.activations === 'fixed') spec.activations = 'fixed';
  else if (c.activations !== undefined && c.activations !== '' && c.activations !== 'calibrate') throw new ConfigError('activations', `expected calibrate or fixed, got ${JSON.stringify(c.activations)}`);
  spec.codebook = !!c.codebook;
  if (c.finetuneEpochs !== undefined && c.finetuneEpochs !== '' && n(c.finetuneEpochs, 'finetuneEpochs') !== 0) {
    spec.finetuneEpochs = n(c.finetuneEpochs, 'finetuneEpochs');
    if (c.finetuneLr !== undefined && c.finetuneLr !== '') spec.learningRate = n(c.finetuneLr, 'finetuneLr');
    if (c.finetuneBatch !== undefined && c.finetuneBatch !== '') spec.batchSize = n(c.finetuneBatch, 'finetuneBatch');
  }
  spec.latency = c.latency !== false;
  // Check ranges now (deploy time), with a stand-in for calibration data the messages will bring.
  try {
    const o = chainOptions(spec);
    if (!o.prune && !o.pruneConv && !o.lowRank && !o.int8 && !o.codebook) throw new ConfigError('chain', 'choose at least one transformation');
    validateChain(o);
  } catch (e) {
    if (e instanceof InputError) throw new ConfigError(e.field, e.message.slice(e.field.length + 2));
    throw e;
  }
  return spec;
}
