/**
 * multitask-infer: runs the multi-head ONNX model of an onnx-model config node on records.
 * Output 1: msg.payload = { [task]: result }, msg.model = { name, version, sha256 }, msg.features =
 * the record that went in. Output 2: model events (installed / refused / restored) and control answers.
 */
import * as fs from 'fs';
import { performance } from 'perf_hooks';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { onInput, configNumber, type Send } from '../shared/adapter';
import { InputMapper } from '../../lib/infer/input-mapping';
import { LatencyWindow } from '../../lib/infer/latency-window';
import { MicroBatcher } from '../../lib/infer/micro-batcher';
import { decodeBatch, type HeadResult } from '../../lib/infer/heads';
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

export = function register(RED: NodeAPI): void {
  function MultitaskInfer(this: Node, config: MultitaskInferDef) {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors keep `this` for callbacks
    const node = this;
    const modelNode = RED.nodes.getNode(config.model) as any;
    let configError: string | undefined;
    let batcher: MicroBatcher<Item, Record<string, HeadResult>> | undefined;
    let mapper: InputMapper | undefined;
    let mappedFor: LoadedModel | undefined;
    const latency = new LatencyWindow();
    let answered = 0;
    let errors = 0;
    let lastStatus = 0;

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
      batcher = new MicroBatcher<Item, Record<string, HeadResult>>({ maxBatch, maxWaitMs: maxWait, maxPending }, runBatch);
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
      return next;
    }

    function showModel(extra = ''): void {
      const m = holder?.current;
      if (!m) return;
      const p50 = latency.quantile(0.5);
      const text = `${m.spec.name} v${m.spec.version}` + (p50 !== undefined ? ` · ${p50.toFixed(2)} ms p50` : '') + (extra ? ` · ${extra}` : '');
      node.status({ fill: errors > 0 && answered === 0 ? 'yellow' : 'green', shape: 'dot', text });
    }

    async function runBatch(items: Item[]): Promise<Array<Record<string, HeadResult>>> {
      if (items.length === 1) {
        // batch 1 (the usual case at low rates): no grouping, no copies
        const m = items[0].model;
        const t0 = performance.now();
        const out = await holder!.run(m, [items[0].row]);
        const decoded = decodeBatch(m.spec.heads, out, 1);
        latency.add(performance.now() - t0);
        return decoded;
      }
      const answers: Array<Record<string, HeadResult>> = [];
      // A batch may span a swap: run each consecutive group on the model it was mapped for.
      for (let i = 0; i < items.length; ) {
        let j = i + 1;
        while (j < items.length && items[j].model === items[i].model) j++;
        const m = items[i].model;
        const t0 = performance.now();
        const out = await holder!.run(m, items.slice(i, j).map((it) => it.row));
        const decoded = decodeBatch(m.spec.heads, out, j - i);
        latency.add(performance.now() - t0);
        answers.push(...decoded);
        i = j;
      }
      return answers;
    }

    function modelEvent(ev: ModelEvent, send: Send): void {
      send([null, { control: 'model-event', payload: ev, model: ev.model }]);
    }

    if (holder && !configError) {
      modelNode.register(node);
      holder.addValidator(validator);
      const onSwap = () => showModel();
      holder.on('swap', onSwap);
      node.status({ fill: 'grey', shape: 'ring', text: 'loading model' });
      modelNode.ready.then(
        (m: LoadedModel | undefined) => (m || holder.current ? showModel() : node.status({ fill: 'grey', shape: 'ring', text: 'waiting for a model message' })),
        (err: Error) => node.status({ fill: 'red', shape: 'ring', text: `model: ${err.message}` }),
      );
      node.on('close', (done: () => void) => {
        holder.removeListener('swap', onSwap);
        holder.removeValidator(validator);
        const finish = () => {
          modelNode.deregister(node);
          done();
        };
        (batcher ? batcher.close() : Promise.resolve()).then(finish, finish);
      });
    }

    onInput(node, async (msg, send, _done) => {
      if (configError || !holder || !batcher) throw new Error(configError ?? 'not configured');
      // control messages
      if (msg.control !== undefined) {
        const control = msg.control;
        await modelNode.ready.catch(() => undefined);
        if (control === 'restore') {
          const ev = await holder.restore();
          modelEvent(ev, send);
          showModel(ev.event === 'refused' ? 'restore refused' : 'restored');
        } else if (control === 'reset') {
          mapper?.reset();
          send([null, { ...msg, payload: { reset: true } }]);
        } else if (control === 'stats') {
          const m = holder.current;
          send([null, {
            ...msg,
            payload: {
              model: m?.identity, runIn: m?.runner.kind, answered, errors,
              latencyMs: { p50: latency.quantile(0.5), p99: latency.quantile(0.99) },
              pending: batcher.pending, recentBatchSizes: batcher.recentSizes.slice(-10), restorable: holder.restorable,
            },
          }]);
        } else if (control !== 'model-event') {
          throw new InputError('msg.control', "'restore', 'reset' or 'stats'", control);
        }
        return;
      }
      // a model message: ONNX bytes in msg.payload, or msg.model.path
      const announced = msg.model && typeof msg.model === 'object' ? msg.model : undefined;
      if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array || (announced && typeof announced.path === 'string' && (msg.payload === undefined || msg.payload === null || typeof msg.payload !== 'object'))) {
        let bytes: Uint8Array;
        if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array) bytes = new Uint8Array(msg.payload);
        else bytes = new Uint8Array(await fs.promises.readFile(resolveUserPath(announced!.path, (RED.settings as any).userDir || process.cwd())));
        await modelNode.ready.catch(() => undefined);
        const ev = await holder.swap(bytes, announced?.path ?? 'message', { sha256: announced?.sha256, version: typeof announced?.version === 'number' ? announced.version : undefined });
        modelEvent(ev, send);
        if (ev.event === 'refused') {
          node.warn(`model refused: ${ev.reason}`);
          showModel('swap refused');
        }
        return;
      }
      // a record (or a sequence of records)
      if (!holder.current) await modelNode.ready.catch(() => undefined);
      if (!holder.current) {
        throw modelNode.loadError ?? new Error('no model loaded yet: send a model message or set a file in the onnx-model node');
      }
      const m = holder.acquire();
      let mapped;
      try {
        const key = config.windowPerTopic ? String(msg.topic ?? '') : '';
        mapped = mapperFor(m).map(msg[property], key);
      } catch (err) {
        holder.release(m);
        errors++;
        throw err;
      }
      if (!mapped.ready) {
        holder.release(m);
        const now = Date.now();
        if (now - lastStatus > 250) {
          lastStatus = now;
          node.status({ fill: 'blue', shape: 'ring', text: `window ${mapped.have}/${mapped.need}` });
        }
        return;
      }
      let result: Record<string, HeadResult>;
      try {
        result = await batcher.submit({ model: m, row: mapped.row });
      } catch (err) {
        errors++;
        throw err;
      } finally {
        holder.release(m);
      }
      answered++;
      msg.features = msg[property];
      msg[property] = result;
      msg.model = m.identity;
      if (mapped.padded > 0) msg.padded = mapped.padded;
      send([msg, null]);
      const now = Date.now();
      if (now - lastStatus > 250) {
        lastStatus = now;
        showModel(batcher.maxBatch > 1 ? `batch ${batcher.recentSizes[batcher.recentSizes.length - 1] ?? 1}` : '');
      }
    });
  }

  RED.nodes.registerType('multitask-infer', MultitaskInfer as any);
};
