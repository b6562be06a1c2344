/**
 * Start worker.ts in a worker thread for one job; resolve with the optimised model and report.
 * Under tsx (tests, benches) the TypeScript worker is loaded through tsx's require hook.
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { InputError } from '../errors';
import type { WorkerJob, WorkerReply } from './worker';

export interface WorkerRun {
  result: Promise<{ model: Buffer; report: any }>;
  /** stop the worker; the result rejects with 'cancelled' */
  cancel(): Promise<void>;
}

export function runInWorker(job: WorkerJob, onProgress?: (fraction: number, stage: string) => void): WorkerRun {
  const js = path.join(__dirname, 'worker.js');
  const file = fs.existsSync(js) ? js : path.join(__dirname, 'worker.ts');
  const execArgv = file.endsWith('.ts') ? ['--require', require.resolve('tsx/cjs')] : [];
  const worker = new Worker(file, { workerData: { job }, execArgv });
  let settled = false;
  const result = new Promise<{ model: Buffer; report: any }>((resolve, reject) => {
    worker.on('message', (m: WorkerReply) => {
      if (m.type === 'progress') onProgress?.(m.fraction, m.stage);
      else if (m.type === 'result') {
        settled = true;
        resolve({ model: Buffer.from(m.model.buffer, m.model.byteOffset, m.model.byteLength), report: m.report });
        void worker.terminate();
      } else {
        settled = true;
        const err = m.name === 'InputError' && m.field ? Object.assign(new InputError(m.field, m.expected ?? 'valid input'), { message: m.message }) : Object.assign(new Error(m.message), { name: m.name });
        reject(err);
        void worker.terminate();
      }
    });
    worker.on('error', (e) => {
      if (!settled) { settled = true; reject(e); }
    });
    worker.on('exit', (code) => {
      if (!settled) { settled = true; reject(new Error(code === 1 ? 'cancelled' : `optimiser worker exited with code ${code}`)); }
    });
  });
  return {
    result,
    cancel: async () => {
      await worker.terminate();
    },
  };
}
