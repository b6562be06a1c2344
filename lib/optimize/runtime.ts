/**
 * ONNX Runtime access for the optimiser, through the project's wrapper (lib/infer/session.ts):
 * run a model on named inputs (the wrapper checks names, types and shapes → InputError), read
 * intermediate activations, and measure latency. Sessions run on one intra-op thread so figures
 * compare like with like.
 */
import { Session } from '../infer/session';
import { decodeModel, realInputs, valueShape } from './graph';
import type { onnx } from 'onnx-proto';

export interface NamedTensor {
  shape: number[];
  data: Float32Array;
}
export type Feeds = Record<string, NamedTensor>;

export async function createSession(model: Uint8Array, threads = 1): Promise<Session> {
  return Session.create(model, { intraOpThreads: threads, interOpThreads: 1, graphOptimizationLevel: 'all' });
}

function toFeeds(feeds: Feeds) {
  return Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, { dims: v.shape, data: v.data }]));
}

export async function run(session: Session, feeds: Feeds): Promise<Record<string, NamedTensor>> {
  const res = await session.run(toFeeds(feeds));
  const out: Record<string, NamedTensor> = {};
  for (const [k, t] of Object.entries(res)) out[k] = { shape: [...t.dims], data: Float32Array.from(t.data as ArrayLike<number>) };
  return out;
}

/** The float tensors named in `tensors` for these feeds (intermediate values or outputs). */
export async function collectActivations(model: Uint8Array, tensors: string[], feeds: Feeds): Promise<Record<string, NamedTensor>> {
  const session = await createSession(model);
  try {
    const res = await session.activations(toFeeds(feeds), tensors);
    return Object.fromEntries(Object.entries(res).map(([k, t]) => [k, { shape: [...t.dims], data: Float32Array.from(t.data as ArrayLike<number>) }]));
  } finally {
    await session.release();
  }
}

/** Input shapes with the batch dimension (the first, when symbolic) set to `batch`; other unknown dims → 1. */
export function inputShapes(model: onnx.IModelProto, batch: number): Record<string, number[]> {
  const shapes: Record<string, number[]> = {};
  for (const i of realInputs(model)) {
    const s = valueShape(i);
    shapes[i.name!] = s.map((d, k) => (d > 0 ? d : k === 0 ? batch : 1));
  }
  return shapes;
}

/** Deterministic pseudo-random inputs in [−1, 1) for every model input. */
export function syntheticFeeds(model: onnx.IModelProto, batch: number): Feeds {
  const feeds: Feeds = {};
  let seed = 12345;
  for (const [k, s] of Object.entries(inputShapes(model, batch))) {
    const n = s.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    for (let j = 0; j < n; j++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      data[j] = (seed / 4294967296) * 2 - 1;
    }
    feeds[k] = { shape: s, data };
  }
  return feeds;
}

/** Median latency (ms) over `repeats` runs after `warmup` runs, on synthetic inputs, one thread. */
export async function measureLatency(model: Uint8Array, batch: number, repeats = 20, warmup = 3): Promise<number> {
  const feeds = syntheticFeeds(decodeModel(model), batch);
  const session = await createSession(model);
  try {
    const f = toFeeds(feeds);
    for (let i = 0; i < warmup; i++) await session.run(f);
    const times: number[] = [];
    for (let i = 0; i < repeats; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(f);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)];
  } finally {
    await session.release();
  }
}
