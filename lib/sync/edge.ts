/**
 * EdgeSync: one gateway's side of the edge–cloud loop (paper §4.3).
 *
 * - Samples (records with optional labels) go into a DurableQueue (lib/store, the edge-cache
 *   queue) and stay there until an upload batch holding them is acknowledged by the broker
 *   (PUBACK, QoS 1). An upload cut by a link failure leaves the unacknowledged rows in the queue
 *   and the next upload sends them again; the cloud drops ids it has already counted (ids only
 *   grow), so nothing is lost and nothing counted twice.
 * - Model announcements (signed manifests, retained) are offered to a ModelReceiver; an accepted
 *   one subscribes to the retained chunks of that version, so a cut transfer resumes on reconnect
 *   (the broker delivers the retained chunks again; those already held are skipped).
 * - Health and installed versions are published (retained) on the status topic.
 */
import * as zlib from 'zlib';
import type { DurableQueue } from '../store/queue';
import { ModelReceiver, InstalledModel, ChunkResult, OfferResult } from './receiver';
import { SyncClient, topics, MessageHandler } from './transport';
import type { TrustedKey } from './manifest';

export interface Sample {
  payload: Record<string, number> | number[] | number;
  labels?: Record<string, unknown>;
  timestamp?: number;
  topic?: string;
}

export interface UploadResult {
  batches: number;
  samples: number;
  /** samples left in the queue (unacknowledged) */
  backlog: number;
  error?: string;
}

export interface ModelEventReport {
  event: 'installed' | 'rejected' | 'refused' | 'restored' | 'resumed';
  model: { name: string; version: number; sha256: string };
  reason?: string;
  at: string;
}

export interface EdgeSyncOptions {
  client: SyncClient;
  fleet: string;
  gatewayId: string;
  queue: DurableQueue;
  receiver: ModelReceiver;
  /** samples per upload batch; default 500 */
  batchSize?: number;
  /**
   * identity of the sample queue file: queue ids restart at 1 in a new file (deleted, or moved
   * aside as corrupt), so the cloud counts ids per gateway and epoch; make a new one with every new file
   */
  epoch?: string;
  /** a model was installed: hand it to the consumer */
  onModel?: (model: InstalledModel, kind: 'installed') => void;
  /** read the trusted keys again (e.g. from a key file) when a manifest names an unknown key */
  reloadTrusted?: () => TrustedKey[];
  /** something worth reporting happened (rejections, resumes, refusals) */
  onEvent?: (event: ModelEventReport) => void;
  now?: () => number;
}

export interface EdgeStatus {
  gateway: string;
  models: Record<string, { version: number; sha256: string }>;
  uptimeS: number;
  backlog: number;
  lastUpload: string | null;
  lastModelEvent: ModelEventReport | null;
  transfer: { name: string; version: number; received: number; total: number } | null;
}

export class EdgeSync {
  readonly fleet: string;
  readonly gatewayId: string;
  private readonly client: SyncClient;
  private readonly queue: DurableQueue;
  readonly receiver: ModelReceiver;
  private readonly batchSize: number;
  private readonly now: () => number;
  private readonly started: number;
  private uploading: Promise<UploadResult> | null = null;
  lastUpload: number | null = null;
  lastModelEvent: ModelEventReport | null = null;
  private chunkSubs = new Map<string, { filter: string; handler: MessageHandler }>();
  private manifestHandler: MessageHandler | null = null;
  private closed = false;

  constructor(private readonly options: EdgeSyncOptions) {
    this.client = options.client;
    this.fleet = options.fleet;
    this.gatewayId = options.gatewayId;
    this.queue = options.queue;
    this.receiver = options.receiver;
    this.batchSize = options.batchSize ?? 500;
    this.now = options.now ?? Date.now;
    this.started = this.now();
  }

  /** Subscribe to model announcements (retained manifests of every model of the fleet). */
  async start(): Promise<void> {
    this.manifestHandler = (_topic, payload) => this.onManifest(payload);
    await this.client.subscribe(topics.manifest(this.fleet, '+'), this.manifestHandler);
  }

  /** Store samples durably (one transaction); returns their queue ids. */
  addSamples(samples: Sample[]): number[] {
    const res = this.queue.append(samples.map((s) => ({ body: Buffer.from(JSON.stringify(s)), topic: s.topic ?? null })));
    return res.ids.filter((id): id is number => id !== null);
  }

  get backlog(): number {
    return this.queue.size;
  }

  /** Upload every unacknowledged sample in gzip'd batches; one upload at a time. */
  upload(): Promise<UploadResult> {
    if (!this.uploading) {
      this.uploading = this.doUpload().finally(() => {
        this.uploading = null;
      });
    }
    return this.uploading;
  }

  private async doUpload(): Promise<UploadResult> {
    let batches = 0;
    let samples = 0;
    let after = 0;
    try {
      for (;;) {
        const rows = this.queue.readAfter(after, this.batchSize);
        if (!rows.length) break;
        const body = {
          gateway: this.gatewayId,
          epoch: this.options.epoch ?? '',
          sent: new Date(this.now()).toISOString(),
          samples: rows.map((r) => ({ id: r.id, ts: r.ts, ...JSON.parse(r.body.toString('utf8')) })),
        };
        const gz = zlib.gzipSync(Buffer.from(JSON.stringify(body)));
        await this.client.publishAcked(topics.samples(this.fleet, this.gatewayId), gz);
        // the broker has the batch: only now do the samples leave the queue
        this.queue.ack(rows.map((r) => r.id));
        after = rows[rows.length - 1].id;
        batches++;
        samples += rows.length;
        this.lastUpload = this.now();
      }
      await this.publishStatus().catch(() => undefined);
      return { batches, samples, backlog: this.queue.size };
    } catch (err) {
      return { batches, samples, backlog: this.queue.size, error: (err as Error).message };
    }
  }

  /** Publish a live message (edge-cache uplink) and resolve on its PUBACK. */
  publishLive(body: unknown): Promise<void> {
    return this.client.publishAcked(topics.live(this.fleet, this.gatewayId), Buffer.from(JSON.stringify(body)));
  }

  /** Every model installed on this gateway (read from the model folder). */
  installedModels(): InstalledModel[] {
    return this.receiver.names().flatMap((name) => this.receiver.installed(name) ?? []);
  }

  status(): EdgeStatus {
    const models: EdgeStatus['models'] = {};
    for (const name of this.receiver.names()) {
      const m = this.receiver.installed(name);
      if (m) models[name] = { version: m.version, sha256: m.sha256 };
    }
    let transfer: EdgeStatus['transfer'] = null;
    for (const name of this.chunkSubs.keys()) {
      const a = this.receiver.active(name);
      if (a) transfer = { name, version: a.manifest.version, received: a.manifest.chunkCount - a.missing.length, total: a.manifest.chunkCount };
    }
    return {
      gateway: this.gatewayId,
      models,
      uptimeS: Math.round((this.now() - this.started) / 1000),
      backlog: this.queue.size,
      lastUpload: this.lastUpload ? new Date(this.lastUpload).toISOString() : null,
      lastModelEvent: this.lastModelEvent,
      transfer,
    };
  }

  publishStatus(): Promise<void> {
    return this.client.publishAcked(topics.status(this.fleet, this.gatewayId), Buffer.from(JSON.stringify(this.status())), { retain: true });
  }

  private report(event: ModelEventReport): void {
    this.lastModelEvent = event;
    this.options.onEvent?.(event);
    if (!this.closed) this.publishStatus().catch(() => undefined);
  }

  private onManifest(payload: Buffer): void {
    if (this.closed || payload.length === 0) return;
    let envelope: unknown;
    try {
      envelope = JSON.parse(payload.toString('utf8'));
    } catch {
      this.report({ event: 'rejected', model: { name: '', version: 0, sha256: '' }, reason: 'malformed: manifest is not JSON', at: new Date(this.now()).toISOString() });
      return;
    }
    let res: OfferResult = this.receiver.offer(envelope);
    if (res.status === 'rejected' && res.reason === 'unknown-key' && this.options.reloadTrusted) {
      try {
        this.receiver.setTrusted(this.options.reloadTrusted());
        res = this.receiver.offer(envelope);
      } catch {
        // keep the first answer
      }
    }
    const at = new Date(this.now()).toISOString();
    if (res.status === 'rejected') {
      const m = res.manifest;
      // an announcement of the version already running is the normal retained replay: no report
      const installed = m ? this.receiver.installed(m.name) : null;
      if (m && installed && installed.version === m.version && installed.sha256 === m.sha256) return;
      this.report({ event: 'rejected', model: { name: m?.name ?? '', version: m?.version ?? 0, sha256: m?.sha256 ?? '' }, reason: `${res.reason}: ${res.message}`, at });
      return;
    }
    const m = res.manifest;
    if (res.status === 'accepted' && res.resumed) this.report({ event: 'resumed', model: { name: m.name, version: m.version, sha256: m.sha256 }, reason: `${m.chunkCount - res.missing.length} of ${m.chunkCount} chunks already held`, at });
    this.subscribeChunks(m.name, m.version).catch(() => undefined);
  }

  private async subscribeChunks(name: string, version: number): Promise<void> {
    const old = this.chunkSubs.get(name);
    if (old) {
      this.chunkSubs.delete(name);
      await this.client.unsubscribe(old.filter, old.handler);
    }
    const filter = topics.chunks(this.fleet, name, version);
    const handler: MessageHandler = (topic, payload) => {
      const index = Number(topic.slice(topic.lastIndexOf('/') + 1));
      this.onChunk(name, version, index, payload);
    };
    this.chunkSubs.set(name, { filter, handler });
    await this.client.subscribe(filter, handler);
  }

  private onChunk(name: string, version: number, index: number, payload: Buffer): void {
    if (this.closed || payload.length === 0) return;
    const res: ChunkResult = this.receiver.addChunk(name, version, index, payload);
    const at = new Date(this.now()).toISOString();
    if (res.status === 'rejected') {
      const a = this.receiver.active(name);
      this.report({ event: 'rejected', model: { name, version, sha256: a?.manifest.sha256 ?? '' }, reason: `${res.reason}: ${res.message}`, at });
    } else if (res.status === 'installed') {
      const sub = this.chunkSubs.get(name);
      if (sub) {
        this.chunkSubs.delete(name);
        this.client.unsubscribe(sub.filter, sub.handler).catch(() => undefined);
      }
      this.options.onModel?.(res.model, 'installed');
      this.report({ event: 'installed', model: { name, version, sha256: res.model.sha256 }, at });
    }
  }

  /**
   * A model event from the consumer (multitask-infer). On 'refused' of the installed model the
   * previous file is restored on disk (the consumer, having refused, still runs it) and the refused
   * version is never installed again; the event is reported either way. The refused model is found
   * by its sha256 (the consumer may name it by its metadata name), else by name and version; a
   * refusal of anything but the installed model only gets reported.
   */
  modelEvent(ev: { event: string; model?: { name?: string; version?: number; sha256?: string }; reason?: string }): InstalledModel | null {
    const at = new Date(this.now()).toISOString();
    const model = { name: ev.model?.name ?? '', version: ev.model?.version ?? 0, sha256: ev.model?.sha256 ?? '' };
    if (ev.event !== 'refused') {
      this.report({ event: ev.event === 'restored' ? 'restored' : 'installed', model, reason: ev.reason, at });
      return null;
    }
    const names = this.receiver.names();
    const name =
      names.find((n) => !!model.sha256 && this.receiver.installed(n)?.sha256 === model.sha256) ??
      names.find((n) => n === model.name && !model.sha256 && this.receiver.installed(n)?.version === model.version);
    if (!name) {
      this.report({ event: 'refused', model, reason: `${ev.reason ?? 'refused by the consumer'}; not the installed model, nothing restored`, at });
      return null;
    }
    const { restored } = this.receiver.rollback(name);
    this.report({ event: 'refused', model, reason: `${ev.reason ?? 'refused by the consumer'}; ${restored ? `restored v${restored.version}` : 'no previous version to restore'}`, at });
    return restored;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.manifestHandler) await this.client.unsubscribe(topics.manifest(this.fleet, '+'), this.manifestHandler).catch(() => undefined);
    for (const sub of this.chunkSubs.values()) await this.client.unsubscribe(sub.filter, sub.handler).catch(() => undefined);
    this.chunkSubs.clear();
    if (this.uploading) await this.uploading.catch(() => undefined);
    this.receiver.close();
  }
}
