/**
 * The graph executor: evaluates an ONNX model's main graph node by node with the op table, on
 * tfjs tensors, so the same model file that ONNX Runtime serves can be differentiated and trained.
 * Float initializers become tfjs variables (trainable ones take part in gradients); `writeBack`
 * stores their current values into the model's initializers.
 */
import { onnx } from 'onnx-proto';
import { OnnxModel } from '../model';
import { Tensor as OnnxTensor } from '../tensor';
import { Attributes, OnnxExecutorError, OpContext, TF, Tensor, Value } from './types';
import { OPS, isSupportedOp } from './ops';
import { toTf, protoToTf, fromTf, typeOfCode, tfDtypeOf } from './tensor';

export type Feed = OnnxTensor | Tensor;

interface PreparedNode {
  opType: string;
  name: string;
  inputs: string[];
  outputs: string[];
  attrs: Attributes;
}

export interface ExecutorOptions {
  /**
   * Initializers that gradients and training update: names, or 'all' (every float initializer,
   * the default). Others stay constant.
   */
  trainable?: string[] | 'all';
}

/** Unsupported (op type, node) pairs of a model; empty when the executor can run it. */
export function unsupportedNodes(model: OnnxModel): { opType: string; domain: string; node: string }[] {
  const out: { opType: string; domain: string; node: string }[] = [];
  for (const n of model.proto.graph?.node ?? []) {
    if (!isSupportedOp(n.opType ?? '', n.domain ?? '')) out.push({ opType: n.opType ?? '', domain: n.domain ?? '', node: n.name ?? '' });
  }
  return out;
}

export class GraphExecutor {
  readonly opset: number;
  readonly inputNames: string[];
  readonly outputNames: string[];
  /** Current value of every initializer (variables for the float ones). */
  readonly params = new Map<string, Tensor>();
  /** Initializers gradients are taken with respect to (tfjs variables). */
  readonly trainable = new Map<string, import('@tensorflow/tfjs').Variable>();
  private readonly nodes: PreparedNode[];
  private readonly declared = new Map<string, { type?: string; shape: (number | string | null)[] }>();
  private disposed = false;
  /** Conv implementation (see OpContext.convImpl); the trainer picks 'im2col' where conv gradients lack kernels. */
  convImpl: 'native' | 'im2col' = 'native';

  constructor(readonly tf: TF, readonly model: OnnxModel, options: ExecutorOptions = {}) {
    const g = model.proto.graph;
    if (!g) throw new OnnxExecutorError('model has no graph');
    const bad = unsupportedNodes(model);
    if (bad.length) {
      const names = [...new Set(bad.map(b => (b.domain && b.domain !== 'ai.onnx' ? `${b.domain}.${b.opType}` : b.opType)))];
      throw new OnnxExecutorError(`unsupported op${names.length > 1 ? 's' : ''} ${names.join(', ')} (node${bad.length > 1 ? 's' : ''} ${bad.slice(0, 5).map(b => `"${b.node || b.opType}"`).join(', ')}): the tfjs executor cannot run this model`);
    }
    this.opset = model.opset || 1;
    const inits = new Set((g.initializer ?? []).map(t => t.name ?? ''));
    this.inputNames = (g.input ?? []).map(v => v.name ?? '').filter(n => !inits.has(n));
    this.outputNames = (g.output ?? []).map(v => v.name ?? '');
    for (const v of g.input ?? []) {
      const tt = v.type?.tensorType;
      const shape = (tt?.shape?.dim ?? []).map(d => (d.dimValue !== undefined && d.dimValue !== null && !d.dimParam ? Number(d.dimValue) : d.dimParam || null));
      this.declared.set(v.name ?? '', { type: tt?.elemType ? typeOfCode(tt.elemType) : undefined, shape: tt?.shape ? shape : [] });
    }
    const want = options.trainable ?? 'all';
    if (Array.isArray(want)) {
      for (const n of want) {
        const init = (g.initializer ?? []).find(t => t.name === n);
        if (!init || init.dataType !== onnx.TensorProto.DataType.FLOAT) throw new OnnxExecutorError(`trainable '${n}' is not a float initializer of the model`);
      }
    }
    const tfx = this.tf;
    for (const init of g.initializer ?? []) {
      const name = init.name ?? '';
      const t = protoToTf(tfx, init, `initializer '${name}'`);
      const trainable = t.dtype === 'float32' && (want === 'all' || want.includes(name));
      if (trainable) {
        const v = tfx.variable(t, true);
        t.dispose();
        this.trainable.set(name, v);
        this.params.set(name, v);
      } else this.params.set(name, tfx.keep(t));
    }
    this.nodes = (g.node ?? []).map((n: onnx.INodeProto, i) => ({
      opType: n.opType ?? '',
      name: n.name || `${n.opType}_${i}`,
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attrs: new Attributes(n.attribute, `${n.opType} node "${n.name || i}"`),
    }));
  }

  /** Check a feed against the graph input it is for; return it as a tfjs tensor (caller disposes when `owned`). */
  private feedTensor(name: string, feed: Feed): { t: Tensor; owned: boolean } {
    const decl = this.declared.get(name);
    const isTf = typeof (feed as Tensor).dataSync === 'function';
    const t = isTf ? (feed as Tensor) : toTf(this.tf, feed as OnnxTensor, `input '${name}'`);
    if (decl) {
      if (decl.type) {
        const dt = tfDtypeOf(decl.type as never);
        if (!dt) throw new OnnxExecutorError(`input '${name}': element type ${decl.type} is not supported by the tfjs executor`);
        if (dt !== t.dtype) throw new OnnxExecutorError(`input '${name}': expected ${decl.type}, got ${isTf ? t.dtype : (feed as OnnxTensor).type}`);
      }
      if (decl.shape.length) {
        const ok = decl.shape.length === t.rank && decl.shape.every((d, i) => typeof d !== 'number' || d === t.shape[i]);
        if (!ok) throw new OnnxExecutorError(`input '${name}': expected shape [${decl.shape.map(d => d ?? '?').join(', ')}], got [${t.shape.join(', ')}]`);
      }
    }
    return { t, owned: !isTf };
  }

  /**
   * Evaluate the graph synchronously on the current tfjs backend; call inside tf.tidy or a gradient
   * function. `overrides` replaces parameters (used for gradients w.r.t. explicit tensors).
   */
  forward(feeds: Record<string, Feed>, fetch: string[] = this.outputNames, overrides?: Map<string, Tensor>): Record<string, Tensor> {
    if (this.disposed) throw new OnnxExecutorError('executor was disposed');
    const tf = this.tf;
    const env = new Map<string, Tensor>();
    const owned: Tensor[] = [];
    for (const [k, v] of this.params) env.set(k, overrides?.get(k) ?? v);
    for (const name of this.inputNames) {
      const f = feeds[name];
      if (f === undefined) throw new OnnxExecutorError(`input '${name}' is missing (model inputs: ${this.inputNames.join(', ')})`);
      const { t, owned: o } = this.feedTensor(name, f);
      if (o) owned.push(t);
      env.set(name, t);
    }
    for (const k of Object.keys(feeds)) {
      if (!this.inputNames.includes(k)) {
        if (this.params.has(k)) {
          const { t, owned: o } = this.feedTensor(k, feeds[k]);
          if (o) owned.push(t);
          env.set(k, t);
        } else throw new OnnxExecutorError(`'${k}' is not an input of the model (inputs: ${this.inputNames.join(', ')})`);
      }
    }
    try {
      for (const n of this.nodes) {
        const ins: Value[] = n.inputs.map(i => {
          if (i === '') return undefined;
          const v = env.get(i);
          if (!v) throw new OnnxExecutorError(`${n.opType} node "${n.name}": input '${i}' is not computed yet (graph not topologically sorted or value missing)`);
          return v;
        });
        const ctx: OpContext = { tf, opset: this.opset, nodeName: n.name, opType: n.opType, outputCount: n.outputs.filter(o => o !== '').length, convImpl: this.convImpl };
        let outs: Value[];
        try {
          outs = OPS[n.opType](ins, n.attrs, ctx);
        } catch (e) {
          const err = e as Error;
          if (err instanceof OnnxExecutorError || /not registered for backend/.test(err.message)) throw err;
          throw new OnnxExecutorError(`${n.opType} node "${n.name}": ${err.message} (inputs ${ins.map(t => (t ? `[${t.shape}] ${t.dtype}` : '∅')).join(', ')})`);
        }
        n.outputs.forEach((o, i) => {
          if (o === '') return;
          let v = outs[i];
          if (!v) throw new OnnxExecutorError(`${n.opType} node "${n.name}": output ${i} ('${o}') is not produced`);
          // an op that passes an input through must not alias it (feeds and params are freed separately)
          if (ins.includes(v)) v = tf.clone(v);
          env.set(o, v);
        });
      }
      const result: Record<string, Tensor> = {};
      for (const f of fetch) {
        const v = env.get(f);
        if (!v) throw new OnnxExecutorError(`'${f}' is not a value of the graph`);
        result[f] = v;
      }
      return result;
    } finally {
      // converted feeds are ours; anything else created here is left to the caller's tidy
      for (const t of owned) if (!Object.values(feeds).includes(t)) t.dispose();
    }
  }

  /** Run the graph and return library tensors (no tfjs tensors escape). */
  run(feeds: Record<string, Feed>, fetch: string[] = this.outputNames): Record<string, OnnxTensor> {
    const tf = this.tf;
    const outs = tf.tidy(() => this.forward(feeds, fetch));
    try {
      const res: Record<string, OnnxTensor> = {};
      for (const k of fetch) res[k] = fromTf(outs[k], k);
      return res;
    } finally {
      for (const t of Object.values(outs)) if (!this.isParam(t)) t.dispose();
    }
  }

  private isParam(t: Tensor): boolean {
    for (const v of this.params.values()) if (v === t) return true;
    return false;
  }

  /** Current value of a parameter. */
  getParam(name: string): OnnxTensor {
    const t = this.params.get(name);
    if (!t) throw new OnnxExecutorError(`no initializer '${name}'`);
    return fromTf(t, name);
  }

  /** Replace a trainable parameter's value (same shape). */
  setParam(name: string, value: OnnxTensor | Float32Array): void {
    const v = this.trainable.get(name);
    if (!v) throw new OnnxExecutorError(`'${name}' is not a trainable initializer`);
    const data = value instanceof Float32Array ? value : (value.data as Float32Array);
    if (data.length !== v.size) throw new OnnxExecutorError(`'${name}': ${data.length} values for shape [${v.shape}]`);
    this.tf.tidy(() => v.assign(this.tf.tensor(data, v.shape, 'float32')));
  }

  /** Store the trainable parameters' current values into `model` (default: the executor's own model). */
  writeBack(model: OnnxModel = this.model): string[] {
    const names: string[] = [];
    for (const [name, v] of this.trainable) {
      const info = model.initializerInfo(name);
      if (!info) throw new OnnxExecutorError(`model has no initializer '${name}' to write back into`);
      if (info.dims.length !== v.rank || info.dims.some((d, i) => d !== v.shape[i])) {
        throw new OnnxExecutorError(`initializer '${name}' has shape [${info.dims}] in the model but [${v.shape}] in the executor`);
      }
      model.setInitializer(fromTf(v, name));
      names.push(name);
    }
    return names;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of this.params.values()) t.dispose();
    this.params.clear();
    this.trainable.clear();
  }
}
