/**
 * Bring a model into the one form the passes work on:
 * - default-domain opset at least 11 (DynamicQuantizeLinear needs 11; per-axis QuantizeLinear 13),
 *   rewriting the few ops whose attributes changed on the way (table UPGRADE);
 * - IR version at least 7, initializers no longer listed as graph inputs (IR < 4 exporters did so);
 * - Gemm rewritten as MatMul (weights [K, N], transB and alpha folded in) + Add (beta folded in);
 * - Transpose of an initializer folded into the initializer (PyTorch's Linear without bias).
 * Every rewrite keeps the model's numbers; unsupported cases are reported, not guessed.
 */

import { InputError } from '../errors';
import { attr, GraphEditor, makeNode, removeAttr, type NodeProto } from './graph';

/** Ops whose semantics are the same from their first version up to opset 12. */
const UNCHANGED = new Set([
  'Relu', 'Sigmoid', 'Tanh', 'MatMul', 'Transpose', 'Conv', 'ConvTranspose', 'Flatten', 'Reshape', 'Concat', 'Softmax',
  'LogSoftmax', 'Identity', 'Exp', 'Log', 'Abs', 'Neg', 'Sqrt', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign',
  'PRelu', 'MaxPool', 'AveragePool', 'GlobalAveragePool', 'GlobalMaxPool', 'Gather', 'Squeeze', 'Unsqueeze', 'Shape',
  'Constant', 'ReduceMean', 'ReduceSum', 'ReduceMax', 'ReduceMin', 'HardSigmoid', 'Cast', 'Sum', 'Max', 'Min', 'Mean',
  'Pow', 'LRN', 'Split', 'Floor', 'Ceil', 'Reciprocal', 'ArgMax', 'ArgMin', 'Erf', 'Sin', 'Cos', 'Not', 'And', 'Or',
  'Equal', 'Greater', 'Less', 'Where', 'Expand', 'Tile', 'Slice', 'InstanceNormalization', 'ConstantOfShape',
  'QuantizeLinear', 'DequantizeLinear', 'MatMulInteger', 'ConvInteger', 'DynamicQuantizeLinear', 'Gemm',
  'BatchNormalization', 'Dropout', 'Add', 'Sub', 'Mul', 'Div', 'Clip', 'Pad',
]);

type Upgrade = (g: GraphEditor, n: NodeProto, from: number) => void;

function dropLegacy(...names: string[]): Upgrade {
  return (_g, n) => names.forEach((a) => removeAttr(n, a));
}

function elementwise(g: GraphEditor, n: NodeProto): void {
  if (attr(n, 'axis') !== undefined && attr(n, 'broadcast') === 1) {
    throw new InputError('model', 'opset ≥ 7 broadcasting', `${n.opType} with legacy broadcast axis`, `node ${g.nodeLabel(n)}: re-export the model with opset ≥ 11`);
  }
  removeAttr(n, 'broadcast');
  removeAttr(n, 'axis');
  removeAttr(n, 'consumed_inputs');
}

/** Per-op rewrites from an opset below 11 to 11. */
const UPGRADE: Record<string, Upgrade> = {
  Add: elementwise, Sub: elementwise, Mul: elementwise, Div: elementwise,
  Gemm: dropLegacy('broadcast'),
  Dropout: dropLegacy('is_test', 'consumed_inputs'),
  BatchNormalization: (g, n) => {
    const spatial = attr(n, 'spatial');
    if (spatial === 0) throw new InputError('model', 'spatial BatchNormalization', 'spatial=0', `node ${g.nodeLabel(n)}`);
    ['is_test', 'spatial', 'consumed_inputs'].forEach((a) => removeAttr(n, a));
  },
  Clip: (g, n, from) => {
    if (from >= 11) return;
    const min = attr(n, 'min');
    const max = attr(n, 'max');
    const inputs = [n.input![0]];
    const lo = g.fresh('clip_min');
    const hi = g.fresh('clip_max');
    g.setFloat(lo, [], new Float32Array([typeof min === 'number' ? min : -3.4028234663852886e38]));
    g.setFloat(hi, [], new Float32Array([typeof max === 'number' ? max : 3.4028234663852886e38]));
    inputs.push(lo, hi);
    n.input = inputs;
    ['min', 'max', 'consumed_inputs'].forEach((a) => removeAttr(n, a));
  },
  Pad: (g, n, from) => {
    if (from >= 11) return;
    const pads = (attr(n, 'pads') ?? attr(n, 'paddings')) as number[] | undefined;
    const value = attr(n, 'value');
    const pname = g.fresh('pads');
    g.setInit(pname, 'int64', [pads?.length ?? 0], BigInt64Array.from((pads ?? []).map(BigInt)));
    const inputs = [n.input![0], pname];
    if (typeof value === 'number' && value !== 0) {
      const vname = g.fresh('pad_value');
      g.setFloat(vname, [], new Float32Array([value]));
      inputs.push(vname);
    }
    n.input = inputs;
    ['pads', 'paddings', 'value'].forEach((a) => removeAttr(n, a));
  },
};

/** Raise the opset to at least `target` (11 or 13), IR to 7+, and drop initializers from graph inputs. */
export function upgrade(g: GraphEditor, target = 11): void {
  const from = g.opset();
  if (from < target) {
    if (target > 12) {
      const changedAt13 = g.nodes.find((n) => ['Softmax', 'LogSoftmax', 'Hardmax', 'Split', 'Squeeze', 'Unsqueeze', 'ReduceSum', 'Pad', 'Clip'].includes(n.opType ?? '') && (!n.domain || n.domain === 'ai.onnx'));
      if (changedAt13) {
        throw new InputError('model', 'a model without ops changed at opset 13 (per-channel static quantisation needs opset 13)', changedAt13.opType, 'use per-tensor static or dynamic quantisation, or re-export with opset 13');
      }
    }
    for (const n of g.nodes) {
      if (n.domain && n.domain !== 'ai.onnx') continue;
      const op = n.opType ?? '';
      if (from < 11 && UPGRADE[op]) UPGRADE[op](g, n, from);
      else if (from < 11 && !UNCHANGED.has(op)) {
        throw new InputError('model', `an opset ≥ 11 model, or ops this tool can raise to 11`, op, `node ${g.nodeLabel(n)} (opset ${from}): re-export with opset ≥ 11`);
      }
      removeAttr(n, 'consumed_inputs');
    }
    g.setOpset(target);
  }
  const minIr = target >= 13 ? 8 : 7;
  const ir = Number(g.model.irVersion ?? 0);
  if (ir < minIr) g.model.irVersion = minIr;
  const inits = new Set((g.graph.initializer ?? []).map((t) => t.name));
  g.graph.input = (g.graph.input ?? []).filter((i) => !inits.has(i.name));
}

/** Fold Transpose(initializer) into a transposed initializer (2-D only). */
export function foldConstantTransposes(g: GraphEditor): void {
  for (const n of [...g.nodes]) {
    if (n.opType !== 'Transpose' || !g.hasInit(n.input![0])) continue;
    const w = g.floatInit(n.input![0]);
    if (!w || w.dims.length !== 2) continue;
    const perm = (attr(n, 'perm') as number[] | undefined) ?? [1, 0];
    if (perm[0] !== 1 || perm[1] !== 0) continue;
    const [r, c] = w.dims;
    const t = new Float32Array(r * c);
    for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = w.data[i * c + j];
    const name = n.output![0];
    g.replace(n, []);
    g.setFloat(name, [c, r], t);
  }
  g.pruneUnusedInits();
}

/**
 * Gemm(A, B, C) with constant B → MatMul(A', B') [+ Add(·, C')]: B' = alpha·B (transposed when
 * transB), C' = beta·C; transA becomes a Transpose of A. Gemms with a non-constant B are left alone.
 */
export function gemmToMatMul(g: GraphEditor): void {
  for (const n of [...g.nodes]) {
    if (n.opType !== 'Gemm') continue;
    const index = g.nodes.indexOf(n);
    const [a, b, c] = n.input!;
    const w = g.floatInit(b);
    if (!w || w.dims.length !== 2) continue;
    const alpha = (attr(n, 'alpha') as number | undefined) ?? 1;
    const beta = (attr(n, 'beta') as number | undefined) ?? 1;
    const transA = attr(n, 'transA') === 1;
    const transB = attr(n, 'transB') === 1;
    const [r, cc] = w.dims;
    const K = transB ? cc : r;
    const N = transB ? r : cc;
    const wm = new Float32Array(K * N);
    for (let i = 0; i < r; i++) for (let j = 0; j < cc; j++) {
      const v = alpha * w.data[i * cc + j];
      if (transB) wm[j * N + i] = v;
      else wm[i * N + j] = v;
    }
    const out = n.output![0];
    const base = n.name || out;
    // Keep the weight's and the node's names where nothing else uses them, so layers stay findable
    // by the names the exporter gave them.
    const wname = g.consumers(b).length === 1 ? b : g.fresh(`${base}_W`);
    g.setFloat(wname, [K, N], wm);
    const nodes: NodeProto[] = [];
    let input = a;
    if (transA) {
      input = g.fresh(`${base}_At`);
      nodes.push(makeNode('Transpose', [a], [input], g.fresh(`${base}_transA`), { perm: { ints: [1, 0] } }));
    }
    const hasBias = c !== undefined && c !== '';
    const mmOut = hasBias ? g.fresh(`${base}_mm`) : out;
    g.replace(n, []);
    nodes.push(makeNode('MatMul', [input, wname], [mmOut], n.name || g.fresh(`${base}_MatMul`)));
    if (hasBias) {
      const bias = g.floatInit(c);
      let cname = c;
      if (bias && beta !== 1) {
        cname = g.consumers(c).length === 0 ? c : g.fresh(`${base}_B`);
        g.setFloat(cname, bias.dims, bias.data.map((v) => beta * v));
      } else if (beta !== 1) {
        throw new InputError('model', 'Gemm with constant C or beta = 1', `beta=${beta}`, `node ${g.nodeLabel(n)}`);
      }
      nodes.push(makeNode('Add', [mmOut, cname], [out], g.fresh(`${base}_Add`)));
    }
    g.nodes.splice(index, 0, ...nodes);
  }
  g.pruneUnusedInits();
}

/** All normalisations in order. `opset` 13 when per-channel static QDQ is wanted. */
export function normalize(g: GraphEditor, opset = 11): void {
  upgrade(g, opset);
  foldConstantTransposes(g);
  gemmToMatMul(g);
  g.clearValueInfo();
}

