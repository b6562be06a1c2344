/**
 * Runs one optimisation chain in a worker thread (the Node-RED event loop never blocks on SVDs or
 * ONNX Runtime): receives { model, spec, calibration?, validation? }, posts { type: 'progress' }
 * messages, then { type: 'result', model, report } or { type: 'error', message, field? }.
 */
import { parentPort, workerData } from 'worker_threads';
import { InputError } from '../errors';
import { parseDataSet } from './data';
import { optimize } from './optimize';
import { chainOptions, type ChainSpec } from './options';

export interface WorkerJob {
  model: Uint8Array;
  spec: ChainSpec;
  calibration?: unknown;
  validation?: unknown;
}

export type WorkerReply =
  | { type: 'progress'; fraction: number; stage: string }
  | { type: 'result'; model: Uint8Array; report: unknown }
  | { type: 'error'; message: string; name: string; field?: string; expected?: string };

async function runJob(job: WorkerJob): Promise<void> {
  const post = (m: WorkerReply, transfer?: ArrayBuffer[]) => parentPort!.postMessage(m, transfer);
  try {
    const options = chainOptions(job.spec);
    if (job.calibration !== undefined) options.calibration = parseDataSet(job.calibration, 'calibration');
    if (job.validation !== undefined) options.validation = parseDataSet(job.validation, 'validation');
    options.onProgress = (fraction, stage) => post({ type: 'progress', fraction, stage });
    const { model, report } = await optimize(Buffer.from(job.model), options);
    const copy = new Uint8Array(model);
    post({ type: 'result', model: copy, report }, [copy.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as Error;
    post({ type: 'error', message: err.message, name: err.name, field: e instanceof InputError ? e.field : undefined, expected: e instanceof InputError ? e.expected : undefined });
  }
}

if (parentPort && workerData && (workerData as { job?: WorkerJob }).job) {
  runJob((workerData as { job: WorkerJob }).job);
}
