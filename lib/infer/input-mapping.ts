/**
 * Input mapping: which message fields form the input tensor, the sliding sequence window (last L
 * records, per key when several machines share one node) and the model's normalisation.
 *
 * A message carries either one record (an object of named numbers: appended to the window) or a
 * whole sequence (an array of L records: used as it is, the window is left alone). Raw values are
 * kept in the window; normalisation is applied when a row is assembled, so a model swap that only
 * changes normalisation keeps the windows.
 */
import { InputError } from '../errors';
import type { Normalization } from './model-spec';

export interface InputMappingOptions {
  /** record keys in the model's feature order */
  fields: string[];
  /** L: records per input row (1 = no window) */
  sequenceLength: number;
  normalization?: Normalization;
  /** until a window holds L records: 'wait' gives no row, 'pad' repeats the oldest record */
  partial?: 'wait' | 'pad';
  /** where the record was read from, for error messages (default 'msg.payload') */
  property?: string;
  /** most windows kept (one per key); the least recently used is dropped beyond it (default 1000) */
  maxWindows?: number;
}

export type MappedInput =
  | { ready: true; row: Float32Array; padded: number }
  | { ready: false; have: number; need: number };

export class InputMapper {
  readonly fields: string[];
  readonly sequenceLength: number;
  readonly width: number;
  private readonly windows = new Map<string, number[][]>();
  /** the key used last (the last entry of `windows`) */
  private lastKey: string | undefined;
  private readonly property: string;
  private readonly partial: 'wait' | 'pad';
  private readonly maxWindows: number;
  normalization?: Normalization;

  constructor(opts: InputMappingOptions) {
    if (opts.fields.length === 0) throw new Error('input mapping needs at least one field');
    if (!Number.isInteger(opts.sequenceLength) || opts.sequenceLength < 1) throw new Error('sequence length must be an integer ≥ 1');
    if (opts.normalization && opts.normalization.offset.length !== opts.fields.length) {
      throw new Error(`normalisation has ${opts.normalization.offset.length} entries for ${opts.fields.length} fields`);
    }
    this.fields = opts.fields.slice();
    this.sequenceLength = opts.sequenceLength;
    this.width = this.fields.length;
    this.normalization = opts.normalization;
    this.property = opts.property ?? 'msg.payload';
    this.partial = opts.partial ?? 'wait';
    this.maxWindows = opts.maxWindows ?? 1000;
  }

  /** Whether windows built for `other` can be kept by this mapping (same fields, same L). */
  compatibleWith(other: InputMapper): boolean {
    return other.sequenceLength === this.sequenceLength && other.fields.join('\u0000') === this.fields.join('\u0000');
  }

  /** Take over another mapper's windows (after a model swap with the same fields and L). */
  adoptWindows(other: InputMapper): void {
    for (const [k, w] of other.windows) this.windows.set(k, w);
    this.lastKey = other.lastKey;
  }

  /** Read one record's fields in order; throws InputError naming the first bad field. */
  readRecord(record: unknown, where = this.property): number[] {
    if (record === null || typeof record !== 'object' || Array.isArray(record) || ArrayBuffer.isView(record)) {
      throw new InputError(where, `an object of named numbers (${this.fields.join(', ')})`, record);
    }
    const r = record as Record<string, unknown>;
    const values = new Array<number>(this.width);
    for (let i = 0; i < this.width; i++) {
      const f = this.fields[i];
      const v = r[f];
      if (typeof v !== 'number' || !Number.isFinite(v)) {
        throw new InputError(`${where}.${f}`, 'a finite number', v, v === undefined ? 'missing field' : undefined);
      }
      values[i] = v;
    }
    return values;
  }

  /**
   * Map one message value. `key` selects the window (e.g. msg.topic when windows are per topic).
   * `into` (length L × features): write the row there instead of into a new array, for a caller
   * that is done with the row before it maps the next value (a synchronous run). A new
   * Float32Array of this size lives outside the JS heap, and allocating one costs more than the
   * rest of the mapping.
   */
  map(value: unknown, key = '', into?: Float32Array): MappedInput {
    const L = this.sequenceLength;
    if (into && into.length !== L * this.width) throw new Error(`row buffer of ${into.length} values, the mapping makes ${L * this.width}`);
    if (Array.isArray(value)) {
      if (value.length !== L) throw new InputError(this.property, `a record or an array of ${L} records`, value);
      const seq = value.map((rec, t) => this.readRecord(rec, `${this.property}[${t}]`));
      return { ready: true, row: this.assemble(seq, into), padded: 0 };
    }
    const rec = this.readRecord(value);
    if (L === 1) return { ready: true, row: this.assemble([rec], into), padded: 0 };
    let w = this.windows.get(key);
    if (!w) {
      w = [];
      if (this.windows.size >= this.maxWindows) this.windows.delete(this.windows.keys().next().value as string);
      this.windows.set(key, w);
    } else if (key !== this.lastKey) {
      this.windows.delete(key); // re-insert: most recently used last
      this.windows.set(key, w);
    }
    this.lastKey = key; // (one source, or the same key again: already last, no re-insert)
    w.push(rec);
    if (w.length > L) w.shift();
    if (w.length < L) {
      if (this.partial === 'wait') return { ready: false, have: w.length, need: L };
      const padded = L - w.length;
      const seq = [...Array.from({ length: padded }, () => w![0]), ...w];
      return { ready: true, row: this.assemble(seq, into), padded };
    }
    return { ready: true, row: this.assemble(w, into), padded: 0 };
  }

  /** Forget every window (msg.control = 'reset'). */
  reset(): void {
    this.windows.clear();
  }

  /** Records held in the window for `key`. */
  windowLength(key = ''): number {
    return this.windows.get(key)?.length ?? 0;
  }

  private assemble(seq: number[][], into?: Float32Array): Float32Array {
    const row = into ?? new Float32Array(seq.length * this.width);
    const n = this.normalization;
    for (let t = 0; t < seq.length; t++) {
      for (let i = 0; i < this.width; i++) {
        const v = seq[t][i];
        row[t * this.width + i] = n ? (v - n.offset[i]) / n.divisor[i] : v;
      }
    }
    return row;
  }
}
