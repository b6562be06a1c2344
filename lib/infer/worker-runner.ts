/**
 * Where ONNX Runtime runs a model. onnxruntime-node's `run` does its native work on the calling
 * thread, so a model big enough to take milliseconds per run blocks Node-RED's event loop for that
 * long. Two runners share one interface:
 * - MainThreadRunner: the session lives on the main thread (no hand-off cost; right for small
 *   models). With onnxruntime-node 1.17.x it runs through the native binding and also offers
 *   `runSync` (see direct-session.ts); with any other runtime, through the public promise API;
 * - WorkerRunner: the session lives in a worker thread; the main thread posts a batch and awaits
 *   the answer. At most `maxQueue` runs wait for the worker (beyond the one running); a run asked
 *   for while the queue is full is refused at once with QueueFullError (the caller's message gets an
 *   error; nothing waits without bound).
 */
import { Worker } from 'worker_threads';
import type * as OrtApi from 'onnxruntime-common';
import { loadRuntime } from './session';
import { QueueFullError } from './micro-batcher';
import { DirectSession, directBinding, toFloatTensor } from './direct-session';

// The runtime lib/infer/session.ts picks (the bundled onnxruntime-node 1.17.0 unless
// INDUSTRIAL_AI_ORT_MODULE names another installation). 1.17.0 ships no .d.ts; its API is
// onnxruntime-common's, whose types fit.
type OrtSession = OrtApi.InferenceSession;
const runtime = () => loadRuntime() as unknown as { ort: typeof OrtApi; path: string; version: string };

export interface FloatTensor {
  data: Float32Array | Float64Array;
  dims: number[];
}

export interface SessionOptions {
  intraOpNumThreads?: number;
  /** main thread: run through the native binding when the runtime allows it (default true; false forces the public API) */
  direct?: boolean;
}

export interface Runner {
  readonly kind: 'main' | 'worker';
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>>;
  /** The same run on the caller's stack; present only on runners that can (a direct main-thread session). */
  readonly runSync?: (feeds: Record<string, FloatTensor>) => Record<string, FloatTensor>;
  close(): Promise<void>;
}

function ortOptions(o: SessionOptions): OrtApi.InferenceSession.SessionOptions {
  return { intraOpNumThreads: o.intraOpNumThreads ?? 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' };
}

export class MainThreadRunner implements Runner {
  readonly kind = 'main' as const;
  readonly runSync: ((feeds: Record<string, FloatTensor>) => Record<string, FloatTensor>) | undefined;

  /** Exactly one of `direct` (synchronous, onnxruntime-node 1.17.x) and `session` (public API) is set. */
  private constructor(
    private readonly ort: typeof OrtApi,
    private session: OrtSession | undefined,
    private readonly direct: DirectSession | undefined,
  ) {
    this.runSync = direct ? (feeds) => direct.runSync(feeds) : undefined;
  }

  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<MainThreadRunner> {
    const rt = runtime();
    const binding = options.direct === false ? undefined : directBinding(rt);
    if (binding) return new MainThreadRunner(rt.ort, undefined, new DirectSession(binding, model, ortOptions(options)));
    return new MainThreadRunner(rt.ort, await rt.ort.InferenceSession.create(model, ortOptions(options)), undefined);
  }

  get inputNames(): readonly string[] {
    return this.direct?.inputNames ?? this.session?.inputNames ?? [];
  }
  get outputNames(): readonly string[] {
    return this.direct?.outputNames ?? this.session?.outputNames ?? [];
  }

  async run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>> {
    if (this.direct) return this.direct.runSync(feeds);
    if (!this.session) throw new Error('session closed');
    const input: Record<string, OrtApi.Tensor> = {};
    for (const k in feeds) {
      const v = feeds[k];
      input[k] = new this.ort.Tensor(v.data instanceof Float32Array ? 'float32' : 'float64', v.data, v.dims);
    }
    const out = await this.session.run(input);
    const result: Record<string, FloatTensor> = {};
    for (const k in out) result[k] = toFloatTensor(out[k] as OrtApi.Tensor);
    return result;
  }

  async close(): Promise<void> {
    const s = this.session;
    this.session = undefined;
    // keep `direct` (and runSync) in place: a closed DirectSession refuses runs with 'session closed'
    this.direct?.release();
    await s?.release();
  }
}

/**
 * The inference worker's code (CommonJS, evaluated). One worker thread per process hosts every
 * worker-run session, by id. It is never terminated: tearing down a worker thread that loaded
 * onnxruntime-node 1.17 corrupts the process heap (measured here: "free(): invalid pointer" aborts
 * within a few dozen worker create/terminate cycles), so sessions are released inside it and the
 * thread is only unref'd while it holds none.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const ort = require(workerData.ortPath);
const sessions = new Map();
const asFloat = (t) => (t.data instanceof Float32Array || t.data instanceof Float64Array)
  ? t.data.slice() : Float64Array.from(Array.from(t.data, Number));
parentPort.on('message', async (m) => {
  try {
    if (m.type === 'load') {
      const session = await ort.InferenceSession.create(m.model, m.options);
      sessions.set(m.sid, session);
      parentPort.postMessage({ id: m.id, ok: true, inputNames: session.inputNames, outputNames: session.outputNames });
    } else if (m.type === 'run') {
      const session = sessions.get(m.sid);
      if (!session) throw new Error('session closed');
      const feeds = {};
      for (const k of Object.keys(m.feeds)) {
        const f = m.feeds[k];
        feeds[k] = new ort.Tensor(f.data instanceof Float32Array ? 'float32' : 'float64', f.data, f.dims);
      }
      const out = await session.run(feeds);
      const result = {};
      const transfer = [];
      for (const k of Object.keys(out)) {
        const data = asFloat(out[k]);
        result[k] = { data, dims: Array.from(out[k].dims) };
        transfer.push(data.buffer);
      }
      parentPort.postMessage({ id: m.id, ok: true, result }, transfer);
    } else if (m.type === 'close') {
      const session = sessions.get(m.sid);
      sessions.delete(m.sid);
      if (session) await session.release();
      parentPort.postMessage({ id: m.id, ok: true });
    }
  } catch (err) {
    parentPort.postMessage({ id: m.id, ok: false, error: String(err && err.message || err) });
  }
});
`;

interface Call {
  resolve: (v: any) => void;
  reject: (e: Error) => void;
}

/** The process's one inference worker thread (created on first use, replaced only if it dies). */
class InferenceWorker {
  private static shared: InferenceWorker | undefined;
  private readonly calls = new Map<number, Call>();
  private nextId = 1;
  private nextSession = 1;
  private sessions = 0;
  dead: Error | undefined;
  private readonly worker: Worker;

  static get(): InferenceWorker {
    if (!InferenceWorker.shared || InferenceWorker.shared.dead) InferenceWorker.shared = new InferenceWorker();
    return InferenceWorker.shared;
  }

  private constructor() {
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ortPath: runtime().path } });
    this.worker.unref();
    this.worker.on('message', (m: { id: number; ok: boolean; error?: string }) => {
      const call = this.calls.get(m.id);
      if (!call) return;
      this.calls.delete(m.id);
      if (m.ok) call.resolve(m);
      else call.reject(new Error(m.error));
    });
    const fail = (err: Error) => {
      this.dead = err;
      for (const c of this.calls.values()) c.reject(err);
      this.calls.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`inference worker exited (code ${code})`)));
  }

  /** Sessions the process's worker holds now (0 before it exists). */
  static get sessionCount(): number {
    return InferenceWorker.shared?.sessions ?? 0;
  }

  newSessionId(): number {
    return this.nextSession++;
  }

  /** Count an open session: the worker keeps the process alive while it holds any. */
  opened(): void {
    if (this.sessions++ === 0) this.worker.ref();
  }
  closed(): void {
    if (--this.sessions === 0) this.worker.unref();
  }

  call(msg: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<any> {
    if (this.dead) return Promise.reject(this.dead);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.calls.set(id, { resolve, reject });
      this.worker.postMessage({ ...msg, id }, transfer);
    });
  }
}

export class WorkerRunner implements Runner {
  readonly kind = 'worker' as const;
  private running = 0;
  private names: { inputNames: string[]; outputNames: string[] } = { inputNames: [], outputNames: [] };
  private open = true;
  private idle: Array<() => void> = [];

  private constructor(
    private readonly worker: InferenceWorker,
    private readonly sid: number,
    readonly maxQueue: number,
  ) {}

  /** A session of `model` in the inference worker. `maxQueue`: runs that may wait beyond the one running. */
  static async create(model: Uint8Array, options: SessionOptions = {}, maxQueue = 64): Promise<WorkerRunner> {
    const worker = InferenceWorker.get();
    const runner = new WorkerRunner(worker, worker.newSessionId(), maxQueue);
    const copy = model.slice();
    const m = await worker.call({ type: 'load', sid: runner.sid, model: copy, options: ortOptions(options) }, [copy.buffer]);
    worker.opened();
    runner.names = { inputNames: m.inputNames, outputNames: m.outputNames };
    return runner;
  }

  get inputNames(): readonly string[] {
    return this.names.inputNames;
  }
  get outputNames(): readonly string[] {
    return this.names.outputNames;
  }
  /** Sessions open in the process's inference worker (all holders), as the main thread counts them. */
  static get sessionsInWorker(): number {
    return InferenceWorker.sessionCount;
  }

  /** runs waiting for the worker, not counting the one running */
  get queued(): number {
    return Math.max(0, this.running - 1);
  }

  async run(feeds: Record<string, FloatTensor>): Promise<Record<string, FloatTensor>> {
    if (!this.open) throw new Error('session closed');
    if (this.running > this.maxQueue) throw new QueueFullError(this.maxQueue);
    this.running++;
    try {
      const copy: Record<string, FloatTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [k, v] of Object.entries(feeds)) {
        const data = v.data.slice();
        copy[k] = { data, dims: v.dims };
        transfer.push(data.buffer as ArrayBuffer);
      }
      const m = await this.worker.call({ type: 'run', sid: this.sid, feeds: copy }, transfer);
      return m.result;
    } finally {
      this.running--;
      if (this.running === 0) this.idle.splice(0).forEach((f) => f());
    }
  }

  /** Release the session once the runs already asked for are done. */
  async close(): Promise<void> {
    if (!this.open) return;
    this.open = false;
    if (this.running > 0) await new Promise<void>((r) => this.idle.push(r));
    try {
      await this.worker.call({ type: 'close', sid: this.sid });
    } catch {
      /* a dead worker has no session left to release */
    } finally {
      this.worker.closed();
    }
  }
}
