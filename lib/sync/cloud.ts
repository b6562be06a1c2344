/**
 * CloudSync: the cloud side. Collects sample batches from every gateway of a fleet into a store
 * (a DurableQueue, one row per sample, topic = gateway id), dropping ids it has already counted
 * (a batch sent again after a lost PUBACK), keeps a fleet view from the gateways' status reports,
 * and publishes signed models: chunks first (retained, QoS 1, each acknowledged), then the signed
 * manifest (retained), so a gateway that sees the manifest finds every chunk on the broker, also
 * when it connects later or resumes a cut transfer.
 */
import * as fs from 'fs';
import * as path from 'path';
import * as zlib from 'zlib';
import type { DurableQueue } from '../store/queue';
import { OnnxModel } from '../onnx/model';
import { describeModel, signManifest, SignedManifest, chunkOf, sha256Hex, DEFAULT_CHUNK_SIZE } from './manifest';
import { SyncClient, topics, MessageHandler } from './transport';
import type { EdgeStatus } from './edge';

export interface GatewayView {
  gateway: string;
  models: Record<string, { version: number; sha256: string }>;
  backlog: number | null;
  lastUpload: string | null;
  lastSeen: string;
  samplesReceived: number;
  duplicatesDropped: number;
  lastModelEvent: EdgeStatus['lastModelEvent'];
  uptimeS: number | null;
}

export interface ReceivedBatch {
  gateway: string;
  accepted: Array<{ id: number; payload: unknown; labels?: unknown; timestamp?: number; topic?: string }>;
  duplicates: number;
}

export interface CloudSyncOptions {
  client: SyncClient;
  fleet: string;
  store: DurableQueue;
  /** ed25519 private key (PEM) that signs published models */
  privateKey?: string;
  chunkSize?: number;
  /** chunks published concurrently (each waits for its PUBACK); default 16 */
  inflight?: number;
  onSamples?: (batch: ReceivedBatch) => void;
  onStatus?: (view: GatewayView) => void;
  onError?: (err: Error) => void;
  now?: () => number;
  /** folder where the last published model of each name is kept (`<name>.onnx`), for retraining */
  modelDir?: string;
  /** JSON file keeping the highest sample id counted per gateway, so a batch sent again after a cloud restart is still counted once */
  stateFile?: string;
}

export class CloudSync {
  readonly fleet: string;
  private readonly client: SyncClient;
  private readonly store: DurableQueue;
  private readonly gateways = new Map<string, GatewayView>();
  /** highest sample id counted per gateway */
  private readonly lastIds = new Map<string, number>();
  private readonly published = new Map<string, { version: number; chunkCount: number; sha256: string }>();
  private readonly models = new Map<string, Buffer>();
  private handlers: Array<[string, MessageHandler]> = [];
  private readonly now: () => number;

  constructor(private readonly options: CloudSyncOptions) {
    this.client = options.client;
    this.fleet = options.fleet;
    this.store = options.store;
    this.now = options.now ?? Date.now;
    if (options.stateFile && fs.existsSync(options.stateFile)) {
      try {
        const saved = JSON.parse(fs.readFileSync(options.stateFile, 'utf8')) as { lastIds?: Record<string, number> };
        for (const [g, id] of Object.entries(saved.lastIds ?? {})) if (Number.isSafeInteger(id)) this.lastIds.set(g, id);
      } catch (err) {
        options.onError?.(new Error(`cannot read ${options.stateFile}: ${(err as Error).message}; duplicate detection starts afresh`));
      }
    }
  }

  private saveState(): void {
    const file = this.options.stateFile;
    if (!file) return;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file + '.tmp', JSON.stringify({ lastIds: Object.fromEntries(this.lastIds) }));
    fs.renameSync(file + '.tmp', file);
  }

  async start(): Promise<void> {
    const onSamples: MessageHandler = (topic, payload) => this.onSamples(gatewayOf(topic), payload);
    const onStatus: MessageHandler = (topic, payload) => this.onStatus(gatewayOf(topic), payload);
    this.handlers = [
      [topics.samples(this.fleet, '+'), onSamples],
      [topics.status(this.fleet, '+'), onStatus],
    ];
    for (const [f, h] of this.handlers) await this.client.subscribe(f, h);
  }

  private view(gateway: string): GatewayView {
    let v = this.gateways.get(gateway);
    if (!v) {
      v = { gateway, models: {}, backlog: null, lastUpload: null, lastSeen: new Date(this.now()).toISOString(), samplesReceived: 0, duplicatesDropped: 0, lastModelEvent: null, uptimeS: null };
      this.gateways.set(gateway, v);
    }
    return v;
  }

  private onSamples(gateway: string, payload: Buffer): void {
    let body: { gateway?: string; epoch?: string; samples?: Array<{ id: number; ts?: number; payload: unknown; labels?: unknown; timestamp?: number; topic?: string }> };
    try {
      body = JSON.parse(zlib.gunzipSync(payload).toString('utf8'));
      if (!Array.isArray(body.samples)) throw new Error('no samples array');
    } catch (err) {
      this.options.onError?.(new Error(`sample batch from ${gateway}: ${(err as Error).message}`));
      return;
    }
    // ids restart in a new queue file on the gateway: count them per gateway and queue epoch
    const key = typeof body.epoch === 'string' && body.epoch ? `${gateway}#${body.epoch}` : gateway;
    let last = this.lastIds.get(key) ?? 0;
    const accepted: ReceivedBatch['accepted'] = [];
    let duplicates = 0;
    for (const s of body.samples) {
      if (!Number.isSafeInteger(s.id) || s.id <= last) {
        duplicates++;
        continue;
      }
      last = s.id;
      accepted.push(s);
    }
    if (accepted.length) {
      this.store.append(accepted.map((s) => ({ body: Buffer.from(JSON.stringify(s)), topic: gateway })));
      this.lastIds.set(key, last);
      this.saveState();
    }
    const v = this.view(gateway);
    v.samplesReceived += accepted.length;
    v.duplicatesDropped += duplicates;
    v.lastUpload = new Date(this.now()).toISOString();
    v.lastSeen = v.lastUpload;
    this.options.onSamples?.({ gateway, accepted, duplicates });
  }

  private onStatus(gateway: string, payload: Buffer): void {
    if (!payload.length) return;
    let s: Partial<EdgeStatus>;
    try {
      s = JSON.parse(payload.toString('utf8'));
    } catch {
      this.options.onError?.(new Error(`status from ${gateway} is not JSON`));
      return;
    }
    const v = this.view(gateway);
    v.models = s.models ?? {};
    v.backlog = typeof s.backlog === 'number' ? s.backlog : null;
    if (s.lastUpload) v.lastUpload = s.lastUpload;
    v.lastModelEvent = s.lastModelEvent ?? null;
    v.uptimeS = typeof s.uptimeS === 'number' ? s.uptimeS : null;
    v.lastSeen = new Date(this.now()).toISOString();
    this.options.onStatus?.(v);
  }

  /** The fleet view: one entry per gateway heard from, sorted by id. */
  fleetView(): GatewayView[] {
    return [...this.gateways.values()].sort((a, b) => a.gateway.localeCompare(b.gateway)).map((v) => ({ ...v, models: { ...v.models } }));
  }

  /** Samples stored so far (all gateways). */
  get stored(): number {
    return this.store.size;
  }

  /**
   * Sign and publish `bytes` as `name` v`version`: every chunk (retained, QoS 1, PUBACK awaited),
   * then the signed manifest (retained). The previous version's retained chunks are cleared after.
   */
  async publishModel(bytes: Uint8Array, meta: { name: string; version: number; metrics?: Record<string, number>; chunkSize?: number }): Promise<SignedManifest> {
    if (!this.options.privateKey) throw new Error('no private key configured: cannot sign models');
    const manifest = describeModel(bytes, { name: meta.name, version: meta.version, metrics: meta.metrics, chunkSize: meta.chunkSize ?? this.options.chunkSize ?? DEFAULT_CHUNK_SIZE });
    const last = this.lastPublished(manifest.name);
    // gateways refuse a version that is not newer; and the retrain builds on the last model kept here
    if (last && (manifest.version < last.version || (manifest.version === last.version && manifest.sha256 !== last.sha256))) {
      throw new Error(`${manifest.name} v${manifest.version} is not newer than v${last.version}, the last version this cloud published: give the model a higher model_version`);
    }
    const signed = signManifest(manifest, this.options.privateKey);
    const m = signed.manifest;
    await this.inParallel(m.chunkCount, (i) => this.client.publishAcked(topics.chunk(this.fleet, m.name, m.version, i), Buffer.from(chunkOf(bytes, m, i)), { retain: true }));
    await this.client.publishAcked(topics.manifest(this.fleet, m.name), Buffer.from(JSON.stringify(signed)), { retain: true });
    this.saveModel(m.name, bytes);
    const old = this.published.get(m.name);
    this.published.set(m.name, { version: m.version, chunkCount: m.chunkCount, sha256: m.sha256 });
    if (old && old.version !== m.version) {
      // an empty retained message removes the retained chunk from the broker
      await this.inParallel(old.chunkCount, (i) => this.client.publishAcked(topics.chunk(this.fleet, m.name, old.version, i), Buffer.alloc(0), { retain: true })).catch(() => undefined);
    }
    return signed;
  }

  private saveModel(name: string, bytes: Uint8Array): void {
    this.models.set(name, Buffer.from(bytes));
    if (!this.options.modelDir) return;
    fs.mkdirSync(this.options.modelDir, { recursive: true });
    const file = path.join(this.options.modelDir, `${name}.onnx`);
    fs.writeFileSync(file + '.tmp', bytes);
    fs.renameSync(file + '.tmp', file);
  }

  /** Version and SHA-256 of the last model published under `name` (this run, or kept in modelDir). */
  private lastPublished(name: string): { version: number; sha256: string } | null {
    const inMemory = this.published.get(name);
    if (inMemory) return inMemory;
    const bytes = this.currentModel(name);
    if (!bytes) return null;
    try {
      return { version: OnnxModel.fromBuffer(bytes, { validate: false }).modelVersion, sha256: sha256Hex(bytes) };
    } catch {
      return null; // not an ONNX file: nothing to compare against
    }
  }

  /** The last model published under `name` (kept in memory and in modelDir), or null. */
  currentModel(name: string): Buffer | null {
    const m = this.models.get(name);
    if (m) return m;
    if (!this.options.modelDir) return null;
    const file = path.join(this.options.modelDir, `${name}.onnx`);
    return fs.existsSync(file) ? fs.readFileSync(file) : null;
  }

  /** Names of the models published (this run, or kept in modelDir). */
  modelNames(): string[] {
    const names = new Set(this.models.keys());
    if (this.options.modelDir && fs.existsSync(this.options.modelDir)) {
      for (const f of fs.readdirSync(this.options.modelDir)) if (f.endsWith('.onnx')) names.add(f.slice(0, -5));
    }
    return [...names];
  }

  /** Publish a manifest envelope as it is (tests of rejected announcements use this). */
  publishEnvelope(name: string, envelope: unknown): Promise<void> {
    return this.client.publishAcked(topics.manifest(this.fleet, name), Buffer.from(JSON.stringify(envelope)), { retain: true });
  }

  private async inParallel(n: number, task: (i: number) => Promise<void>): Promise<void> {
    const width = Math.max(1, this.options.inflight ?? 16);
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        await task(i);
      }
    };
    await Promise.all(Array.from({ length: Math.min(width, n) }, worker));
  }

  async close(): Promise<void> {
    for (const [f, h] of this.handlers) await this.client.unsubscribe(f, h).catch(() => undefined);
    this.handlers = [];
  }
}

function gatewayOf(topic: string): string {
  const parts = topic.split('/');
  return parts[parts.length - 2];
}
