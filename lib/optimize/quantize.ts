/**
 * int8 quantisation of a normalised graph (see normalize.ts), one handler per op type chosen
 * through the QUANTIZERS table (the shape of ONNX Runtime's quantisation tool, operators/*.py):
 * adding an op is adding one entry.
 *
 * Only the patterns ONNX Runtime runs with its int8 kernels are emitted (../shared/NOTES.md):
 * - dynamic MatMul: DynamicQuantizeLinear → MatMulInteger → Cast → Mul(x_scale · w_scale)
 *   (fused by ORT into DynamicQuantizeMatMul); the bias Add stays float after it.
 * - dynamic Conv: DynamicQuantizeLinear → ConvInteger → Cast → Mul → Add(bias) (uint8 weights with
 *   zero point 128: ORT 1.17's ConvInteger has no int8-weight kernel).
 * - static MatMul / Conv: QuantizeLinear → DequantizeLinear on the activation, DequantizeLinear on
 *   the int8 weight, and the output pair QuantizeLinear → DequantizeLinear (fused by ORT into
 *   QLinearMatMul / QLinearConv). Never a QDQ MatMul without its output pair, never weight-only.
 */
import { InputError } from '../errors';
import { GraphEditor, makeNode, type NodeProto } from './graph';
import { quantizeWeight, uint8Params, type QParams } from './quant-math';

export type QuantMode = 'dynamic' | 'static';

export interface QuantizeOptions {
  mode: QuantMode;
  perChannel?: boolean;
  /** paper eq. 3: fixed weight scale (e.g. 0.125) instead of one from the data */
  weightScale?: number;
  /** static: activation ranges per tensor name (from calibration) */
  ranges?: Map<string, { min: number; max: number }>;
  /** static: one fixed range for every activation (paper: [−8, 7.875]) instead of calibration */
  fixedRange?: readonly [number, number];
  /** op types to quantize (default: every op with a handler) */
  opTypes?: string[];
}

export interface QuantizedLayer {
  node: string;
  op: string;
  pattern: string;
  weight: string;
  params: number;
  saturated: number;
  maxWeightError: number;
}

interface Context {
  g: GraphEditor;
  opts: QuantizeOptions;
  /** DynamicQuantizeLinear outputs per float tensor, shared by every consumer */
  dynamicCache: Map<string, [string, string, string]>;
  /** static Q/DQ of an activation tensor, shared */
  qdqCache: Map<string, string>;
}

export interface QuantHandler {
  /** tensors whose ranges static quantisation needs for this node (its float input and output) */
  activations(g: GraphEditor, n: NodeProto): string[];
  /** true when this node can be quantized (constant float weight in the right place) */
  applies(g: GraphEditor, n: NodeProto): boolean;
  dynamic?(ctx: Context, n: NodeProto): QuantizedLayer;
  static?(ctx: Context, n: NodeProto): QuantizedLayer;
}

function weightOf(g: GraphEditor, n: NodeProto) {
  const name = n.input![1];
  const w = g.floatInit(name);
  if (!w) throw new Error(`${g.nodeLabel(n)}: weight is not a float initializer`);
  return { name, ...w };
}

function dynamicInput(ctx: Context, x: string): [string, string, string] {
  const cached = ctx.dynamicCache.get(x);
  if (cached) return cached;
  const { g } = ctx;
  const outs: [string, string, string] = [g.fresh(`${x}_quant`), g.fresh(`${x}_scale`), g.fresh(`${x}_zero_point`)];
  const node = makeNode('DynamicQuantizeLinear', [x], outs, g.fresh(`${x}_DynamicQuantizeLinear`));
  insertAfterProducer(g, x, node);
  ctx.dynamicCache.set(x, outs);
  return outs;
}

/** Insert `node` right after the producer of `x` (or first, for a graph input). */
function insertAfterProducer(g: GraphEditor, x: string, node: NodeProto): void {
  const p = g.producer(x);
  const i = p ? g.nodes.indexOf(p) + 1 : 0;
  g.nodes.splice(i, 0, node);
}

function rangeOf(ctx: Context, tensor: string): QParams {
  const fixed = ctx.opts.fixedRange;
  if (fixed) return uint8Params(fixed[0], fixed[1]);
  const r = ctx.opts.ranges?.get(tensor);
  if (!r) throw new InputError('calibration', `calibration data reaching tensor '${tensor}'`, undefined, 'static quantisation needs calibration data or a fixed activation range');
  return uint8Params(r.min, r.max);
}

/** Q → DQ of a float activation tensor; returns the dequantized tensor name (shared per tensor). */
function qdqInput(ctx: Context, x: string): string {
  const cached = ctx.qdqCache.get(x);
  if (cached) return cached;
  const { g } = ctx;
  const p = rangeOf(ctx, x);
  const s = g.fresh(`${x}_scale`);
  const z = g.fresh(`${x}_zero_point`);
  g.setFloat(s, [], new Float32Array([p.scale]));
  g.setInit(z, 'uint8', [], new Uint8Array([p.zeroPoint]));
  const q = g.fresh(`${x}_QuantizeLinear_Output`);
  const dq = g.fresh(`${x}_DequantizeLinear_Output`);
  const nodes = [makeNode('QuantizeLinear', [x, s, z], [q], g.fresh(`${x}_QuantizeLinear`)), makeNode('DequantizeLinear', [q, s, z], [dq], g.fresh(`${x}_DequantizeLinear`))];
  const prod = g.producer(x);
  const i = prod ? g.nodes.indexOf(prod) + 1 : 0;
  g.nodes.splice(i, 0, ...nodes);
  ctx.qdqCache.set(x, dq);
  return dq;
}

/** Output pair: node writes `y` → now writes y_pre, then Q → DQ → y. */
function qdqOutput(ctx: Context, n: NodeProto, y: string): NodeProto[] {
  const { g } = ctx;
  const p = rangeOf(ctx, y);
  const pre = g.fresh(`${y}_float`);
  n.output = [pre];
  const s = g.fresh(`${y}_scale`);
  const z = g.fresh(`${y}_zero_point`);
  g.setFloat(s, [], new Float32Array([p.scale]));
  g.setInit(z, 'uint8', [], new Uint8Array([p.zeroPoint]));
  const q = g.fresh(`${y}_QuantizeLinear_Output`);
  return [makeNode('QuantizeLinear', [pre, s, z], [q], g.fresh(`${y}_QuantizeLinear`)), makeNode('DequantizeLinear', [q, s, z], [y], g.fresh(`${y}_DequantizeLinear`))];
}

function quantWeight(ctx: Context, n: NodeProto, channelAxis: 0 | 1) {
  const w = weightOf(ctx.g, n);
  const perChannel = ctx.opts.perChannel ?? false;
  const qw = quantizeWeight(w.data, w.dims, { perChannel, channelAxis, fixedScale: ctx.opts.weightScale });
  const qname = ctx.g.fresh(`${w.name}_quantized`);
  ctx.g.setInit(qname, 'int8', w.dims, qw.q);
  return { w, qw, qname, perChannel };
}

function layerInfo(ctx: Context, n: NodeProto, pattern: string, w: { name: string; data: Float32Array }, qw: { saturated: number; maxError: number }): QuantizedLayer {
  return { node: ctx.g.nodeLabel(n), op: n.opType ?? '', pattern, weight: w.name, params: w.data.length, saturated: qw.saturated, maxWeightError: qw.maxError };
}

const matmul: QuantHandler = {
  activations: (_g, n) => [n.input![0], n.output![0]],
  applies: (g, n) => {
    const w = g.floatInit(n.input![1]);
    return !!w && w.dims.length === 2 && !g.hasInit(n.input![0]);
  },
  dynamic(ctx, n) {
    const { g } = ctx;
    const { w, qw, qname, perChannel } = quantWeight(ctx, n, 1);
    const N = w.dims[1];
    const [xq, xs, xz] = dynamicInput(ctx, n.input![0]);
    const ws = g.fresh(`${w.name}_scale`);
    const wz = g.fresh(`${w.name}_zero_point`);
    g.setFloat(ws, perChannel ? [N] : [], qw.scales);
    g.setInit(wz, 'int8', perChannel ? [N] : [], new Int8Array(perChannel ? N : 1));
    const y = n.output![0];
    const base = n.name || y;
    const i32 = g.fresh(`${y}_int32`);
    const f = g.fresh(`${y}_cast`);
    const s = g.fresh(`${y}_scale`);
    g.replace(n, [
      makeNode('MatMulInteger', [xq, qname, xz, wz], [i32], g.fresh(`${base}_MatMulInteger`)),
      makeNode('Cast', [i32], [f], g.fresh(`${base}_Cast`), { to: { i: 1 } }),
      makeNode('Mul', [xs, ws], [s], g.fresh(`${base}_scales_Mul`)),
      makeNode('Mul', [f, s], [y], g.fresh(`${base}_Mul`)),
    ]);
    return layerInfo(ctx, n, 'DynamicQuantizeLinear→MatMulInteger→Cast→Mul', w, qw);
  },
  static(ctx, n) {
    const { g } = ctx;
    const { w, qw, qname, perChannel } = quantWeight(ctx, n, 1);
    const N = w.dims[1];
    const xdq = qdqInput(ctx, n.input![0]);
    const ws = g.fresh(`${w.name}_scale`);
    const wz = g.fresh(`${w.name}_zero_point`);
    g.setFloat(ws, perChannel ? [N] : [], qw.scales);
    g.setInit(wz, 'int8', perChannel ? [N] : [], new Int8Array(perChannel ? N : 1));
    const wdq = g.fresh(`${w.name}_DequantizeLinear_Output`);
    const y = n.output![0];
    const dqW = makeNode('DequantizeLinear', [qname, ws, wz], [wdq], g.fresh(`${w.name}_DequantizeLinear`), perChannel ? { axis: { i: 1 } } : {});
    const out = qdqOutput(ctx, n, y);
    n.input = [xdq, wdq];
    g.replace(n, [dqW, n, ...out]);
    return layerInfo(ctx, n, 'QDQ MatMul (QLinearMatMul)', w, qw);
  },
};

const conv: QuantHandler = {
  activations: (_g, n) => [n.input![0], n.output![0]],
  applies: (g, n) => {
    const w = g.floatInit(n.input![1]);
    return !!w && w.dims.length >= 3 && !g.hasInit(n.input![0]) && (n.input![2] === undefined || n.input![2] === '' || !!g.floatInit(n.input![2]));
  },
  dynamic(ctx, n) {
    const { g } = ctx;
    // ONNX Runtime 1.17 implements ConvInteger for uint8 weights only: the symmetric int8 values
    // are stored shifted by 128 with zero point 128 (the same numbers).
    const { w, qw, qname: q8, perChannel } = quantWeight(ctx, n, 0);
    const qname = g.fresh(`${w.name}_quantized_u8`);
    g.setInit(qname, 'uint8', w.dims, Uint8Array.from(qw.q, (v) => v + 128));
    g.removeInit(q8);
    const M = w.dims[0];
    const spatial = w.dims.length - 2;
    const [xq, xs, xz] = dynamicInput(ctx, n.input![0]);
    const ws = g.fresh(`${w.name}_scale`);
    const wz = g.fresh(`${w.name}_zero_point`);
    g.setFloat(ws, perChannel ? [M, ...Array(spatial).fill(1)] : [], qw.scales);
    g.setInit(wz, 'uint8', perChannel ? [M] : [], new Uint8Array(perChannel ? M : 1).fill(128));
    const y = n.output![0];
    const base = n.name || y;
    const i32 = g.fresh(`${y}_int32`);
    const f = g.fresh(`${y}_cast`);
    const s = g.fresh(`${y}_scale`);
    const biasName = n.input![2];
    const bias = biasName ? g.floatInit(biasName) : undefined;
    const scaled = bias ? g.fresh(`${y}_scaled`) : y;
    const attrs = (n.attribute ?? []).slice();
    const ci = makeNode('ConvInteger', [xq, qname, xz, wz], [i32], g.fresh(`${base}_ConvInteger`));
    ci.attribute = attrs;
    const nodes = [
      ci,
      makeNode('Cast', [i32], [f], g.fresh(`${base}_Cast`), { to: { i: 1 } }),
      makeNode('Mul', [xs, ws], [s], g.fresh(`${base}_scales_Mul`)),
      makeNode('Mul', [f, s], [scaled], g.fresh(`${base}_Mul`)),
    ];
    if (bias) {
      const b = g.fresh(`${biasName}_reshaped`);
      g.setFloat(b, [M, ...Array(spatial).fill(1)], bias.data);
      nodes.push(makeNode('Add', [scaled, b], [y], g.fresh(`${base}_bias_Add`)));
    }
    g.replace(n, nodes);
    return layerInfo(ctx, n, 'DynamicQuantizeLinear→ConvInteger→Cast→Mul', w, qw);
  },
  static(ctx, n) {
    const { g } = ctx;
    const { w, qw, qname, perChannel } = quantWeight(ctx, n, 0);
    const M = w.dims[0];
    const x = n.input![0];
    const xp = rangeOf(ctx, x);
    const xdq = qdqInput(ctx, x);
    const ws = g.fresh(`${w.name}_scale`);
    const wz = g.fresh(`${w.name}_zero_point`);
    g.setFloat(ws, perChannel ? [M] : [], qw.scales);
    g.setInit(wz, 'int8', perChannel ? [M] : [], new Int8Array(perChannel ? M : 1));
    const wdq = g.fresh(`${w.name}_DequantizeLinear_Output`);
    const pre: NodeProto[] = [makeNode('DequantizeLinear', [qname, ws, wz], [wdq], g.fresh(`${w.name}_DequantizeLinear`), perChannel ? { axis: { i: 0 } } : {})];
    const inputs = [xdq, wdq];
    const biasName = n.input![2];
    const bias = biasName ? g.floatInit(biasName) : undefined;
    if (bias) {
      // int32 bias with scale x_scale · w_scale (zero point 0), as ORT's QDQ Conv expects.
      const bs = new Float32Array(perChannel ? M : 1);
      for (let c = 0; c < bs.length; c++) bs[c] = xp.scale * qw.scales[c];
      const bq = new Int32Array(M);
      for (let c = 0; c < M; c++) bq[c] = Math.round(bias.data[c] / bs[perChannel ? c : 0]);
      const bqName = g.fresh(`${biasName}_quantized`);
      const bsName = g.fresh(`${biasName}_scale`);
      const bzName = g.fresh(`${biasName}_zero_point`);
      g.setInit(bqName, 'int32', [M], bq);
      g.setFloat(bsName, perChannel ? [M] : [], bs);
      g.setInit(bzName, 'int32', perChannel ? [M] : [], new Int32Array(perChannel ? M : 1));
      const bdq = g.fresh(`${biasName}_DequantizeLinear_Output`);
      pre.push(makeNode('DequantizeLinear', [bqName, bsName, bzName], [bdq], g.fresh(`${biasName}_DequantizeLinear`), perChannel ? { axis: { i: 0 } } : {}));
      inputs.push(bdq);
    }
    const out = qdqOutput(ctx, n, n.output![0]);
    n.input = inputs;
    g.replace(n, [...pre, n, ...out]);
    return layerInfo(ctx, n, 'QDQ Conv (QLinearConv)', w, qw);
  },
};

/** Op type → how it is quantized. */
export const QUANTIZERS: Record<string, QuantHandler> = {
  MatMul: matmul,
  Conv: conv,
};

/** Nodes the chosen options would quantize. */
export function quantizableNodes(g: GraphEditor, opTypes?: string[]): NodeProto[] {
  return g.nodes.filter((n) => {
    const h = QUANTIZERS[n.opType ?? ''];
    return h && (!opTypes || opTypes.includes(n.opType ?? '')) && (!n.domain || n.domain === 'ai.onnx') && h.applies(g, n);
  });
}

/** Tensors whose ranges static quantisation of this graph needs. */
export function activationTensors(g: GraphEditor, opTypes?: string[]): string[] {
  const set = new Set<string>();
  for (const n of quantizableNodes(g, opTypes)) for (const t of QUANTIZERS[n.opType!].activations(g, n)) set.add(t);
  return [...set];
}

/** Quantize every applicable node in place; returns one entry per quantized layer. */
export function quantize(g: GraphEditor, opts: QuantizeOptions): QuantizedLayer[] {
  if (opts.mode !== 'dynamic' && opts.mode !== 'static') throw new InputError('int8', "'dynamic' or 'static'", opts.mode);
  if (opts.perChannel && opts.mode === 'static' && g.opset() < 13) throw new Error('per-channel static quantisation needs opset 13 (normalize with opset 13 first)');
  const ctx: Context = { g, opts, dynamicCache: new Map(), qdqCache: new Map() };
  const layers: QuantizedLayer[] = [];
  for (const n of quantizableNodes(g, opts.opTypes)) {
    const h = QUANTIZERS[n.opType!];
    const f = opts.mode === 'dynamic' ? h.dynamic : h.static;
    if (!f) continue;
    layers.push(f.call(h, ctx, n));
  }
  g.pruneUnusedInits();
  g.clearValueInfo();
  return layers;
}
