/**
 * Calibration / validation data sets, the same JSON for the node (msg.calibration,
 * msg.validation) and the CLI (--calib file.json, --validate file.json):
 *   { "inputs":   { "<input>":  { "shape": [...], "data": [...] } },
 *     "expected"?: { "<output>": { "shape": [...], "data": [...] } } }
 * `expected` holds expected outputs (regression targets, one-hot rows) or class labels (one per
 * sample) for accuracy.
 */
import { InputError } from '../errors';
import type { onnx } from 'onnx-proto';
import { realInputs, valueShape } from './graph';
import type { Feeds, NamedTensor } from './runtime';

export interface DataSet {
  inputs: Feeds;
  expected?: Record<string, NamedTensor>;
}

function tensorOf(v: unknown, field: string): NamedTensor {
  if (!v || typeof v !== 'object') throw new InputError(field, '{ shape: number[], data: number[] }', v);
  const { shape, data } = v as { shape?: unknown; data?: unknown };
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new InputError(`${field}.shape`, 'an array of non-negative integers', shape);
  const isNumArray = Array.isArray(data) || data instanceof Float32Array || data instanceof Float64Array;
  if (!isNumArray) throw new InputError(`${field}.data`, 'an array of numbers', data);
  const arr = Float32Array.from(data as ArrayLike<number>);
  const n = (shape as number[]).reduce((a, b) => a * b, 1);
  if (arr.length !== n) throw new InputError(`${field}.data`, `${n} numbers for shape [${(shape as number[]).join(', ')}]`, data);
  for (let i = 0; i < arr.length; i++) {
    if (!Number.isFinite(arr[i])) throw new InputError(`${field}.data[${i}]`, 'a finite number', (data as ArrayLike<unknown>)[i]);
  }
  return { shape: [...(shape as number[])], data: arr };
}

/** Parse and check a data set object (from JSON or a message). */
export function parseDataSet(v: unknown, field: string): DataSet {
  if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      throw new InputError(field, 'a JSON object { inputs, expected? }', v);
    }
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new InputError(field, 'an object { inputs: { name: { shape, data } }, expected? }', v);
  const o = v as { inputs?: unknown; expected?: unknown };
  if (!o.inputs || typeof o.inputs !== 'object' || Object.keys(o.inputs).length === 0) throw new InputError(`${field}.inputs`, 'an object of named tensors { shape, data }', o.inputs);
  const inputs: Feeds = {};
  for (const [k, t] of Object.entries(o.inputs as object)) inputs[k] = tensorOf(t, `${field}.inputs.${k}`);
  let expected: Record<string, NamedTensor> | undefined;
  if (o.expected !== undefined) {
    if (!o.expected || typeof o.expected !== 'object') throw new InputError(`${field}.expected`, 'an object of named tensors', o.expected);
    expected = {};
    for (const [k, t] of Object.entries(o.expected as object)) expected[k] = tensorOf(t, `${field}.expected.${k}`);
  }
  return { inputs, expected };
}

/** Check a data set against the model's inputs (names, rank, fixed dims) with errors naming the field. */
export function checkAgainstModel(ds: DataSet, model: onnx.IModelProto, field: string, outputs?: string[]): void {
  const ins = realInputs(model);
  const names = ins.map((i) => i.name!);
  for (const k of Object.keys(ds.inputs)) {
    if (!names.includes(k)) throw new InputError(`${field}.inputs.${k}`, `one of the model's inputs (${names.join(', ')})`, k);
  }
  for (const i of ins) {
    const t = ds.inputs[i.name!];
    if (!t) throw new InputError(`${field}.inputs`, `a tensor for the model input '${i.name}'`, Object.keys(ds.inputs).join(', '));
    const want = valueShape(i);
    const bad = want.length !== t.shape.length || want.some((d, k) => d > 0 && d !== t.shape[k]);
    if (want.length > 0 && bad) {
      throw new InputError(`${field}.inputs.${i.name}.shape`, `shape [${want.map((d) => (d > 0 ? d : '?')).join(', ')}]`, `[${t.shape.join(', ')}]`);
    }
  }
  if (ds.expected && outputs) {
    for (const k of Object.keys(ds.expected)) {
      if (!outputs.includes(k)) throw new InputError(`${field}.expected.${k}`, `one of the model's outputs (${outputs.join(', ')})`, k);
    }
  }
}
