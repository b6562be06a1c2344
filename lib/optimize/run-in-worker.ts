/**
 * Run optimisation jobs in one worker thread shared by the process (worker.ts), started on first use
 * and kept: jobs run one after another; the worker is unref'd while idle so it never holds the
 * process open. Under tsx (tests, benches) the TypeScript worker is loaded through tsx's hook.
 *
 * Why one long-lived worker and no terminate() (measured here, Node 20, onnxruntime-node 1.17.0):
 * once a worker that loaded the addon has exited, a new worker cannot load it ("Module did not
 * self-register") unless the main thread loaded it first; and terminating a worker that used ONNX
 * Runtime while the main thread runs sessions crashed the process (free(): invalid next size).
 * So a cancelled job is abandoned (its result ignored), not killed.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { InputError } from '../errors';
import { loadRuntime } from '../infer/session';
import type { WorkerJob, WorkerReply } from './worker';

export interface WorkerRun {
  result: Promise<{ model: Buffer; report: any }>;
  /** abandon the job: its result rejects with 'cancelled' now; the worker finishes it unseen */
  cancel(): Promise<void>;
}

interface Pending {
  resolve: (r: { model: Buffer; report: any }) => void;
  reject: (e: Error) => void;
  onProgress?: (fraction: number, stage: string) => void;
}

let worker: Worker | null = null;
let nextId = 1;
const pending = new Map<number, Pending>();

function refresh(): void {
  if (!worker) return;
  if (pending.size > 0) worker.ref();
  else worker.unref();
}

function getWorker(): Worker {
  if (worker) return worker;
  loadRuntime(); // the main thread holds the addon (see above)
  const js = path.join(__dirname, 'worker.js');
  const file = fs.existsSync(js) ? js : path.join(__dirname, 'worker.ts');
  const execArgv = file.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
  const w = new Worker(file, { workerData: { optimizer: true }, execArgv });
  w.on('message', (m: WorkerReply) => {
    const p = pending.get(m.id);
    if (!p) return; // abandoned job
    if (m.type === 'progress') return p.onProgress?.(m.fraction, m.stage);
    pending.delete(m.id);
    refresh();
    if (m.type === 'result') p.resolve({ model: Buffer.from(m.model.buffer, m.model.byteOffset, m.model.byteLength), report: m.report });
    else {
      const err = m.name === 'InputError' && m.field ? new InputError(m.field, m.expected ?? 'valid input') : new Error(m.message);
      err.message = m.message;
      if (m.name !== 'InputError') err.name = m.name;
      p.reject(err);
    }
  });
  const fail = (e: Error) => {
    worker = null;
    for (const [id, p] of pending) {
      pending.delete(id);
      p.reject(e);
    }
  };
  w.on('error', fail);
  w.on('exit', (code) => fail(new Error(`optimiser worker exited with code ${code}`)));
  worker = w;
  return w;
}

export function runInWorker(job: WorkerJob, onProgress?: (fraction: number, stage: string) => void): WorkerRun {
  const id = nextId++;
  const w = getWorker();
  const result = new Promise<{ model: Buffer; report: any }>((resolve, reject) => {
    pending.set(id, { resolve, reject, onProgress });
  });
  refresh();
  const copy = new Uint8Array(job.model);
  w.postMessage({ id, job: { ...job, model: copy } }, [copy.buffer as ArrayBuffer]);
  return {
    result,
    cancel: async () => {
      const p = pending.get(id);
      if (!p) return;
      pending.delete(id);
      refresh();
      p.reject(new Error('cancelled'));
    },
  };
}
