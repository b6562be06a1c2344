/**
 * cloud-sync: the edge–cloud loop over MQTT (lib/sync), in one of two roles.
 *
 * Edge (a gateway): records with optional labels go into a durable sample queue (lib/store) and are
 * uploaded, gzip'd, QoS 1, on a schedule (default every 4 h) and on `msg.control = 'upload'`; they
 * leave the queue only on the broker's PUBACK. Messages from edge-cache (`msg._cacheId`) are
 * published live and acknowledged back (`msg.ack`, output 2) on PUBACK. Signed model updates are
 * verified, staged, installed atomically and sent on output 1 as a model message
 * (`msg.model = { name, version, sha256, path }`) for multitask-infer; its model events
 * (`msg.control = 'model-event'`) come back in, and a refusal restores the previous model.
 *
 * Cloud: stores the sample batches of every gateway (output 1 gets each batch), keeps the fleet view
 * (`msg.control = 'fleet'`, status), and signs and publishes the model messages it is given.
 *
 * Output 3 carries control answers and events in both roles.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onInput, configNumber, asError } from '../shared/adapter';
import { InputError } from '../../lib/errors';
import { resolveUserPath } from '../../lib/paths';
import { DurableQueue } from '../../lib/store/queue';
import { loadModel } from '../../lib/onnx/model';
import { trustedKeys, keyIdOf, normalisePem, generateKeyPair, TrustedKey } from '../../lib/sync/manifest';
import { ModelReceiver, InstalledModel } from '../../lib/sync/receiver';
import { SyncClient, validTopicLevel } from '../../lib/sync/transport';
import { EdgeSync, Sample, ModelEventReport } from '../../lib/sync/edge';
import { CloudSync } from '../../lib/sync/cloud';
import type { TrainingSample } from '../../lib/sync/retrain';
import type { AiBrokerNode } from '../ai-broker/types';

interface CloudSyncDef extends NodeDef {
  broker?: string;
  role?: string;
  fleet?: string;
  gatewayId?: string;
  dataDir?: string;
  uploadInterval?: string | number;
  batchSize?: string | number;
  trustedKeys?: string;
  trustedKeysFile?: string;
  keyFile?: string;
  chunkSize?: string | number;
  retrainInterval?: string | number;
}

type Msg = Record<string, any>;

const MAX_TIMER_MS = 2 ** 31 - 1;

function readSample(msg: Msg): Sample {
  const p = msg.payload;
  const finite = (v: unknown) => typeof v === 'number' && Number.isFinite(v);
  if (finite(p)) {
    // a single sample: keep its signal name
  } else if (Array.isArray(p) || ArrayBuffer.isView(p)) {
    const arr = Array.from(p as ArrayLike<number>);
    const bad = arr.findIndex((v) => !finite(v));
    if (bad >= 0 || arr.length === 0) throw new InputError(bad >= 0 ? `msg.payload[${bad}]` : 'msg.payload', 'a non-empty array of finite numbers', bad >= 0 ? arr[bad] : p);
  } else if (p && typeof p === 'object') {
    const keys = Object.keys(p);
    if (!keys.length) throw new InputError('msg.payload', 'a record (object of named numbers) with at least one field', p);
    for (const k of keys) if (!finite((p as Record<string, unknown>)[k])) throw new InputError(`msg.payload.${k}`, 'a finite number', (p as Record<string, unknown>)[k]);
  } else {
    throw new InputError('msg.payload', 'a record (object of named numbers), an array of numbers or a number', p);
  }
  if (msg.labels !== undefined && (msg.labels === null || typeof msg.labels !== 'object' || Array.isArray(msg.labels))) {
    throw new InputError('msg.labels', 'an object {task: value}', msg.labels);
  }
  const ts = msg.timestamp === undefined ? Date.now() : Number(msg.timestamp);
  if (!Number.isFinite(ts)) throw new InputError('msg.timestamp', 'ms since epoch', msg.timestamp);
  const payload = ArrayBuffer.isView(p) ? Array.from(p as unknown as ArrayLike<number>) : p;
  const sample: Sample = { payload, timestamp: ts };
  if (msg.labels) sample.labels = msg.labels;
  if (typeof msg.topic === 'string' && msg.topic) sample.topic = msg.topic;
  if (msg.augmented) (sample as unknown as Record<string, unknown>).augmented = msg.augmented;
  return sample;
}

/**
 * The signing key in `file` (PEM, PKCS#8); when the file does not exist a new ed25519 pair is made:
 * the private key written with mode 0600, the public key beside it as `<file>.pub`, for gateways
 * on the same machine to trust (single-machine demos; fleets put the key in the credentials).
 */
function loadOrCreateKey(file: string): string {
  if (!fs.existsSync(file)) {
    const pair = generateKeyPair();
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, pair.privateKey, { mode: 0o600, flag: 'wx' });
    fs.writeFileSync(file + '.pub', pair.publicKey);
  }
  const pem = fs.readFileSync(file, 'utf8');
  keyIdOf(pem);
  if (!fs.existsSync(file + '.pub')) fs.writeFileSync(file + '.pub', crypto.createPublicKey(pem).export({ type: 'spki', format: 'pem' }).toString());
  return pem;
}

/** A model message on output 1: `reason` 'installed' (just arrived) or 'startup' (installed before, announced again). */
function modelMessage(model: InstalledModel, kind: 'installed' | 'startup'): Msg {
  return {
    topic: model.name,
    model: { name: model.name, version: model.version, sha256: model.sha256, path: model.path, ...(model.metrics ? { metrics: model.metrics } : {}) },
    reason: kind,
  };
}

function ago(iso: string | null): string {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s ago`;
  if (s < 7200) return `${Math.round(s / 60)}min ago`;
  return `${Math.round(s / 3600)}h ago`;
}

export = function (RED: NodeAPI): void {
  function CloudSyncNode(this: Node, config: CloudSyncDef) {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors keep `this` for callbacks
    const node = this;
    const creds = ((node as unknown as { credentials?: { privateKey?: string } }).credentials ?? {}) as { privateKey?: string };
    const role = config.role === 'cloud' ? 'cloud' : 'edge';
    let configError: string | null = null;
    let broker: AiBrokerNode | null = null;
    let queue: DurableQueue | null = null;
    let edge: EdgeSync | null = null;
    let cloud: CloudSync | null = null;
    let client: SyncClient | null = null;
    let timer: NodeJS.Timeout | null = null;
    let statusTimer: NodeJS.Timeout | null = null;
    let closed = false;
    let linkState = 'connecting';
    let ready: Promise<void> = Promise.resolve();

    const fleet = String(config.fleet ?? '').trim() || 'plant';
    const gatewayId = String(config.gatewayId ?? '').trim() || node.id.replace(/[^A-Za-z0-9_-]/g, '');
    let uploadMs = 4 * 3600 * 1000;
    let batchSize = 500;
    let chunkSize = 96 * 1024;
    let retrainMs = 0;
    let trusted: TrustedKey[] = [];
    let privateKey: string | undefined;

    const userDir = (RED.settings as unknown as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
    const trustedFile = String(config.trustedKeysFile ?? '').trim() ? resolveUserPath(String(config.trustedKeysFile).trim(), userDir) : '';
    const keyFile = String(config.keyFile ?? '').trim() ? resolveUserPath(String(config.keyFile).trim(), userDir) : '';
    /** the public keys in the trusted key file (none while it does not exist yet) */
    const readTrustedFile = (): TrustedKey[] => (fs.existsSync(trustedFile) ? trustedKeys(fs.readFileSync(trustedFile, 'utf8')) : []);

    try {
      if (!validTopicLevel(fleet)) throw new Error(`config fleet: expected a name without / + # (an MQTT topic level), got ${JSON.stringify(config.fleet)}`);
      if (role === 'edge' && !validTopicLevel(gatewayId)) throw new Error(`config gatewayId: expected a name without / + #, got ${JSON.stringify(config.gatewayId)}`);
      const hours = configNumber(config.uploadInterval, 'uploadInterval', 4);
      if (hours < 0) throw new Error(`config uploadInterval: expected hours >= 0 (0 = only on demand), got ${JSON.stringify(config.uploadInterval)}`);
      uploadMs = hours * 3600 * 1000;
      batchSize = configNumber(config.batchSize, 'batchSize', 500);
      if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`config batchSize: expected an integer >= 1, got ${JSON.stringify(config.batchSize)}`);
      const kib = configNumber(config.chunkSize, 'chunkSize', 96);
      if (!(kib >= 1 && kib <= 65536)) throw new Error(`config chunkSize: expected KiB between 1 and 65536, got ${JSON.stringify(config.chunkSize)}`);
      chunkSize = Math.round(kib * 1024);
      const retrainHours = configNumber(config.retrainInterval, 'retrainInterval', 0);
      if (retrainHours < 0) throw new Error(`config retrainInterval: expected hours >= 0 (0 = only on demand), got ${JSON.stringify(config.retrainInterval)}`);
      retrainMs = retrainHours * 3600 * 1000;
      if (role === 'edge') {
        trusted = trustedKeys(String(config.trustedKeys ?? ''));
        if (trustedFile) trusted = [...trusted, ...readTrustedFile()];
        if (!trusted.length && !trustedFile) throw new Error('config trustedKeys: expected at least one ed25519 public key (PEM) whose signed models this gateway installs, or a trusted key file');
      } else if (creds.privateKey) {
        privateKey = normalisePem(creds.privateKey);
        keyIdOf(privateKey);
      } else if (keyFile) {
        privateKey = loadOrCreateKey(keyFile);
      }
      broker = RED.nodes.getNode(String(config.broker ?? '')) as AiBrokerNode | null;
      if (!broker || typeof broker.register !== 'function') throw new Error('config broker: select an ai-broker configuration node');
      if (broker.configError) throw new Error(`broker: ${broker.configError}`);
    } catch (err) {
      configError = (err as Error).message;
    }

    const dataDir = resolveUserPath(String(config.dataDir ?? '').trim() || path.join('industrial-ai', 'cloud-sync', `${role}-${role === 'edge' ? gatewayId : fleet}`), userDir);

    const setStatus = () => {
      if (closed) return;
      if (configError) return node.status({ fill: 'red', shape: 'ring', text: configError.slice(0, 60) });
      const fill = linkState === 'connected' ? 'green' : linkState === 'connecting' ? 'yellow' : 'red';
      if (edge) {
        const s = edge.status();
        const versions = Object.entries(s.models).map(([n, m]) => `${n} v${m.version}`).join(', ') || 'no model';
        const transfer = s.transfer ? ` · receiving v${s.transfer.version} ${s.transfer.received}/${s.transfer.total}` : '';
        node.status({ fill, shape: linkState === 'connected' ? 'dot' : 'ring', text: `${versions} · backlog ${s.backlog} · upload ${ago(s.lastUpload)}${transfer}` });
      } else if (cloud) {
        const view = cloud.fleetView();
        const versions = new Set(view.flatMap((v) => Object.entries(v.models).map(([n, m]) => `${n} v${m.version}`)));
        node.status({ fill, shape: linkState === 'connected' ? 'dot' : 'ring', text: `${view.length} gateways · ${cloud.stored} samples · ${[...versions].join(', ') || 'no models'}` });
      } else {
        node.status({ fill, shape: 'ring', text: linkState });
      }
    };

    const onEvent = (e: ModelEventReport) => {
      node.send([null, null, { topic: 'model-event', control: 'event', payload: e }]);
      if (e.event === 'rejected') node.warn(`model update rejected: ${e.reason}`);
      setStatus();
    };

    if (configError) {
      node.error(configError);
      setStatus();
    } else {
      broker!.register(node);
      (node as unknown as { on(ev: string, f: (state: string) => void): void }).on('broker-status', (state: string) => {
        linkState = state;
        setStatus();
      });
      ready = (async () => {
        client = await broker!.client();
        if (closed) return;
        const dbFile = path.join(dataDir, 'samples.db');
        const fresh = !fs.existsSync(dbFile);
        queue = new DurableQueue({ path: dbFile, maxAgeMs: 0, synchronous: 'FULL' });
        if (queue.recovery) node.error(`sample queue was corrupt, moved to ${queue.recovery.movedTo}: ${queue.recovery.reason}`);
        if (role === 'edge') {
          // a new queue file numbers its samples from 1 again: give it a new epoch for the cloud
          const epochFile = path.join(dataDir, 'samples.epoch');
          if (fresh || queue.recovery || !fs.existsSync(epochFile)) fs.writeFileSync(epochFile, crypto.randomBytes(8).toString('hex'));
          const epoch = fs.readFileSync(epochFile, 'utf8').trim();
          edge = new EdgeSync({
            client, fleet, gatewayId, queue, batchSize, epoch,
            receiver: new ModelReceiver({ dir: path.join(dataDir, 'models'), trusted }),
            onModel: (model, kind) => node.send([modelMessage(model, kind), null, null]),
            onEvent,
            reloadTrusted: trustedFile ? () => [...trustedKeys(String(config.trustedKeys ?? '')), ...readTrustedFile()] : undefined,
          });
          await edge.start();
          // announce what is installed, so a consumer that starts from its own file (multitask-infer's
          // model node) runs the fleet's model again after a restart; the model it already runs is no swap
          for (const m of edge.installedModels()) node.send([modelMessage(m, 'startup'), null, null]);
          if (uploadMs > 0) {
            timer = setInterval(() => {
              edge?.upload().then((r) => {
                if (r.error) node.warn(`scheduled upload stopped: ${r.error} (${r.backlog} samples kept for the next upload)`);
                setStatus();
              });
            }, Math.min(uploadMs, MAX_TIMER_MS));
          }
        } else {
          cloud = new CloudSync({
            client, fleet, store: queue, privateKey, chunkSize, modelDir: path.join(dataDir, 'models'), stateFile: path.join(dataDir, 'gateways.json'),
            onSamples: (b) => {
              if (b.accepted.length) node.send([{ topic: b.gateway, gateway: b.gateway, payload: b.accepted, duplicates: b.duplicates }, null, null]);
              setStatus();
            },
            onStatus: () => setStatus(),
            onError: (err) => node.warn(err.message),
          });
          await cloud.start();
          if (retrainMs > 0) {
            timer = setInterval(() => {
              if (retraining || cloud!.modelNames().length !== 1) return;
              runRetrain({}).then(
                (out) => node.send([null, out.published, { control: 'retrain', payload: out.answer }]),
                (err: Error) => node.warn(`scheduled retrain: ${err.message}`),
              );
            }, Math.min(retrainMs, MAX_TIMER_MS));
          }
        }
        if (client.connected) linkState = 'connected';
        if (edge) edge.publishStatus().catch(() => undefined);
        setStatus();
      })();
      ready.catch((err: Error) => {
        configError = `cannot start: ${err.message}`;
        node.error(configError);
        setStatus();
      });
      statusTimer = setInterval(setStatus, 10_000);
      setStatus();
    }

    onInput(node, async (msg: Msg, send, _done) => {
      if (configError) {
        setStatus();
        throw new Error(configError);
      }
      await ready;
      if (configError) throw new Error(configError);
      const control = msg.control;
      if (control !== undefined) {
        if (typeof control !== 'string') throw new InputError('msg.control', 'a string', control);
        if (control === 'status') {
          send([null, null, { control, payload: edge ? edge.status() : { fleet: cloud!.fleetView(), stored: cloud!.stored, link: linkState } }]);
          return;
        }
        if (edge) {
          if (control === 'upload') {
            const r = await edge.upload();
            setStatus();
            send([null, null, { control, payload: r }]);
            if (r.error) throw new Error(`upload stopped: ${r.error} (${r.backlog} samples kept)`);
            return;
          }
          if (control === 'model-event') {
            const ev = msg.payload;
            if (!ev || typeof ev !== 'object' || typeof ev.event !== 'string') throw new InputError('msg.payload', "a model event { event: 'installed'|'refused'|'restored', model, reason? }", ev);
            const restored = edge.modelEvent(ev);
            setStatus();
            send([null, null, { control, payload: { ...edge.status().lastModelEvent, restored: restored ? { name: restored.name, version: restored.version } : null } }]);
            return;
          }
          throw new InputError('msg.control', "'upload', 'status' or 'model-event' (edge role)", control);
        }
        if (control === 'retrain') {
          const out = await runRetrain(msg);
          send([null, out.published, { control, payload: out.answer }]);
          return;
        }
        if (control === 'fleet') {
          send([null, null, { control, payload: cloud!.fleetView() }]);
          return;
        }
        throw new InputError('msg.control', "'fleet', 'retrain' or 'status' (cloud role)", control);
      }
      if (edge) {
        if (msg._cacheId !== undefined) {
          // edge-cache uplink: publish live, acknowledge on the broker's PUBACK
          const id = msg._cacheId;
          const body: Msg = {};
          for (const k of Object.keys(msg)) if (k !== '_msgid' && k !== '_cacheId' && !k.startsWith('_')) body[k] = msg[k];
          await edge.publishLive({ id, ...body });
          send([null, { ack: id }, null]);
          return;
        }
        edge.addSamples([readSample(msg)]);
        setStatus();
        return;
      }
      // cloud: a model message to sign and publish
      let bytes: Buffer;
      if (Buffer.isBuffer(msg.payload) || msg.payload instanceof Uint8Array) bytes = Buffer.from(msg.payload);
      else if (msg.model && typeof msg.model.path === 'string') bytes = await fs.promises.readFile(resolveUserPath(msg.model.path, userDir));
      else throw new InputError('msg.payload', 'a Buffer of ONNX bytes (or msg.model.path), to sign and publish', msg.payload);
      let onnxVersion: number;
      try {
        onnxVersion = loadModel(new Uint8Array(bytes)).modelVersion;
      } catch (err) {
        throw new InputError('msg.payload', 'an ONNX model', bytes, (err as Error).message);
      }
      const announced = msg.model?.version;
      if (announced !== undefined && Number(announced) !== onnxVersion) throw new InputError('msg.model.version', `the file's model_version (${onnxVersion})`, announced);
      if (!(onnxVersion >= 1)) throw new InputError('msg.payload', 'an ONNX model with model_version >= 1 (the version gateways compare)', onnxVersion);
      const name = String(msg.model?.name ?? msg.topic ?? '');
      if (!/^[A-Za-z0-9._-]{1,100}$/.test(name)) throw new InputError('msg.model.name', 'a model name (A-Z a-z 0-9 . _ -)', msg.model?.name);
      if (!privateKey) throw new Error('no private key in the credentials: this cloud cannot sign models');
      const metrics = msg.model?.metrics && typeof msg.model.metrics === 'object' ? msg.model.metrics : undefined;
      const signed = await cloud!.publishModel(bytes, { name, version: onnxVersion, metrics });
      const m = signed.manifest;
      send([null, { topic: name, model: { name, version: m.version, sha256: m.sha256, ...(metrics ? { metrics } : {}) }, payload: signed }, null]);
      setStatus();
    });

    /**
     * Fine-tune the last published model on the samples stored since the last accepted retrain,
     * publish it (version + 1) only when its held-out loss is not worse; the samples used are then
     * removed from the store (they stay for the next attempt otherwise).
     */
    let retraining = false;
    async function runRetrain(msg: Msg): Promise<{ answer: Record<string, unknown>; published: Msg | null }> {
      if (retraining) throw new Error('a retrain is already running');
      const names = cloud!.modelNames();
      const name = String(msg.model?.name ?? (names.length === 1 ? names[0] : ''));
      const current = name ? cloud!.currentModel(name) : null;
      if (!current) throw new InputError('msg.model.name', `the name of a model this cloud has published (${names.join(', ') || 'none yet'})`, msg.model?.name);
      const o = msg.payload && typeof msg.payload === 'object' ? msg.payload : {};
      const opts = { epochs: configNumber(o.epochs, 'msg.payload.epochs', 5), learningRate: configNumber(o.learningRate, 'msg.payload.learningRate', 0.001), batchSize: configNumber(o.batchSize, 'msg.payload.batchSize', 32) };
      const rows = queue!.readAfter(0, 1_000_000);
      const samples: TrainingSample[] = rows.map((r) => {
        const s = JSON.parse(r.body.toString('utf8'));
        return { payload: s.payload, labels: s.labels, group: r.topic ?? '' };
      });
      retraining = true;
      node.status({ fill: 'blue', shape: 'dot', text: `retraining ${name} on ${samples.length} samples` });
      try {
        // loaded on first use: it brings in tfjs, which gateways never need
        const { retrain } = require('../../lib/sync/retrain') as typeof import('../../lib/sync/retrain');
        const r = await retrain(current, samples, opts);
        const { bytes, ...summary } = r;
        let published: Msg | null = null;
        if (r.accepted) {
          const metrics = { heldOutLossBefore: r.before, heldOutLossAfter: r.after, trainSamples: r.trainSamples };
          const signed = await cloud!.publishModel(bytes, { name, version: r.version, metrics });
          queue!.ack(rows.map((row) => row.id));
          published = { topic: name, model: { name, version: r.version, sha256: signed.manifest.sha256, metrics }, payload: signed };
        }
        return { answer: { name, ...summary, published: !!published }, published };
      } finally {
        retraining = false;
        setStatus();
      }
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      closed = true;
      if (timer) clearInterval(timer);
      if (statusTimer) clearInterval(statusTimer);
      (async () => {
        await ready.catch(() => undefined);
        if (edge) await edge.close().catch(() => undefined);
        if (cloud) await cloud.close().catch(() => undefined);
        queue?.close();
        if (broker) await new Promise<void>((resolve) => broker!.deregister(node, resolve));
      })().then(() => done(), (err) => {
        node.error(asError(err).message);
        done();
      });
    });
  }

  RED.nodes.registerType('cloud-sync', CloudSyncNode as unknown as (this: Node, config: NodeDef) => void, {
    credentials: {
      privateKey: { type: 'password' },
    },
  });
};
