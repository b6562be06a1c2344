/** Test helpers: plain-JS forward passes (independent of ONNX Runtime) and graph inspection. */
import { onnx } from 'onnx-proto';
import { Session } from '../../../lib/infer/session';

/** y = relu(...relu(x W1ᵀ + b1)...) W_Lᵀ + b_L, weights [out, in] row-major (PyTorch/Gemm transB). */
export function mlpForward(x: Float32Array, batch: number, sizes: number[], layers: { w: Float32Array; b: Float32Array }[]): Float64Array {
  let h = Float64Array.from(x);
  for (let l = 0; l < layers.length; l++) {
    const [inN, outN] = [sizes[l], sizes[l + 1]];
    const out = new Float64Array(batch * outN);
    for (let s = 0; s < batch; s++) for (let o = 0; o < outN; o++) {
      let v = layers[l].b[o];
      for (let i = 0; i < inN; i++) v += h[s * inN + i] * layers[l].w[o * inN + i];
      out[s * outN + o] = l < layers.length - 1 ? Math.max(0, v) : v;
    }
    h = out;
  }
  return h;
}

export function opTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

export interface SimpleNode { name: string; opType: string; input: string[]; output: string[] }
export interface SimpleGraph { node: SimpleNode[]; initializer: Array<{ name: string; dims: number[]; dataType: number }> }

/** The graph as plain objects (names, op types, initializer shapes). */
export function graphOf(bytes: Uint8Array): SimpleGraph {
  const g = onnx.ModelProto.decode(bytes).graph!;
  return {
    node: (g.node ?? []).map((n) => ({ name: n.name ?? '', opType: n.opType ?? '', input: [...(n.input ?? [])], output: [...(n.output ?? [])] })),
    initializer: (g.initializer ?? []).map((t) => ({ name: t.name ?? '', dims: (t.dims ?? []).map(Number), dataType: t.dataType ?? 0 })),
  };
}

export function initDims(bytes: Uint8Array, name: string): number[] | undefined {
  return graphOf(bytes).initializer.find((i) => i.name === name)?.dims;
}

export function opsetOf(bytes: Uint8Array): number {
  return Number(onnx.ModelProto.decode(bytes).opsetImport.find((o) => !o.domain)?.version ?? 0);
}

/** Run a model in ONNX Runtime (one thread) on one float input. */
export async function runOrt(bytes: Uint8Array, feeds: Record<string, { shape: number[]; data: Float32Array }>): Promise<Record<string, { dims: number[]; data: Float32Array }>> {
  const s = await Session.create(bytes, { intraOpThreads: 1 });
  try {
    const res = await s.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { dims: v.shape, data: v.data }])));
    return Object.fromEntries(Object.entries(res).map(([k, t]) => [k, { dims: [...t.dims], data: t.data as Float32Array }]));
  } finally {
    await s.release();
  }
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** A model from a node list and float initializers (opset 13), for graphs the builders do not make. */
export function buildFromNodes(input: string, inputShape: number[], output: string, nodes: Array<[string, string[], string[]]>, inits: Record<string, [number[], Float32Array]>): Buffer {
  const vi = (name: string, dims: number[]) => ({ name, type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => ({ dimValue: d })) } } } });
  const m = onnx.ModelProto.fromObject({
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    graph: {
      name: 'g',
      node: nodes.map(([opType, i, o], k) => ({ opType, input: i, output: o, name: `${opType}_${k}` })),
      initializer: Object.entries(inits).map(([name, [dims, data]]) => ({ name, dims, dataType: 1, rawData: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) })),
      input: [vi(input, inputShape)],
      output: [{ name: output, type: { tensorType: { elemType: 1 } } }],
    },
  });
  return Buffer.from(onnx.ModelProto.encode(m).finish());
}
