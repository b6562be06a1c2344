/**
 * Structured pruning of a normalised graph (see normalize.ts): drop output neurons of a
 * fully connected layer (MatMul [+ Add bias]) or output channels of a Conv, and shrink everything
 * downstream so the model stays valid: per-channel ops on the way (BatchNormalization, bias/scale
 * Add/Mul, activations, pooling, Flatten) and the consumer layer's input rows/channels.
 *
 * Three tables decide what can be pruned, like ONNX Runtime's quantisation tool's per-op handlers:
 * PRODUCERS (layers whose outputs are dropped), PASSES (ops a channel passes through unchanged or
 * with per-channel parameters), CONSUMERS (layers whose inputs shrink). Adding an op is one entry.
 *
 * Scores: L1 norm of each neuron's incoming weights (paper §3.1), or for Conv the mean absolute
 * activation of each channel over calibration data (paper §3.1: 12 → 8 kernels).
 */
import { InputError } from '../errors';
import { attr, GraphEditor, type NodeProto } from './graph';

export interface PruneOptions {
  /** drop neurons whose score is below threshold × the layer's largest score (0 ≤ t < 1; paper: 0.3) */
  threshold?: number;
  /** keep this many neurons per layer (512 → 128) */
  keep?: number;
  /** keep this fraction of neurons per layer (0 < r ≤ 1) */
  keepRatio?: number;
  /** layers to prune (node name, weight initializer or output tensor); default every eligible one */
  layers?: string[];
  /** which producers: 'dense' (MatMul), 'conv' or both (default: dense) */
  kinds?: Array<'dense' | 'conv'>;
  /** channel scores from activations (tensor name → per-channel mean |activation|), for conv */
  activationScores?: Map<string, Float64Array>;
}

export interface PrunedLayer {
  layer: string;
  kind: 'dense' | 'conv';
  before: number;
  after: number;
  score: 'l1' | 'activation';
  consumer: string;
}

export interface SkippedLayer {
  layer: string;
  reason: string;
}

/** Where a chain's channels live in a tensor. */
interface Step {
  node: NodeProto;
  shrink?: (g: GraphEditor, keep: number[], C: number) => void;
  /** Flatten: consumer rows come in blocks of (rows / C) */
  flattens?: boolean;
}

interface Chain {
  producer: NodeProto;
  kind: 'dense' | 'conv';
  C: number;
  steps: Step[];
  /** tensor whose per-channel activation scores the chain (before any Flatten) */
  scoreTensor: string;
  consumer: NodeProto;
  blocked: boolean;
}

/** Shrink a per-channel parameter initializer (numel C → keep.length; scalars untouched). */
function shrinkParam(g: GraphEditor, node: NodeProto, name: string, keep: number[], C: number): void {
  const where = g.nodeLabel(node);
  const p = g.floatInit(name);
  if (!p) throw new Error(`${where}: parameter ${name} is not a float initializer`);
  if (p.data.length === 1) return;
  if (p.data.length !== C) throw new Error(`${where}: parameter ${name} has ${p.data.length} values, not one per channel (${C})`);
  const dims = p.dims.map((d) => (d === C ? keep.length : d));
  const fresh = g.fresh(name);
  g.setFloat(fresh, dims, Float32Array.from(keep, (k) => p.data[k]));
  // The parameter may be shared: give this node its own shrunk copy.
  node.input = node.input!.map((x) => (x === name ? fresh : x));
}

function perChannelParamOk(g: GraphEditor, name: string, C: number, channelAxisLast: boolean): boolean {
  const p = g.floatInit(name);
  if (!p) return false;
  if (p.data.length === 1) return true;
  if (p.data.length !== C) return false;
  // [C] or [1, C] broadcast onto the last axis; [C, 1, ...] onto axis 1 of NCHW
  const nonOne = p.dims.findIndex((d) => d !== 1);
  if (channelAxisLast) return nonOne === p.dims.length - 1;
  return p.dims.length >= 2 && p.dims.slice(nonOne + 1).every((d) => d === 1);
}

type PassCheck = (g: GraphEditor, n: NodeProto, x: string, C: number, kind: 'dense' | 'conv') => Step | string;

const unary: PassCheck = (_g, n) => ({ node: n });
const UNARY = ['Relu', 'Sigmoid', 'Tanh', 'LeakyRelu', 'Elu', 'Selu', 'Softplus', 'Softsign', 'HardSigmoid', 'Identity', 'Dropout', 'Abs', 'Neg', 'Exp', 'Erf'];

const elementwiseParam: PassCheck = (g, n, x, C, kind) => {
  const other = n.input![0] === x ? n.input![1] : n.input![0];
  if (!perChannelParamOk(g, other, C, kind === 'dense')) return `${n.opType} with a non-constant or non-per-channel operand`;
  return { node: n, shrink: (gg, keep) => shrinkParam(gg, n, other, keep, C) };
};

/** Ops a channel passes through. */
export const PASSES: Record<string, PassCheck> = {
  ...Object.fromEntries(UNARY.map((op) => [op, unary])),
  Clip: (g, n) => ((n.input ?? []).slice(1).every((i) => !i || (g.floatInit(i)?.data.length ?? 0) === 1) ? { node: n } : 'Clip with tensor bounds'),
  MaxPool: (_g, n, _x, _C, kind) => (kind === 'conv' ? { node: n } : 'MaxPool after a dense layer'),
  AveragePool: (_g, n, _x, _C, kind) => (kind === 'conv' ? { node: n } : 'AveragePool after a dense layer'),
  GlobalAveragePool: (_g, n, _x, _C, kind) => (kind === 'conv' ? { node: n } : 'GlobalAveragePool after a dense layer'),
  GlobalMaxPool: (_g, n, _x, _C, kind) => (kind === 'conv' ? { node: n } : 'GlobalMaxPool after a dense layer'),
  Add: elementwiseParam,
  Mul: elementwiseParam,
  Sub: elementwiseParam,
  BatchNormalization: (g, n, _x, C) => {
    const params = n.input!.slice(1, 5);
    if (params.some((p) => (g.floatInit(p)?.data.length ?? -1) !== C)) return 'BatchNormalization with non-constant parameters';
    return { node: n, shrink: (gg, keep) => params.forEach((p) => shrinkParam(gg, n, p, keep, C)) };
  },
  Flatten: (_g, n, _x, _C, kind) => (kind === 'conv' && ((attr(n, 'axis') as number | undefined) ?? 1) === 1 ? { node: n, flattens: true } : 'Flatten not on axis 1 after a conv'),
};

/** Layers whose inputs shrink: returns an error reason or undefined when fine. */
export const CONSUMERS: Record<string, (g: GraphEditor, n: NodeProto, x: string, C: number, blocked: boolean) => string | undefined> = {
  MatMul: (g, n, x, C) => {
    const w = g.floatInit(n.input![1]);
    if (n.input![0] !== x || !w || w.dims.length !== 2) return 'MatMul without a constant 2-D weight';
    if (w.dims[0] % C !== 0) return `MatMul weight rows ${w.dims[0]} not a multiple of ${C} channels`;
    return undefined;
  },
  Conv: (g, n, x, C, blocked) => {
    const w = g.floatInit(n.input![1]);
    if (blocked || n.input![0] !== x || !w) return 'Conv without a constant weight';
    if (((attr(n, 'group') as number | undefined) ?? 1) !== 1) return 'grouped Conv';
    if (w.dims[1] !== C) return `Conv weight has ${w.dims[1]} input channels, not ${C}`;
    return undefined;
  },
};

/** Layers whose outputs can be dropped. */
export const PRODUCERS: Record<string, { kind: 'dense' | 'conv'; channels(g: GraphEditor, n: NodeProto): number | undefined }> = {
  MatMul: {
    kind: 'dense',
    channels: (g, n) => {
      const w = g.floatInit(n.input![1]);
      return w && w.dims.length === 2 && !g.hasInit(n.input![0]) ? w.dims[1] : undefined;
    },
  },
  Conv: {
    kind: 'conv',
    channels: (g, n) => {
      const w = g.floatInit(n.input![1]);
      if (!w || ((attr(n, 'group') as number | undefined) ?? 1) !== 1) return undefined;
      if (n.input![2] && !g.floatInit(n.input![2])) return undefined;
      return w.dims[0];
    },
  },
};

function trace(g: GraphEditor, producer: NodeProto): Chain | string {
  const P = PRODUCERS[producer.opType ?? ''];
  const C = P?.channels(g, producer);
  if (!P || C === undefined) return `${producer.opType} without constant weights`;
  const steps: Step[] = [];
  let x = producer.output![0];
  let scoreTensor = x;
  let blocked = false;
  for (let hops = 0; hops < 64; hops++) {
    if (g.isGraphOutput(x)) return `its output '${x}' is a graph output`;
    const cons = g.consumers(x);
    if (cons.length !== 1) return cons.length === 0 ? 'output unused' : `output '${x}' feeds ${cons.length} nodes`;
    const n = cons[0];
    const op = n.opType ?? '';
    const consumer = CONSUMERS[op];
    if (consumer && !(op === 'MatMul' && g.hasInit(n.input![0]))) {
      const why = consumer(g, n, x, C, blocked);
      if (why === undefined) return { producer, kind: P.kind, C, steps, scoreTensor, consumer: n, blocked };
      if (!PASSES[op]) return why;
    }
    const pass = PASSES[op];
    if (!pass) return `unsupported op ${op} (${g.nodeLabel(n)}) between it and the next layer`;
    const step = pass(g, n, x, C, P.kind);
    if (typeof step === 'string') return `${step} (${g.nodeLabel(n)})`;
    steps.push(step);
    if (step.flattens) blocked = true;
    x = n.output![0];
    if (!blocked) scoreTensor = x;
  }
  return 'chain too long';
}

function names(g: GraphEditor, n: NodeProto): string[] {
  return [n.name ?? '', n.input![1], n.output![0], g.nodeLabel(n)].filter(Boolean);
}

/** Candidate chains: producer name → chain or reason it cannot be pruned. */
export function pruneCandidates(g: GraphEditor, kinds: Array<'dense' | 'conv'> = ['dense']): Array<{ layer: string; node: NodeProto; chain: Chain | string }> {
  return g.nodes
    .filter((n) => PRODUCERS[n.opType ?? ''] && kinds.includes(PRODUCERS[n.opType!].kind))
    .map((n) => ({ layer: g.nodeLabel(n), node: n, chain: trace(g, n) }));
}

/** L1 score per output neuron/channel. */
export function l1Scores(w: Float32Array, dims: number[], kind: 'dense' | 'conv'): Float64Array {
  if (kind === 'dense') {
    const [K, N] = dims;
    const s = new Float64Array(N);
    for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) s[j] += Math.abs(w[k * N + j]);
    return s;
  }
  const M = dims[0];
  const per = w.length / M;
  const s = new Float64Array(M);
  for (let m = 0; m < M; m++) for (let i = 0; i < per; i++) s[m] += Math.abs(w[m * per + i]);
  return s;
}

/** Indices to keep (ascending) given scores and the options. */
export function selectKeep(scores: Float64Array, opts: Pick<PruneOptions, 'threshold' | 'keep' | 'keepRatio'>): number[] {
  const C = scores.length;
  const idx = Array.from({ length: C }, (_, i) => i);
  let keepIdx: number[];
  if (opts.keep !== undefined) {
    keepIdx = idx.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, Math.min(C, opts.keep));
  } else if (opts.keepRatio !== undefined) {
    keepIdx = idx.sort((a, b) => scores[b] - scores[a] || a - b).slice(0, Math.max(1, Math.ceil(C * opts.keepRatio)));
  } else {
    const t = opts.threshold ?? 0.3;
    const max = Math.max(...scores);
    keepIdx = idx.filter((i) => scores[i] >= t * max);
    if (keepIdx.length === 0) keepIdx = [idx.reduce((a, b) => (scores[b] > scores[a] ? b : a), 0)];
  }
  return keepIdx.sort((a, b) => a - b);
}

export function validatePruneOptions(opts: PruneOptions): void {
  const given = [opts.threshold, opts.keep, opts.keepRatio].filter((v) => v !== undefined).length;
  if (given > 1) throw new InputError('prune', 'one of threshold, keep or keepRatio', opts);
  if (opts.threshold !== undefined && !(opts.threshold >= 0 && opts.threshold < 1)) throw new InputError('prune.threshold', 'a number in [0, 1)', opts.threshold);
  if (opts.keep !== undefined && !(Number.isInteger(opts.keep) && opts.keep >= 1)) throw new InputError('prune.keep', 'an integer ≥ 1', opts.keep);
  if (opts.keepRatio !== undefined && !(opts.keepRatio > 0 && opts.keepRatio <= 1)) throw new InputError('prune.keepRatio', 'a number in (0, 1]', opts.keepRatio);
}

/** Prune in place. Returns what was pruned and what was skipped (and why). */
export function prune(g: GraphEditor, opts: PruneOptions): { pruned: PrunedLayer[]; skipped: SkippedLayer[] } {
  validatePruneOptions(opts);
  const kinds = opts.kinds ?? ['dense'];
  const wanted = opts.layers ? new Set(opts.layers) : undefined;
  const pruned: PrunedLayer[] = [];
  const skipped: SkippedLayer[] = [];
  const seen = new Set<string>();
  for (const { layer, node } of pruneCandidates(g, kinds)) {
    const ids = names(g, node);
    if (wanted && !ids.some((i) => wanted.has(i))) continue;
    ids.forEach((i) => wanted?.has(i) && seen.add(i));
    const chain = trace(g, node); // re-trace: earlier prunes changed shapes
    if (typeof chain === 'string') {
      if (wanted) throw new InputError('prune.layers', `a prunable layer`, layer, chain);
      skipped.push({ layer, reason: chain });
      continue;
    }
    const w = g.floatInit(node.input![1])!;
    let scores: Float64Array;
    let scoreKind: 'l1' | 'activation' = 'l1';
    const act = opts.activationScores?.get(chain.scoreTensor);
    if (chain.kind === 'conv' && act && act.length === chain.C) {
      scores = act;
      scoreKind = 'activation';
    } else {
      scores = l1Scores(w.data, w.dims, chain.kind);
    }
    const keep = selectKeep(scores, opts);
    if (keep.length === chain.C) {
      skipped.push({ layer, reason: 'every neuron above the threshold' });
      continue;
    }
    applyChain(g, chain, keep, w);
    pruned.push({ layer, kind: chain.kind, before: chain.C, after: keep.length, score: scoreKind, consumer: g.nodeLabel(chain.consumer) });
  }
  if (wanted) {
    const missing = [...wanted].filter((w) => !seen.has(w));
    if (missing.length) throw new InputError('prune.layers', 'names of MatMul/Gemm/Conv layers in the model', missing.join(', '));
  }
  g.pruneUnusedInits();
  g.clearValueInfo();
  return { pruned, skipped };
}

function applyChain(g: GraphEditor, chain: Chain, keep: number[], w: { dims: number[]; data: Float32Array }): void {
  const { producer, C } = chain;
  // producer weight (a fresh initializer, so a shared weight is not changed for other users)
  const wname = g.fresh(producer.input![1]);
  if (chain.kind === 'dense') {
    const [K, N] = w.dims;
    const out = new Float32Array(K * keep.length);
    for (let k = 0; k < K; k++) for (let j = 0; j < keep.length; j++) out[k * keep.length + j] = w.data[k * N + keep[j]];
    g.setFloat(wname, [K, keep.length], out);
  } else {
    const per = w.data.length / C;
    const out = new Float32Array(keep.length * per);
    keep.forEach((m, j) => out.set(w.data.subarray(m * per, (m + 1) * per), j * per));
    g.setFloat(wname, [keep.length, ...w.dims.slice(1)], out);
    if (producer.input![2]) shrinkParam(g, producer, producer.input![2], keep, C);
  }
  producer.input = producer.input!.map((x, i) => (i === 1 ? wname : x));
  for (const s of chain.steps) s.shrink?.(g, keep, C);
  // consumer
  const cons = chain.consumer;
  const cw = g.floatInit(cons.input![1])!;
  const cname = g.fresh(cons.input![1]);
  if (cons.opType === 'MatMul') {
    const [K2, N2] = cw.dims;
    const block = K2 / C;
    const rows: number[] = [];
    for (const k of keep) for (let b = 0; b < block; b++) rows.push(k * block + b);
    const out = new Float32Array(rows.length * N2);
    rows.forEach((r, i) => out.set(cw.data.subarray(r * N2, (r + 1) * N2), i * N2));
    g.setFloat(cname, [rows.length, N2], out);
  } else {
    const [M2, C2] = cw.dims;
    const per = cw.data.length / (M2 * C2);
    const out = new Float32Array(M2 * keep.length * per);
    for (let m = 0; m < M2; m++) keep.forEach((c, j) => out.set(cw.data.subarray((m * C2 + c) * per, (m * C2 + c + 1) * per), (m * keep.length + j) * per));
    g.setFloat(cname, [M2, keep.length, ...cw.dims.slice(2)], out);
  }
  cons.input = cons.input!.map((x, i) => (i === 1 ? cname : x));
}
