/**
 * The optimiser's worker thread (the Node-RED event loop never blocks on SVDs or ONNX Runtime):
 * receives { id, job: { model, spec, calibration?, validation?, training? } }, runs jobs one after another,
 * posts { id, type: 'progress' } messages, then { id, type: 'result', model, report } or
 * { id, type: 'error', message, field? }. It stays alive between jobs (see run-in-worker.ts).
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
  training?: unknown;
}

export type WorkerReply = { id: number } & (
  | { type: 'progress'; fraction: number; stage: string }
  | { type: 'result'; model: Uint8Array; report: unknown }
  | { type: 'error'; message: string; name: string; field?: string; expected?: string });

type Reply = WorkerReply extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

async function runJob(id: number, job: WorkerJob): Promise<void> {
  const post = (m: Reply, transfer?: ArrayBuffer[]) => parentPort!.postMessage({ id, ...m }, transfer);
  try {
    const options = chainOptions(job.spec);
    if (job.calibration !== undefined) options.calibration = parseDataSet(job.calibration, 'calibration');
    if (job.validation !== undefined) options.validation = parseDataSet(job.validation, 'validation');
    if (job.training !== undefined) options.training = parseDataSet(job.training, 'training');
    options.onProgress = (fraction, stage) => post({ type: 'progress', fraction, stage });
    const { model, report } = await optimize(Buffer.from(job.model), options);
    const copy = new Uint8Array(model);
    post({ type: 'result', model: copy, report }, [copy.buffer as ArrayBuffer]);
  } catch (e) {
    const err = e as Error;
    post({ type: 'error', message: err.message, name: err.name, field: e instanceof InputError ? e.field : undefined, expected: e instanceof InputError ? e.expected : undefined });
  }
}

if (parentPort && (workerData as { optimizer?: boolean } | null)?.optimizer) {
  let chain = Promise.resolve();
  parentPort.on('message', ({ id, job }: { id: number; job: WorkerJob }) => {
    chain = chain.then(() => runJob(id, job));
  });
}
