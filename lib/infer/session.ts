/**
 * ONNX Runtime wrapper: a session from a file, bytes or an OnnxModel; named inputs and outputs as
 * plain `Tensor`s (lib/onnx/tensor); input checks against the model's declared types and shapes
 * (errors name the input, the expected and the received shape); thread settings; batch runs that
 * stack samples along axis 0 and split the results; intermediate activations (for calibration and
 * channel pruning) read by exposing chosen internal values as extra graph outputs on a copy of the
 * model; release.
 *
 * Runtime and execution providers: by default the onnxruntime-node this package depends on (1.17.0,
 * CPU). `runtime` (or env INDUSTRIAL_AI_ORT_MODULE) names another installation — a directory such
 * as the Node-RED user dir where `npm install onnxruntime-node@1.2x` put a GPU-capable release, or the
 * package directory itself. `executionProviders` (or env INDUSTRIAL_AI_ORT_PROVIDERS, comma-separated,
 * e.g. "cuda,cpu") lists providers in order of preference; those the runtime does not offer are
 * skipped (noted in `session.notes`), 'cpu' is always the last resort, and a session whose GPU
 * provider fails to initialise is recreated on the CPU. `session.providers` says what was used.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as OrtApi from 'onnxruntime-common';
import { InputError } from '../errors';
import { resolveUserPath } from '../paths';
import { Dim, OnnxModel, ValueInfo } from '../onnx/model';
import { Tensor, TensorData, TensorType, elementCount, makeTensor } from '../onnx/tensor';

type Ort = typeof OrtApi & { listSupportedBackends?: () => { name: string; bundled: boolean }[] };

export interface RuntimeInfo {
  /** onnxruntime-node version. */
  version: string;
  /** Directory of the onnxruntime-node package in use. */
  path: string;
  /** Execution providers this runtime build offers (e.g. ['cpu'] or ['cpu', 'cuda', 'tensorrt']). */
  providers: string[];
}

interface LoadedRuntime extends RuntimeInfo {
  ort: Ort;
}

const runtimes = new Map<string, LoadedRuntime>();

/**
 * Load onnxruntime-node: the bundled one (default), or the one found from `where` (a directory to
 * resolve 'onnxruntime-node' from, e.g. the Node-RED user dir, or the package directory itself).
 */
export function loadRuntime(where: string | undefined = process.env.INDUSTRIAL_AI_ORT_MODULE || undefined): LoadedRuntime {
  let entry: string;
  if (!where) entry = require.resolve('onnxruntime-node');
  else {
    const dir = path.resolve(where);
    try {
      entry = fs.existsSync(path.join(dir, 'package.json')) && JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name === 'onnxruntime-node'
        ? require.resolve(dir)
        : require.resolve('onnxruntime-node', { paths: [dir] });
    } catch (e) {
      throw new Error(`ONNX Runtime: cannot find onnxruntime-node from '${where}' (${(e as Error).message.split('\n')[0]})`);
    }
  }
  const cached = runtimes.get(entry);
  if (cached) return cached;
  const ort = require(entry) as Ort;
  let pkgDir = path.dirname(entry);
  while (!fs.existsSync(path.join(pkgDir, 'package.json')) && path.dirname(pkgDir) !== pkgDir) pkgDir = path.dirname(pkgDir);
  const version = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')).version as string;
  const providers = typeof ort.listSupportedBackends === 'function' ? ort.listSupportedBackends().map((b) => b.name) : ['cpu'];
  const rt: LoadedRuntime = { ort, version, path: pkgDir, providers };
  runtimes.set(entry, rt);
  return rt;
}

/** Version, location and providers of the runtime `loadRuntime(where)` picks. */
export function runtimeInfo(where?: string): RuntimeInfo {
  const { version, path: p, providers } = loadRuntime(where);
  return { version, path: p, providers: [...providers] };
}

export interface SessionOptions {
  /** Threads inside one op (0 or undefined: ONNX Runtime's default, one per core). */
  intraOpThreads?: number;
  /** Threads across ops (only used with executionMode 'parallel'). */
  interOpThreads?: number;
  executionMode?: 'sequential' | 'parallel';
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Preferred providers in order, e.g. ['cuda', 'cpu']. Default: env INDUSTRIAL_AI_ORT_PROVIDERS or ['cpu']. */
  executionProviders?: string[];
  /** Where to load onnxruntime-node from (see loadRuntime). Default: env INDUSTRIAL_AI_ORT_MODULE or the bundled one. */
  runtime?: string;
  /** Check feeds against the model's declared inputs before running (default true). */
  checkInputs?: boolean;
  /** ONNX Runtime's log level: 0 verbose … 2 warning, 3 error (default), 4 fatal. */
  logSeverityLevel?: 0 | 1 | 2 | 3 | 4;
  /** Graph optimisation of the sessions activations() creates (default 'disabled'; see there). */
  activationOptimization?: 'disabled' | 'basic' | 'extended' | 'all';
}

/** A feed: a Tensor, or plain numbers with dims (typed as the model's declared input type). */
export type Feed = Tensor | { dims: readonly number[]; data: ArrayLike<number> | TensorData; type?: TensorType };

function shapeText(shape: readonly Dim[] | undefined): string {
  return shape ? `[${shape.map((d) => (d === null ? '?' : d)).join(', ')}]` : '(any shape)';
}

/** An ONNX Runtime session. Create with `Session.create(modelOrPathOrBytes, options)`. */
export class Session {
  /** Providers the session runs with, in order (e.g. ['cpu']). */
  readonly providers: string[];
  /** Messages about provider fallback and the runtime chosen. */
  readonly notes: string[];
  readonly runtime: RuntimeInfo;
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  private session: OrtApi.InferenceSession | undefined;
  private readonly activationSessions = new Map<string, Promise<OrtApi.InferenceSession>>();
  private readonly ort: Ort;
  private readonly ortOptions: OrtApi.InferenceSession.SessionOptions;

  private constructor(
    private readonly model: OnnxModel,
    rt: LoadedRuntime,
    session: OrtApi.InferenceSession,
    ortOptions: OrtApi.InferenceSession.SessionOptions,
    providers: string[],
    notes: string[],
    private readonly checkInputs: boolean,
    private readonly activationOptimization: 'disabled' | 'basic' | 'extended' | 'all',
  ) {
    this.ort = rt.ort;
    this.runtime = { version: rt.version, path: rt.path, providers: [...rt.providers] };
    this.session = session;
    this.ortOptions = ortOptions;
    this.providers = providers;
    this.notes = notes;
    this.inputs = model.inputs;
    this.outputs = model.outputs;
  }

  /** Create a session from a model file path, ONNX bytes, or an OnnxModel (not modified). */
  static async create(source: string | Uint8Array | OnnxModel, options: SessionOptions = {}): Promise<Session> {
    let bytes: Uint8Array;
    let model: OnnxModel;
    if (source instanceof OnnxModel) {
      model = source;
      bytes = model.toBuffer();
    } else {
      bytes = typeof source === 'string' ? fs.readFileSync(source.startsWith('pkg:') ? resolveUserPath(source) : source) : source;
      model = OnnxModel.fromBuffer(bytes, { source: typeof source === 'string' ? source : 'buffer' });
    }
    const rt = loadRuntime(options.runtime);
    const notes: string[] = [];
    const wanted = (options.executionProviders ?? (process.env.INDUSTRIAL_AI_ORT_PROVIDERS || 'cpu').split(','))
      .map((p) => p.trim().toLowerCase()).filter(Boolean);
    const providers: string[] = [];
    for (const p of wanted) {
      if (rt.providers.includes(p)) {
        if (!providers.includes(p)) providers.push(p);
      } else notes.push(`execution provider '${p}' is not available in onnxruntime-node ${rt.version} (has: ${rt.providers.join(', ')}); skipped`);
    }
    if (!providers.includes('cpu')) providers.push('cpu');
    const base: OrtApi.InferenceSession.SessionOptions = {
      graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
      executionMode: options.executionMode ?? 'sequential',
      logSeverityLevel: options.logSeverityLevel ?? 3,
    };
    for (const [k, v] of [['intraOpThreads', options.intraOpThreads], ['interOpThreads', options.interOpThreads]] as const) {
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) throw new InputError(`options.${k}`, 'a non-negative integer (0 = default)', v);
    }
    if (options.intraOpThreads) base.intraOpNumThreads = options.intraOpThreads;
    if (options.interOpThreads) base.interOpNumThreads = options.interOpThreads;
    let used = providers;
    let session: OrtApi.InferenceSession | undefined;
    let lastError: Error | undefined;
    const attempt = async (opts: OrtApi.InferenceSession.SessionOptions): Promise<OrtApi.InferenceSession | undefined> => {
      try {
        return await rt.ort.InferenceSession.create(bytes, opts);
      } catch (e) {
        lastError = e as Error;
        return undefined;
      }
    };
    session = await attempt({ ...base, executionProviders: used });
    if (!session && used.length > 1) {
      notes.push(`providers [${used.join(', ')}] failed (${lastError!.message.split('\n')[0]}); using cpu`);
      used = ['cpu'];
      session = await attempt({ ...base, executionProviders: used });
    }
    if (!session && options.graphOptimizationLevel === undefined && /Invalid model\. Node input/.test(lastError?.message ?? '')) {
      // The graph passed validate(), so this is ONNX Runtime's optimiser breaking it (seen with a
      // value inside a DequantizeLinear → QuantizeLinear chain that is also a graph output).
      notes.push(`graph optimisation 'all' broke the model (${lastError!.message.split('\n')[0]}); using 'basic'`);
      base.graphOptimizationLevel = 'basic';
      session = await attempt({ ...base, executionProviders: used });
    }
    if (!session) throw new Error(`ONNX Runtime could not load ${model.source}: ${lastError?.message}`);
    return new Session(model, rt, session, { ...base, executionProviders: used }, used, notes, options.checkInputs !== false, options.activationOptimization ?? 'disabled');
  }

  get inputNames(): readonly string[] { return this.session?.inputNames ?? []; }
  get outputNames(): readonly string[] { return this.session?.outputNames ?? []; }
  get closed(): boolean { return this.session === undefined; }

  private live(): OrtApi.InferenceSession {
    if (!this.session) throw new Error('ONNX Runtime session was released');
    return this.session;
  }

  /** Turn feeds into ORT tensors, checking names, types and shapes against the model's inputs. */
  private prepare(feeds: Record<string, Feed>): Record<string, OrtApi.Tensor> {
    if (!feeds || typeof feeds !== 'object') throw new InputError('inputs', 'an object of named tensors', feeds);
    const declared = new Map(this.inputs.map((v) => [v.name, v]));
    const out: Record<string, OrtApi.Tensor> = {};
    const symbols = new Map<string, { value: number; input: string }>();
    for (const name of Object.keys(feeds)) {
      if (!declared.has(name)) throw new InputError(`inputs.${name}`, `one of the model's inputs [${[...declared.keys()].join(', ')}]`, feeds[name], 'unknown input name');
    }
    for (const info of this.inputs) {
      const f = feeds[info.name];
      const field = `inputs.${info.name}`;
      const expect = `${info.type ?? 'a'} tensor of shape ${shapeText(info.shape)}`;
      if (f === undefined || f === null) throw new InputError(field, expect, f, 'missing input');
      if (typeof f !== 'object' || !Array.isArray(f.dims) || !f.data || typeof (f.data as ArrayLike<unknown>).length !== 'number') {
        throw new InputError(field, `${expect} ({ dims, data })`, f);
      }
      const type = f.type ?? info.type ?? 'float32';
      let t: Tensor;
      try {
        t = makeTensor(type, f.dims, f.data as TensorData);
      } catch (e) {
        throw new InputError(field, expect, f.data, (e as Error).message.replace(/^tensor: /, ''));
      }
      if (this.checkInputs) {
        if (info.type && t.type !== info.type) throw new InputError(field, expect, t.data, `element type ${t.type}, the model takes ${info.type}`);
        if (info.shape) {
          const got = `[${t.dims.join(', ')}]`;
          if (info.shape.length !== t.dims.length) throw new InputError(field, expect, t.data, `shape ${got} has rank ${t.dims.length}, the model takes rank ${info.shape.length}`);
          info.shape.forEach((d, i) => {
            if (typeof d === 'number' && d !== t.dims[i]) throw new InputError(field, expect, t.data, `shape ${got}: axis ${i} is ${t.dims[i]}, the model takes ${d}`);
            if (typeof d === 'string') {
              const seen = symbols.get(d);
              if (seen && seen.value !== t.dims[i]) throw new InputError(field, expect, t.data, `shape ${got}: axis ${i} ('${d}') is ${t.dims[i]} but '${d}' is ${seen.value} in input '${seen.input}'`);
              symbols.set(d, { value: t.dims[i], input: info.name });
            }
          });
        }
      }
      if (t.type === 'bfloat16' || t.type === 'complex64' || t.type === 'complex128' || (t.type === 'float16' && this.runtime.version.startsWith('1.17.'))) {
        throw new InputError(field, expect, t.data, `onnxruntime-node ${this.runtime.version} cannot exchange ${t.type} tensors; cast at the graph boundary`);
      }
      out[info.name] = new this.ort.Tensor(t.type as 'float32', t.data as Float32Array, t.dims);
    }
    return out;
  }

  private static fromOrt(name: string, v: OrtApi.Tensor): Tensor {
    return { name, type: v.type as TensorType, dims: [...v.dims], data: v.data as TensorData };
  }

  /** Run once. `outputs` picks outputs by name (default: all). Results are Tensors by name. */
  async run(feeds: Record<string, Feed>, outputs?: string[]): Promise<Record<string, Tensor>> {
    const s = this.live();
    if (outputs) {
      for (const o of outputs) if (!s.outputNames.includes(o)) throw new InputError('outputs', `names among [${s.outputNames.join(', ')}]`, o, 'unknown output');
    }
    const input = this.prepare(feeds);
    let res: OrtApi.InferenceSession.ReturnType;
    try {
      // Always fetch every output: onnxruntime-node 1.17 (microsoft/onnxruntime#26865, fixed by
      // 1.30) labels the results with the wrong names when `fetches` selects a subset.
      res = await s.run(input);
    } catch (e) {
      throw new Error(`ONNX Runtime run failed on ${this.model.source}: ${(e as Error).message}`);
    }
    const result: Record<string, Tensor> = {};
    for (const k of outputs ?? Object.keys(res)) result[k] = Session.fromOrt(k, res[k] as OrtApi.Tensor);
    return result;
  }

  /**
   * Run many samples as one batch. Each sample holds every input with a leading batch axis of any
   * size k ≥ 1, or without the batch axis (rank one less than the model's input; treated as k = 1).
   * Samples are stacked on axis 0, run once, and every output is split back: sample i gets its k
   * rows (without the batch axis when its inputs had none). Outputs must have the batch on axis 0.
   */
  async runBatch(samples: Record<string, Feed>[], outputs?: string[]): Promise<Record<string, Tensor>[]> {
    if (!Array.isArray(samples) || samples.length === 0) throw new InputError('samples', 'a non-empty array of input objects', samples);
    const counts: number[] = [];
    const squeezed: boolean[] = [];
    const stacked: Record<string, Feed> = {};
    for (const info of this.inputs) {
      const rank = info.shape?.length;
      const parts: { dims: number[]; data: ArrayLike<unknown> }[] = [];
      samples.forEach((s, i) => {
        const f = s?.[info.name];
        const field = `samples[${i}].${info.name}`;
        if (!f || !Array.isArray(f.dims) || !f.data) throw new InputError(field, `a tensor for input '${info.name}' of shape ${shapeText(info.shape)}`, f, 'missing input');
        let dims = [...f.dims];
        const noBatch = rank !== undefined && dims.length === rank - 1;
        if (noBatch) dims = [1, ...dims];
        if (dims.length === 0) throw new InputError(field, 'a tensor with a batch axis', f.data);
        if (squeezed[i] !== undefined && squeezed[i] !== noBatch) throw new InputError(field, 'every input of a sample with or every without the batch axis', f.dims);
        squeezed[i] = noBatch;
        if (counts[i] !== undefined && counts[i] !== dims[0]) throw new InputError(field, `batch size ${counts[i]} like the sample's other inputs`, dims[0]);
        counts[i] = dims[0];
        if (parts.length && parts[0].dims.slice(1).join() !== dims.slice(1).join()) {
          throw new InputError(field, `shape [k, ${parts[0].dims.slice(1).join(', ')}] like samples[0]`, `[${dims.join(', ')}]`);
        }
        parts.push({ dims, data: f.data as ArrayLike<unknown> });
      });
      const total = parts.reduce((a, p) => a + p.dims[0], 0);
      const type: TensorType = (samples[0][info.name] as Feed).type ?? info.type ?? 'float32';
      const first = parts[0].data;
      let data: TensorData;
      if (Array.isArray(first) && type !== 'string') {
        data = makeTensor(type, [parts.reduce((a, p) => a + p.data.length, 0)], parts.flatMap((p) => Array.from(p.data as ArrayLike<number>))).data;
      } else if (type === 'string') {
        data = parts.flatMap((p) => Array.from(p.data as ArrayLike<string>));
      } else {
        const C = (first as unknown as { constructor: new (n: number) => Exclude<TensorData, string[]> }).constructor;
        const arr = new C(parts.reduce((a, p) => a + p.data.length, 0));
        let off = 0;
        for (const p of parts) {
          if (!(p.data instanceof C)) {
            (arr as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(makeTensor(type, [p.data.length], p.data as ArrayLike<number>).data as ArrayLike<number>, off);
          } else (arr as unknown as { set(a: ArrayLike<unknown>, o: number): void }).set(p.data, off);
          off += p.data.length;
        }
        data = arr;
      }
      stacked[info.name] = { type, dims: [total, ...parts[0].dims.slice(1)], data };
    }
    const total = counts.reduce((a, b) => a + b, 0);
    const res = await this.run(stacked, outputs);
    const results: Record<string, Tensor>[] = samples.map(() => ({}));
    for (const [name, t] of Object.entries(res)) {
      if (t.dims[0] !== total) throw new Error(`runBatch: output '${name}' has shape [${t.dims.join(', ')}], not the batch of ${total} on axis 0; run the samples one by one`);
      const row = elementCount(t.dims.slice(1));
      let start = 0;
      counts.forEach((k, i) => {
        const data = (t.data as Exclude<TensorData, string[]>).slice(start * row, (start + k) * row) as TensorData;
        const dims = squeezed[i] && k === 1 ? t.dims.slice(1) : [k, ...t.dims.slice(1)];
        results[i][name] = { name, type: t.type, dims, data };
        start += k;
      });
    }
    return results;
  }

  /**
   * Values of internal tensors (node outputs) for these feeds: runs a copy of the model where those
   * values are extra graph outputs (the session for a set of names is created once and kept).
   * `names` defaults to every intermediate value. Model outputs may be asked for too.
   */
  async activations(feeds: Record<string, Feed>, names?: string[]): Promise<Record<string, Tensor>> {
    this.live();
    const candidates = new Set([...this.model.intermediateNames, ...this.model.outputs.map((o) => o.name)]);
    const wanted = names ?? this.model.intermediateNames;
    for (const n of wanted) {
      if (!candidates.has(n)) {
        const some = [...candidates].slice(0, 12).join(', ');
        throw new InputError('names', `values produced by the model's nodes (e.g. ${some}${candidates.size > 12 ? ', …' : ''})`, n, 'no node produces this value');
      }
    }
    const key = [...wanted].sort().join('\u0000');
    let pending = this.activationSessions.get(key);
    if (!pending) {
      // The copy's outputs are exactly the wanted values (see run() on why not `fetches`).
      const copy = this.model.clone();
      const original = new Map((copy.proto.graph!.output ?? []).map((o) => [o.name ?? '', o]));
      copy.proto.graph!.output = [];
      for (const n of wanted) {
        const o = original.get(n);
        if (o) copy.proto.graph!.output.push(o);
        else copy.addOutput(n);
      }
      // Unoptimised: ONNX Runtime's QDQ pair removal breaks (invalid model, or a crash) when a value
      // inside a DequantizeLinear → QuantizeLinear chain is a graph output; and calibration wants the
      // values the graph defines, not those of fused kernels.
      pending = this.ort.InferenceSession.create(copy.toBuffer(), { ...this.ortOptions, graphOptimizationLevel: this.activationOptimization });
      this.activationSessions.set(key, pending);
      pending.catch(() => this.activationSessions.delete(key));
    }
    let s: OrtApi.InferenceSession;
    try {
      s = await pending;
    } catch (e) {
      throw new Error(`ONNX Runtime could not load the copy of ${this.model.source} that exposes [${wanted.join(', ')}]: ${(e as Error).message}`);
    }
    if (!this.session) {
      await s.release();
      throw new Error('ONNX Runtime session was released');
    }
    const res = await s.run(this.prepare(feeds));
    const result: Record<string, Tensor> = {};
    for (const n of wanted) result[n] = Session.fromOrt(n, res[n] as OrtApi.Tensor);
    return result;
  }

  /** Release the native sessions (this one and any activation sessions). Safe to call twice. */
  async release(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    const extra = [...this.activationSessions.values()];
    this.activationSessions.clear();
    await s?.release();
    for (const p of extra) {
      try {
        await (await p).release();
      } catch {
        // a session that failed to create has nothing to release
      }
    }
  }
}
