/**
 * Incremental retraining for the cloud role (paper §4.3): fine-tune the current model on the
 * samples the gateways sent, with the graph executor (lib/onnx/executor Trainer), evaluate it on a
 * held-out part of those samples against the current model, and accept it only if it is not worse.
 *
 * - Inputs are built the way multitask-infer builds them: features in the model's `feature_names`
 *   order, its normalisation applied; for a sequence model [batch, L, F] each sample's window is the
 *   last L samples of the same group (gateway) ending at it, the first sample repeated while fewer
 *   than L exist (multitask-infer's "repeat the oldest record").
 * - Targets from `labels[task]` per head: classification — a label name or class index (cross-entropy;
 *   on logits when the head applies softmax); multilabel — the list of active label names, or
 *   `{name: 0|1}`, or a 0/1 array (binary cross-entropy; on logits when the head applies sigmoid);
 *   regression — a number, `{name: value}` or an array, z-scored with the head's `scale` (MSE).
 *   The heads labelled in any sample are trained; a sample becomes a training row when it carries
 *   all their labels (others only fill the windows); samples without every feature are skipped.
 * - Hold-out: every `holdOutEvery`-th usable sample (default 5th, i.e. 20 %), deterministic.
 * - The result carries model_version = current + 1.
 */
import { loadModel } from '../onnx/model';
import type { Tensor as OnnxTensor } from '../onnx/tensor';
import { Trainer, LossTerm } from '../onnx/executor/train';
import { describeModel } from '../infer/describe';
import { parseModelSpec, HeadDef, ModelSpec } from '../infer/model-spec';

export interface TrainingSample {
  payload: unknown;
  labels?: Record<string, unknown>;
  /** samples of one group (gateway) form the sequence windows, in the order given */
  group?: string;
}

export interface RetrainOptions {
  epochs?: number;
  learningRate?: number;
  batchSize?: number;
  holdOutEvery?: number;
  /** at least this many training samples, else nothing is trained; default 8 */
  minSamples?: number;
}

export interface RetrainResult {
  accepted: boolean;
  reason: string;
  /** the fine-tuned model (model_version + 1), whether accepted or not */
  bytes: Buffer;
  version: number;
  previousVersion: number;
  /** held-out loss of the current model and of the fine-tuned one */
  before: number;
  after: number;
  trainSamples: number;
  testSamples: number;
  skipped: number;
  heads: string[];
  epochLosses: number[];
}

function classIndex(head: HeadDef, v: unknown): number | null {
  const n = head.labels?.length ?? 0;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < n) return v;
  if (typeof v === 'string') {
    const i = head.labels?.indexOf(v) ?? -1;
    return i >= 0 ? i : null;
  }
  return null;
}

function multiTarget(head: HeadDef, v: unknown): number[] | null {
  const names = head.labels ?? [];
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) {
    if (!v.every((x) => names.includes(x as string))) return null;
    return names.map((nm) => ((v as string[]).includes(nm) ? 1 : 0));
  }
  if (Array.isArray(v) && v.length === names.length && v.every((x) => x === 0 || x === 1 || typeof x === 'boolean')) return v.map((x) => Number(x));
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    const o = v as Record<string, unknown>;
    if (!names.every((nm) => nm in o)) return null;
    return names.map((nm) => (o[nm] ? 1 : 0));
  }
  return null;
}

function regressionTarget(head: HeadDef, width: number, v: unknown): number[] | null {
  let vals: unknown[];
  if (typeof v === 'number') vals = [v];
  else if (Array.isArray(v)) vals = v;
  else if (v && typeof v === 'object' && head.names) vals = head.names.map((n) => (v as Record<string, unknown>)[n]);
  else return null;
  if (vals.length !== width || !vals.every((x) => typeof x === 'number' && Number.isFinite(x))) return null;
  return (vals as number[]).map((x, i) => (head.scale ? (x - head.scale.mean[i]) / head.scale.std[i] : x));
}

function outputWidth(spec: ModelSpec, head: HeadDef): number {
  const dims = spec.outputs.find((o) => o.name === head.output)?.dims ?? [];
  const last = dims[dims.length - 1];
  if (last && last > 0) return last;
  return head.labels?.length ?? head.names?.length ?? 1;
}

interface Prepared {
  x: number[][]; // per sample, the flattened (L×F) normalised input
  targets: Record<string, number[][]>; // per head output, per sample
}

export async function retrain(current: Uint8Array, samples: TrainingSample[], options: RetrainOptions = {}): Promise<RetrainResult> {
  const model = loadModel(current);
  const spec = parseModelSpec(describeModel(current));
  const F = spec.featureNames.length;
  const L = spec.inputRank === 3 ? spec.sequenceLength : 1;
  const norm = spec.normalization;

  // normalised feature rows, grouped for windows
  const rows: Array<{ row: number[] | null; sample: TrainingSample }> = samples.map((s) => {
    const p = s.payload as Record<string, unknown> | null;
    if (!p || typeof p !== 'object') return { row: null, sample: s };
    const row: number[] = [];
    for (let f = 0; f < F; f++) {
      const v = p[spec.featureNames[f]];
      if (typeof v !== 'number' || !Number.isFinite(v)) return { row: null, sample: s };
      row.push(norm ? (v - norm.offset[f]) / norm.divisor[f] : v);
    }
    return { row, sample: s };
  });
  const usable = rows.filter((r) => r.row !== null);
  const heads = spec.heads.filter((h) => usable.some((r) => r.sample.labels && r.sample.labels[h.task] !== undefined));
  if (!heads.length) throw new Error(`no sample carries a label of the model's heads (${usable.length} of ${samples.length} samples have all ${F} features; heads: ${spec.heads.map((h) => h.task).join(', ')})`);

  const history = new Map<string, number[][]>();
  const prepared: Prepared = { x: [], targets: Object.fromEntries(heads.map((h) => [h.output, []])) };
  let skipped = samples.length - usable.length;
  for (const r of usable) {
    const g = r.sample.group ?? '';
    const hist = history.get(g) ?? [];
    hist.push(r.row as number[]);
    if (hist.length > L) hist.shift();
    history.set(g, hist);
    // a sample without every trained head's label only fills the windows of later samples
    if (!heads.every((h) => r.sample.labels && r.sample.labels[h.task] !== undefined)) continue;
    const t: Record<string, number[]> = {};
    let ok = true;
    for (const h of heads) {
      const v = r.sample.labels![h.task];
      const width = outputWidth(spec, h);
      const target = h.type === 'classification' ? ((i) => (i === null ? null : [i]))(classIndex(h, v)) : h.type === 'multilabel' ? multiTarget(h, v) : regressionTarget(h, width, v);
      if (!target) {
        ok = false;
        break;
      }
      t[h.output] = target;
    }
    if (!ok) {
      skipped++;
      continue;
    }
    const window: number[] = [];
    for (let k = 0; k < L; k++) window.push(...hist[Math.max(0, hist.length - L + k)]);
    prepared.x.push(window);
    for (const h of heads) prepared.targets[h.output].push(t[h.output]);
  }

  const every = options.holdOutEvery ?? 5;
  const trainIdx: number[] = [];
  const testIdx: number[] = [];
  prepared.x.forEach((_, i) => ((i + 1) % every === 0 ? testIdx : trainIdx).push(i));
  const minSamples = options.minSamples ?? 8;
  if (trainIdx.length < minSamples || testIdx.length < 1) throw new Error(`too few labelled samples to retrain: ${trainIdx.length} for training, ${testIdx.length} held out (need ${minSamples} and 1)`);

  const terms: LossTerm[] = heads.map((h) => ({
    output: h.output,
    kind: h.type === 'classification' ? 'cross-entropy' : h.type === 'multilabel' ? 'binary-cross-entropy' : 'mse',
    from: h.type === 'classification' ? (h.activation === 'softmax' ? 'logits' : 'probabilities') : h.type === 'multilabel' ? (h.activation === 'sigmoid' ? 'logits' : 'probabilities') : undefined,
  }));

  const batchOf = (idx: number[]) => {
    const n = idx.length;
    const x = new Float32Array(n * L * F);
    idx.forEach((i, b) => x.set(prepared.x[i], b * L * F));
    const feed: OnnxTensor = { name: spec.inputName, type: 'float32', dims: spec.inputRank === 3 ? [n, L, F] : [n, F], data: x };
    const targets: Record<string, OnnxTensor> = {};
    for (const h of heads) {
      const rowsT = idx.map((i) => prepared.targets[h.output][i]);
      if (h.type === 'classification') targets[h.output] = { type: 'int32', dims: [n], data: Int32Array.from(rowsT.map((r) => r[0])) };
      else {
        const w = rowsT[0].length;
        targets[h.output] = { type: 'float32', dims: [n, w], data: Float32Array.from(rowsT.flat()) };
      }
    }
    return { feeds: { [spec.inputName]: feed }, targets };
  };

  const trainer = await Trainer.create(model, { learningRate: options.learningRate ?? 0.001 });
  try {
    const test = batchOf(testIdx);
    const before = (await trainer.loss(test.feeds, test.targets, terms)).loss;
    const bs = options.batchSize ?? 32;
    const batches = [];
    for (let i = 0; i < trainIdx.length; i += bs) batches.push(batchOf(trainIdx.slice(i, i + bs)));
    const epochLosses = await trainer.fit(batches, terms, { epochs: options.epochs ?? 5 });
    const after = (await trainer.loss(test.feeds, test.targets, terms)).loss;
    trainer.writeBack(model);
    const previousVersion = model.modelVersion;
    model.modelVersion = previousVersion + 1;
    const accepted = Number.isFinite(after) && after <= before;
    return {
      accepted,
      reason: accepted ? `held-out loss ${before.toFixed(5)} → ${after.toFixed(5)}` : `held-out loss would rise ${before.toFixed(5)} → ${after.toFixed(5)}: not published`,
      bytes: model.toBuffer(),
      version: previousVersion + 1,
      previousVersion,
      before,
      after,
      trainSamples: trainIdx.length,
      testSamples: testIdx.length,
      skipped,
      heads: heads.map((h) => h.task),
      epochLosses,
    };
  } finally {
    trainer.dispose();
  }
}
