/**
 * Head decoding: turns a batch of raw output rows into what a flow reads under msg.payload[task]:
 * - classification → `{ label, index, probabilities: { label: p } }`
 * - regression     → one column: `{ value, unit }`; several: `{ name: { value, unit }, … }`
 * - multilabel     → `{ labels: [names at or over their threshold], scores: { name: score } }`
 */
import type { HeadDef } from './model-spec';

export interface ClassificationResult {
  label: string;
  index: number;
  probabilities: Record<string, number>;
}
export interface RegressionValue {
  value: number;
  unit: string;
}
export type RegressionResult = RegressionValue | Record<string, RegressionValue>;
export interface MultilabelResult {
  labels: string[];
  scores: Record<string, number>;
}
export type HeadResult = ClassificationResult | RegressionResult | MultilabelResult;

/** A raw output tensor: row-major data with dims [batch, width] (or [batch] for width 1). */
export interface RawOutput {
  data: ArrayLike<number>;
  dims: readonly number[];
}

export function softmax(row: ArrayLike<number>): number[] {
  return softmaxInPlace(Array.from(row));
}

/** softmax, written over `row` itself (the decoding's own scratch row: one array less per message). */
function softmaxInPlace(row: number[]): number[] {
  const n = row.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (row[i] > max) max = row[i];
  let sum = 0;
  for (let i = 0; i < n; i++) sum += row[i] = Math.exp(row[i] - max);
  for (let i = 0; i < n; i++) row[i] /= sum;
  return row;
}

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

/** Width of one row of `out` in a batch of `batch` rows. */
function widthOf(out: RawOutput, batch: number): number {
  const width = out.data.length / batch;
  if (!Number.isInteger(width)) throw new Error(`output of ${out.data.length} values does not split into ${batch} rows`);
  return width;
}

/** Row `b` (plain numbers), the head's activation applied; plain loops, no per-element closures (runs for every message). */
function activated(out: RawOutput, b: number, width: number, activation: HeadDef['activation']): number[] {
  const row = new Array<number>(width);
  const off = b * width;
  for (let i = 0; i < width; i++) row[i] = Number(out.data[off + i]);
  if (activation === 'softmax') return softmaxInPlace(row);
  if (activation === 'sigmoid') for (let i = 0; i < width; i++) row[i] = sigmoid(row[i]);
  return row;
}

/** Decode row `b` of a batch of `batch` rows for one head. */
export function decodeHead(head: HeadDef, out: RawOutput, b: number, batch: number): HeadResult {
  const width = widthOf(out, batch);
  if (head.type === 'classification') {
    const labels = head.labels!;
    if (width !== labels.length) throw new Error(`head ${head.task}: ${width} outputs for ${labels.length} labels`);
    const p = activated(out, b, width, head.activation);
    let best = 0;
    for (let i = 1; i < width; i++) if (p[i] > p[best]) best = i;
    const probabilities: Record<string, number> = {};
    for (let i = 0; i < width; i++) probabilities[labels[i]] = p[i];
    return { label: labels[best], index: best, probabilities };
  }
  if (head.type === 'multilabel') {
    const labels = head.labels!;
    if (width !== labels.length) throw new Error(`head ${head.task}: ${width} outputs for ${labels.length} labels`);
    const s = activated(out, b, width, head.activation);
    const scores: Record<string, number> = {};
    const on: string[] = [];
    const th = head.thresholds;
    for (let i = 0; i < width; i++) {
      scores[labels[i]] = s[i];
      const t = typeof th === 'number' ? th : (th?.[i] ?? 0.5);
      if (s[i] >= t) on.push(labels[i]);
    }
    return { labels: on, scores };
  }
  const names = head.names!;
  if (width !== names.length) throw new Error(`head ${head.task}: ${width} outputs for ${names.length} names`);
  const values = activated(out, b, width, undefined);
  const scale = head.scale;
  if (scale) for (let i = 0; i < width; i++) values[i] = values[i] * scale.std[i] + scale.mean[i];
  if (width === 1) return { value: values[0], unit: head.units?.[0] ?? '' };
  const result: Record<string, RegressionValue> = {};
  for (let i = 0; i < width; i++) result[names[i]] = { value: values[i], unit: head.units?.[i] ?? '' };
  return result;
}

/** Decode every head for every row: result[b][task]. */
export function decodeBatch(heads: HeadDef[], outputs: Record<string, RawOutput>, batch: number): Array<Record<string, HeadResult>> {
  const rows = new Array<Record<string, HeadResult>>(batch);
  for (let b = 0; b < batch; b++) rows[b] = {};
  for (const head of heads) {
    const out = outputs[head.output];
    if (!out) throw new Error(`the model gave no output "${head.output}" for head ${head.task}`);
    for (let b = 0; b < batch; b++) rows[b][head.task] = decodeHead(head, out, b, batch);
  }
  return rows;
}
