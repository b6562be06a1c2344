/**
 * multitask-infer: runs the multi-head ONNX model of an onnx-model config node on records.
 * Output 1: msg.payload = { [task]: result }, msg.model = { name, version, sha256 }, msg.features =
 * the record that went in. Output 2: model events (installed / refused / restored) and control answers.
 */
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { onInput, configNumber, type Send } from '../shared/adapter';
import { InputMapper, type MappedInput } from '../../lib/infer/input-mapping';
import { LatencyWindow } from '../../lib/infer/latency-window';
import { MicroBatcher, MUST_WAIT } from '../../lib/infer/micro-batcher';
import { Throttle } from '../../lib/infer/throttle';
import type { HeadResult } from '../../lib/infer/heads';
import type { LoadedModel, ModelEvent, ModelHolder } from '../../lib/infer/model-holder';
import type { ModelSpec } from '../../lib/infer/model-spec';
import { resolveUserPath } from '../../lib/paths';
import { InputError } from '../../lib/errors';

interface MultitaskInferDef extends NodeDef {
  model: string;
  property?: string;
  fields?: string;
  partial?: 'wait' | 'pad';
  windowPerTopic?: boolean;
  maxBatch?: string | number;
  maxWait?: string | number;
  maxPending?: string | number;
}

interface Item {
  model: LoadedModel;
  row: Float32Array;
}

/** One record's answer: msg.payload[task] for every head. */
type Answer = Record<string, HeadResult>;

/** Status refreshes on messages: at most one per this many ms. */
const STATUS_INTERVAL_MS = 250;

export = function register(RED: NodeAPI): void {
  function MultitaskInfer(this: Node, config: MultitaskInferDef) {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors keep `this` for callbacks
    const node = this;
    const modelNode = RED.nodes.getNode(config.model) as any;
    let configError: string | undefined;
    let batcher: MicroBatcher<Item, Answer> | undefined;
    let mapper: InputMapper | undefined;
    let mappedFor: LoadedModel | undefined;
    /** The row of a record answered at once (reused: a record that has to wait gets its own copy). */
    let scratchRow: Float32Array | undefined;
    const latency = new LatencyWindow();
    let answered = 0;
    let errors = 0;
    const statusDue = new Throttle(STATUS_INTERVAL_MS);

    const property = (config.property || 'payload').trim();
    const fields = (config.fields || '').split(',').map((s) => s.trim()).filter(Boolean);
    const partial = config.partial === 'pad' ? 'pad' : 'wait';
    try {
      if (!modelNode || !modelNode.holder) throw new Error('config model: choose an onnx-model config node');
      const maxBatch = configNumber(config.maxBatch, 'maxBatch', 1);
      const maxWait = configNumber(config.maxWait, 'maxWait', 5);
      const maxPending = configNumber(config.maxPending, 'maxPending', 1000);
      if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error('config maxBatch: expected an integer ≥ 1');
      if (maxWait < 0) throw new Error('config maxWait: expected ≥ 0 ms');
      if (!Number.isInteger(maxPending) || maxPending < 1) throw new Error('config maxPending: expected an integer ≥ 1');
      batcher = new MicroBatcher<Item, Answer>({ maxBatch, maxWaitMs: maxWait, maxPending }, runBatch);
    } catch (err) {
      configError = (err as Error).message;
      node.error(configError);
      node.status({ fill: 'red', shape: 'ring', text: configError });
    }
    const holder: ModelHolder | undefined = modelNode?.holder;

    const validator = (spec: ModelSpec): string | undefined =>
      fields.length > 0 && fields.length !== spec.featureNames.length
        ? `node "${node.name || node.id}" maps ${fields.length} fields, the model takes ${spec.featureNames.length} features (${spec.featureNames.join(', ')})`
        : undefined;

    function mapperFor(m: LoadedModel): InputMapper {
      if (mapper && mappedFor === m) return mapper;
      const spec = m.spec;
      const next = new InputMapper({ fields: fields.length ? fields : spec.featureNames, sequenceLength: spec.sequenceLength, normalization: spec.normalization, partial, property: `msg.${property}` });
      if (mapper && next.compatibleWith(mapper)) next.adoptWindows(mapper);
      mapper = next;
      mappedFor = m;
      scratchRow = new Float32Array(next.sequenceLength * next.width);
      return next;
    }

    function showModel(extra = ''): void {
      const m = holder?.current;
      if (!m) return;
      const p50 = latency.quantile(0.5);
      const text = `${m.spec.name} v${m.spec.version}` + (p50 !== undefined ? ` · ${p50.toFixed(2)} ms p50` : '') + (extra ? ` · ${extra}` : '');
      node.status({ fill: errors > 0 && answered === 0 ? 'yellow' : 'green', shape: 'dot', text });
    }

    /** One item on the caller's stack (models whose `runsSync` is true): run, decode, time it. */
    function runItemNow(item: Item): Answer {
      const m = item.model;
      const t0 = performance.now();
      const out = holder!.runSync(m, [item.row]);
      const answer = m.decoder.decode(out, 0, 1);
      latency.add(performance.now() - t0);
      return answer;
    }

    async function runBatch(items: Item[]): Promise<Answer[]> {
      if (items.length === 1) {
        // batch 1 (the usual case at low rates): no grouping, no copies
        const m = items[0].model;
        const t0 = performance.now();
        const out = await holder!.run(m, [items[0].row]);
        const decoded = [m.decoder.decode(out, 0, 1)];
        latency.add(performance.now() - t0);
        return decoded;
      }
      const answers: Answer[] = [];
      // A batch may span a swap: run each consecutive group on the model it was mapped for.
      for (let i = 0; i < items.length; ) {
        let j = i + 1;
        while (j < items.length && items[j].model === items[i].model) j++;
        const m = items[i].model;
        const t0 = performance.now();
        const out = await holder!.run(m, items.slice(i, j).map((it) => it.row));
        const decoded = m.decoder.decodeBatch(out, j - i);
        latency.add(performance.now() - t0);
        answers.push(...decoded);
        i = j;
      }
      return answers;
    }

    function modelEvent(ev: ModelEvent, send: Send): void {
      send([null, { control: 'model-event', payload: ev, model: ev.model }]);
    }

    /** Settles when the configured file is loaded (or failed) and the model is live for this node. */
    let modelReady: Promise<unknown> = Promise.resolve();
    let attachError: Error | undefined;

    if (holder && !configError) {
      holder.addValidator(validator); // before register: a reload for this node is checked against it too
      // a user of the shared model from now until close: a released session is loaded again for it
      const attached = modelNode.register(node).catch((err: Error) => {
        attachError = new Error(`model: ${err.message}`);
      });
      let fileError: Error | undefined;
      modelReady = Promise.all([modelNode.ready.catch((err: Error) => (fileError = err)), attached]);
      const onSwap = () => showModel();
      holder.on('swap', onSwap);
      node.status({ fill: 'grey', shape: 'ring', text: 'loading model' });
      modelReady.then(() => {
        if (holder.current) showModel();
        else if (attachError) node.status({ fill: 'red', shape: 'ring', text: attachError.message });
        else if (fileError) node.status({ fill: 'red', shape: 'ring', text: `model: ${fileError.message}` });
        else node.status({ fill: 'grey', shape: 'ring', text: 'waiting for a model message' });
      });
      node.on('close', (done: () => void) => {
        holder.removeListener('swap', onSwap);
        holder.removeValidator(validator);
        const finish = () => {
          modelNode.deregister(node); // the last user releases the session
          done();
        };
        (batcher ? batcher.close() : Promise.resolve()).then(finish, finish);
      });
    }

    /** A model message: ONNX bytes in msg.payload, or msg.model.path (without a record in msg.payload). */
    function isModelMessage(msg: Record<string, any>): boolean {
      if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array) return true;
      const announced = msg.model && typeof msg.model === 'object' ? msg.model : undefined;
      return !!announced && typeof announced.path === 'string' && (msg.payload === undefined || msg.payload === null || typeof msg.payload !== 'object');
    }

    async function handleControl(msg: Record<string, any>, send: Send): Promise<void> {
      const control = msg.control;
      await modelReady;
      if (control === 'restore') {
        const ev = await holder!.restore();
        modelEvent(ev, send);
        showModel(ev.event === 'refused' ? 'restore refused' : 'restored');
      } else if (control === 'reset') {
        mapper?.reset();
        send([null, { ...msg, payload: { reset: true } }]);
      } else if (control === 'stats') {
        const m = holder!.current;
        send([null, {
          ...msg,
          payload: {
            model: m?.identity, runIn: m?.runner.kind, answered, errors,
            latencyMs: { p50: latency.quantile(0.5), p99: latency.quantile(0.99) },
            pending: batcher!.pending, recentBatchSizes: batcher!.recentSizes.slice(-10), restorable: holder!.restorable,
          },
        }]);
      } else if (control !== 'model-event') {
        throw new InputError('msg.control', "'restore', 'reset' or 'stats'", control);
      }
    }

    async function handleModelMessage(msg: Record<string, any>, send: Send): Promise<void> {
      const announced = msg.model && typeof msg.model === 'object' ? msg.model : undefined;
      let bytes: Uint8Array;
      if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array) bytes = new Uint8Array(msg.payload);
      else bytes = new Uint8Array(await fs.promises.readFile(resolveUserPath(announced!.path, (RED.settings as any).userDir || process.cwd())));
      await modelReady;
      const ev = await holder!.swap(bytes, announced?.path ?? 'message', { sha256: announced?.sha256, version: typeof announced?.version === 'number' ? announced.version : undefined });
      modelEvent(ev, send);
      if (ev.event === 'refused') {
        node.warn(`model refused: ${ev.reason}`);
        showModel('swap refused');
      }
    }

    /** Before the first model is installed: wait for the configured file, or fail the message. */
    async function whenModelLoaded(): Promise<void> {
      await modelReady;
      if (!holder!.current) {
        throw attachError ?? modelNode.loadError ?? new Error('no model loaded yet: send a model message or set a file in the onnx-model node');
      }
    }

    /**
     * A record (or a sequence of records). When the model runs synchronously and nothing is
     * waiting, it is answered before this returns (no promise: see MicroBatcher.runNow); otherwise
     * it goes through the micro-batcher and the returned promise settles with its answer.
     */
    function handleRecord(msg: Record<string, any>, send: Send): Promise<void> | undefined {
      if (!holder!.current) return whenModelLoaded().then(() => handleRecord(msg, send));
      const m = holder!.acquire();
      let mapped: MappedInput;
      try {
        const mapping = mapperFor(m); // (re)sizes scratchRow
        // a model that may answer at once maps into the reused row; others get a new one
        mapped = mapping.map(msg[property], config.windowPerTopic ? String(msg.topic ?? '') : '', m.runsSync ? scratchRow : undefined);
      } catch (err) {
        holder!.release(m);
        errors++;
        throw err;
      }
      if (!mapped.ready) {
        holder!.release(m);
        if (statusDue.due()) node.status({ fill: 'blue', shape: 'ring', text: `window ${mapped.have}/${mapped.need}` });
        return undefined;
      }
      const item: Item = { model: m, row: mapped.row };
      const padded = mapped.padded;
      let answer: Answer | typeof MUST_WAIT;
      try {
        answer = m.runsSync ? batcher!.runNow(item, runItemNow) : MUST_WAIT;
      } catch (err) {
        holder!.release(m);
        errors++;
        throw err;
      }
      if (answer !== MUST_WAIT) {
        holder!.release(m);
        deliver(msg, send, m, padded, answer);
        return undefined;
      }
      if (mapped.row === scratchRow) item.row = mapped.row.slice(); // the scratch row is the next record's
      return batcher!.submit(item).then(
        (queued) => {
          holder!.release(m);
          deliver(msg, send, m, padded, queued);
        },
        (err) => {
          holder!.release(m);
          errors++;
          throw err;
        },
      );
    }

    /** The answer onto the message, sent on output 1; the status refreshed when one is due. */
    function deliver(msg: Record<string, any>, send: Send, m: LoadedModel, padded: number, answer: Answer): void {
      answered++;
      msg.features = msg[property];
      msg[property] = answer;
      msg.model = m.identity;
      if (padded > 0) msg.padded = padded;
      send([msg, null]);
      if (statusDue.due()) showModel(batcher!.maxBatch > 1 ? `batch ${batcher!.recentSizes[batcher!.recentSizes.length - 1] ?? 1}` : '');
    }

    // Not an async function: a record answered synchronously finishes (done()) with no promise.
    onInput(node, (msg, send, _done) => {
      if (configError || !holder || !batcher) throw new Error(configError ?? 'not configured');
      if (msg.control !== undefined) return handleControl(msg, send);
      if (isModelMessage(msg)) return handleModelMessage(msg, send);
      return handleRecord(msg, send);
    });
  }

  RED.nodes.registerType('multitask-infer', MultitaskInfer as any);
};
