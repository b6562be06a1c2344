/**
 * Runs ONNX's backend test cases (libonnx-testdata: each case is model.onnx plus test_data_set_N
 * directories of input_K.pb and output_K.pb) through the executor and compares with the expected
 * outputs: |a − b| ≤ atol + rtol·|b| element-wise (NaN matches NaN, ±∞ must be equal).
 * A case the executor does not claim to run is *excluded* with the reason (unsupported op, a
 * data type tfjs lacks, training mode, random op); everything else passes or fails.
 */
import * as fs from 'fs';
import * as path from 'path';
import { OnnxModel } from '../model';
import { Tensor as OnnxTensor, decodeTensor } from '../tensor';
import { GraphExecutor, unsupportedNodes } from './graph';
import { tfDtypeOf, typeOfCode, toTf } from './tensor';
import type { TF } from './types';

/** libonnx-testdata's data directory (env ONNX_TESTDATA overrides, e.g. to check the suite's behaviour without it). */
export const DEFAULT_TESTDATA = process.env.ONNX_TESTDATA || '/usr/share/libonnx-testdata/data';

export interface CaseResult {
  name: string;
  status: 'pass' | 'fail' | 'excluded';
  reason?: string;
  /** Largest |a − b| seen over all outputs (pass/fail). */
  maxAbsDiff?: number;
}

const RANDOM_OPS = new Set(['RandomUniform', 'RandomUniformLike', 'RandomNormal', 'RandomNormalLike', 'Bernoulli', 'Multinomial']);

/** Compare a result with an expected tensor; undefined when they match, else what differs. */
export function compareTensors(got: OnnxTensor, want: OnnxTensor, atol: number, rtol: number): { error?: string; maxAbs: number } {
  if (got.dims.length !== want.dims.length || got.dims.some((d, i) => d !== want.dims[i])) {
    return { error: `shape [${got.dims}] differs from expected [${want.dims}]`, maxAbs: Infinity };
  }
  const a = Array.from(got.data as ArrayLike<number | bigint>, Number);
  const b = Array.from(want.data as ArrayLike<number | bigint>, Number);
  let maxAbs = 0;
  for (let i = 0; i < b.length; i++) {
    const x = a[i];
    const y = b[i];
    if (Number.isNaN(y) && Number.isNaN(x)) continue;
    if (!Number.isFinite(y) || !Number.isFinite(x)) {
      if (x !== y) return { error: `element ${i}: ${x} vs expected ${y}`, maxAbs: Infinity };
      continue;
    }
    const d = Math.abs(x - y);
    maxAbs = Math.max(maxAbs, d);
    if (!(d <= atol + rtol * Math.abs(y))) return { error: `element ${i}: ${x} vs expected ${y} (|diff| ${d.toExponential(2)})`, maxAbs: d };
  }
  return { maxAbs };
}

/** Why the executor does not claim this case, or undefined when it should run it. */
export function exclusionReason(model: OnnxModel): string | undefined {
  const nodes = model.proto.graph?.node ?? [];
  const random = nodes.filter(n => RANDOM_OPS.has(n.opType ?? ''));
  if (random.length) return `random op ${random[0].opType}`;
  for (const n of nodes) {
    const train = (n.attribute ?? []).find(a => a.name === 'training_mode');
    if (train && Number(train.i ?? 0) !== 0) return `training mode (${n.opType} training_mode=1)`;
    if (n.opType === 'Dropout' && (n.input ?? [])[2]) return 'training mode (Dropout training_mode input)';
    if (n.opType === 'MaxPool' && (n.output ?? []).filter(o => o).length > 1) return 'MaxPool Indices output (int64 argmax positions) not supported';
    if (n.opType === 'BatchNormalization' && (n.output ?? []).filter(o => o).length > 1) return 'training mode (BatchNormalization statistics outputs)';
  }
  const bad = unsupportedNodes(model);
  if (bad.length) return `unsupported op ${[...new Set(bad.map(b => (b.domain ? `${b.domain}.` : '') + b.opType))].join(', ')}`;
  for (const v of [...(model.proto.graph?.input ?? []), ...(model.proto.graph?.output ?? [])]) {
    const tt = v.type?.tensorType;
    if (!tt) return `non-tensor value '${v.name}' (sequence/optional)`;
    const type = typeOfCode(tt.elemType ?? 0);
    if (!type || !tfDtypeOf(type)) return `data type ${type ?? tt.elemType} (tfjs has float32, int32, bool)`;
  }
  for (const n of nodes) {
    if (n.opType === 'Cast' || n.opType === 'CastLike') {
      const to = (n.attribute ?? []).find(a => a.name === 'to');
      const type = to ? typeOfCode(Number(to.i)) : undefined;
      if (to && (!type || !tfDtypeOf(type))) return `data type ${type} (Cast target; tfjs has float32, int32, bool)`;
    }
  }
  return undefined;
}

function readSets(dir: string): { inputs: OnnxTensor[]; outputs: OnnxTensor[] }[] {
  const sets = fs.readdirSync(dir).filter(d => d.startsWith('test_data_set_')).sort();
  return sets.map(s => {
    const files = fs.readdirSync(path.join(dir, s));
    const read = (prefix: string) => files.filter(f => f.startsWith(prefix) && f.endsWith('.pb'))
      .sort((x, y) => Number(x.replace(/\D/g, '')) - Number(y.replace(/\D/g, '')))
      .map(f => decodeTensor(fs.readFileSync(path.join(dir, s, f))));
    return { inputs: read('input_'), outputs: read('output_') };
  });
}

/** Run one case directory. Uses the current tfjs backend. */
export function runCase(tf: TF, dir: string, atol = 1e-4, rtol = 1e-4): CaseResult {
  const name = path.basename(dir);
  let model: OnnxModel;
  try {
    model = OnnxModel.load(path.join(dir, 'model.onnx'));
  } catch (e) {
    return { name, status: 'excluded', reason: `model does not load: ${(e as Error).message}` };
  }
  const why = exclusionReason(model);
  if (why) return { name, status: 'excluded', reason: why };
  let sets: ReturnType<typeof readSets>;
  try {
    sets = readSets(dir);
  } catch (e) {
    return { name, status: 'excluded', reason: `test data unreadable: ${(e as Error).message}` };
  }
  let exec: GraphExecutor | undefined;
  let maxAbs = 0;
  try {
    exec = new GraphExecutor(tf, model, { trainable: [] });
    for (const [si, set] of sets.entries()) {
      const feeds: Record<string, ReturnType<typeof toTf>> = {};
      const names = exec.inputNames;
      set.inputs.forEach((t, i) => {
        const key = t.name && names.includes(t.name) ? t.name : names[i];
        feeds[key] = toTf(tf, t, `input '${key}'`);
      });
      try {
        const outs = exec.run(feeds);
        for (const [i, want] of set.outputs.entries()) {
          const key = want.name && exec.outputNames.includes(want.name) ? want.name : exec.outputNames[i];
          const got = outs[key];
          const cmp = compareTensors(got, want, atol, rtol);
          maxAbs = Math.max(maxAbs, cmp.maxAbs);
          if (cmp.error) return { name, status: 'fail', reason: `set ${si} output '${key}': ${cmp.error}`, maxAbsDiff: cmp.maxAbs };
        }
      } finally {
        for (const t of Object.values(feeds)) t.dispose();
      }
    }
    return { name, status: 'pass', maxAbsDiff: maxAbs };
  } catch (e) {
    return { name, status: 'fail', reason: (e as Error).message.split('\n')[0] };
  } finally {
    exec?.dispose();
  }
}

/** Every case under `root/<suite>`, sorted by name. */
export function runSuite(tf: TF, root: string, suite: string, atol?: number, rtol?: number): CaseResult[] {
  const dir = path.join(root, suite);
  return fs.readdirSync(dir).filter(d => fs.existsSync(path.join(dir, d, 'model.onnx'))).sort()
    .map(d => runCase(tf, path.join(dir, d), atol, rtol));
}
