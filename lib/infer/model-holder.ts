/**
 * One model shared by several nodes: a reference-counted ONNX Runtime session with atomic hot swap,
 * a check before every swap, and restore of the previous version.
 *
 * - `acquire()` hands out the current model and counts the caller as a user of it until `release`;
 *   a model replaced by a swap keeps its session until its last user releases it, so a message that
 *   was mapped for one model is always answered by that model (never by a half-loaded one).
 * - `swap(bytes)` loads a candidate beside the running model, checks it (valid ONNX, metadata heads
 *   that match its outputs, model_version newer than the running one, every user's validator
 *   agrees, a probe batch gives finite outputs of the declared widths), then makes it current in
 *   one assignment. A candidate that fails is released and refused; the running model stays. The
 *   running file itself (same SHA-256) is no swap: an 'installed' event with reason 'already running'.
 * - `restore()` brings back the version the last swap replaced (checked the same way, except for
 *   the version rule). Swaps and restores run one at a time in the order asked.
 * - `attach()` / `detach()` count the nodes using the model (not the runs: those are acquire and
 *   release). When the last user detaches the session is released (main thread, or the worker
 *   thread's session by message: the worker itself stays) and the model is kept as bytes; the next
 *   `attach()` loads it again. `close()` releases it whatever the count. These steps run in the same
 *   queue as swaps, and a release checks the count when its turn comes, so a user that detaches and
 *   one that attaches right after (a redeploy) keep the session.
 */
import { EventEmitter } from 'events';
import { describeModel, sha256, type DescribedModel } from './describe';
import { parseModelSpec, type ModelSpec } from './model-spec';
import { HeadDecoder } from './heads';
import { MainThreadRunner, WorkerRunner, type FloatTensor, type Runner } from './worker-runner';

export interface ModelIdentity {
  name: string;
  version: number;
  sha256: string;
}

export interface ModelEvent {
  event: 'installed' | 'refused' | 'restored';
  model: ModelIdentity;
  /** the model running before (installed/restored) or still running (refused) */
  previous?: ModelIdentity;
  reason?: string;
  source?: string;
}

export interface HolderOptions {
  /** 'auto': a worker thread for models larger than `workerThresholdBytes`, else the main thread */
  runIn?: 'auto' | 'main' | 'worker';
  workerThresholdBytes?: number;
  /** worker runner: runs that may wait beyond the one running */
  maxQueue?: number;
  intraOpNumThreads?: number;
  /** previous versions kept for restore (default 3) */
  keepPrevious?: number;
}

const EMPTY_ROW = new Float32Array(0);

export class LoadedModel {
  /** runs holding this model (acquire/release) */
  users = 0;
  retired = false;
  /** the runner's session was released (counted once in ModelHolder.sessions) */
  released = false;
  /** the heads' decoding, prepared once for every message this model answers */
  readonly decoder: HeadDecoder;
  /** the feeds of a one-row run, reused (ModelHolder.runSync runs it before anything else can) */
  readonly oneRowFeeds: Record<string, FloatTensor>;
  constructor(
    readonly bytes: Uint8Array,
    readonly info: DescribedModel,
    readonly spec: ModelSpec,
    readonly runner: Runner,
    readonly source: string,
  ) {
    this.decoder = new HeadDecoder(spec.heads);
    const dims = spec.inputRank === 3 ? [1, spec.sequenceLength, spec.featureNames.length] : [1, spec.featureNames.length];
    this.oneRowFeeds = { [spec.inputName]: { data: EMPTY_ROW, dims } };
  }
  get identity(): ModelIdentity {
    return { name: this.spec.name, version: this.spec.version, sha256: this.info.sha256 };
  }
  /** Whether ModelHolder.runSync can run this model (see worker-runner.ts and direct-session.ts). */
  get runsSync(): boolean {
    return this.runner.runSync !== undefined;
  }
}

/** A user's check of a candidate: undefined when it can work with it, else the reason it cannot. */
export type SpecValidator = (spec: ModelSpec) => string | undefined;

export const DEFAULT_WORKER_THRESHOLD_BYTES = 1 << 20;

export class ModelHolder extends EventEmitter {
  private cur: LoadedModel | undefined;
  private readonly history: Array<{ bytes: Uint8Array; source: string }> = [];
  private chain: Promise<unknown> = Promise.resolve();
  private readonly validators = new Set<SpecValidator>();
  private closed = false;
  /** nodes using the model (attach/detach) */
  private attached = 0;
  /** the model whose session was released when its last user detached, loaded again by the next attach */
  private idleModel: LoadedModel | undefined;
  /** Sessions this holder opened and released so far (refused candidates and probes included). */
  readonly sessions = { opened: 0, released: 0 };
  readonly options: Required<HolderOptions>;

  constructor(options: HolderOptions = {}) {
    super();
    this.options = {
      runIn: options.runIn ?? 'auto',
      workerThresholdBytes: options.workerThresholdBytes ?? DEFAULT_WORKER_THRESHOLD_BYTES,
      maxQueue: options.maxQueue ?? 64,
      intraOpNumThreads: options.intraOpNumThreads ?? 1,
      keepPrevious: options.keepPrevious ?? 3,
    };
  }

  /** The model runs get; undefined before the first load and while no user is attached (see `idle`). */
  get current(): LoadedModel | undefined {
    return this.cur;
  }

  /** The model kept without a session while no user is attached (its runner is closed). */
  get idle(): LoadedModel | undefined {
    return this.idleModel;
  }

  /** Nodes attached (users of the model, not runs in flight). */
  get userCount(): number {
    return this.attached;
  }

  /** Sessions open now (the current model's, and replaced ones still finishing runs). */
  get openSessions(): number {
    return this.sessions.opened - this.sessions.released;
  }

  /**
   * Count a user of the model. The first user after the session was released loads it again;
   * resolves when that is done (at once otherwise), rejects when the reload fails.
   */
  attach(): Promise<void> {
    this.attached++;
    if (this.closed) return Promise.resolve();
    return this.serial(async () => {
      const idle = this.idleModel;
      if (this.attached === 0 || this.cur || !idle) return;
      const m = await this.prepare(idle.bytes, idle.source, false);
      this.idleModel = undefined;
      this.install(m, false);
    }).catch((err) => {
      if (!this.closed) throw err; // closed meanwhile: nothing to load
    });
  }

  /**
   * A user is gone; the last one releases the session, not at once but when `settled` resolves (by
   * default the event loop's next turn), and only if no user attached meanwhile: a node restarted
   * by a redeploy (closed, then started again) then keeps the session instead of reloading it.
   */
  detach(settled: Promise<unknown> = new Promise((r) => setImmediate(r))): Promise<void> {
    if (this.attached === 0) return Promise.resolve();
    this.attached--;
    if (this.attached > 0) return Promise.resolve();
    return settled.then(
      () => this.releaseIfUnused(),
      () => this.releaseIfUnused(),
    );
  }

  /** Release the session if no user is attached (e.g. after the first load of an unused config node). */
  releaseIfUnused(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return this.serial(async () => {
      const m = this.cur;
      if (this.attached > 0 || !m) return;
      this.cur = undefined;
      this.idleModel = m;
      m.retired = true;
      if (m.users <= 0) await this.releaseSession(m);
    }).catch(() => undefined);
  }

  addValidator(v: SpecValidator): void {
    this.validators.add(v);
  }
  removeValidator(v: SpecValidator): void {
    this.validators.delete(v);
  }

  /** Take the current model for one run; call `release` when done with it. */
  acquire(): LoadedModel {
    const m = this.cur;
    if (!m) throw new Error('no model loaded');
    m.users++;
    return m;
  }

  release(m: LoadedModel): void {
    m.users--;
    if (m.retired && m.users <= 0) void this.releaseSession(m);
  }

  /** Run rows (each a flat [L × features] Float32Array) on model `m` as one batch. A single row is passed to the runtime as it is (not copied): do not change it until the run is done. */
  async run(m: LoadedModel, rows: Float32Array[]): Promise<Record<string, FloatTensor>> {
    return m.runner.run(this.feeds(m, rows));
  }

  /**
   * The same run on the caller's stack, for a model whose `runsSync` is true (a main-thread session
   * with a synchronous run): no promise, so a message can be answered within its input handler.
   */
  runSync(m: LoadedModel, rows: Float32Array[]): Record<string, FloatTensor> {
    const runSync = m.runner.runSync;
    if (!runSync) throw new Error(`model ${m.spec.name} has no synchronous run (${m.runner.kind === 'worker' ? 'it runs in the worker thread' : 'the runtime is not the checked onnxruntime-node 1.17.x'})`);
    if (rows.length !== 1) return runSync(this.feeds(m, rows));
    // one row (every message at batch 1): the model's own feeds object, no new objects per run
    const row = rows[0];
    const rowLen = m.spec.sequenceLength * m.spec.featureNames.length;
    if (row.length !== rowLen) throw new Error(`row 0 has ${row.length} values, the model takes ${rowLen}`);
    m.oneRowFeeds[m.spec.inputName].data = row;
    return runSync(m.oneRowFeeds);
  }

  /** The input tensor for `rows`: one row as it is (no copy), several stacked. */
  private feeds(m: LoadedModel, rows: Float32Array[]): Record<string, FloatTensor> {
    const spec = m.spec;
    const rowLen = spec.sequenceLength * spec.featureNames.length;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i].length !== rowLen) throw new Error(`row ${i} has ${rows[i].length} values, the model takes ${rowLen}`);
    }
    let data = rows[0];
    if (rows.length !== 1) {
      data = new Float32Array(rows.length * rowLen);
      for (let i = 0; i < rows.length; i++) data.set(rows[i], i * rowLen);
    }
    const dims = spec.inputRank === 3 ? [rows.length, spec.sequenceLength, spec.featureNames.length] : [rows.length, spec.featureNames.length];
    return { [spec.inputName]: { data, dims } };
  }

  /** Load the first model (no version rule). Resolves with the model, rejects when it fails its check. */
  open(bytes: Uint8Array, source = 'file'): Promise<LoadedModel> {
    return this.serial(async () => {
      const m = await this.prepare(bytes, source, false);
      this.install(m, false);
      return m;
    });
  }

  /** Load, check and swap in a candidate; resolves with the model event (installed or refused). */
  swap(bytes: Uint8Array, source = 'message', expected: Partial<ModelIdentity> = {}): Promise<ModelEvent> {
    return this.serial(async () => {
      const previous = this.cur?.identity;
      // the very file that is running (e.g. cloud-sync announcing its installed model again after
      // a restart): nothing to swap, and nothing to refuse either
      if (previous && sha256(bytes) === previous.sha256) {
        return { event: 'installed', model: previous, previous, source, reason: 'already running' } as ModelEvent;
      }
      let m: LoadedModel;
      try {
        m = await this.prepare(bytes, source, true, expected);
      } catch (err) {
        return this.refused(bytes, (err as Error).message, previous, source, expected);
      }
      this.install(m, true);
      return { event: 'installed', model: m.identity, previous, source } as ModelEvent;
    });
  }

  /** Bring back the version the last swap replaced. */
  restore(): Promise<ModelEvent> {
    return this.serial(async () => {
      const previous = this.cur?.identity;
      const back = this.history[this.history.length - 1];
      if (!back) {
        return { event: 'refused', model: previous ?? { name: '', version: 0, sha256: '' }, previous, reason: 'no previous version to restore', source: 'restore' } as ModelEvent;
      }
      let m: LoadedModel;
      try {
        m = await this.prepare(back.bytes, back.source, false);
      } catch (err) {
        return this.refused(back.bytes, `previous version failed its check: ${(err as Error).message}`, previous, 'restore');
      }
      this.history.pop();
      this.install(m, false);
      return { event: 'restored', model: m.identity, previous, source: 'restore' } as ModelEvent;
    });
  }

  /** Versions that `restore` can bring back, most recent last. */
  get restorable(): number {
    return this.history.length;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.chain.catch(() => undefined);
    const m = this.cur;
    this.cur = undefined;
    this.idleModel = undefined;
    if (m) {
      m.retired = true;
      if (m.users <= 0) await this.releaseSession(m);
    }
    this.removeAllListeners();
  }

  /** Close `m`'s runner once (a worker session is released inside the worker, by message). */
  private async releaseSession(m: LoadedModel): Promise<void> {
    if (m.released) return;
    m.released = true;
    await m.runner.close().catch(() => undefined);
    this.sessions.released++;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(() => {
      if (this.closed) throw new Error('model closed');
      return fn();
    });
    this.chain = p.catch(() => undefined);
    return p;
  }

  private refused(bytes: Uint8Array, reason: string, previous: ModelIdentity | undefined, source: string, expected: Partial<ModelIdentity> = {}): ModelEvent {
    let model: ModelIdentity = { name: expected.name ?? '', version: expected.version ?? 0, sha256: expected.sha256 ?? '' };
    try {
      const d = describeModel(bytes);
      model = { name: d.metadata.name || d.graphName || model.name, version: d.modelVersion, sha256: d.sha256 };
    } catch {
      /* keep what the message said */
    }
    const ev: ModelEvent = { event: 'refused', model, previous, reason, source };
    this.emit('refused', ev);
    return ev;
  }

  private install(m: LoadedModel, remember: boolean): void {
    const old = this.cur;
    this.cur = m; // the swap: every acquire() from here on gets the new model
    if (old) {
      if (remember) {
        this.history.push({ bytes: old.bytes, source: old.source });
        while (this.history.length > this.options.keepPrevious) this.history.shift();
      }
      old.retired = true;
      if (old.users <= 0) void this.releaseSession(old);
    }
    this.emit('swap', m, old);
  }

  private async prepare(bytes: Uint8Array, source: string, newer: boolean, expected: Partial<ModelIdentity> = {}): Promise<LoadedModel> {
    const info = describeModel(bytes);
    if (expected.sha256 && expected.sha256.toLowerCase() !== info.sha256) {
      throw new Error(`SHA-256 ${info.sha256} does not match the announced ${expected.sha256}`);
    }
    const spec = parseModelSpec(info);
    if (expected.version !== undefined && expected.version !== spec.version) {
      throw new Error(`model_version ${spec.version} in the file, ${expected.version} announced`);
    }
    if (newer && this.cur && spec.version <= this.cur.spec.version) {
      throw new Error(`model_version ${spec.version} is not newer than the running ${this.cur.spec.version}`);
    }
    for (const v of this.validators) {
      const why = v(spec);
      if (why) throw new Error(why);
    }
    const useWorker = this.options.runIn === 'worker' || (this.options.runIn === 'auto' && bytes.length > this.options.workerThresholdBytes);
    const opts = { intraOpNumThreads: this.options.intraOpNumThreads };
    const runner: Runner = useWorker ? await WorkerRunner.create(bytes, opts, this.options.maxQueue) : await MainThreadRunner.create(bytes, opts);
    this.sessions.opened++;
    const m = new LoadedModel(bytes, info, spec, runner, source);
    try {
      await this.probe(m);
    } catch (err) {
      await this.releaseSession(m);
      throw err;
    }
    return m;
  }

  /** A batch of two rows (the normalised means, then small values) must give finite outputs every head decodes. */
  private async probe(m: LoadedModel): Promise<void> {
    const rowLen = m.spec.sequenceLength * m.spec.featureNames.length;
    const rows = [new Float32Array(rowLen), Float32Array.from({ length: rowLen }, (_, i) => ((i % 7) - 3) / 10)];
    let out: Record<string, FloatTensor>;
    try {
      out = await this.run(m, rows);
    } catch (err) {
      throw new Error(`probe run failed: ${(err as Error).message}`);
    }
    for (const h of m.spec.heads) {
      const o = out[h.output];
      if (!o) throw new Error(`probe: no output "${h.output}"`);
      for (let i = 0; i < o.data.length; i++) if (!Number.isFinite(o.data[i])) throw new Error(`probe: output "${h.output}" is not finite`);
    }
    m.decoder.decodeBatch(out, rows.length);
  }
}
