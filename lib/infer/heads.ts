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
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) if (row[i] > max) max = row[i];
  const e = Array.from(row, (v) => Math.exp(v - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / sum);
}

export function sigmoid(v: number): number {
  return v >= 0 ? 1 / (1 + Math.exp(-v)) : Math.exp(v) / (1 + Math.exp(v));
}

function rowOf(out: RawOutput, b: number, batch: number): number[] {
  const width = out.data.length / batch;
  if (!Number.isInteger(width)) throw new Error(`output of ${out.data.length} values does not split into ${batch} rows`);
  return Array.from({ length: width }, (_, i) => Number(out.data[b * width + i]));
}

/** Decode row `b` of a batch of `batch` rows for one head. */
export function decodeHead(head: HeadDef, out: RawOutput, b: number, batch: number): HeadResult {
  const row = rowOf(out, b, batch);
  if (head.type === 'classification') {
    const labels = head.labels!;
    if (row.length !== labels.length) throw new Error(`head ${head.task}: ${row.length} outputs for ${labels.length} labels`);
    const p = head.activation === 'softmax' ? softmax(row) : head.activation === 'sigmoid' ? row.map(sigmoid) : row;
    let best = 0;
    for (let i = 1; i < p.length; i++) if (p[i] > p[best]) best = i;
    const probabilities: Record<string, number> = {};
    labels.forEach((l, i) => (probabilities[l] = p[i]));
    return { label: labels[best], index: best, probabilities };
  }
  if (head.type === 'multilabel') {
    const labels = head.labels!;
    if (row.length !== labels.length) throw new Error(`head ${head.task}: ${row.length} outputs for ${labels.length} labels`);
    const s = head.activation === 'sigmoid' ? row.map(sigmoid) : head.activation === 'softmax' ? softmax(row) : row;
    const scores: Record<string, number> = {};
    const on: string[] = [];
    labels.forEach((l, i) => {
      scores[l] = s[i];
      const t = typeof head.thresholds === 'number' ? head.thresholds : (head.thresholds?.[i] ?? 0.5);
      if (s[i] >= t) on.push(l);
    });
    return { labels: on, scores };
  }
  const names = head.names!;
  if (row.length !== names.length) throw new Error(`head ${head.task}: ${row.length} outputs for ${names.length} names`);
  const values = row.map((v, i) => (head.scale ? v * head.scale.std[i] + head.scale.mean[i] : v));
  if (names.length === 1) return { value: values[0], unit: head.units?.[0] ?? '' };
  const result: Record<string, RegressionValue> = {};
  names.forEach((n, i) => (result[n] = { value: values[i], unit: head.units?.[i] ?? '' }));
  return result;
}

/** Decode every head for every row: result[b][task]. */
export function decodeBatch(heads: HeadDef[], outputs: Record<string, RawOutput>, batch: number): Array<Record<string, HeadResult>> {
  const rows: Array<Record<string, HeadResult>> = Array.from({ length: batch }, () => ({}));
  for (const head of heads) {
    const out = outputs[head.output];
    if (!out) throw new Error(`the model gave no output "${head.output}" for head ${head.task}`);
    for (let b = 0; b < batch; b++) rows[b][head.task] = decodeHead(head, out, b, batch);
  }
  return rows;
}
