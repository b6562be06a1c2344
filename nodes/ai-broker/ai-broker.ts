/**
 * ai-broker: MQTT broker configuration shared by cloud-sync nodes. One connection for every node
 * that uses it (register/deregister, as Node-RED's core MQTT broker node does); username and
 * password live in Node-RED's credential store, never in the flow. Optionally runs an embedded
 * aedes broker on 127.0.0.1 in the Node-RED process (the single-machine default) and connects to it.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import * as fs from 'fs';
import { configNumber } from '../shared/adapter';
import { SyncClient, startEmbeddedBroker, EmbeddedBroker } from '../../lib/sync/transport';
import { resolveUserPath } from '../../lib/paths';
import type { AiBrokerNode } from './types';

interface AiBrokerDef extends NodeDef {
  url?: string;
  embedded?: boolean;
  embeddedPort?: string | number;
  tls?: boolean;
  rejectUnauthorized?: boolean;
  ca?: string;
  clientId?: string;
  ackTimeout?: string | number;
  persistent?: boolean;
}

interface Credentials {
  user?: string;
  password?: string;
}

export = function (RED: NodeAPI): void {
  function AiBroker(this: AiBrokerNode, config: AiBrokerDef) {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors keep `this` for callbacks
    const node = this;
    const creds = ((node as unknown as { credentials?: Credentials }).credentials ?? {}) as Credentials;
    const users = new Map<string, Node>();
    let client: SyncClient | null = null;
    let embedded: EmbeddedBroker | null = null;
    let connecting: Promise<SyncClient> | null = null;
    let closing = false;
    node.configError = null;

    const embeddedOn = config.embedded === true || String(config.embedded) === 'true';
    const persistent = config.persistent === true || String(config.persistent) === 'true';
    let port = 1883;
    let ackTimeoutMs = 30000;
    try {
      const ackS = configNumber(config.ackTimeout, 'ackTimeout', 30);
      if (!(ackS > 0)) throw new Error(`config ackTimeout: expected seconds > 0, got ${JSON.stringify(config.ackTimeout)}`);
      ackTimeoutMs = ackS * 1000;
      port = configNumber(config.embeddedPort, 'embeddedPort', 1883);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`config embeddedPort: expected a port 0..65535, got ${JSON.stringify(config.embeddedPort)}`);
      if (!embeddedOn && !/^(mqtts?|wss?|tcp|ssl):\/\/[^\s]+$/.test(String(config.url ?? ''))) {
        throw new Error(`config url: expected mqtt://host:port (or mqtts://, ws://, wss://), got ${JSON.stringify(config.url ?? '')}`);
      }
    } catch (err) {
      node.configError = (err as Error).message;
      node.error(node.configError);
    }
    node.brokerUrl = embeddedOn ? `mqtt://127.0.0.1:${port}` : String(config.url ?? '');

    async function connect(): Promise<SyncClient> {
      if (node.configError) throw new Error(node.configError);
      let url = node.brokerUrl;
      if (embeddedOn) {
        embedded = await startEmbeddedBroker({ host: '127.0.0.1', port });
        url = embedded.url;
        node.brokerUrl = url;
        node.log(`embedded MQTT broker (aedes) listening on ${url}`);
        if (closing) {
          await embedded.close();
          embedded = null;
          throw new Error('broker node closed');
        }
      }
      const tls = config.tls === true || String(config.tls) === 'true' || /^(mqtts|wss|ssl):/.test(url);
      const options: Record<string, unknown> = {
        // a persistent session needs the same client id on every connection
        clientId: config.clientId || (persistent ? `industrial-ai-${node.id}` : `industrial-ai-${node.id}-${Math.random().toString(16).slice(2, 8)}`),
        clean: !persistent,
        reconnectPeriod: 2000,
        ackTimeoutMs,
      };
      if (creds.user) options.username = creds.user;
      if (creds.password) options.password = creds.password;
      if (tls) {
        options.rejectUnauthorized = config.rejectUnauthorized !== false && String(config.rejectUnauthorized) !== 'false';
        if (config.ca) options.ca = fs.readFileSync(resolveUserPath(config.ca, (RED.settings as unknown as { userDir?: string }).userDir || process.cwd()));
        if (url.startsWith('mqtt://')) url = 'mqtts://' + url.slice('mqtt://'.length);
      }
      client = new SyncClient(url, options);
      client.mqtt.on('connect', () => users.forEach((u) => u.emit('broker-status', 'connected')));
      client.mqtt.on('offline', () => users.forEach((u) => u.emit('broker-status', 'disconnected')));
      client.mqtt.on('reconnect', () => users.forEach((u) => u.emit('broker-status', 'connecting')));
      return client;
    }

    node.client = () => {
      if (!connecting) {
        connecting = connect();
        connecting.catch((err: Error) => node.error(`cannot start MQTT connection: ${err.message}`));
      }
      return connecting;
    };

    node.register = (user: Node) => {
      users.set(user.id, user);
      if (users.size === 1) node.client().catch(() => undefined);
    };

    node.deregister = (user: Node, done: () => void) => {
      users.delete(user.id);
      done();
    };

    node.on('close', (_removed: boolean, done: () => void) => {
      closing = true;
      const c = client;
      const e = embedded;
      client = null;
      embedded = null;
      (async () => {
        if (c) await c.close(true).catch(() => undefined);
        if (e) await e.close().catch(() => undefined);
      })().then(() => done(), () => done());
    });
  }

  RED.nodes.registerType('ai-broker', AiBroker as unknown as (this: Node, config: NodeDef) => void, {
    credentials: {
      user: { type: 'text' },
      password: { type: 'password' },
    },
  });
};
