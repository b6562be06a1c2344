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

/** Decode row `b` of a batch of `batch` rows for one head. */
export function decodeHead(head: HeadDef, out: RawOutput, b: number, batch: number): HeadResult {
  return new HeadPlan(head).decode(out, b, batch);
}

/**
 * One head's decoding, prepared once per model: labels, thresholds, units and scale resolved, a
 * scratch row for the activation. `decode` allocates only the result objects (it runs for every
 * message). Gives exactly what the head definition says (same values, same key order).
 */
class HeadPlan {
  readonly task: string;
  readonly output: string;
  private readonly kind: HeadDef['type'];
  /** labels (classification, multilabel) or names (regression) */
  private readonly keys: string[];
  private readonly activation: HeadDef['activation'];
  private readonly thresholds: Float64Array | undefined;
  private readonly units: string[];
  private readonly scale: { mean: number[]; std: number[] } | undefined;
  private readonly scratch: Float64Array;

  constructor(head: HeadDef) {
    this.task = head.task;
    this.output = head.output;
    this.kind = head.type;
    this.keys = (head.type === 'regression' ? head.names! : head.labels!).slice();
    const n = this.keys.length;
    this.activation = head.activation;
    const th = head.thresholds;
    this.thresholds = head.type === 'multilabel' ? Float64Array.from({ length: n }, (_, i) => (typeof th === 'number' ? th : (th?.[i] ?? 0.5))) : undefined;
    this.units = Array.from({ length: n }, (_, i) => head.units?.[i] ?? '');
    this.scale = head.scale;
    this.scratch = new Float64Array(n);
  }

  decode(out: RawOutput, b: number, batch: number): HeadResult {
    const width = widthOf(out, batch);
    const keys = this.keys;
    if (width !== keys.length) throw new Error(`head ${this.task}: ${width} outputs for ${keys.length} ${this.kind === 'regression' ? 'names' : 'labels'}`);
    const v = this.activated(out, b * width, width);
    if (this.kind === 'classification') {
      let best = 0;
      for (let i = 1; i < width; i++) if (v[i] > v[best]) best = i;
      const probabilities: Record<string, number> = {};
      for (let i = 0; i < width; i++) probabilities[keys[i]] = v[i];
      return { label: keys[best], index: best, probabilities };
    }
    if (this.kind === 'multilabel') {
      const th = this.thresholds!;
      const scores: Record<string, number> = {};
      const on: string[] = [];
      for (let i = 0; i < width; i++) {
        scores[keys[i]] = v[i];
        if (v[i] >= th[i]) on.push(keys[i]);
      }
      return { labels: on, scores };
    }
    const scale = this.scale;
    if (scale) for (let i = 0; i < width; i++) v[i] = v[i] * scale.std[i] + scale.mean[i];
    if (width === 1) return { value: v[0], unit: this.units[0] };
    const result: Record<string, RegressionValue> = {};
    for (let i = 0; i < width; i++) result[keys[i]] = { value: v[i], unit: this.units[i] };
    return result;
  }

  /** The row at `off` into the scratch row, the activation applied (regression: none). */
  private activated(out: RawOutput, off: number, width: number): Float64Array {
    const row = this.scratch;
    const data = out.data;
    for (let i = 0; i < width; i++) row[i] = Number(data[off + i]);
    if (this.kind === 'regression') return row;
    if (this.activation === 'softmax') {
      let max = -Infinity;
      for (let i = 0; i < width; i++) if (row[i] > max) max = row[i];
      let sum = 0;
      for (let i = 0; i < width; i++) sum += row[i] = Math.exp(row[i] - max);
      for (let i = 0; i < width; i++) row[i] /= sum;
    } else if (this.activation === 'sigmoid') {
      for (let i = 0; i < width; i++) row[i] = sigmoid(row[i]);
    }
    return row;
  }
}

/** Every head of a model, prepared once (keep one per model): answers are `{ [task]: result }`. */
export class HeadDecoder {
  private readonly plans: HeadPlan[];
  constructor(heads: readonly HeadDef[]) {
    this.plans = heads.map((h) => new HeadPlan(h));
  }

  /** Row `b` of a batch of `batch` rows: msg.payload for one record. */
  decode(outputs: Record<string, RawOutput>, b: number, batch: number): Record<string, HeadResult> {
    const answer: Record<string, HeadResult> = {};
    for (const plan of this.plans) answer[plan.task] = plan.decode(this.outputOf(outputs, plan), b, batch);
    return answer;
  }

  /** Every row, in order. */
  decodeBatch(outputs: Record<string, RawOutput>, batch: number): Array<Record<string, HeadResult>> {
    const rows = new Array<Record<string, HeadResult>>(batch);
    for (let b = 0; b < batch; b++) rows[b] = this.decode(outputs, b, batch);
    return rows;
  }

  private outputOf(outputs: Record<string, RawOutput>, plan: HeadPlan): RawOutput {
    const out = outputs[plan.output];
    if (!out) throw new Error(`the model gave no output "${plan.output}" for head ${plan.task}`);
    return out;
  }
}

/** Decode every head for every row: result[b][task] (prepares the heads each call: keep a HeadDecoder per model instead). */
export function decodeBatch(heads: HeadDef[], outputs: Record<string, RawOutput>, batch: number): Array<Record<string, HeadResult>> {
  return new HeadDecoder(heads).decodeBatch(outputs, batch);
}
