/**
 * The optimisation chain and its report. Each transformation is usable alone (prune.ts,
 * lowrank.ts, quantize.ts, codebook-pass.ts); this runs the chosen ones in a fixed order —
 * normalise → conv channel pruning → L1 neuron pruning → low-rank → int8 → codebook — checks that
 * the result loads in ONNX Runtime with the same output names and shapes, and measures both
 * models (parameters, bytes, latency at batch 1 and 32, accuracy or error on validation data).
 */
import { InputError } from '../errors';
import { codebookQuantize } from './codebook';
import { applyCodebook, type CodebookLayer, type CodebookPassOptions } from './codebook-pass';
import { checkAgainstModel, type DataSet } from './data';
import { finetune, validateFinetune, type FinetuneOptions, type FinetuneReport } from './finetune';
import { decodeModel, encodeModel, GraphEditor } from './graph';
import { factorize, validateLowRank, type FactorizedLayer, type LowRankOptions } from './lowrank';
import { normalize } from './normalize';
import { prune, pruneCandidates, validatePruneOptions, type PrunedLayer, type PruneOptions, type SkippedLayer } from './prune';
import { PAPER_ACTIVATION_RANGE } from './quant-math';
import { activationTensors, quantize, type QuantizedLayer } from './quantize';
import { collectActivations, createSession, measureLatency, run, syntheticFeeds, type Feeds, type NamedTensor } from './runtime';

export interface Int8Options {
  mode: 'dynamic' | 'static';
  perChannel?: boolean;
  /** paper eq. 3: fixed weight scale (0.125) instead of one from the data */
  weightScale?: number;
  /** static: 'calibrate' (needs calibration data) or a fixed range (paper: [−8, 7.875]) */
  activations?: 'calibrate' | 'fixed' | readonly [number, number];
}

export interface OptimizeOptions {
  /** L1 neuron pruning of dense layers */
  prune?: PruneOptions;
  /** conv channel pruning (by mean activation over calibration data; L1 without it) */
  pruneConv?: PruneOptions;
  lowRank?: LowRankOptions;
  /** fine-tune the pruned / factorised fp32 model on `training` (Adam) before quantisation */
  finetune?: FinetuneOptions;
  int8?: Int8Options;
  codebook?: CodebookPassOptions;
  calibration?: DataSet;
  validation?: DataSet;
  /** training data for `finetune`: inputs and expected outputs or class labels */
  training?: DataSet;
  /** measure latency (default true) */
  latency?: boolean;
  /** runs per latency figure (default 20) */
  repeats?: number;
  onProgress?: (fraction: number, stage: string) => void;
}

export interface ModelFigures {
  parameters: number;
  bytes: number;
  latencyMs?: { batch1: number; batch32: number };
  layers: Array<{ node: string; op: string; parameters: number }>;
  validation?: ValidationFigures;
}

export interface ValidationFigures {
  /** per output: accuracy (classification) or mean relative error (regression) against expected */
  outputs: Record<string, { metric: 'accuracy' | 'meanRelativeError'; value: number }>;
}

export interface OptimizeReport {
  original: ModelFigures;
  optimized: ModelFigures;
  ratios: { parameters: number; bytes: number; speedupBatch1?: number; speedupBatch32?: number };
  steps: {
    normalized: { opsetFrom: number; opsetTo: number };
    pruned?: PrunedLayer[];
    prunedConv?: PrunedLayer[];
    pruneSkipped?: SkippedLayer[];
    lowRank?: FactorizedLayer[];
    lowRankSkipped?: Array<{ layer: string; reason: string }>;
    /** fine-tuning: losses before / after, and the validation figures of the model just before and after it */
    finetune?: FinetuneReport & { validationBefore?: ValidationFigures; validationAfter?: ValidationFigures };
    quantized?: QuantizedLayer[];
    codebook?: CodebookLayer[];
  };
  /** largest |optimized − original| over the outputs, on validation (or synthetic) inputs */
  maxAbsDiff: Record<string, number>;
  notes: string[];
}

const WEIGHT_OPS = new Set(['MatMul', 'Gemm', 'Conv', 'MatMulInteger', 'ConvInteger', 'DequantizeLinear', 'Gather', 'LSTM', 'GRU']);

function layerParams(bytes: Uint8Array): Array<{ node: string; op: string; parameters: number }> {
  const g = new GraphEditor(decodeModel(bytes));
  const out = [];
  for (const n of g.nodes) {
    if (!WEIGHT_OPS.has(n.opType ?? '')) continue;
    let p = 0;
    for (const i of n.input ?? []) {
      const t = g.graph.initializer!.find((x) => x.name === i);
      if (t) p += (t.dims ?? []).reduce((a: number, d) => a * Number(d), 1);
    }
    if (p > 1) out.push({ node: g.nodeLabel(n), op: n.opType ?? '', parameters: p });
  }
  return out;
}

/** Check option ranges; `calibration` may be missing when it is only known later (the node's messages). */
export function validateChain(o: OptimizeOptions, needCalibration = false): void {
  if (o.prune) validatePruneOptions(o.prune);
  if (o.pruneConv) validatePruneOptions(o.pruneConv);
  if (o.lowRank) validateLowRank(o.lowRank);
  if (o.int8) {
    if (o.int8.mode !== 'dynamic' && o.int8.mode !== 'static') throw new InputError('int8.mode', "'dynamic' or 'static'", o.int8.mode);
    if (o.int8.weightScale !== undefined && !(o.int8.weightScale > 0)) throw new InputError('int8.weightScale', 'a number > 0', o.int8.weightScale);
    const a = o.int8.activations;
    if (Array.isArray(a) && !(a.length === 2 && Number.isFinite(a[0]) && Number.isFinite(a[1]) && a[0] < a[1])) throw new InputError('int8.activations', '[low, high] with low < high', a);
    if (needCalibration && o.int8.mode === 'static' && (a === undefined || a === 'calibrate') && !o.calibration) {
      throw new InputError('calibration', "calibration data for static int8 (or int8.activations 'fixed')", undefined);
    }
  }
  if (o.codebook) codebookQuantize(new Float32Array([0, 1]), o.codebook); // checks the steps
  if (o.finetune) {
    validateFinetune(o.finetune);
    if (needCalibration && !o.training) throw new InputError('training', 'training data { inputs, expected } for fine-tuning', undefined);
    if (needCalibration && !o.training!.expected) throw new InputError('training.expected', 'target outputs or class labels for fine-tuning', undefined);
  }
  if (!o.prune && !o.pruneConv && !o.lowRank && !o.int8 && !o.codebook) throw new InputError('options', 'at least one of prune, pruneConv, lowRank, int8, codebook', o);
}

/** Per-channel mean |activation| (channel axis 1) of an NC... tensor. */
function channelMeans(data: Float32Array, shape: number[]): Float64Array {
  const C = shape[1];
  const inner = shape.slice(2).reduce((a, b) => a * b, 1);
  const outer = shape[0];
  const s = new Float64Array(C);
  for (let b = 0; b < outer; b++) for (let c = 0; c < C; c++) for (let i = 0; i < inner; i++) s[c] += Math.abs(data[(b * C + c) * inner + i]);
  for (let c = 0; c < C; c++) s[c] /= outer * inner;
  return s;
}

async function outputsOf(model: Uint8Array, feeds: Feeds): Promise<Record<string, NamedTensor>> {
  const s = await createSession(model);
  try {
    return await run(s, feeds);
  } finally {
    await s.release();
  }
}

function metricsOf(out: Record<string, NamedTensor>, expected: Record<string, NamedTensor>): ValidationFigures {
  const res: ValidationFigures['outputs'] = {};
  for (const [name, exp] of Object.entries(expected)) {
    const got = out[name];
    if (!got) continue;
    const batch = got.shape[0] ?? 1;
    const width = got.data.length / batch;
    if (width > 1) {
      let correct = 0;
      for (let b = 0; b < batch; b++) {
        const row = got.data.subarray(b * width, (b + 1) * width);
        const pred = row.indexOf(Math.max(...row));
        let label: number;
        if (exp.data.length === batch) label = Math.round(exp.data[b]);
        else {
          const er = exp.data.subarray(b * width, (b + 1) * width);
          label = er.indexOf(Math.max(...er));
        }
        if (pred === label) correct++;
      }
      res[name] = { metric: 'accuracy', value: correct / batch };
    } else {
      if (exp.data.length !== got.data.length) throw new InputError(`validation.expected.${name}`, `${got.data.length} values`, exp.data);
      let s = 0;
      for (let i = 0; i < got.data.length; i++) s += Math.abs(got.data[i] - exp.data[i]) / Math.max(Math.abs(exp.data[i]), 1e-6);
      res[name] = { metric: 'meanRelativeError', value: s / got.data.length };
    }
  }
  return { outputs: res };
}

async function figures(bytes: Uint8Array, o: OptimizeOptions, out?: Record<string, NamedTensor>): Promise<ModelFigures> {
  const g = new GraphEditor(decodeModel(bytes));
  const f: ModelFigures = { parameters: g.parameterCount(), bytes: bytes.length, layers: layerParams(bytes) };
  if (o.latency !== false) {
    const repeats = o.repeats ?? 20;
    f.latencyMs = { batch1: await measureLatency(bytes, 1, repeats), batch32: await measureLatency(bytes, 32, Math.max(3, Math.ceil(repeats / 2))) };
  }
  if (o.validation?.expected && out) f.validation = metricsOf(out, o.validation.expected);
  return f;
}

/** Run the chain on ONNX bytes. Returns the optimised model and the report. */
export async function optimize(input: Uint8Array, o: OptimizeOptions): Promise<{ model: Buffer; report: OptimizeReport }> {
  const progress = (f: number, s: string) => o.onProgress?.(Math.min(1, f), s);
  progress(0, 'reading model');
  let g = new GraphEditor(decodeModel(input));
  validateChain(o, true);
  const outputNames = (g.graph.output ?? []).map((x) => x.name!);
  if (o.calibration) checkAgainstModel(o.calibration, g.model, 'calibration');
  if (o.validation) checkAgainstModel(o.validation, g.model, 'validation', outputNames);
  if (o.finetune && o.training) checkAgainstModel(o.training, g.model, 'training', outputNames);
  const original = Buffer.from(input);
  // The original must run: it is the reference for every figure.
  const refFeeds = o.validation?.inputs ?? syntheticFeeds(g.model, 2);
  const notes: string[] = [];
  const opsetFrom = g.opset();
  const wantsOpset13 = !!(o.int8?.perChannel && o.int8.mode === 'static');
  normalize(g, wantsOpset13 ? 13 : 11);
  // The reference: the original as given, or — when this ONNX Runtime cannot run it (opset < 7
  // ops such as Gemm-6) — the normalised fp32 model, which computes the same function.
  let reference: Buffer = original;
  let refOut: Record<string, NamedTensor>;
  try {
    refOut = await outputsOf(original, refFeeds);
  } catch (e) {
    if (e instanceof InputError) throw e;
    reference = encodeModel(g.model);
    refOut = await outputsOf(reference, refFeeds);
    notes.push(`the original (opset ${opsetFrom}) does not load in ONNX Runtime (${(e as Error).message.split('\n')[0].slice(0, 120)}); figures of "original" are those of the same model raised to opset ${g.opset()}`);
  }
  const steps: OptimizeReport['steps'] = { normalized: { opsetFrom, opsetTo: g.opset() } };
  progress(0.05, 'normalised');

  if (o.pruneConv) {
    progress(0.1, 'conv channel pruning');
    let activationScores: Map<string, Float64Array> | undefined;
    if (o.calibration) {
      const chains = pruneCandidates(g, ['conv']).map((c) => c.chain).filter((c) => typeof c !== 'string');
      const tensors = [...new Set(chains.map((c) => (c as { scoreTensor: string }).scoreTensor))];
      if (tensors.length) {
        const acts = await collectActivations(encodeModel(g.model), tensors, o.calibration.inputs);
        activationScores = new Map(tensors.map((t) => [t, channelMeans(acts[t].data, acts[t].shape)]));
      }
    } else {
      notes.push('conv channels scored by filter L1 norm: no calibration data for mean activations');
    }
    const r = prune(g, { ...o.pruneConv, kinds: ['conv'], activationScores });
    steps.prunedConv = r.pruned;
    steps.pruneSkipped = [...(steps.pruneSkipped ?? []), ...r.skipped];
  }
  if (o.prune) {
    progress(0.15, 'L1 neuron pruning');
    const r = prune(g, { ...o.prune, kinds: ['dense'] });
    steps.pruned = r.pruned;
    steps.pruneSkipped = [...(steps.pruneSkipped ?? []), ...r.skipped];
    if (r.pruned.length === 0) notes.push('L1 pruning: no layer pruned (see pruneSkipped)');
  }
  if (o.lowRank) {
    const r = factorize(g, { ...o.lowRank, onLayer: (i, n, name) => progress(0.2 + ((o.finetune ? 0.1 : 0.3) * i) / Math.max(1, n), `low-rank ${name}`) });
    steps.lowRank = r.layers;
    steps.lowRankSkipped = r.skipped;
  }
  if (o.finetune && o.training) {
    progress(0.3, 'fine-tuning');
    const before = encodeModel(g.model);
    const r = await finetune(before, o.training, o.finetune, (e, n, loss) => progress(0.3 + (0.2 * (e + 1)) / n, `fine-tuning epoch ${e + 1}/${n} loss ${loss.toPrecision(3)}`));
    g = new GraphEditor(decodeModel(r.model));
    steps.finetune = r.report;
    if (o.validation?.expected) {
      steps.finetune.validationBefore = metricsOf(await outputsOf(before, o.validation.inputs), o.validation.expected);
      steps.finetune.validationAfter = metricsOf(await outputsOf(r.model, o.validation.inputs), o.validation.expected);
    }
  }
  if (o.int8) {
    progress(0.5, `int8 ${o.int8.mode}`);
    const a = o.int8.activations;
    const fixedRange = a === 'fixed' ? PAPER_ACTIVATION_RANGE : Array.isArray(a) ? (a as readonly [number, number]) : undefined;
    let ranges: Map<string, { min: number; max: number }> | undefined;
    if (o.int8.mode === 'static' && !fixedRange) {
      const tensors = activationTensors(g);
      const feeds = o.calibration!.inputs;
      const internal = tensors.filter((t) => !feeds[t]);
      const acts = internal.length ? await collectActivations(encodeModel(g.model), internal, feeds) : {};
      ranges = new Map(tensors.map((t) => {
        let min = Infinity;
        let max = -Infinity;
        for (const v of (feeds[t] ?? acts[t]).data) { if (v < min) min = v; if (v > max) max = v; }
        return [t, { min, max }];
      }));
    }
    steps.quantized = quantize(g, { mode: o.int8.mode, perChannel: o.int8.perChannel, weightScale: o.int8.weightScale, fixedRange, ranges });
    const sat = steps.quantized.reduce((s, l) => s + l.saturated, 0);
    if (sat > 0) notes.push(`fixed weight scale ${o.int8.weightScale}: ${sat} weights saturated at ±127·s`);
  }
  if (o.codebook) {
    progress(0.6, 'codebook quantisation');
    steps.codebook = applyCodebook(g, o.codebook);
  }
  const optimized = encodeModel(g.model);
  progress(0.65, 'checking the optimised model');
  const newOut = await outputsOf(optimized, refFeeds);
  const maxAbsDiff: Record<string, number> = {};
  for (const name of outputNames) {
    const a = refOut[name];
    const b = newOut[name];
    if (!b) throw new Error(`optimised model lost output '${name}'`);
    // The batch follows the data; other dims must agree unless pruning was asked for an output layer (it never is).
    if (a.shape.join(',') !== b.shape.join(',')) throw new Error(`optimised model changed the shape of '${name}': [${a.shape}] → [${b.shape}]`);
    let m = 0;
    for (let i = 0; i < a.data.length; i++) m = Math.max(m, Math.abs(a.data[i] - b.data[i]));
    maxAbsDiff[name] = m;
  }
  progress(0.7, 'measuring the original');
  const origFig = await figures(reference, o, refOut);
  progress(0.85, 'measuring the optimised model');
  const optFig = await figures(optimized, o, newOut);
  progress(1, 'done');
  const ratios: OptimizeReport['ratios'] = { parameters: optFig.parameters / origFig.parameters, bytes: optFig.bytes / origFig.bytes };
  if (origFig.latencyMs && optFig.latencyMs) {
    ratios.speedupBatch1 = origFig.latencyMs.batch1 / optFig.latencyMs.batch1;
    ratios.speedupBatch32 = origFig.latencyMs.batch32 / optFig.latencyMs.batch32;
  }
  return { model: optimized, report: { original: origFig, optimized: optFig, ratios, steps, maxAbsDiff, notes } };
}
