/**
 * prune-quantize: optimises the ONNX model a message carries (lib/optimize) in a worker thread,
 * one model at a time (later messages wait, their done() held until they are processed), with the
 * stage and progress in the status. Outputs the optimised model (Buffer, and a file when a path is
 * configured) and the report.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { onInput, type Done, type Send } from '../shared/adapter';
import { InputError } from '../../lib/errors';
import { resolveUserPath } from '../../lib/paths';
import { specFromConfig, type ChainSpec, type RawNodeConfig } from '../../lib/optimize/options';
import { runInWorker, type WorkerRun } from '../../lib/optimize/run-in-worker';

type Def = NodeDef & RawNodeConfig & { outputPath?: string; calibrationFile?: string; validationFile?: string; trainingFile?: string; maxQueue?: string | number };

interface Job {
  msg: any;
  send: Send;
  done: Done;
}

const MAX_QUEUE_DEFAULT = 10;

export = function register(RED: NodeAPI): void {
  function PruneQuantizeNode(this: Node, def: Def) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the node, used in closures
    const node = this;
    const userDir = ((RED.settings as unknown as { userDir?: string }).userDir) ?? process.cwd();
    let spec: ChainSpec | null = null;
    let configError: Error | null = null;
    const maxQueue = Number(def.maxQueue) > 0 ? Math.floor(Number(def.maxQueue)) : MAX_QUEUE_DEFAULT;
    try {
      spec = specFromConfig(def);
    } catch (err) {
      configError = err instanceof Error ? err : new Error(String(err));
      node.status({ fill: 'red', shape: 'ring', text: configError.message.slice(0, 60) });
      node.error(configError.message);
    }
    const queue: Job[] = [];
    let running: { job: Job; run: WorkerRun } | null = null;
    let closing = false;
    const stats = { processed: 0, failed: 0 };
    if (spec) node.status({ fill: 'grey', shape: 'ring', text: RED._('prune-quantize.status.idle') });

    const readFileData = (file: string | undefined, field: string): unknown => {
      if (!file) return undefined;
      const p = resolveUserPath(file, userDir);
      try {
        return JSON.parse(fs.readFileSync(p, 'utf8'));
      } catch (e) {
        throw new InputError(field, 'a readable JSON data file', file, (e as Error).message);
      }
    };

    const modelOf = (msg: any): { bytes: Buffer; source?: string } => {
      if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array) return { bytes: Buffer.from(msg.payload) };
      const p = typeof msg.model?.path === 'string' ? msg.model.path : typeof msg.payload === 'string' ? msg.payload : undefined;
      if (!p) throw new InputError('payload', 'a Buffer of ONNX bytes, or a model path in msg.model.path', msg.payload);
      const file = resolveUserPath(p, userDir);
      try {
        return { bytes: fs.readFileSync(file), source: file };
      } catch (e) {
        throw new InputError('model.path', 'a readable ONNX file', p, (e as Error).message);
      }
    };

    const next = () => {
      if (running || closing) return;
      const job = queue.shift();
      if (!job) return;
      const { msg, send, done } = job;
      let model: { bytes: Buffer; source?: string };
      let calibration: unknown;
      let validation: unknown;
      let training: unknown;
      try {
        model = modelOf(msg);
        calibration = msg.calibration ?? readFileData(def.calibrationFile, 'calibrationFile');
        validation = msg.validation ?? readFileData(def.validationFile, 'validationFile');
        training = msg.training ?? readFileData(def.trainingFile, 'trainingFile');
        if (training !== undefined && !spec!.finetuneEpochs) throw new InputError('training', 'fine-tuning epochs set in the node (training data is only used for fine-tuning)', 'fine-tuning off');
        if (training === undefined && spec!.finetuneEpochs) throw new InputError('training', 'training data { inputs, expected } for fine-tuning (msg.training or the Training file)', undefined);
      } catch (e) {
        stats.failed++;
        done(e as Error);
        return next();
      }
      const outFile = def.outputPath ? resolveUserPath(def.outputPath, userDir) : undefined;
      if (outFile && model.source && path.resolve(outFile) === path.resolve(model.source)) {
        stats.failed++;
        done(new InputError('outputPath', 'a path other than the input model (the input is never overwritten)', def.outputPath));
        return next();
      }
      node.status({ fill: 'blue', shape: 'dot', text: RED._('prune-quantize.status.starting', { queued: queue.length }) });
      const run = runInWorker({ model: new Uint8Array(model.bytes), spec: spec!, calibration, validation, training }, (f, stage) => {
        node.status({ fill: 'blue', shape: 'dot', text: `${stage} ${Math.round(f * 100)}%${queue.length ? ` (+${queue.length})` : ''}` });
      });
      running = { job, run };
      run.result.then(
        ({ model: out, report }) => {
          running = null;
          if (closing) return done();
          if (outFile) {
            const tmp = `${outFile}.${process.pid}.tmp`;
            fs.mkdirSync(path.dirname(outFile), { recursive: true });
            fs.writeFileSync(tmp, out);
            fs.renameSync(tmp, outFile);
            msg.filename = outFile;
          }
          const sha256 = crypto.createHash('sha256').update(out).digest('hex');
          msg.payload = out;
          msg.model = { ...(typeof msg.model === 'object' && msg.model ? msg.model : {}), sha256, metrics: { ...report.ratios, maxAbsDiff: report.maxAbsDiff } };
          if (outFile) msg.model.path = outFile;
          else delete msg.model.path;
          msg.report = report;
          stats.processed++;
          let speed = report.ratios.speedupBatch1 ? `, ×${report.ratios.speedupBatch1.toFixed(1)}` : '';
          const ft = report.steps?.finetune;
          if (ft) speed += `, ${RED._('prune-quantize.status.tuned', { before: ft.lossBefore.toPrecision(2), after: ft.lossAfter.toPrecision(2) })}`;
          node.status({ fill: 'green', shape: 'dot', text: RED._('prune-quantize.status.done', { size: (report.ratios.bytes * 100).toFixed(0), speed }) });
          send(msg);
          done();
          next();
        },
        (err: Error) => {
          running = null;
          if (closing) return done();
          stats.failed++;
          node.status({ fill: 'red', shape: 'ring', text: err.message.slice(0, 60) });
          done(err);
          next();
        },
      );
    };

    onInput(node, (msg, send, done) => {
      if (msg.control !== undefined) {
        if (msg.control === 'stats') {
          send({ control: 'stats', payload: { ...stats, running: running ? 1 : 0, queued: queue.length } } as any);
          return;
        }
        if (msg.control === 'cancel') {
          const n = queue.length + (running ? 1 : 0);
          for (const j of queue.splice(0)) j.done();
          void running?.run.cancel();
          send({ control: 'cancel', payload: { cancelled: n } } as any);
          return;
        }
        throw new InputError('control', "'stats' or 'cancel'", msg.control);
      }
      if (!spec) throw configError ?? new Error('prune-quantize is not configured');
      if (queue.length >= maxQueue) throw new InputError('payload', `at most ${maxQueue} models waiting`, `${queue.length} waiting`, 'queue full: message dropped');
      queue.push({ msg, send, done });
      next();
      return 'held';
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      for (const j of queue.splice(0)) j.done();
      const r = running;
      running = null;
      if (r) {
        // the cancelled run's rejection handler calls the held message's done()
        r.run.cancel().then(() => done(), () => done());
      } else done();
    });
  }
  RED.nodes.registerType('prune-quantize', PruneQuantizeNode);
};
