/**
 * Boiler NOx model builder (paper §4.2): a dense MLP regressor, e.g. 256-4096-4096-512-1 at full
 * scale (about 80 MB fp32, the benchmark's model) or a small one the package ships for the example
 * (models/boiler-nox-small.onnx). Weights are He-initialised from a seed, the layers are written as
 * PyTorch exports them (Gemm with transB = 1) or as MatMul + Add.
 *
 *   npx tsx tools/build-boiler-model.ts            → models/boiler-nox-small.onnx + resources/boiler-nox-calibration.json
 */
import * as fs from 'fs';
import * as path from 'path';
import { onnx } from 'onnx-proto';
import { SeededRandom } from '../lib/util/random';
import { encodeModel, makeNode } from '../lib/optimize/graph';
import { tensorToProto, makeTensor } from '../lib/onnx/tensor';

export interface MlpOptions {
  seed?: number;
  /** 'gemm': Gemm with transB = 1 (PyTorch's export); 'matmul': MatMul + Add */
  style?: 'gemm' | 'matmul';
  inputName?: string;
  outputName?: string;
  name?: string;
  /** activation between layers */
  activation?: 'Relu' | 'Tanh';
  /** weight scale multiplier (He init × gain) */
  gain?: number;
  /** explicit weights (row-major [out, in] for gemm style order) instead of random ones */
  weights?: { w: Float32Array; b: Float32Array }[];
}

function valueInfo(name: string, dims: (number | string)[]): onnx.ValueInfoProto {
  return new onnx.ValueInfoProto({
    name,
    type: { tensorType: { elemType: 1, shape: { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } } },
  });
}

/** Random He-initialised layer weights ([out, in] row-major) and small biases. */
export function randomLayers(sizes: number[], seed = 1, gain = 1): { w: Float32Array; b: Float32Array }[] {
  const rng = new SeededRandom(seed);
  const layers = [];
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l];
    const std = gain * Math.sqrt(2 / fanIn);
    const w = new Float32Array(sizes[l + 1] * fanIn);
    for (let i = 0; i < w.length; i++) w[i] = rng.normal(0, std);
    const b = new Float32Array(sizes[l + 1]);
    for (let i = 0; i < b.length; i++) b[i] = rng.normal(0, 0.01);
    layers.push({ w, b });
  }
  return layers;
}

/** Build an MLP ONNX model: input [batch, sizes[0]] → output [batch, sizes.at(-1)]. */
export function buildMlp(sizes: number[], opts: MlpOptions = {}): Buffer {
  const style = opts.style ?? 'gemm';
  const input = opts.inputName ?? 'features';
  const output = opts.outputName ?? 'output';
  const act = opts.activation ?? 'Relu';
  const layers = opts.weights ?? randomLayers(sizes, opts.seed ?? 1, opts.gain ?? 1);
  const nodes: onnx.NodeProto[] = [];
  const inits: onnx.TensorProto[] = [];
  let x = input;
  for (let l = 0; l < layers.length; l++) {
    const [inN, outN] = [sizes[l], sizes[l + 1]];
    const { w, b } = layers[l];
    const last = l === layers.length - 1;
    const y = last ? output : `fc${l + 1}_out`;
    inits.push(tensorToProto(makeTensor('float32', [outN], b), `fc${l + 1}.bias`));
    if (style === 'gemm') {
      inits.push(tensorToProto(makeTensor('float32', [outN, inN], w), `fc${l + 1}.weight`));
      nodes.push(makeNode('Gemm', [x, `fc${l + 1}.weight`, `fc${l + 1}.bias`], [y], `fc${l + 1}`, { alpha: { f: 1 }, beta: { f: 1 }, transB: { i: 1 } }));
    } else {
      const wt = new Float32Array(inN * outN);
      for (let o = 0; o < outN; o++) for (let i = 0; i < inN; i++) wt[i * outN + o] = w[o * inN + i];
      inits.push(tensorToProto(makeTensor('float32', [inN, outN], wt), `fc${l + 1}.weight`));
      nodes.push(makeNode('MatMul', [x, `fc${l + 1}.weight`], [`fc${l + 1}_mm`], `fc${l + 1}_MatMul`));
      nodes.push(makeNode('Add', [`fc${l + 1}_mm`, `fc${l + 1}.bias`], [y], `fc${l + 1}_Add`));
    }
    if (!last) {
      nodes.push(makeNode(act, [y], [`act${l + 1}`], `${act.toLowerCase()}${l + 1}`));
      x = `act${l + 1}`;
    }
  }
  const model = new onnx.ModelProto({
    irVersion: 8,
    producerName: '@industrial-ai/node-red tools/build-boiler-model',
    modelVersion: 1,
    opsetImport: [{ domain: '', version: 13 }],
    metadataProps: [{ key: 'name', value: opts.name ?? 'boiler-nox' }],
    graph: new onnx.GraphProto({
      name: opts.name ?? 'boiler-nox',
      node: nodes,
      initializer: inits,
      input: [valueInfo(input, ['batch', sizes[0]])],
      output: [valueInfo(output, ['batch', sizes[sizes.length - 1]])],
    }),
  });
  return encodeModel(model);
}

/**
 * Simulated boiler operating points (paper §4.2): the NOx target is a smooth function of a few
 * combustion variables (load, excess O2, air staging, coal quality) spread over `width` features.
 */
export function boilerData(count: number, width: number, seed = 7): { x: Float32Array; y: Float32Array } {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(count * width);
  const y = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    const load = rng.uniform(0.4, 1.0);
    const o2 = rng.uniform(2.5, 5.5);
    const staging = rng.uniform(0, 1);
    const nitrogen = rng.uniform(0.8, 1.4);
    for (let j = 0; j < width; j++) {
      const base = [load, (o2 - 4) / 1.5, staging, nitrogen - 1.1][j % 4];
      x[i * width + j] = base + rng.normal(0, 0.05);
    }
    // mg/Nm³ scaled to ~1: thermal NOx rises with load and O2, falls with air staging
    y[i] = 0.3 + 0.5 * load * load + 0.12 * (o2 - 2.5) - 0.2 * staging + 0.25 * (nitrogen - 0.8);
  }
  return { x, y };
}

/** Fit the last layer of a random-feature MLP by least squares, so the small model predicts NOx. */
export function fitBoilerModel(sizes: number[], seed = 1): { w: Float32Array; b: Float32Array }[] {
  const layers = randomLayers(sizes, seed, 1);
  const data = boilerData(2000, sizes[0], seed + 100);
  // hidden activations through all but the last layer
  let h = data.x;
  let width = sizes[0];
  for (let l = 0; l < layers.length - 1; l++) {
    const out = sizes[l + 1];
    const next = new Float32Array(2000 * out);
    for (let s = 0; s < 2000; s++) for (let o = 0; o < out; o++) {
      let v = layers[l].b[o];
      for (let i = 0; i < width; i++) v += h[s * width + i] * layers[l].w[o * width + i];
      next[s * out + o] = Math.max(0, v);
    }
    h = next;
    width = out;
  }
  // ridge regression for the single output: (HᵀH + λI) w = Hᵀy, with a bias column
  const d = width + 1;
  const A = new Float64Array(d * d);
  const r = new Float64Array(d);
  for (let s = 0; s < 2000; s++) {
    for (let i = 0; i < d; i++) {
      const hi = i < width ? h[s * width + i] : 1;
      r[i] += hi * data.y[s];
      for (let j = 0; j < d; j++) A[i * d + j] += hi * (j < width ? h[s * width + j] : 1);
    }
  }
  for (let i = 0; i < d; i++) A[i * d + i] += 1e-3;
  const sol = solve(A, r, d);
  const last = layers[layers.length - 1];
  last.w = Float32Array.from(sol.slice(0, width));
  last.b = Float32Array.from([sol[width]]);
  return layers;
}

function solve(A: Float64Array, b: Float64Array, n: number): Float64Array {
  const M = Float64Array.from(A);
  const x = Float64Array.from(b);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r * n + c]) > Math.abs(M[p * n + c])) p = r;
    if (p !== c) {
      for (let k = 0; k < n; k++) [M[c * n + k], M[p * n + k]] = [M[p * n + k], M[c * n + k]];
      [x[c], x[p]] = [x[p], x[c]];
    }
    for (let r = c + 1; r < n; r++) {
      const f = M[r * n + c] / M[c * n + c];
      for (let k = c; k < n; k++) M[r * n + k] -= f * M[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let c = n - 1; c >= 0; c--) {
    let v = x[c];
    for (let k = c + 1; k < n; k++) v -= M[c * n + k] * x[k];
    x[c] = v / M[c * n + c];
  }
  return x;
}

if (require.main === module) {
  const root = path.join(__dirname, '..');
  const sizes = [16, 64, 64, 32, 1];
  const bytes = buildMlp(sizes, { weights: fitBoilerModel(sizes, 3), outputName: 'nox', name: 'boiler-nox-small' });
  fs.mkdirSync(path.join(root, 'models'), { recursive: true });
  fs.writeFileSync(path.join(root, 'models', 'boiler-nox-small.onnx'), bytes);
  const data = boilerData(64, sizes[0], 99);
  fs.mkdirSync(path.join(root, 'resources'), { recursive: true });
  const toList = (a: Float32Array) => Array.from(a, (v) => Math.round(v * 1e5) / 1e5);
  fs.writeFileSync(path.join(root, 'resources', 'boiler-nox-validation.json'), JSON.stringify({
    inputs: { features: { shape: [64, sizes[0]], data: toList(data.x) } },
    expected: { nox: { shape: [64, 1], data: toList(data.y) } },
  }));
  console.log(`models/boiler-nox-small.onnx: ${bytes.length} bytes; resources/boiler-nox-validation.json: 64 samples`);
}
