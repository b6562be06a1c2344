/**
 * Small multi-head ONNX models written with onnx-proto directly, with known weights so tests can
 * compute expected outputs by hand: input x [N, L, F] (or [N, F]) → Reshape [N, L·F] → one Gemm
 * per head (y = x·W + b).
 */
import { onnx } from 'onnx-proto';
import type { HeadDef } from '../../../lib/infer/model-spec';

export interface FixtureHead extends Omit<HeadDef, 'output'> {
  output?: string;
  /** weights [L·F][width] and bias [width] */
  W: number[][];
  b: number[];
}

export interface FixtureOptions {
  version?: number;
  name?: string;
  features: string[];
  sequenceLength?: number;
  normalization?: unknown;
  heads: FixtureHead[];
  /** extra / replaced metadata entries (undefined removes one) */
  metadata?: Record<string, string | undefined>;
  /** produce NaN on every output (a broken model) */
  nan?: boolean;
}

function floatInit(name: string, dims: number[], values: number[]): onnx.ITensorProto {
  return { name, dims, dataType: onnx.TensorProto.DataType.FLOAT, floatData: values };
}

function vi(name: string, dims: Array<number | string>): onnx.IValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  };
}

export function makeModel(o: FixtureOptions): Uint8Array {
  const L = o.sequenceLength ?? 1;
  const F = o.features.length;
  const inputDims: Array<number | string> = L > 1 ? ['N', L, F] : ['N', F];
  const nodes: onnx.INodeProto[] = [{ opType: 'Reshape', input: ['x', 'flat_shape'], output: ['xf'], name: 'flatten' }];
  const inits: onnx.ITensorProto[] = [{ name: 'flat_shape', dims: [2], dataType: onnx.TensorProto.DataType.INT64, int64Data: [-1, L * F] }];
  const outputs: onnx.IValueInfoProto[] = [];
  let src = 'xf';
  if (o.nan) {
    inits.push(floatInit('nan', [1], [NaN]));
    nodes.push({ opType: 'Add', input: ['xf', 'nan'], output: ['xn'], name: 'nan' });
    src = 'xn';
  }
  for (const h of o.heads) {
    const out = h.output ?? h.task;
    const width = h.b.length;
    inits.push(floatInit(`${out}_W`, [L * F, width], h.W.flat()), floatInit(`${out}_b`, [width], h.b));
    nodes.push({ opType: 'Gemm', input: [src, `${out}_W`, `${out}_b`], output: [out], name: `${out}_gemm` });
    outputs.push(vi(out, ['N', width]));
  }
  const heads = o.heads.map(({ W: _W, b: _b, ...rest }) => ({ ...rest, output: rest.output ?? rest.task }));
  const meta: Record<string, string | undefined> = {
    name: o.name ?? 'fixture',
    feature_names: JSON.stringify(o.features),
    heads: JSON.stringify(heads),
    ...(o.normalization ? { normalization: JSON.stringify(o.normalization) } : {}),
    ...o.metadata,
  };
  const model: onnx.IModelProto = {
    irVersion: 8,
    opsetImport: [{ domain: '', version: 13 }],
    producerName: 'test-fixture',
    modelVersion: o.version ?? 1,
    metadataProps: Object.entries(meta).filter(([, v]) => v !== undefined).map(([key, value]) => ({ key, value })),
    graph: { name: 'fixture', node: nodes, initializer: inits, input: [vi('x', inputDims)], output: outputs },
  };
  return onnx.ModelProto.encode(model).finish();
}

/** y = x·W + b for one flat row. */
export function gemmRow(x: ArrayLike<number>, W: number[][], b: number[]): number[] {
  return b.map((bj, j) => {
    let s = bj;
    for (let i = 0; i < x.length; i++) s += x[i] * W[i][j];
    return s;
  });
}

/** A standard three-head fixture over 2 features with a window of `L`. */
export function turbineLike(version = 1, L = 2, scaleBy = 1): FixtureOptions {
  const n = 2 * L;
  const W = (width: number, k: number) => Array.from({ length: n }, (_, i) => Array.from({ length: width }, (_, j) => scaleBy * (((i + 1) * (j + k)) % 5 - 2) / 4));
  return {
    version,
    name: 'fixture-turbine',
    features: ['speed', 'vibration'],
    sequenceLength: L,
    normalization: { type: 'zscore', mean: [3000, 2], std: [100, 0.5] },
    heads: [
      { task: 'state', type: 'classification', labels: ['normal', 'sub-healthy', 'warning', 'fault'], activation: 'softmax', W: W(4, 1), b: [0.1, 0, -0.1, 0.2] },
      { task: 'performance', type: 'regression', names: ['efficiency', 'power'], units: ['%', 'MW'], scale: { mean: [35, 20], std: [2, 5] }, W: W(2, 2), b: [0, 0.5] },
      { task: 'faults', type: 'multilabel', labels: ['bearing', 'blade', 'nozzle'], activation: 'sigmoid', thresholds: [0.5, 0.6, 0.4], W: W(3, 3), b: [0, -0.2, 0.3] },
    ],
  };
}
