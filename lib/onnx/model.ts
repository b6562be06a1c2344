/**
 * ONNX model I/O: load (file or buffer), inspect, modify and save, over onnx-proto (protobufjs).
 *
 * `OnnxModel` wraps one `onnx.ModelProto` (`model.proto`, for anything this API does not cover).
 * Everything that reads tensors returns the plain `Tensor` form of ./tensor (typed arrays, int64 as
 * BigInt64Array); everything that reads 64-bit scalars (dims, model_version, attribute ints)
 * returns numbers. Loading checks that the bytes are an ONNX model and that the graph is
 * consistent, and throws an `OnnxFormatError` saying what is wrong otherwise.
 *
 * See docs/onnx.md for the API summary.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { resolveUserPath } from '../paths';
import {
  OnnxFormatError, Tensor, TensorType, codeFromType, elementCount, tensorFromProto, tensorToProto, toNumber,
  typeFromCode,
} from './tensor';

export { OnnxFormatError };
export type { Tensor, TensorType };

/** Default-domain (ai.onnx) opsets accepted on load. ONNX Runtime 1.17 implements opsets up to 20. */
export const MIN_OPSET = 1;
export const MAX_OPSET = 20;
/** IR version onnx-proto 8.0.1 knows (ONNX 1.10). Fields of newer IR versions are dropped on save. */
export const KNOWN_IR_VERSION = 8;
/**
 * Newest IR version accepted on load (ONNX 1.16). IR 9–10 models load with a warning (`warnings`):
 * what they add (float8/int4 types, node overloads, ...) is not read. ONNX Runtime 1.17 runs IR ≤ 9.
 */
export const MAX_IR_VERSION = 10;

/** A dimension: a number, a symbolic name (e.g. 'batch'), or null when unknown. */
export type Dim = number | string | null;

export interface ValueInfo {
  name: string;
  /** Element type for tensor values; undefined for non-tensor types (sequence, map, ...). */
  type?: TensorType;
  /** Shape, or undefined when the model declares none. */
  shape?: Dim[];
}

/** Attribute values as plain JS: numbers, strings, arrays, tensors, or the raw GraphProto. */
export type AttributeValue = number | string | number[] | string[] | Tensor | Tensor[] | onnx.IGraphProto | onnx.IGraphProto[] | null;

export interface NodeInfo {
  name: string;
  opType: string;
  /** '' for the default ai.onnx domain. */
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, AttributeValue>;
}

/** An explicitly typed attribute, for when a plain JS value would be ambiguous (1.0 is an int). */
export interface TypedAttribute {
  attrType: 'float' | 'int' | 'string' | 'floats' | 'ints' | 'strings' | 'tensor' | 'graph';
  value: number | string | number[] | string[] | Tensor | onnx.IGraphProto;
}

/** Helpers to type attributes: `attr.float(1)` is a FLOAT attribute where a plain 1 would be INT. */
export const attr = {
  float: (v: number): TypedAttribute => ({ attrType: 'float', value: v }),
  int: (v: number): TypedAttribute => ({ attrType: 'int', value: v }),
  string: (v: string): TypedAttribute => ({ attrType: 'string', value: v }),
  floats: (v: number[]): TypedAttribute => ({ attrType: 'floats', value: v }),
  ints: (v: number[]): TypedAttribute => ({ attrType: 'ints', value: v }),
  strings: (v: string[]): TypedAttribute => ({ attrType: 'strings', value: v }),
  tensor: (v: Tensor): TypedAttribute => ({ attrType: 'tensor', value: v }),
  graph: (v: onnx.IGraphProto): TypedAttribute => ({ attrType: 'graph', value: v }),
};

/**
 * A node to add. Plain attribute values are typed by their JS value: integer → INT, other number
 * → FLOAT, string → STRING, arrays likewise, Tensor → TENSOR; attributes named in
 * FLOAT_ATTRIBUTE_NAMES (alpha, beta, epsilon, ...) are always FLOAT(S). Use `attr.*` otherwise.
 */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  domain?: string;
  attributes?: Record<string, number | string | number[] | string[] | Tensor | TypedAttribute>;
}

/** Attribute names that are FLOAT in the standard ops even when given an integral JS number. */
export const FLOAT_ATTRIBUTE_NAMES = new Set([
  'alpha', 'beta', 'gamma', 'epsilon', 'momentum', 'clip', 'lambd', 'bias', 'ratio', 'activation_alpha',
  'activation_beta', 'spatial_scale', 'extrapolation_value', 'cubic_coeff_a', 'value_float', 'value_floats',
]);

export interface LoadOptions {
  /** Check graph consistency and opset range on load (default true). */
  validate?: boolean;
  /** Label used in error messages (defaults to the file path, or 'buffer'). */
  source?: string;
}

/** Guess what a non-ONNX buffer is, for the error message. */
function sniff(buf: Uint8Array): string | undefined {
  const head = Buffer.from(buf.subarray(0, 16));
  if (head.length >= 8 && head.subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))) return 'a PNG image';
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'a JPEG image';
  if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === 'PK\u0003\u0004') return 'a ZIP archive (a PyTorch .pt file or .zip?)';
  if (head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b) return 'a gzip file';
  if (head.length >= 4 && head.subarray(0, 4).toString('latin1') === '\u0089HDF') return 'an HDF5 file (a Keras .h5 model?)';
  if (head.length >= 2 && head[0] === 0x80 && head[1] <= 5) return 'a Python pickle';
  const text = Buffer.from(buf.subarray(0, 256)).toString('utf8').trimStart();
  if (/^[[{]/.test(text)) return 'JSON text';
  if (/^<\?xml|^</.test(text)) return 'XML/HTML text';
  const sample = text.slice(0, 64);
  if (sample.length > 0 && [...sample].every((c) => c === '\t' || c === '\n' || c === '\r' || (c >= ' ' && c <= '~'))) return 'text';
  return undefined;
}

function valueInfoOf(v: onnx.IValueInfoProto): ValueInfo {
  const name = v.name ?? '';
  const tt = v.type?.tensorType;
  if (!tt) return { name };
  const info: ValueInfo = { name };
  if (tt.elemType) info.type = typeFromCode(tt.elemType);
  if (tt.shape) {
    info.shape = (tt.shape.dim ?? []).map((d) => {
      if (d.dimParam) return d.dimParam;
      if (d.dimValue !== undefined && d.dimValue !== null) return toNumber(d.dimValue);
      return null;
    });
  }
  return info;
}

/** A ValueInfoProto for a tensor value (shape entries: number, symbolic name, or null = unknown). */
export function makeValueInfo(name: string, type: TensorType, shape?: Dim[]): onnx.ValueInfoProto {
  const tensorType: onnx.TypeProto.ITensor = { elemType: codeFromType(type) };
  if (shape) {
    tensorType.shape = {
      dim: shape.map((d) => (typeof d === 'number' ? { dimValue: d } : typeof d === 'string' ? { dimParam: d } : {})),
    };
  }
  return new onnx.ValueInfoProto({ name, type: { tensorType } });
}

function attributeValue(a: onnx.IAttributeProto): AttributeValue {
  const T = onnx.AttributeProto.AttributeType;
  switch (a.type) {
    case T.FLOAT: return a.f ?? 0;
    case T.INT: return toNumber(a.i);
    case T.STRING: return Buffer.from(a.s ?? new Uint8Array()).toString('utf8');
    case T.TENSOR: return a.t ? tensorFromProto(a.t) : null;
    case T.GRAPH: return a.g ?? null;
    case T.FLOATS: return [...(a.floats ?? [])];
    case T.INTS: return (a.ints ?? []).map(toNumber);
    case T.STRINGS: return (a.strings ?? []).map((s) => Buffer.from(s).toString('utf8'));
    case T.TENSORS: return (a.tensors ?? []).map(tensorFromProto);
    case T.GRAPHS: return a.graphs ?? [];
    default: return null;
  }
}

function isTensor(v: unknown): v is Tensor {
  return !!v && typeof v === 'object' && 'type' in v && 'dims' in v && 'data' in v;
}

/** Build an AttributeProto from a plain or typed value (see NodeSpec). */
export function makeAttribute(name: string, value: number | string | number[] | string[] | Tensor | TypedAttribute): onnx.AttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  const a = new onnx.AttributeProto({ name });
  let kind: TypedAttribute['attrType'];
  let v: TypedAttribute['value'];
  if (value && typeof value === 'object' && 'attrType' in value) {
    kind = value.attrType;
    v = value.value;
  } else if (isTensor(value)) {
    kind = 'tensor';
    v = value;
  } else if (typeof value === 'number') {
    kind = Number.isInteger(value) && !FLOAT_ATTRIBUTE_NAMES.has(name) ? 'int' : 'float';
    v = value;
  } else if (typeof value === 'string') {
    kind = 'string';
    v = value;
  } else if (Array.isArray(value)) {
    if (value.every((x) => typeof x === 'string')) kind = 'strings';
    else kind = (value as number[]).every(Number.isInteger) && !FLOAT_ATTRIBUTE_NAMES.has(name) ? 'ints' : 'floats';
    v = value;
  } else {
    throw new OnnxFormatError(`attribute '${name}': cannot encode ${typeof value}`);
  }
  switch (kind) {
    case 'float': a.type = T.FLOAT; a.f = v as number; break;
    case 'int': a.type = T.INT; a.i = v as number; break;
    case 'string': a.type = T.STRING; a.s = Buffer.from(v as string, 'utf8'); break;
    case 'floats': a.type = T.FLOATS; a.floats = [...(v as number[])]; break;
    case 'ints': a.type = T.INTS; a.ints = [...(v as number[])]; break;
    case 'strings': a.type = T.STRINGS; a.strings = (v as string[]).map((s) => Buffer.from(s, 'utf8')); break;
    case 'tensor': a.type = T.TENSOR; a.t = tensorToProto(v as Tensor, (v as Tensor).name ?? ''); break;
    case 'graph': a.type = T.GRAPH; a.g = v as onnx.IGraphProto; break;
  }
  return a;
}

/** Build a NodeProto from a NodeSpec (attributes typed as described there). */
export function makeNode(spec: NodeSpec): onnx.NodeProto {
  if (!spec.opType) throw new OnnxFormatError('node: opType is required');
  return new onnx.NodeProto({
    opType: spec.opType,
    input: [...spec.inputs],
    output: [...spec.outputs],
    name: spec.name ?? '',
    domain: spec.domain ?? '',
    attribute: Object.entries(spec.attributes ?? {}).map(([k, v]) => makeAttribute(k, v)),
  });
}

/** An ONNX model in memory. Create with `OnnxModel.load`, `OnnxModel.fromBuffer` or `new OnnxModel(proto)`. */
export class OnnxModel {
  /** The underlying protobuf message; changes through this API are made on it directly. */
  readonly proto: onnx.ModelProto;
  /** Where the model came from (file path or 'buffer'), for messages. */
  source: string;

  constructor(proto: onnx.ModelProto | onnx.IModelProto, source = 'model') {
    this.proto = proto instanceof onnx.ModelProto ? proto : onnx.ModelProto.fromObject(proto as Record<string, unknown>);
    if (!this.proto.graph) this.proto.graph = new onnx.GraphProto();
    this.source = source;
  }

  /**
   * Read and decode a model file (`pkg:models/x.onnx` names a file shipped in this package).
   * Throws OnnxFormatError (or the fs error for a missing file).
   */
  static load(file: string, options: LoadOptions = {}): OnnxModel {
    if (file.startsWith('pkg:')) file = resolveUserPath(file);
    const buf = fs.readFileSync(file);
    return OnnxModel.fromBuffer(buf, { ...options, source: options.source ?? file });
  }

  /**
   * Decode a model from bytes (Buffer or Uint8Array). The bytes are copied first: decoded raw_data
   * fields are views into that copy, so the caller may reuse or change its buffer afterwards.
   */
  static fromBuffer(bytes: Uint8Array, options: LoadOptions = {}): OnnxModel {
    const source = options.source ?? 'buffer';
    if (!(bytes instanceof Uint8Array)) throw new OnnxFormatError(`expected a Buffer or Uint8Array of ONNX bytes, got ${typeof bytes}`, source);
    if (bytes.length === 0) throw new OnnxFormatError('empty input (0 bytes), not an ONNX model', source);
    const looksLike = sniff(bytes);
    let proto: onnx.ModelProto;
    try {
      proto = onnx.ModelProto.decode(Buffer.from(bytes));
    } catch (e) {
      const msg = (e as Error).message;
      if (looksLike) throw new OnnxFormatError(`not an ONNX model: the bytes look like ${looksLike}`, source);
      const truncated = /index out of range/.test(msg);
      throw new OnnxFormatError(
        `${truncated ? 'truncated or corrupt ONNX file' : 'corrupt or not an ONNX file'} (${bytes.length} bytes; protobuf: ${msg})`, source);
    }
    const irVersion = toNumber(proto.irVersion);
    if (!proto.graph || irVersion <= 0) {
      const what = looksLike ? `the bytes look like ${looksLike}` : `no ${!proto.graph ? 'graph' : 'ir_version'} in the decoded message`;
      throw new OnnxFormatError(`not an ONNX model: ${what} (${bytes.length} bytes)`, source);
    }
    const model = new OnnxModel(proto, source);
    if (options.validate !== false) {
      const problems = model.validate();
      if (problems.length > 0) {
        throw new OnnxFormatError(`invalid ONNX model: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? `; and ${problems.length - 5} more` : ''}`, source);
      }
    }
    return model;
  }

  private get g(): onnx.GraphProto {
    return this.proto.graph as onnx.GraphProto;
  }

  // ---------------------------------------------------------------- inspection

  get irVersion(): number { return toNumber(this.proto.irVersion); }
  set irVersion(v: number) { this.proto.irVersion = v; }

  get producer(): { name: string; version: string } {
    return { name: this.proto.producerName ?? '', version: this.proto.producerVersion ?? '' };
  }

  get graphName(): string { return this.g.name ?? ''; }

  /** Opset imports, '' = the default ai.onnx domain. */
  get opsets(): { domain: string; version: number }[] {
    return (this.proto.opsetImport ?? []).map((o) => ({ domain: o.domain ?? '', version: toNumber(o.version) }));
  }

  /** The ai.onnx opset version (0 when the model imports none). */
  get opset(): number {
    const o = this.opsets.find((x) => x.domain === '' || x.domain === 'ai.onnx');
    return o ? o.version : 0;
  }

  /** Set (or add) the opset version of a domain. */
  setOpset(version: number, domain = ''): void {
    const list = this.proto.opsetImport ?? (this.proto.opsetImport = []);
    const o = list.find((x) => (x.domain ?? '') === domain || (domain === '' && x.domain === 'ai.onnx'));
    if (o) o.version = version;
    else list.push(new onnx.OperatorSetIdProto({ domain, version }));
  }

  private initializerNameSet(): Set<string> {
    return new Set((this.g.initializer ?? []).map((t) => t.name ?? ''));
  }

  /** Graph inputs that are real inputs (IR < 4 models also list initializers as inputs; those are left out). */
  get inputs(): ValueInfo[] {
    const inits = this.initializerNameSet();
    return (this.g.input ?? []).filter((v) => !inits.has(v.name ?? '')).map(valueInfoOf);
  }

  get outputs(): ValueInfo[] {
    return (this.g.output ?? []).map(valueInfoOf);
  }

  /** value_info entries (intermediate values with declared types, if the model has them). */
  get valueInfo(): ValueInfo[] {
    return (this.g.valueInfo ?? []).map(valueInfoOf);
  }

  /** Nodes of the main graph, attributes decoded. */
  get nodes(): NodeInfo[] {
    return (this.g.node ?? []).map((n) => ({
      name: n.name ?? '',
      opType: n.opType ?? '',
      domain: n.domain ?? '',
      inputs: [...(n.input ?? [])],
      outputs: [...(n.output ?? [])],
      attributes: Object.fromEntries((n.attribute ?? []).map((a) => [a.name ?? '', attributeValue(a)])),
    }));
  }

  /** Op types used in the main graph and every subgraph, with counts (domain-qualified when not ai.onnx). */
  opCounts(): Record<string, number> {
    const counts: Record<string, number> = {};
    const walk = (g: onnx.IGraphProto | null | undefined): void => {
      for (const n of g?.node ?? []) {
        const key = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType ?? '';
        counts[key] = (counts[key] ?? 0) + 1;
        for (const a of n.attribute ?? []) {
          if (a.g) walk(a.g);
          for (const sg of a.graphs ?? []) walk(sg);
        }
      }
    };
    walk(this.g);
    return counts;
  }

  /** Sorted list of op types (see opCounts). */
  get opTypes(): string[] {
    return Object.keys(this.opCounts()).sort();
  }

  /** Names of the initializers, in file order. */
  get initializerNames(): string[] {
    return (this.g.initializer ?? []).map((t) => t.name ?? '');
  }

  hasInitializer(name: string): boolean {
    return (this.g.initializer ?? []).some((t) => t.name === name);
  }

  /** One initializer as a Tensor (a copy); throws when there is none of that name. */
  getInitializer(name: string): Tensor {
    const p = (this.g.initializer ?? []).find((t) => t.name === name);
    if (!p) throw new OnnxFormatError(`no initializer named '${name}'`, this.source);
    return tensorFromProto(p);
  }

  /** Every initializer as a Tensor (copies), in file order. */
  initializers(): Tensor[] {
    return (this.g.initializer ?? []).map(tensorFromProto);
  }

  /** Shape and type of an initializer without decoding its data. */
  initializerInfo(name: string): { type: TensorType; dims: number[] } | undefined {
    const p = (this.g.initializer ?? []).find((t) => t.name === name);
    return p ? { type: typeFromCode(p.dataType ?? 0), dims: (p.dims ?? []).map(toNumber) } : undefined;
  }

  /** Total number of elements in all initializers (the model's parameter count). */
  parameterCount(): number {
    let n = 0;
    for (const t of this.g.initializer ?? []) n += elementCount((t.dims ?? []).map(toNumber));
    return n;
  }

  // ---------------------------------------------------------------- modification

  /**
   * Add an initializer, or replace the one with the same name (same position in the file).
   * The tensor's name is used unless `name` is given. Shape and type may change (e.g. pruning).
   */
  setInitializer(tensor: Tensor, name = tensor.name): void {
    if (!name) throw new OnnxFormatError('setInitializer: the tensor needs a name', this.source);
    const p = tensorToProto(tensor, name);
    const list = this.g.initializer ?? (this.g.initializer = []);
    const i = list.findIndex((t) => t.name === name);
    if (i >= 0) list[i] = p;
    else list.push(p);
    // IR < 4 models list initializers among the inputs: keep that entry's type/shape in step.
    const inp = (this.g.input ?? []).findIndex((v) => v.name === name);
    if (inp >= 0) this.g.input[inp] = makeValueInfo(name, tensor.type, tensor.dims);
  }

  /** Remove an initializer (and its graph-input entry in IR < 4 models). Returns whether it existed. */
  removeInitializer(name: string): boolean {
    const list = this.g.initializer ?? [];
    const i = list.findIndex((t) => t.name === name);
    if (i < 0) return false;
    list.splice(i, 1);
    const inp = (this.g.input ?? []).findIndex((v) => v.name === name);
    if (inp >= 0) this.g.input.splice(inp, 1);
    return true;
  }

  /** Index of the node with this name or producing this output, -1 if none. */
  findNode(nameOrOutput: string): number {
    const nodes = this.g.node ?? [];
    const byName = nodes.findIndex((n) => n.name === nameOrOutput);
    return byName >= 0 ? byName : nodes.findIndex((n) => (n.output ?? []).includes(nameOrOutput));
  }

  /**
   * Insert a node (at `index`, default: at the end). Nodes must stay in topological order: insert a
   * node after the producers of its inputs and before its consumers. Returns the node's index.
   */
  addNode(spec: NodeSpec, index?: number): number {
    const node = makeNode(spec);
    const list = this.g.node ?? (this.g.node = []);
    const at = index === undefined ? list.length : Math.max(0, Math.min(index, list.length));
    list.splice(at, 0, node);
    return at;
  }

  /** Remove a node by index, name or produced output name. Returns the removed node's info. */
  removeNode(which: number | string): NodeInfo {
    const list = this.g.node ?? [];
    const i = typeof which === 'number' ? which : this.findNode(which);
    if (i < 0 || i >= list.length) throw new OnnxFormatError(`removeNode: no node ${typeof which === 'number' ? `at index ${which}` : `named or producing '${which}'`}`, this.source);
    const info = this.nodes[i];
    list.splice(i, 1);
    return info;
  }

  /** Replace every use of value `from` as a node input or graph output by `to`. */
  renameInput(from: string, to: string): void {
    for (const n of this.g.node ?? []) n.input = (n.input ?? []).map((x) => (x === from ? to : x));
    for (const o of this.g.output ?? []) if (o.name === from) o.name = to;
  }

  /** Add a graph input (type, optional shape). */
  addInput(name: string, type: TensorType, shape?: Dim[]): void {
    (this.g.input ?? (this.g.input = [])).push(makeValueInfo(name, type, shape));
  }

  /** Add a graph output (type and shape optional: ONNX Runtime infers them). No-op if it is one already. */
  addOutput(name: string, type?: TensorType, shape?: Dim[]): void {
    const outs = this.g.output ?? (this.g.output = []);
    if (outs.some((o) => o.name === name)) return;
    if (type) outs.push(makeValueInfo(name, type, shape));
    else {
      const known = (this.g.valueInfo ?? []).find((v) => v.name === name);
      outs.push(known ? onnx.ValueInfoProto.fromObject(onnx.ValueInfoProto.toObject(known as onnx.ValueInfoProto)) : new onnx.ValueInfoProto({ name }));
    }
  }

  /** Remove a graph output by name. Returns whether it existed. */
  removeOutput(name: string): boolean {
    const outs = this.g.output ?? [];
    const i = outs.findIndex((o) => o.name === name);
    if (i < 0) return false;
    outs.splice(i, 1);
    return true;
  }

  /**
   * Reorder the main graph's nodes topologically (stable: keeps the current order where it can).
   * Throws when a node reads a value nothing provides, or the nodes form a cycle.
   */
  sortNodes(): void {
    const nodes = this.g.node ?? [];
    const available = new Set<string>(['', ...(this.g.input ?? []).map((v) => v.name ?? ''), ...(this.g.initializer ?? []).map((t) => t.name ?? '')]);
    const produced = new Set(nodes.flatMap((n) => n.output ?? []));
    const outer = (n: onnx.INodeProto): string[] => (n.input ?? []).filter((x) => produced.has(x) || !available.has(x));
    for (const [i, n] of nodes.entries()) {
      for (const x of n.input ?? []) {
        if (!available.has(x) && !produced.has(x)) throw new OnnxFormatError(`sortNodes: node ${i} (${n.opType}) reads '${x}', which nothing provides`, this.source);
      }
    }
    const done: onnx.INodeProto[] = [];
    const pending = [...nodes];
    while (pending.length > 0) {
      const k = pending.findIndex((n) => outer(n).every((x) => available.has(x)));
      if (k < 0) throw new OnnxFormatError(`sortNodes: the nodes form a cycle (through ${pending.map((n) => n.name || n.opType).slice(0, 5).join(', ')})`, this.source);
      const [n] = pending.splice(k, 1);
      for (const y of n.output ?? []) available.add(y);
      done.push(n);
    }
    this.g.node = done as onnx.NodeProto[];
  }

  /**
   * Remove nodes whose outputs no graph output needs, then initializers (and IR < 4 initializer
   * inputs) that no node reads. Values read inside subgraphs (If/Loop bodies) count as read.
   * Returns how many nodes and initializers were removed.
   */
  removeUnused(): { nodes: number; initializers: number } {
    const nodes = this.g.node ?? [];
    const needed = new Set((this.g.output ?? []).map((o) => o.name ?? ''));
    const subgraphReads = (g: onnx.IGraphProto | null | undefined, into: Set<string>): void => {
      for (const n of g?.node ?? []) {
        for (const x of n.input ?? []) into.add(x);
        for (const a of n.attribute ?? []) {
          if (a.g) subgraphReads(a.g, into);
          for (const sg of a.graphs ?? []) subgraphReads(sg, into);
        }
      }
    };
    const keep = new Array<boolean>(nodes.length).fill(false);
    for (let i = nodes.length - 1; i >= 0; i--) {
      const n = nodes[i];
      if ((n.output ?? []).some((y) => needed.has(y))) {
        keep[i] = true;
        for (const x of n.input ?? []) needed.add(x);
        for (const a of n.attribute ?? []) {
          if (a.g) subgraphReads(a.g, needed);
          for (const sg of a.graphs ?? []) subgraphReads(sg, needed);
        }
      }
    }
    const before = nodes.length;
    this.g.node = nodes.filter((_, i) => keep[i]) as onnx.NodeProto[];
    const inits = this.g.initializer ?? [];
    const unusedInits = inits.filter((t) => !needed.has(t.name ?? '')).map((t) => t.name ?? '');
    for (const name of unusedInits) this.removeInitializer(name);
    return { nodes: before - this.g.node.length, initializers: unusedInits.length };
  }

  /** Names of every value produced by a node (candidates for intermediate activations). */
  get intermediateNames(): string[] {
    const outs = new Set((this.g.output ?? []).map((o) => o.name));
    return (this.g.node ?? []).flatMap((n) => n.output ?? []).filter((x) => x && !outs.has(x));
  }

  /** model_version: a monotonically increasing integer (0 when unset). */
  get modelVersion(): number { return toNumber(this.proto.modelVersion); }
  set modelVersion(v: number) {
    if (!Number.isSafeInteger(v) || v < 0) throw new OnnxFormatError(`model_version must be a non-negative integer, got ${v}`, this.source);
    this.proto.modelVersion = v;
  }

  /** metadata_props as a plain object (a copy). */
  get metadata(): Record<string, string> {
    return Object.fromEntries((this.proto.metadataProps ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  }

  /** Replace all metadata_props. */
  set metadata(props: Record<string, string>) {
    this.proto.metadataProps = Object.entries(props).map(([key, value]) => new onnx.StringStringEntryProto({ key, value: String(value) }));
  }

  getMetadata(key: string): string | undefined {
    return (this.proto.metadataProps ?? []).find((e) => e.key === key)?.value ?? undefined;
  }

  /** Set one metadata_props entry (undefined removes it). */
  setMetadata(key: string, value: string | undefined): void {
    const list = this.proto.metadataProps ?? (this.proto.metadataProps = []);
    const i = list.findIndex((e) => e.key === key);
    if (value === undefined) {
      if (i >= 0) list.splice(i, 1);
    } else if (i >= 0) list[i].value = String(value);
    else list.push(new onnx.StringStringEntryProto({ key, value: String(value) }));
  }

  // ---------------------------------------------------------------- checks and output

  /**
   * Structural checks: a graph, an ai.onnx opset in [MIN_OPSET, MAX_OPSET], every node input
   * produced earlier (by a graph input, an initializer or a previous node), every graph output
   * produced, no value produced twice, initializer data that fits its shape. Returns the problems
   * (empty = valid). Subgraphs (If/Loop/Scan bodies) are not checked.
   */
  validate(): string[] {
    const problems: string[] = [];
    const g = this.g;
    if (this.irVersion > MAX_IR_VERSION) {
      problems.push(`IR version ${this.irVersion} is newer than this library reads (up to ${MAX_IR_VERSION}); export with opset ≤ ${MAX_OPSET} and an older ONNX`);
    }
    const opset = this.opset;
    const usesDefault = (g.node ?? []).some((n) => !n.domain || n.domain === 'ai.onnx');
    if (this.irVersion >= 3 && opset === 0 && usesDefault) problems.push('no ai.onnx opset import, but the graph uses ai.onnx ops');
    if (opset !== 0 && (opset < MIN_OPSET || opset > MAX_OPSET)) {
      problems.push(`unsupported opset ${opset} (ai.onnx opsets ${MIN_OPSET}–${MAX_OPSET} are supported; ONNX Runtime 1.17 implements up to ${MAX_OPSET})`);
    }
    const defined = new Set<string>(['']);
    for (const v of g.input ?? []) defined.add(v.name ?? '');
    for (const t of g.initializer ?? []) {
      const name = t.name ?? '';
      if (!name) problems.push('an initializer has no name');
      defined.add(name);
      try {
        tensorFromProto(t);
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    const produced = new Set<string>();
    (g.node ?? []).forEach((n, i) => {
      const label = `node ${i} (${n.opType}${n.name ? ` '${n.name}'` : ''})`;
      if (!n.opType) problems.push(`node ${i} has no op_type`);
      for (const x of n.input ?? []) {
        if (!defined.has(x)) problems.push(`${label} reads '${x}', which no graph input, initializer or earlier node provides`);
      }
      for (const y of n.output ?? []) {
        if (!y) continue;
        if (produced.has(y)) problems.push(`${label} produces '${y}', which an earlier node already produces`);
        produced.add(y);
        defined.add(y);
      }
    });
    for (const o of g.output ?? []) {
      if (!defined.has(o.name ?? '')) problems.push(`graph output '${o.name}' is not produced by any node, input or initializer`);
    }
    return problems;
  }

  /** Things worth knowing that do not stop the model loading (an IR version newer than onnx-proto's). */
  get warnings(): string[] {
    const w: string[] = [];
    if (this.irVersion > KNOWN_IR_VERSION) {
      w.push(`IR version ${this.irVersion} is newer than onnx-proto's ${KNOWN_IR_VERSION} (ONNX 1.10): fields added since are not read and are dropped on save${this.irVersion > 9 ? '; ONNX Runtime 1.17 runs IR ≤ 9' : ''}`);
    }
    return w;
  }

  /** A deep copy (for example to add outputs without touching this model). */
  clone(): OnnxModel {
    return new OnnxModel(onnx.ModelProto.decode(this.toBuffer()), this.source);
  }

  /** Serialize to ONNX bytes. */
  toBuffer(): Buffer {
    const bytes = onnx.ModelProto.encode(this.proto).finish();
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Write to a file atomically (temporary file in the same folder, then rename). */
  save(file: string): void {
    const dir = path.dirname(path.resolve(file));
    fs.mkdirSync(dir, { recursive: true });
    const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${Date.now()}.tmp`);
    try {
      fs.writeFileSync(tmp, this.toBuffer());
      fs.renameSync(tmp, file);
    } catch (e) {
      fs.rmSync(tmp, { force: true });
      throw e;
    }
  }

  /** A short summary for logs and status: inputs, outputs, opset, op counts, parameters. */
  summary(): { inputs: ValueInfo[]; outputs: ValueInfo[]; opset: number; irVersion: number; ops: Record<string, number>; parameters: number; modelVersion: number; metadata: Record<string, string> } {
    return {
      inputs: this.inputs, outputs: this.outputs, opset: this.opset, irVersion: this.irVersion, ops: this.opCounts(),
      parameters: this.parameterCount(), modelVersion: this.modelVersion, metadata: this.metadata,
    };
  }
}

/** Convenience: OnnxModel.load / fromBuffer depending on the argument. */
export function loadModel(source: string | Uint8Array, options?: LoadOptions): OnnxModel {
  return typeof source === 'string' ? OnnxModel.load(source, options) : OnnxModel.fromBuffer(source, options);
}
