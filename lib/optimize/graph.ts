/**
 * Graph editing for the optimisation passes: a thin layer over onnx-proto's ModelProto with the
 * lookups every pass needs (initializers as Float32Array, producer/consumers of a tensor, fresh
 * names, in-place node replacement that keeps topological order).
 *
 * Tensor conversion (raw_data vs typed fields, unaligned copies, Long) is lib/onnx/tensor.ts's.
 */
import { onnx } from 'onnx-proto';
import { InputError } from '../errors';
import { OnnxModel } from '../onnx/model';
import { makeTensor, tensorFromProto, tensorToProto, toNumber, type Tensor, type TensorType } from '../onnx/tensor';

export type NodeProto = onnx.INodeProto;
export type AttrValue = number | number[] | string | Tensor | undefined;

/**
 * Decode ONNX bytes into a ModelProto (through lib/onnx/model.ts's loader, which says what the
 * bytes look like when they are not ONNX); anything that is not a model with a graph is an InputError.
 */
export function decodeModel(bytes: Uint8Array, field = 'model'): onnx.ModelProto {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) throw new InputError(field, 'ONNX model bytes', bytes);
  let m: onnx.ModelProto;
  try {
    m = OnnxModel.fromBuffer(bytes, { validate: false }).proto;
  } catch (e) {
    throw new InputError(field, 'an ONNX model', bytes, (e as Error).message);
  }
  if (!m.graph || !m.graph.node || m.graph.node.length === 0 || !m.graph.output || m.graph.output.length === 0) {
    throw new InputError(field, 'an ONNX model with a graph of nodes and outputs', bytes, 'no graph found: not an ONNX file?');
  }
  return m;
}

export function encodeModel(m: onnx.IModelProto): Buffer {
  const bytes = onnx.ModelProto.encode(m).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Make a NodeProto with attributes given as plain values (int, float, ints, tensor). */
export function makeNode(opType: string, inputs: string[], outputs: string[], name: string, attrs: Record<string, { i?: number; f?: number; ints?: number[]; t?: Tensor }> = {}, domain = ''): onnx.NodeProto {
  const attribute = Object.entries(attrs).map(([k, v]) => {
    const A = onnx.AttributeProto.AttributeType;
    if (v.t) return new onnx.AttributeProto({ name: k, type: A.TENSOR, t: tensorToProto(v.t) });
    if (v.ints) return new onnx.AttributeProto({ name: k, type: A.INTS, ints: v.ints });
    if (v.f !== undefined) return new onnx.AttributeProto({ name: k, type: A.FLOAT, f: v.f });
    return new onnx.AttributeProto({ name: k, type: A.INT, i: v.i ?? 0 });
  });
  return new onnx.NodeProto({ opType, input: inputs, output: outputs, name, attribute, domain });
}

/** An attribute's value as a plain JS value (undefined when absent). */
export function attr(node: NodeProto, name: string): AttrValue {
  const a = (node.attribute ?? []).find((x) => x.name === name);
  if (!a) return undefined;
  const A = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case A.INT: return toNumber(a.i);
    case A.FLOAT: return a.f ?? 0;
    case A.INTS: return (a.ints ?? []).map(toNumber);
    case A.FLOATS: return [...(a.floats ?? [])];
    case A.STRING: return Buffer.from(a.s ?? []).toString('utf8');
    case A.TENSOR: return a.t ? tensorFromProto(a.t) : undefined;
    default:
      // Old exporters sometimes leave the type unset: guess from the filled field.
      if (a.ints && a.ints.length) return a.ints.map(toNumber);
      if (a.i !== undefined && a.i !== null && toNumber(a.i) !== 0) return toNumber(a.i);
      if (a.f) return a.f;
      return undefined;
  }
}

export function removeAttr(node: NodeProto, name: string): void {
  node.attribute = (node.attribute ?? []).filter((a) => a.name !== name);
}

export interface FloatInit {
  dims: number[];
  data: Float32Array;
}

/** Editing view over one model. Initializer lookups are cached by name and kept in sync. */
export class GraphEditor {
  readonly graph: onnx.IGraphProto;
  private inits = new Map<string, onnx.ITensorProto>();
  private counter = 0;

  constructor(readonly model: onnx.ModelProto) {
    if (!model.graph) throw new InputError('model', 'an ONNX model with a graph');
    this.graph = model.graph;
    this.graph.node = this.graph.node ?? [];
    this.graph.initializer = this.graph.initializer ?? [];
    for (const t of this.graph.initializer) this.inits.set(t.name ?? '', t);
  }

  get nodes(): NodeProto[] {
    return this.graph.node as NodeProto[];
  }

  /** The default-domain opset the model imports. */
  opset(): number {
    const o = (this.model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx');
    return o ? toNumber(o.version) : 1;
  }

  setOpset(version: number): void {
    const o = (this.model.opsetImport ?? []).find((x) => !x.domain || x.domain === 'ai.onnx');
    if (o) o.version = version;
    else this.model.opsetImport = [...(this.model.opsetImport ?? []), new onnx.OperatorSetIdProto({ domain: '', version })];
  }

  hasInit(name: string): boolean {
    return this.inits.has(name);
  }

  initTensor(name: string): Tensor | undefined {
    const p = this.inits.get(name);
    return p ? tensorFromProto(p) : undefined;
  }

  /** A float32 initializer (undefined when `name` is not an initializer or not float32). */
  floatInit(name: string): FloatInit | undefined {
    const p = this.inits.get(name);
    if (!p || p.dataType !== onnx.TensorProto.DataType.FLOAT) return undefined;
    const t = tensorFromProto(p);
    return { dims: t.dims, data: t.data as Float32Array };
  }

  /** Add or replace an initializer. */
  setInit(name: string, type: TensorType, dims: number[], data: ArrayLike<number> | BigInt64Array): void {
    const proto = tensorToProto(makeTensor(type, dims, data as Float32Array), name);
    const old = this.inits.get(name);
    if (old) {
      const i = this.graph.initializer!.indexOf(old);
      this.graph.initializer![i] = proto;
    } else {
      this.graph.initializer!.push(proto);
    }
    this.inits.set(name, proto);
  }

  setFloat(name: string, dims: number[], data: Float32Array): void {
    this.setInit(name, 'float32', dims, data);
  }

  removeInit(name: string): void {
    const p = this.inits.get(name);
    if (!p) return;
    this.graph.initializer = this.graph.initializer!.filter((t) => t !== p);
    this.inits.delete(name);
  }

  /** Remove initializers no node uses any more (graph outputs count as uses). */
  pruneUnusedInits(): void {
    const used = new Set<string>();
    for (const n of this.nodes) for (const i of n.input ?? []) used.add(i);
    for (const o of this.graph.output ?? []) used.add(o.name ?? '');
    this.graph.initializer = this.graph.initializer!.filter((t) => used.has(t.name ?? ''));
    this.inits = new Map(this.graph.initializer.map((t) => [t.name ?? '', t]));
  }

  producer(tensor: string): NodeProto | undefined {
    return this.nodes.find((n) => (n.output ?? []).includes(tensor));
  }

  consumers(tensor: string): NodeProto[] {
    return this.nodes.filter((n) => (n.input ?? []).includes(tensor));
  }

  isGraphOutput(tensor: string): boolean {
    return (this.graph.output ?? []).some((o) => o.name === tensor);
  }

  /** A tensor/node name not used anywhere yet, derived from `base`. */
  fresh(base: string): string {
    const taken = (s: string) => this.inits.has(s) || this.nodes.some((n) => n.name === s || (n.output ?? []).includes(s) || (n.input ?? []).includes(s)) || (this.graph.input ?? []).some((i) => i.name === s);
    let s: string;
    do s = `${base}_${this.counter++}`; while (taken(s));
    return s;
  }

  /** Replace `node` in place by `replacement` (keeps the topological position). */
  replace(node: NodeProto, replacement: NodeProto[]): void {
    const i = this.nodes.indexOf(node);
    if (i < 0) throw new Error(`node ${node.name} not in graph`);
    this.nodes.splice(i, 1, ...replacement);
  }

  /** Rename every use of tensor `from` as a node input to `to`. */
  renameInput(from: string, to: string): void {
    for (const n of this.nodes) n.input = (n.input ?? []).map((x) => (x === from ? to : x));
  }

  /** Drop stale shape annotations after shapes changed (ONNX Runtime infers them again). */
  clearValueInfo(): void {
    this.graph.valueInfo = [];
  }

  /** Element counts of all numeric initializers. */
  parameterCount(): number {
    let n = 0;
    for (const t of this.graph.initializer ?? []) n += (t.dims ?? []).reduce((a: number, d) => a * toNumber(d), 1);
    return n;
  }

  nodeLabel(n: NodeProto): string {
    return n.name || `${n.opType}(${(n.output ?? [])[0] ?? ''})`;
  }
}

/** Graph input names that are real inputs (not initializers listed as inputs, as IR < 4 models do). */
export function realInputs(model: onnx.IModelProto): onnx.IValueInfoProto[] {
  const inits = new Set((model.graph?.initializer ?? []).map((t) => t.name));
  return (model.graph?.input ?? []).filter((i) => !inits.has(i.name));
}

/** A ValueInfo's static shape; symbolic or unknown dims as -1. */
export function valueShape(v: onnx.IValueInfoProto): number[] {
  const dims = v.type?.tensorType?.shape?.dim ?? [];
  return dims.map((d) => (d.dimValue !== undefined && d.dimValue !== null && toNumber(d.dimValue) > 0 ? toNumber(d.dimValue) : -1));
}
