/**
 * What a multi-task model says about itself, read from the ONNX file's `metadata_props` and graph
 * signature: feature names and normalisation for the input, one head definition per output.
 *
 * Metadata keys (values are strings; the structured ones are JSON):
 * - `name`              model name (falls back to the graph name, then 'model')
 * - `feature_names`     JSON string[]: the input features in tensor order
 * - `normalization`     JSON `{ "type": "zscore", "mean": number[], "std": number[] }` or
 *                       `{ "type": "minmax", "min": number[], "max": number[] }` (maps to [-1, 1]);
 *                       one entry per feature; absent = raw values are fed
 * - `sequence_length`   integer L of the sequence window (input shape [batch, L, features]); when
 *                       absent it is read from the input's shape, and a rank-2 input means L = 1
 * - `heads`             JSON HeadDef[] (see below), one per decoded output
 */
import { ConfigError } from '../errors';

export type HeadType = 'classification' | 'regression' | 'multilabel';

export interface HeadDef {
  /** key under msg.payload */
  task: string;
  /** graph output name */
  output: string;
  type: HeadType;
  /** classification: class labels; multilabel: label names */
  labels?: string[];
  /** classification/multilabel: apply softmax / sigmoid to raw outputs (default: 'none' = outputs are already probabilities) */
  activation?: 'softmax' | 'sigmoid' | 'none';
  /** multilabel: one threshold per label, or one for all (default 0.5) */
  thresholds?: number[] | number;
  /** regression: one name per output column */
  names?: string[];
  /** regression: one unit per output column */
  units?: string[];
  /** regression: outputs are z-scores of the targets; value = out * std + mean */
  scale?: { mean: number[]; std: number[] };
}

export interface Normalization {
  type: 'zscore' | 'minmax';
  /** per-feature offset and divisor so that x' = (x - offset) / divisor */
  offset: number[];
  divisor: number[];
  /** as stored, for display */
  raw: unknown;
}

export interface TensorSignature {
  name: string;
  /** dimensions; a symbolic or unknown dimension is -1 */
  dims: number[];
}

/** What model I/O gives us about one ONNX file. */
export interface ModelDescription {
  metadata: Record<string, string>;
  modelVersion: number;
  graphName?: string;
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

export interface ModelSpec {
  name: string;
  version: number;
  inputName: string;
  inputRank: number;
  featureNames: string[];
  sequenceLength: number;
  normalization?: Normalization;
  heads: HeadDef[];
  inputs: TensorSignature[];
  outputs: TensorSignature[];
}

function parseJson(metadata: Record<string, string>, key: string): unknown {
  const text = metadata[key];
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`metadata ${key}`, `not valid JSON (${(err as Error).message})`);
  }
}

function numberArray(value: unknown, what: string, length: number): number[] {
  if (!Array.isArray(value) || value.length !== length || !value.every((v) => typeof v === 'number' && Number.isFinite(v))) {
    throw new ConfigError(what, `expected ${length} finite numbers`);
  }
  return value as number[];
}

function stringArray(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw new ConfigError(what, 'expected a non-empty array of names');
  }
  return value as string[];
}

function parseNormalization(value: unknown, features: number): Normalization | undefined {
  if (value === undefined || value === null) return undefined;
  const v = value as Record<string, unknown>;
  const type = v.type ?? (v.mean !== undefined ? 'zscore' : v.min !== undefined ? 'minmax' : undefined);
  if (type === 'zscore') {
    const mean = numberArray(v.mean, 'metadata normalization.mean', features);
    const std = numberArray(v.std, 'metadata normalization.std', features);
    if (std.some((s) => s <= 0)) throw new ConfigError('metadata normalization.std', 'every std must be > 0');
    return { type, offset: mean, divisor: std, raw: value };
  }
  if (type === 'minmax') {
    const min = numberArray(v.min, 'metadata normalization.min', features);
    const max = numberArray(v.max, 'metadata normalization.max', features);
    if (max.some((m, i) => m <= min[i])) throw new ConfigError('metadata normalization.max', 'every max must be > min');
    // x' = 2 (x - min) / (max - min) - 1 = (x - (min + max) / 2) / ((max - min) / 2)
    return { type, offset: min.map((m, i) => (m + max[i]) / 2), divisor: min.map((m, i) => (max[i] - m) / 2), raw: value };
  }
  throw new ConfigError('metadata normalization.type', `expected "zscore" or "minmax", got ${JSON.stringify(type)}`);
}

function parseHead(value: unknown, index: number, outputs: TensorSignature[]): HeadDef {
  const where = `metadata heads[${index}]`;
  if (!value || typeof value !== 'object') throw new ConfigError(where, 'expected an object');
  const h = value as Record<string, any>;
  if (typeof h.task !== 'string' || !h.task) throw new ConfigError(`${where}.task`, 'expected a task name');
  const output = typeof h.output === 'string' ? h.output : h.task;
  const sig = outputs.find((o) => o.name === output);
  if (!sig) throw new ConfigError(`${where}.output`, `the model has no output "${output}" (outputs: ${outputs.map((o) => o.name).join(', ')})`);
  const width = sig.dims.length >= 2 ? sig.dims[sig.dims.length - 1] : -1;
  const checkWidth = (n: number, what: string) => {
    if (width > 0 && n !== width) throw new ConfigError(`${where}.${what}`, `${n} entries for output "${output}" of width ${width}`);
  };
  const activation = h.activation ?? 'none';
  if (!['softmax', 'sigmoid', 'none'].includes(activation)) throw new ConfigError(`${where}.activation`, `unknown activation ${JSON.stringify(activation)}`);
  const head: HeadDef = { task: h.task, output, type: h.type, activation };
  if (h.type === 'classification' || h.type === 'multilabel') {
    head.labels = stringArray(h.labels, `${where}.labels`);
    checkWidth(head.labels.length, 'labels');
    if (h.type === 'multilabel') {
      const t = h.thresholds ?? 0.5;
      if (typeof t === 'number') {
        if (!Number.isFinite(t)) throw new ConfigError(`${where}.thresholds`, 'expected a number');
        head.thresholds = t;
      } else head.thresholds = numberArray(t, `${where}.thresholds`, head.labels.length);
    }
  } else if (h.type === 'regression') {
    head.names = stringArray(h.names, `${where}.names`);
    checkWidth(head.names.length, 'names');
    head.units = h.units === undefined ? head.names.map(() => '') : (h.units as string[]);
    if (!Array.isArray(head.units) || head.units.length !== head.names.length) throw new ConfigError(`${where}.units`, `expected ${head.names.length} units`);
    if (h.scale !== undefined) {
      head.scale = {
        mean: numberArray(h.scale.mean, `${where}.scale.mean`, head.names.length),
        std: numberArray(h.scale.std, `${where}.scale.std`, head.names.length),
      };
    }
  } else {
    throw new ConfigError(`${where}.type`, `expected classification, regression or multilabel, got ${JSON.stringify(h.type)}`);
  }
  return head;
}

/** Read and check a model's description; throws ConfigError naming what is wrong. */
export function parseModelSpec(desc: ModelDescription): ModelSpec {
  if (desc.inputs.length !== 1) {
    throw new ConfigError('model inputs', `expected one input tensor, the model has ${desc.inputs.length} (${desc.inputs.map((i) => i.name).join(', ')})`);
  }
  const input = desc.inputs[0];
  if (input.dims.length !== 2 && input.dims.length !== 3) {
    throw new ConfigError('model inputs', `input "${input.name}" must be [batch, features] or [batch, sequence, features], has rank ${input.dims.length}`);
  }
  const featureNames = stringArray(parseJson(desc.metadata, 'feature_names'), 'metadata feature_names');
  const width = input.dims[input.dims.length - 1];
  if (width > 0 && width !== featureNames.length) {
    throw new ConfigError('metadata feature_names', `${featureNames.length} names for an input of width ${width}`);
  }
  let sequenceLength = 1;
  if (input.dims.length === 3) {
    const fromMeta = desc.metadata.sequence_length !== undefined ? Number(desc.metadata.sequence_length) : undefined;
    const fromShape = input.dims[1] > 0 ? input.dims[1] : undefined;
    const L = fromMeta ?? fromShape;
    if (L === undefined || !Number.isInteger(L) || L < 1) throw new ConfigError('metadata sequence_length', 'the input has a sequence axis of unknown length: set sequence_length');
    if (fromMeta !== undefined && fromShape !== undefined && fromMeta !== fromShape) {
      throw new ConfigError('metadata sequence_length', `${fromMeta} but the input shape says ${fromShape}`);
    }
    sequenceLength = L;
  }
  const headsRaw = parseJson(desc.metadata, 'heads');
  if (!Array.isArray(headsRaw) || headsRaw.length === 0) throw new ConfigError('metadata heads', 'expected a non-empty JSON array of head definitions');
  const heads = headsRaw.map((h, i) => parseHead(h, i, desc.outputs));
  const tasks = new Set<string>();
  for (const h of heads) {
    if (tasks.has(h.task)) throw new ConfigError('metadata heads', `task "${h.task}" appears twice`);
    tasks.add(h.task);
  }
  return {
    name: desc.metadata.name || desc.graphName || 'model',
    version: desc.modelVersion,
    inputName: input.name,
    inputRank: input.dims.length,
    featureNames,
    sequenceLength,
    normalization: parseNormalization(parseJson(desc.metadata, 'normalization'), featureNames.length),
    heads,
    inputs: desc.inputs,
    outputs: desc.outputs,
  };
}
