/**
 * A main-thread ONNX Runtime session that runs synchronously, through onnxruntime-node 1.17's
 * native binding instead of its public `InferenceSession`.
 *
 * Why: the public `run` of onnxruntime-node 1.17 does the very same native, synchronous run, but
 * first defers it to `process.nextTick` inside a Promise (dist/backend.js), and onnxruntime-common
 * re-checks the feeds and wraps every result in a new Tensor. For a small model in a running flow
 * that is several µs of a message's ~60 µs (bench/multitask-infer.ts, section 1), and a
 * synchronous run lets multitask-infer answer a message with no promise hop at all.
 *
 * The binding is not a public API, so this is used only for the release it was checked against:
 * onnxruntime-node 1.17.x, whose dist/backend.js calls exactly `loadModel(buffer, byteOffset,
 * byteLength, options)`, `run(feeds, fetches, options)`, `dispose()`, `inputNames` and
 * `outputNames`. For any other runtime `directBinding` gives undefined and callers use the public API.
 */
import * as path from 'path';
import type { FloatTensor } from './worker-runner';

/** The version whose binding this module was written against. */
const CHECKED_VERSION = /^1\.17\./;

interface NativeTensor {
  type: string;
  dims: readonly number[];
  data: unknown;
}

interface NativeSession {
  readonly inputNames: string[];
  readonly outputNames: string[];
  loadModel(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, NativeTensor>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}

export interface NativeBinding {
  InferenceSession: new () => NativeSession;
}

/**
 * The native binding of the onnxruntime-node installation at `runtime.path`, when it is the checked
 * release (1.17.x) and has the expected methods; otherwise undefined (use the public API).
 */
export function directBinding(runtime: { version: string; path: string }): NativeBinding | undefined {
  if (!CHECKED_VERSION.test(runtime.version)) return undefined;
  let binding: NativeBinding | undefined;
  try {
    // the same module (and addon) the runtime's own backend.js uses
    binding = require(path.join(runtime.path, 'dist', 'binding.js')).binding;
  } catch {
    return undefined;
  }
  const proto = binding?.InferenceSession?.prototype as Partial<NativeSession> | undefined;
  const usable = typeof proto?.loadModel === 'function' && typeof proto.run === 'function' && typeof proto.dispose === 'function';
  return usable ? binding : undefined;
}

/** Plain numbers out of a result tensor (float tensors as they are, other types as Float64Array). */
export function toFloatTensor(t: { data: unknown; dims: readonly number[] }): FloatTensor {
  const d = t.data as ArrayLike<number | bigint>;
  if (d instanceof Float32Array || d instanceof Float64Array) return { data: d, dims: t.dims as number[] };
  return { data: Float64Array.from(Array.from(d, (v) => Number(v))), dims: Array.from(t.dims) };
}

function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (let i = 0; i < dims.length; i++) n *= dims[i];
  return n;
}

export class DirectSession {
  private session: NativeSession | undefined;
  /** every output, asked for by name (null: let the runtime allocate it) */
  private readonly fetches: Record<string, null> = {};
  private readonly runOptions = {};
  /** the input names, read once (the binding's getter makes a new array per read) */
  private readonly inputList: string[];
  /** one native tensor object per input, filled for each run */
  private readonly input: Record<string, NativeTensor> = {};

  /** Load `model` with the same session options the public API would pass to the binding. */
  constructor(binding: NativeBinding, model: Uint8Array, options: object) {
    const session = new binding.InferenceSession();
    session.loadModel(model.buffer, model.byteOffset, model.byteLength, options);
    this.session = session;
    for (const name of session.outputNames) this.fetches[name] = null;
    this.inputList = session.inputNames;
    for (const name of this.inputList) this.input[name] = { type: 'float32', dims: [], data: undefined };
  }

  get inputNames(): readonly string[] {
    return this.session?.inputNames ?? [];
  }
  get outputNames(): readonly string[] {
    return this.session?.outputNames ?? [];
  }

  /**
   * Run once, on the caller's stack. Checks what onnxruntime-common would have checked for these
   * feeds (every input present, data length matching dims), so the native code never reads past
   * a buffer.
   */
  runSync(feeds: Record<string, FloatTensor>): Record<string, FloatTensor> {
    const session = this.session;
    if (!session) throw new Error('session closed');
    const names = this.inputList;
    const input = this.input;
    for (let i = 0; i < names.length; i++) {
      const name = names[i];
      const f = feeds[name];
      if (!f) throw new Error(`input '${name}' is missing in the feeds`);
      if (elementCount(f.dims) !== f.data.length) throw new Error(`input '${name}': ${f.data.length} values for dims [${f.dims.join(', ')}]`);
      // the native run reads these objects and keeps none of them, so they are reused
      const t = input[name];
      t.type = f.data instanceof Float32Array ? 'float32' : 'float64';
      t.dims = f.dims;
      t.data = f.data;
    }
    const out = session.run(input, this.fetches, this.runOptions);
    // float outputs (the usual case) are returned as the runtime made them ({ type, dims, data }: a FloatTensor)
    for (const name in out) {
      const data = out[name].data;
      if (!(data instanceof Float32Array || data instanceof Float64Array)) return this.converted(out);
    }
    return out as unknown as Record<string, FloatTensor>;
  }

  private converted(out: Record<string, NativeTensor>): Record<string, FloatTensor> {
    const result: Record<string, FloatTensor> = {};
    for (const name in out) result[name] = toFloatTensor(out[name]);
    return result;
  }

  /** Free the native session. Safe to call twice. */
  release(): void {
    const s = this.session;
    this.session = undefined;
    s?.dispose();
  }
}
