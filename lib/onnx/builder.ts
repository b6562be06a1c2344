/**
 * A small graph builder for the project's own models: dense, conv1d, LSTM, GRU, graph convolution,
 * activations, pooling and named multi-head outputs, emitted as standard ONNX (ai.onnx opset ≥ 13)
 * that ONNX Runtime loads.
 *
 * Layout conventions (the ones PyTorch users expect):
 * - dense works on the last axis of any rank ≥ 2 input: MatMul(x, W[in, out]) + B[out];
 * - conv1d takes [batch, channels, length] (ONNX Conv layout), W [out, in/groups, kernel];
 * - lstm/gru take batch-first [batch, time, features] and are emitted as Transpose → LSTM/GRU
 *   (seq-first, forward direction; ONNX Runtime does not run layout=1) → Squeeze/Transpose; they
 *   return [batch, hidden] (last state) or [batch, time, hidden] with `returnSequences`;
 *   ONNX gate orders: LSTM i,o,f,c; GRU z,r,h;
 * - graphConv takes node features [batch, nodes, features] and a fixed adjacency [nodes, nodes]:
 *   Â · X · W + b with Â = D^-½ (A + I) D^-½ (Kipf & Welling) unless `normalize: 'none'`.
 * Weights are Glorot-uniform from a SeededRandom (reproducible by `seed`) unless given.
 */
import { onnx } from 'onnx-proto';
import { SeededRandom } from '../util/random';
import { Dim, MAX_OPSET, NodeSpec, OnnxModel, makeNode, makeValueInfo } from './model';
import { Tensor, TensorType, makeTensor, tensorToProto } from './tensor';

/** A value in the graph being built, with its statically known shape. */
export interface Value {
  readonly name: string;
  readonly shape: Dim[];
  readonly type: TensorType;
}

export type Activation = 'linear' | 'relu' | 'leaky_relu' | 'sigmoid' | 'tanh' | 'softmax' | 'log_softmax' | 'elu';

export interface BuilderOptions {
  /** Graph name (also the default `metadata_props.name`). */
  name?: string;
  /** ai.onnx opset to stamp (13–20, default 13). */
  opset?: number;
  /** Seed of the weight initialisation (default 1). */
  seed?: number;
  /** model_version to stamp (default 1). */
  modelVersion?: number;
}

type Weights = Float32Array | number[] | ArrayLike<number>;

export interface DenseOptions {
  activation?: Activation;
  /** LeakyRelu/Elu alpha (default 0.01 / 1). */
  alpha?: number;
  name?: string;
  /** [in, out] row-major. */
  weight?: Weights;
  bias?: Weights | false;
}

export interface Conv1dOptions {
  /** Kernel length (default 3). */
  kernel?: number;
  stride?: number;
  dilation?: number;
  groups?: number;
  /** 'valid' (default), 'same' (output length = ceil(L / stride)) or explicit [begin, end] padding. */
  padding?: 'valid' | 'same' | [number, number];
  activation?: Activation;
  alpha?: number;
  name?: string;
  /** [out, in/groups, kernel] row-major. */
  weight?: Weights;
  bias?: Weights | false;
}

export interface RecurrentOptions {
  /** Return every time step [batch, time, hidden] instead of the last state [batch, hidden]. */
  returnSequences?: boolean;
  name?: string;
  /** ONNX layout: LSTM W [1, 4H, F] (gates i,o,f,c), GRU W [1, 3H, F] (gates z,r,h). */
  weight?: Weights;
  /** LSTM R [1, 4H, H], GRU R [1, 3H, H]. */
  recurrence?: Weights;
  /** LSTM B [1, 8H], GRU B [1, 6H] (input biases then recurrence biases). Zero when omitted. */
  bias?: Weights;
  /** GRU only: apply the reset gate after the recurrent linear map (PyTorch's form, 1) or before (ONNX default, 0). */
  linearBeforeReset?: 0 | 1;
}

export interface GraphConvOptions {
  /** 'symmetric' (default): D^-½ (A + I) D^-½; 'none': use the adjacency as given. */
  normalize?: 'symmetric' | 'none';
  activation?: Activation;
  alpha?: number;
  name?: string;
  weight?: Weights;
  bias?: Weights | false;
}

export interface HeadSpec {
  /** Graph output name of this head. */
  name: string;
  /** Output width. */
  units: number;
  /** Activation of the head's output (default linear). */
  activation?: Activation;
  /** Hidden dense layers (widths) between the trunk and the head's output layer. */
  hidden?: number[];
  hiddenActivation?: Activation;
}

function lastDim(v: Value, what: string): number {
  const d = v.shape[v.shape.length - 1];
  if (typeof d !== 'number') throw new Error(`${what}: the last axis of '${v.name}' must have a fixed size, shape is [${v.shape.join(', ')}]`);
  return d;
}

/** Symmetrically normalised adjacency with self loops: D^-½ (A + I) D^-½. */
export function normalizeAdjacency(adjacency: readonly (readonly number[])[]): number[][] {
  const a = adjacency.map((row, i) => row.map((v, j) => v + (i === j ? 1 : 0)));
  const deg = a.map((row) => row.reduce((s, v) => s + v, 0));
  return a.map((row, i) => row.map((v, j) => (deg[i] > 0 && deg[j] > 0 ? v / Math.sqrt(deg[i] * deg[j]) : 0)));
}

export class GraphBuilder {
  private readonly nodes: onnx.NodeProto[] = [];
  private readonly inits: onnx.TensorProto[] = [];
  private readonly inputsList: onnx.ValueInfoProto[] = [];
  private readonly outputsList: onnx.ValueInfoProto[] = [];
  private readonly used = new Set<string>();
  private readonly rng: SeededRandom;
  readonly name: string;
  readonly opset: number;
  private readonly modelVersion: number;
  private built = false;

  constructor(options: BuilderOptions = {}) {
    this.name = options.name ?? 'model';
    this.opset = options.opset ?? 13;
    if (!Number.isInteger(this.opset) || this.opset < 13 || this.opset > MAX_OPSET) {
      throw new Error(`GraphBuilder: opset must be an integer from 13 to ${MAX_OPSET}, got ${options.opset}`);
    }
    this.rng = new SeededRandom(options.seed ?? 1);
    this.modelVersion = options.modelVersion ?? 1;
  }

  /** A fresh value name from a prefix (prefix itself when free). */
  private fresh(prefix: string): string {
    let name = prefix;
    for (let i = 1; this.used.has(name); i++) name = `${prefix}_${i}`;
    this.used.add(name);
    return name;
  }

  private node(opType: string, inputs: string[], outputs: string[], attributes: NodeSpec['attributes'] = {}, name?: string): void {
    this.nodes.push(makeNode({ opType, inputs, outputs, attributes, name: name ?? this.fresh(opType) }));
  }

  private glorot(fanIn: number, fanOut: number, count: number): Float32Array {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = this.rng.uniform(-limit, limit);
    return out;
  }

  private weights(given: Weights | undefined, dims: number[], what: string, init: () => Float32Array): Float32Array {
    if (given === undefined) return init();
    const n = dims.reduce((a, b) => a * b, 1);
    if (given.length !== n) throw new Error(`${what}: ${given.length} values given, shape [${dims.join(', ')}] needs ${n}`);
    return Float32Array.from(given);
  }

  /** Add a graph input. Use a string for a symbolic dimension (e.g. 'batch'). */
  input(name: string, shape: Dim[], type: TensorType = 'float32'): Value {
    if (this.used.has(name)) throw new Error(`GraphBuilder: name '${name}' is already used`);
    this.used.add(name);
    this.inputsList.push(makeValueInfo(name, type, shape));
    return { name, shape: [...shape], type };
  }

  /** Add an initializer (a constant tensor) and return it as a value. */
  constant(prefix: string, tensor: Omit<Tensor, 'name'>): Value {
    const name = this.fresh(prefix);
    const t = makeTensor(tensor.type, tensor.dims, tensor.data, name);
    this.inits.push(tensorToProto(t, name));
    return { name, shape: [...t.dims], type: t.type };
  }

  private int64s(prefix: string, values: number[]): Value {
    return this.constant(prefix, { type: 'int64', dims: [values.length], data: BigInt64Array.from(values.map(BigInt)) });
  }

  /** Apply an activation (ONNX Relu, LeakyRelu, Sigmoid, Tanh, Softmax/LogSoftmax on the last axis, Elu). */
  activation(x: Value, kind: Activation, options: { alpha?: number; name?: string } = {}): Value {
    if (kind === 'linear') return x;
    const op: Record<Exclude<Activation, 'linear'>, string> = {
      relu: 'Relu', leaky_relu: 'LeakyRelu', sigmoid: 'Sigmoid', tanh: 'Tanh', softmax: 'Softmax', log_softmax: 'LogSoftmax', elu: 'Elu',
    };
    const opType = op[kind];
    if (!opType) throw new Error(`GraphBuilder: unknown activation '${kind}' (known: linear, ${Object.keys(op).join(', ')})`);
    const out = this.fresh(options.name ?? kind);
    const attributes: NodeSpec['attributes'] = {};
    if (kind === 'leaky_relu') attributes.alpha = options.alpha ?? 0.01;
    if (kind === 'elu') attributes.alpha = options.alpha ?? 1;
    if (kind === 'softmax' || kind === 'log_softmax') attributes.axis = -1;
    this.node(opType, [x.name], [out], attributes);
    return { name: out, shape: [...x.shape], type: x.type };
  }

  /** Fully connected layer on the last axis: x · W[in, out] + b, then the activation. */
  dense(x: Value, units: number, options: DenseOptions = {}): Value {
    const inF = lastDim(x, 'dense');
    if (!Number.isInteger(units) || units < 1) throw new Error(`dense: units must be a positive integer, got ${units}`);
    const base = options.name ?? 'dense';
    const W = this.constant(`${base}_W`, { type: 'float32', dims: [inF, units], data: this.weights(options.weight, [inF, units], `${base} weight`, () => this.glorot(inF, units, inF * units)) });
    const shape = [...x.shape.slice(0, -1), units];
    let y = this.fresh(`${base}_matmul`);
    this.node('MatMul', [x.name, W.name], [y]);
    if (options.bias !== false) {
      const b = this.constant(`${base}_B`, { type: 'float32', dims: [units], data: this.weights(options.bias, [units], `${base} bias`, () => new Float32Array(units)) });
      const z = this.fresh(`${base}_out`);
      this.node('Add', [y, b.name], [z]);
      y = z;
    }
    return this.activation({ name: y, shape, type: 'float32' }, options.activation ?? 'linear', { alpha: options.alpha, name: `${base}_${options.activation ?? 'act'}` });
  }

  /** 1-D convolution over [batch, channels, length]. */
  conv1d(x: Value, filters: number, options: Conv1dOptions = {}): Value {
    if (x.shape.length !== 3) throw new Error(`conv1d: input '${x.name}' must be [batch, channels, length], shape is [${x.shape.join(', ')}]`);
    const inC = x.shape[1];
    if (typeof inC !== 'number') throw new Error('conv1d: the channel axis must have a fixed size');
    const k = options.kernel ?? 3;
    const stride = options.stride ?? 1;
    const dilation = options.dilation ?? 1;
    const groups = options.groups ?? 1;
    if (inC % groups !== 0 || filters % groups !== 0) throw new Error(`conv1d: channels ${inC} and filters ${filters} must be divisible by groups ${groups}`);
    const base = options.name ?? 'conv1d';
    const L = x.shape[2];
    const span = dilation * (k - 1) + 1;
    let pads: [number, number] = [0, 0];
    if (options.padding === 'same') {
      if (typeof L !== 'number') throw new Error("conv1d: padding 'same' needs a fixed length");
      const outL = Math.ceil(L / stride);
      const total = Math.max(0, (outL - 1) * stride + span - L);
      pads = [Math.floor(total / 2), total - Math.floor(total / 2)];
    } else if (Array.isArray(options.padding)) pads = options.padding;
    const outL = typeof L === 'number' ? Math.floor((L + pads[0] + pads[1] - span) / stride) + 1 : L;
    if (typeof outL === 'number' && outL < 1) throw new Error(`conv1d: length ${L} is shorter than the kernel span ${span}`);
    const wDims = [filters, inC / groups, k];
    const fanIn = (inC / groups) * k;
    const W = this.constant(`${base}_W`, { type: 'float32', dims: wDims, data: this.weights(options.weight, wDims, `${base} weight`, () => this.glorot(fanIn, (filters / groups) * k, filters * fanIn)) });
    const ins = [x.name, W.name];
    if (options.bias !== false) {
      ins.push(this.constant(`${base}_B`, { type: 'float32', dims: [filters], data: this.weights(options.bias, [filters], `${base} bias`, () => new Float32Array(filters)) }).name);
    }
    const y = this.fresh(`${base}_out`);
    this.node('Conv', ins, [y], { kernel_shape: [k], strides: [stride], dilations: [dilation], pads: [pads[0], pads[1]], group: groups });
    return this.activation({ name: y, shape: [x.shape[0], filters, outL], type: 'float32' }, options.activation ?? 'linear', { alpha: options.alpha, name: `${base}_${options.activation ?? 'act'}` });
  }

  /** Max or average pooling over the length axis of [batch, channels, length]. */
  pool1d(x: Value, kind: 'max' | 'average', kernel: number, stride = kernel): Value {
    if (x.shape.length !== 3) throw new Error(`pool1d: input must be [batch, channels, length], shape is [${x.shape.join(', ')}]`);
    const y = this.fresh(`${kind}pool`);
    this.node(kind === 'max' ? 'MaxPool' : 'AveragePool', [x.name], [y], { kernel_shape: [kernel], strides: [stride] });
    const L = x.shape[2];
    return { name: y, shape: [x.shape[0], x.shape[1], typeof L === 'number' ? Math.floor((L - kernel) / stride) + 1 : L], type: x.type };
  }

  /** Mean over the length axis: [batch, channels, length] → [batch, channels]. */
  globalAveragePool1d(x: Value): Value {
    const g = this.fresh('gap');
    this.node('GlobalAveragePool', [x.name], [g]);
    const y = this.fresh('gap_flat');
    this.node('Flatten', [g], [y], { axis: 1 });
    return { name: y, shape: [x.shape[0], x.shape[1]], type: x.type };
  }

  /** Flatten to [batch, rest]. */
  flatten(x: Value): Value {
    const y = this.fresh('flatten');
    this.node('Flatten', [x.name], [y], { axis: 1 });
    const rest = x.shape.slice(1);
    const n = rest.every((d) => typeof d === 'number') ? (rest as number[]).reduce((a, b) => a * b, 1) : null;
    return { name: y, shape: [x.shape[0], n], type: x.type };
  }

  /** Swap axes of a value (ONNX Transpose). */
  transpose(x: Value, perm: number[]): Value {
    const y = this.fresh('transpose');
    this.node('Transpose', [x.name], [y], { perm });
    return { name: y, shape: perm.map((p) => x.shape[p]), type: x.type };
  }

  /** Element-wise sum (broadcasting as ONNX Add). */
  add(a: Value, b: Value): Value {
    const y = this.fresh('add');
    this.node('Add', [a.name, b.name], [y]);
    return { name: y, shape: a.shape.length >= b.shape.length ? [...a.shape] : [...b.shape], type: a.type };
  }

  /** Concatenate along an axis. */
  concat(values: Value[], axis = -1): Value {
    const y = this.fresh('concat');
    this.node('Concat', values.map((v) => v.name), [y], { axis });
    const rank = values[0].shape.length;
    const ax = axis < 0 ? rank + axis : axis;
    const shape = [...values[0].shape];
    const sizes = values.map((v) => v.shape[ax]);
    shape[ax] = sizes.every((d) => typeof d === 'number') ? (sizes as number[]).reduce((s, d) => s + d, 0) : null;
    return { name: y, shape, type: values[0].type };
  }

  private recurrent(kind: 'LSTM' | 'GRU', x: Value, hidden: number, options: RecurrentOptions): Value {
    if (x.shape.length !== 3) throw new Error(`${kind.toLowerCase()}: input '${x.name}' must be batch-first [batch, time, features], shape is [${x.shape.join(', ')}]`);
    const F = lastDim(x, kind.toLowerCase());
    const gates = kind === 'LSTM' ? 4 : 3;
    const base = options.name ?? kind.toLowerCase();
    const W = this.constant(`${base}_W`, { type: 'float32', dims: [1, gates * hidden, F], data: this.weights(options.weight, [1, gates * hidden, F], `${base} W`, () => this.glorot(F, hidden, gates * hidden * F)) });
    const R = this.constant(`${base}_R`, { type: 'float32', dims: [1, gates * hidden, hidden], data: this.weights(options.recurrence, [1, gates * hidden, hidden], `${base} R`, () => this.glorot(hidden, hidden, gates * hidden * hidden)) });
    const B = this.constant(`${base}_B`, { type: 'float32', dims: [1, 2 * gates * hidden], data: this.weights(options.bias, [1, 2 * gates * hidden], `${base} B`, () => new Float32Array(2 * gates * hidden)) });
    const seqFirst = this.transpose(x, [1, 0, 2]);
    const Y = this.fresh(`${base}_Y`);
    const Yh = this.fresh(`${base}_Y_h`);
    const outs = [Y, Yh];
    if (kind === 'LSTM') outs.push(this.fresh(`${base}_Y_c`));
    const attributes: NodeSpec['attributes'] = { hidden_size: hidden, direction: 'forward' };
    if (kind === 'GRU') attributes.linear_before_reset = options.linearBeforeReset ?? 0;
    this.node(kind, [seqFirst.name, W.name, R.name, B.name], outs, attributes, this.fresh(base));
    const [batch, time] = [x.shape[0], x.shape[1]];
    if (options.returnSequences) {
      // Y: [time, 1, batch, hidden] → squeeze axis 1 → [time, batch, hidden] → [batch, time, hidden]
      const axes = this.int64s(`${base}_axes1`, [1]);
      const sq = this.fresh(`${base}_seq`);
      this.node('Squeeze', [Y, axes.name], [sq]);
      return this.transpose({ name: sq, shape: [time, batch, hidden], type: 'float32' }, [1, 0, 2]);
    }
    // Y_h: [1, batch, hidden] → [batch, hidden]
    const axes = this.int64s(`${base}_axes0`, [0]);
    const last = this.fresh(`${base}_last`);
    this.node('Squeeze', [Yh, axes.name], [last]);
    return { name: last, shape: [batch, hidden], type: 'float32' };
  }

  /** LSTM over batch-first [batch, time, features] (forward; gates i,o,f,c). */
  lstm(x: Value, hidden: number, options: RecurrentOptions = {}): Value {
    return this.recurrent('LSTM', x, hidden, options);
  }

  /** GRU over batch-first [batch, time, features] (forward; gates z,r,h). */
  gru(x: Value, hidden: number, options: RecurrentOptions = {}): Value {
    return this.recurrent('GRU', x, hidden, options);
  }

  /**
   * Graph convolution: Â · X · W + b on node features X [batch, nodes, features] with a fixed
   * adjacency [nodes, nodes] (stored as an initializer; Â normalised unless `normalize: 'none'`).
   */
  graphConv(x: Value, adjacency: readonly (readonly number[])[], units: number, options: GraphConvOptions = {}): Value {
    if (x.shape.length !== 3) throw new Error(`graphConv: input '${x.name}' must be [batch, nodes, features], shape is [${x.shape.join(', ')}]`);
    const n = x.shape[1];
    if (typeof n !== 'number' || adjacency.length !== n || adjacency.some((r) => r.length !== n)) {
      throw new Error(`graphConv: adjacency must be ${n}×${n} (nodes axis of '${x.name}'), got ${adjacency.length}×${adjacency[0]?.length ?? 0}`);
    }
    const base = options.name ?? 'graphconv';
    const A = options.normalize === 'none' ? adjacency.map((r) => [...r]) : normalizeAdjacency(adjacency);
    const Ac = this.constant(`${base}_A`, { type: 'float32', dims: [n, n], data: Float32Array.from(A.flat()) });
    const ax = this.fresh(`${base}_AX`);
    this.node('MatMul', [Ac.name, x.name], [ax]);
    return this.dense({ name: ax, shape: [...x.shape], type: 'float32' }, units, {
      name: base, weight: options.weight, bias: options.bias, activation: options.activation, alpha: options.alpha,
    });
  }

  /** Make a value a graph output under `name` (an Identity node renames it when needed). */
  output(x: Value, name = x.name): Value {
    let out = x;
    if (name !== x.name) {
      const isIO = this.inputsList.some((v) => v.name === name) || this.outputsList.some((v) => v.name === name)
        || this.inits.some((t) => t.name === name);
      if (isIO) throw new Error(`GraphBuilder: output name '${name}' is already used by an input, output or constant`);
      let src = x.name;
      if (this.used.has(name)) {
        // An internal value has this name: rename it, so the output gets the name asked for.
        const renamed = this.fresh(`${name}_value`);
        for (const n of this.nodes) {
          n.input = n.input.map((v) => (v === name ? renamed : v));
          n.output = n.output.map((v) => (v === name ? renamed : v));
        }
        if (src === name) src = renamed;
      }
      this.used.add(name);
      this.node('Identity', [src], [name]);
      out = { name, shape: [...x.shape], type: x.type };
    }
    if (this.outputsList.some((o) => o.name === out.name)) throw new Error(`GraphBuilder: '${out.name}' is already an output`);
    this.outputsList.push(makeValueInfo(out.name, out.type, out.shape));
    return out;
  }

  /** Multi-head outputs over a shared trunk: one (optionally deeper) dense head per spec, each a named output. */
  heads(trunk: Value, specs: HeadSpec[]): Record<string, Value> {
    const names = specs.map((h) => h.name);
    names.forEach((n, i) => {
      if (!n) throw new Error(`heads: head ${i} has no name`);
      if (names.indexOf(n) !== i) throw new Error(`heads: duplicate head name '${n}'`);
      if (this.inputsList.some((v) => v.name === n) || this.outputsList.some((v) => v.name === n)) {
        throw new Error(`heads: name '${n}' is already an input or output`);
      }
    });
    const result: Record<string, Value> = {};
    for (const h of specs) {
      let v = trunk;
      (h.hidden ?? []).forEach((w, i) => {
        v = this.dense(v, w, { activation: h.hiddenActivation ?? 'relu', name: `${h.name}_hidden${i}` });
      });
      v = this.dense(v, h.units, { activation: h.activation ?? 'linear', name: `${h.name}_dense` });
      result[h.name] = this.output(v, h.name);
    }
    return result;
  }

  /** Assemble the model (IR 8, the opset chosen, producer 'industrial-ai'). The builder can build once. */
  build(metadata: Record<string, string> = {}): OnnxModel {
    if (this.built) throw new Error('GraphBuilder: build() was already called');
    if (this.outputsList.length === 0) throw new Error('GraphBuilder: the graph has no outputs (call output() or heads())');
    this.built = true;
    const model = new OnnxModel(new onnx.ModelProto({
      irVersion: 8,
      producerName: 'industrial-ai',
      producerVersion: '1',
      opsetImport: [new onnx.OperatorSetIdProto({ domain: '', version: this.opset })],
      graph: new onnx.GraphProto({
        name: this.name, node: this.nodes, initializer: this.inits, input: this.inputsList, output: this.outputsList,
      }),
    }), this.name);
    model.modelVersion = this.modelVersion;
    model.metadata = { name: this.name, ...metadata };
    const problems = model.validate();
    if (problems.length) throw new Error(`GraphBuilder: built an invalid graph: ${problems.join('; ')}`);
    return model;
  }
}
