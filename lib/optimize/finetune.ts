/**
 * Fine-tuning after pruning (and low-rank), before quantisation: the pruned fp32 model's weight
 * initializers are trained on labelled data with the project's tfjs graph executor
 * (lib/onnx/executor: Trainer, Adam) and written back into the ONNX model.
 *
 * Training data is the same JSON as calibration / validation data, with `expected` required:
 *   { inputs: { "<input>": { shape: [N, ...], data } }, expected: { "<output>": { shape, data } } }
 * Loss per expected output, chosen from the output's width (as the report's metrics are):
 *   - width 1 (regression): MSE against the expected values;
 *   - width > 1 (classification): cross-entropy, targets one class label per sample (N values)
 *     or one distribution / one-hot row per sample; the output is taken as logits unless the graph
 *     ends in Softmax (probabilities) or LogSoftmax (log-probabilities).
 * Batches are taken in data order (no shuffling), so a run is deterministic.
 */
import { InputError } from '../errors';
import { OnnxModel } from '../onnx/model';
import type { Tensor as OnnxTensor } from '../onnx/tensor';
import { Trainer, type LossTerm } from '../onnx/executor';
import type { DataSet } from './data';
import type { onnx } from 'onnx-proto';

export interface FinetuneOptions {
  /** passes over the training data (integer ≥ 1) */
  epochs: number;
  /** Adam learning rate (default 1e-3) */
  learningRate?: number;
  /** samples per step (default 32; the last batch of an epoch may be smaller) */
  batchSize?: number;
}

export interface FinetuneReport {
  epochs: number;
  learningRate: number;
  batchSize: number;
  samples: number;
  /** loss per expected output */
  losses: Record<string, 'mse' | 'cross-entropy'>;
  /** mean loss over the training data (sample-weighted) before the first step and after the last */
  lossBefore: number;
  lossAfter: number;
  /** mean of the batch losses of each epoch (taken during the epoch, before each step) */
  history: number[];
  /** initializers trained */
  trained: string[];
  /** tfjs backend the training ran on (fallbacks included) */
  backend: string;
  ms: number;
}

export const FINETUNE_DEFAULTS = { learningRate: 1e-3, batchSize: 32 } as const;
const MAX_EPOCHS = 100000;

/** Check fine-tuning options; throws InputError naming the field. */
export function validateFinetune(o: FinetuneOptions): void {
  if (!Number.isInteger(o.epochs) || o.epochs < 1 || o.epochs > MAX_EPOCHS) throw new InputError('finetune.epochs', `an integer in [1, ${MAX_EPOCHS}]`, o.epochs);
  if (o.learningRate !== undefined && !(Number.isFinite(o.learningRate) && o.learningRate > 0 && o.learningRate <= 1)) throw new InputError('finetune.learningRate', 'a number in (0, 1]', o.learningRate);
  if (o.batchSize !== undefined && !(Number.isInteger(o.batchSize) && o.batchSize >= 1)) throw new InputError('finetune.batchSize', 'an integer ≥ 1', o.batchSize);
}

/** Inputs of ops whose float initializers are weights: op type → input indices (all when undefined). */
const WEIGHT_INPUTS: Record<string, number[] | undefined> = {
  MatMul: undefined, Gemm: undefined, Conv: [1, 2], LSTM: [1, 2, 3], GRU: [1, 2, 3], RNN: [1, 2, 3],
  BatchNormalization: [1, 2], PRelu: [1], LayerNormalization: [1, 2], InstanceNormalization: [1, 2],
};
const PRODUCES_LINEAR = new Set(['MatMul', 'Gemm', 'Conv']);

/**
 * The initializers fine-tuning trains: float weights of MatMul / Gemm / Conv / recurrent layers,
 * normalisation scale and shift (never BatchNormalization's running statistics), and the bias of
 * an Add that follows a MatMul / Conv. Input scalers (Sub/Div constants), shapes and clip bounds stay.
 */
export function trainableInitializers(model: onnx.IModelProto): string[] {
  const g = model.graph!;
  const floats = new Set((g.initializer ?? []).filter((t) => t.dataType === 1).map((t) => t.name ?? ''));
  const producer = new Map<string, string>();
  for (const n of g.node ?? []) for (const o of n.output ?? []) producer.set(o, n.opType ?? '');
  const out = new Set<string>();
  for (const n of g.node ?? []) {
    const ins = n.input ?? [];
    const op = n.opType ?? '';
    if (op in WEIGHT_INPUTS) {
      const idx = WEIGHT_INPUTS[op];
      ins.forEach((name, i) => { if (floats.has(name) && (!idx || idx.includes(i))) out.add(name); });
    } else if (op === 'Add' && ins.length === 2) {
      const [a, b] = ins;
      if (floats.has(b) && PRODUCES_LINEAR.has(producer.get(a) ?? '')) out.add(b);
      if (floats.has(a) && PRODUCES_LINEAR.has(producer.get(b) ?? '')) out.add(a);
    }
  }
  return (g.initializer ?? []).map((t) => t.name ?? '').filter((n) => out.has(n));
}

function outputFrom(model: onnx.IModelProto, output: string): LossTerm['from'] {
  const n = (model.graph?.node ?? []).find((x) => (x.output ?? []).includes(output));
  if (n?.opType === 'Softmax') return 'probabilities';
  if (n?.opType === 'LogSoftmax') return 'log-probabilities';
  return 'logits';
}

interface Prepared {
  samples: number;
  terms: LossTerm[];
  targets: Record<string, { kind: 'labels' | 'rows'; data: Float32Array; width: number }>;
}

/** Check the training data against the model (sample counts, labels in range) and choose the losses. */
async function prepare(trainer: Trainer, model: onnx.IModelProto, data: DataSet, outputNames: string[]): Promise<Prepared> {
  if (!data.expected || Object.keys(data.expected).length === 0) throw new InputError('training.expected', 'target outputs or class labels per sample ({ "<output>": { shape, data } })', data.expected);
  const inputs = Object.entries(data.inputs);
  const samples = inputs[0][1].shape[0] ?? 0;
  if (!(samples > 0)) throw new InputError(`training.inputs.${inputs[0][0]}.shape`, 'a batch dimension ≥ 1', inputs[0][1].shape);
  for (const [k, t] of inputs) {
    if (t.shape[0] !== samples) throw new InputError(`training.inputs.${k}.shape`, `${samples} samples (as ${inputs[0][0]})`, `[${t.shape.join(', ')}]`);
  }
  // one sample through the model gives each output's width
  const one: Record<string, OnnxTensor> = {};
  for (const [k, t] of inputs) {
    const row = t.data.length / samples;
    one[k] = { type: 'float32', dims: [1, ...t.shape.slice(1)], data: t.data.slice(0, row) };
  }
  const names = Object.keys(data.expected);
  for (const k of names) if (!outputNames.includes(k)) throw new InputError(`training.expected.${k}`, `one of the model's outputs (${outputNames.join(', ')})`, k);
  const probe = await trainer.run(one, names);
  const terms: LossTerm[] = [];
  const targets: Prepared['targets'] = {};
  for (const name of names) {
    const exp = data.expected[name];
    const width = probe[name].data.length;
    const field = `training.expected.${name}`;
    if (exp.shape[0] !== samples) throw new InputError(`${field}.shape`, `${samples} samples (as the inputs)`, `[${exp.shape.join(', ')}]`);
    if (width === 1) {
      if (exp.data.length !== samples) throw new InputError(`${field}.data`, `one value per sample (${samples}) for the regression output '${name}'`, `${exp.data.length} values`);
      terms.push({ output: name, kind: 'mse' });
      targets[name] = { kind: 'rows', data: exp.data, width: 1 };
    } else if (exp.data.length === samples) {
      for (let i = 0; i < samples; i++) {
        const v = exp.data[i];
        if (!Number.isInteger(v) || v < 0 || v >= width) throw new InputError(`${field}.data[${i}]`, `a class label 0…${width - 1} (the output '${name}' has ${width} classes)`, v);
      }
      terms.push({ output: name, kind: 'cross-entropy', from: outputFrom(model, name) });
      targets[name] = { kind: 'labels', data: exp.data, width };
    } else if (exp.data.length === samples * width) {
      for (let s = 0; s < samples; s++) {
        let sum = 0;
        for (let c = 0; c < width; c++) {
          const v = exp.data[s * width + c];
          if (v < 0) throw new InputError(`${field}.data[${s * width + c}]`, 'a probability ≥ 0 (one-hot or distribution rows for a classifier)', v);
          sum += v;
        }
        if (Math.abs(sum - 1) > 1e-3) throw new InputError(`${field}.data`, `rows summing to 1 (one-hot or distribution for the ${width}-class output '${name}')`, `row ${s} sums to ${sum}`);
      }
      terms.push({ output: name, kind: 'cross-entropy', from: outputFrom(model, name) });
      targets[name] = { kind: 'rows', data: exp.data, width };
    } else {
      throw new InputError(`${field}.data`, `${samples} class labels or ${samples}×${width} rows for the output '${name}'`, `${exp.data.length} values`);
    }
  }
  return { samples, terms, targets };
}

function batchOf(data: DataSet, p: Prepared, from: number, to: number): { feeds: Record<string, OnnxTensor>; targets: Record<string, OnnxTensor> } {
  const n = to - from;
  const feeds: Record<string, OnnxTensor> = {};
  for (const [k, t] of Object.entries(data.inputs)) {
    const row = t.data.length / p.samples;
    feeds[k] = { type: 'float32', dims: [n, ...t.shape.slice(1)], data: t.data.slice(from * row, to * row) };
  }
  const targets: Record<string, OnnxTensor> = {};
  for (const [k, t] of Object.entries(p.targets)) {
    if (t.kind === 'labels') targets[k] = { type: 'int32', dims: [n], data: Int32Array.from(t.data.subarray(from, to)) };
    else targets[k] = { type: 'float32', dims: [n, t.width], data: t.data.slice(from * t.width, to * t.width) };
  }
  return { feeds, targets };
}

/**
 * Fine-tune `bytes` (an fp32 ONNX model the executor can run) on `data`; returns the model with
 * the trained initializers written back and the report.
 */
export async function finetune(
  bytes: Uint8Array, data: DataSet, o: FinetuneOptions,
  onEpoch?: (epoch: number, epochs: number, loss: number) => void,
): Promise<{ model: Buffer; report: FinetuneReport }> {
  validateFinetune(o);
  const t0 = Date.now();
  const lr = o.learningRate ?? FINETUNE_DEFAULTS.learningRate;
  const batchSize = o.batchSize ?? FINETUNE_DEFAULTS.batchSize;
  const model = OnnxModel.fromBuffer(bytes, { validate: false });
  const outputNames = (model.proto.graph?.output ?? []).map((v) => v.name ?? '');
  const trainable = trainableInitializers(model.proto);
  if (trainable.length === 0) throw new InputError('finetune', 'a model with float weights to train (MatMul / Gemm / Conv weights): this one has none');
  let trainer: Trainer;
  try {
    trainer = await Trainer.create(model, { optimizer: 'adam', learningRate: lr, trainable });
  } catch (e) {
    throw new InputError('finetune', `a model the tfjs executor can run (fine-tuning trains the fp32 model before quantisation): ${(e as Error).message}`);
  }
  try {
    const p = await prepare(trainer, model.proto, data, outputNames);
    const batches: ReturnType<typeof batchOf>[] = [];
    for (let s = 0; s < p.samples; s += batchSize) batches.push(batchOf(data, p, s, Math.min(p.samples, s + batchSize)));
    const meanLoss = async () => {
      let sum = 0;
      for (const b of batches) sum += (await trainer.loss(b.feeds, b.targets, p.terms)).loss * (b.feeds[Object.keys(b.feeds)[0]].dims[0]);
      return sum / p.samples;
    };
    const lossBefore = await meanLoss();
    const history = await trainer.fit(batches, p.terms, { epochs: o.epochs, onEpoch: (e, l) => { onEpoch?.(e, o.epochs, l); } });
    const lossAfter = await meanLoss();
    if (!Number.isFinite(lossAfter)) throw new InputError('finetune.learningRate', 'a learning rate at which training converges', lr, `the loss became ${lossAfter}`);
    const trained = trainer.writeBack();
    const losses: FinetuneReport['losses'] = {};
    for (const t of p.terms) losses[t.output] = t.kind as 'mse' | 'cross-entropy';
    return {
      model: model.toBuffer(),
      report: { epochs: o.epochs, learningRate: lr, batchSize, samples: p.samples, losses, lossBefore, lossAfter, history, trained, backend: trainer.backendInfo.backend, ms: Date.now() - t0 },
    };
  } finally {
    trainer.dispose();
  }
}
