/**
 * MQTT transport for cloud-sync: topic names, a client wrapper whose QoS 1 publish resolves only on
 * the broker's PUBACK (mqtt.js calls a QoS 1 publish's callback when the PUBACK arrives, never on
 * hand-off to the socket), and an embedded aedes broker on loopback.
 *
 * Topics (all under `industrial-ai/<fleet>/`):
 *   gateway/<id>/samples                  gzip'd JSON sample batches, edge → cloud, QoS 1
 *   gateway/<id>/status                   JSON health + installed versions, edge → cloud, QoS 1, retained
 *   gateway/<id>/live                     live messages (edge-cache uplink), edge → cloud, QoS 1
 *   models/<name>/manifest                signed manifest JSON, cloud → edges, QoS 1, retained
 *   models/<name>/v<version>/chunk/<n>    raw chunk bytes, cloud → edges, QoS 1, retained
 */
import * as net from 'net';
import mqtt = require('mqtt');

export const topics = {
  root: (fleet: string) => `industrial-ai/${fleet}`,
  samples: (fleet: string, gateway: string) => `industrial-ai/${fleet}/gateway/${gateway}/samples`,
  status: (fleet: string, gateway: string) => `industrial-ai/${fleet}/gateway/${gateway}/status`,
  live: (fleet: string, gateway: string) => `industrial-ai/${fleet}/gateway/${gateway}/live`,
  manifest: (fleet: string, name: string) => `industrial-ai/${fleet}/models/${name}/manifest`,
  chunk: (fleet: string, name: string, version: number, index: number) => `industrial-ai/${fleet}/models/${name}/v${version}/chunk/${index}`,
  chunks: (fleet: string, name: string, version: number) => `industrial-ai/${fleet}/models/${name}/v${version}/chunk/+`,
};

/** A topic level (fleet, gateway id, model name) may not hold MQTT separators or wildcards. */
export function validTopicLevel(s: unknown): s is string {
  return typeof s === 'string' && s.length > 0 && s.length <= 100 && !/[/+#]/.test(s) && !s.includes('\0');
}

/** Does `topic` match the MQTT filter `filter` (+ and # wildcards)? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export type MessageHandler = (topic: string, payload: Buffer, packet: mqtt.IPublishPacket) => void;

export interface SyncClientOptions extends mqtt.IClientOptions {
  /** ms to wait for a PUBACK before publishAcked rejects (the message may still be delivered later); default 30000 */
  ackTimeoutMs?: number;
}

/**
 * One MQTT connection shared by several users: each `subscribe(filter, handler)` adds a handler;
 * the broker subscription is made once per filter, and again on every (re)connection, so filters
 * asked for while offline take effect when the link comes up.
 */
export class SyncClient {
  readonly mqtt: mqtt.MqttClient;
  private handlers = new Map<string, Set<MessageHandler>>();
  private readonly ackTimeoutMs: number;

  constructor(url: string, options: SyncClientOptions = {}) {
    const { ackTimeoutMs, ...rest } = options;
    this.ackTimeoutMs = ackTimeoutMs ?? 30000;
    this.mqtt = mqtt.connect(url, { reconnectPeriod: 1000, connectTimeout: 10000, ...rest, resubscribe: false });
    // (re)subscribe every filter on every connection, also those asked for while offline: a gateway
    // that starts without its uplink must still get its subscriptions when the link comes up
    this.mqtt.on('connect', () => {
      for (const filter of this.handlers.keys()) this.mqtt.subscribe(filter, { qos: 1 }, () => undefined);
    });
    this.mqtt.on('error', () => {
      // reported through 'connect'/'offline' state; an unhandled 'error' event would crash the process
    });
    this.mqtt.on('message', (topic, payload, packet) => {
      for (const [filter, set] of this.handlers) {
        if (!topicMatches(filter, topic)) continue;
        for (const h of set) {
          try {
            h(topic, payload, packet);
          } catch {
            // a handler's failure must not stop the others
          }
        }
      }
    });
  }

  get connected(): boolean {
    return this.mqtt.connected;
  }

  /** Resolves on the first connection (or at once when connected). */
  waitConnected(timeoutMs = 10000): Promise<void> {
    if (this.mqtt.connected) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.mqtt.off('connect', onConnect);
        reject(new Error(`no MQTT connection within ${timeoutMs} ms`));
      }, timeoutMs);
      const onConnect = () => {
        clearTimeout(timer);
        resolve();
      };
      this.mqtt.once('connect', onConnect);
    });
  }

  /**
   * Publish with QoS 1 and resolve when the broker's PUBACK arrives. Rejects when the client is
   * closed or no PUBACK came within the ack timeout.
   */
  publishAcked(topic: string, payload: Buffer | string, options: { retain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    return new Promise((resolve, reject) => {
      const ms = options.timeoutMs ?? this.ackTimeoutMs;
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new Error(`no PUBACK for ${topic} within ${ms} ms`));
      }, ms);
      this.mqtt.publish(topic, payload, { qos: 1, retain: options.retain ?? false }, (err) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      });
    });
  }

  async subscribe(filter: string, handler: MessageHandler): Promise<void> {
    let set = this.handlers.get(filter);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.handlers.set(filter, set);
    }
    set.add(handler);
    if (fresh && this.mqtt.connected) {
      try {
        await this.mqtt.subscribeAsync(filter, { qos: 1 });
      } catch {
        // the connection dropped meanwhile: the 'connect' handler subscribes again
      }
    }
  }

  async unsubscribe(filter: string, handler: MessageHandler): Promise<void> {
    const set = this.handlers.get(filter);
    if (!set) return;
    set.delete(handler);
    if (set.size === 0) {
      this.handlers.delete(filter);
      if (this.mqtt.connected) await this.mqtt.unsubscribeAsync(filter).catch(() => undefined);
    }
  }

  close(force = false): Promise<void> {
    return this.mqtt.endAsync(force);
  }
}

export interface EmbeddedBroker {
  url: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

/** Start an aedes broker (MQTT 3.1.1) on `host` (default 127.0.0.1), `port` 0 = a free port. */
export async function startEmbeddedBroker(options: { host?: string; port?: number } = {}): Promise<EmbeddedBroker> {
  const { Aedes } = require('aedes') as typeof import('aedes');
  const host = options.host ?? '127.0.0.1';
  const aedes = await Aedes.createBroker({ drainTimeout: 30000, heartbeatInterval: 60000 });
  const server = net.createServer(aedes.handle as unknown as (socket: net.Socket) => void);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const sockets = new Set<net.Socket>();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://${host}:${port}`,
    host,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => aedes.close(() => resolve()));
      }),
  };
}

/** A free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}
