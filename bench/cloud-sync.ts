/**
 * cloud-sync bench: time to deliver a 42 MB model to 8 gateways (signed manifest + 96 KiB chunks,
 * each chunk hash-checked, staged, whole-file SHA-256, atomic install) against one raw QoS 1 MQTT
 * publish of the same bytes to 8 subscribers, in the same run, on the embedded aedes broker and on
 * Mosquitto when /usr/sbin/mosquitto exists.
 *
 *   npx tsx bench/cloud-sync.ts                 (42 MB, 3 rounds)
 *   BENCH_QUICK=1 npx tsx bench/cloud-sync.ts   (2 MB, 1 round)
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DurableQueue } from '../lib/store/queue';
import { generateKeyPair, trustedKeys, DEFAULT_CHUNK_SIZE } from '../lib/sync/manifest';
import { ModelReceiver } from '../lib/sync/receiver';
import { SyncClient } from '../lib/sync/transport';
import { EdgeSync } from '../lib/sync/edge';
import { CloudSync } from '../lib/sync/cloud';
import { aedesBroker, mosquittoBroker, MOSQUITTO, TestBroker } from '../test/lib/sync/brokers';

const QUICK = process.env.BENCH_QUICK === '1';
const SIZE = QUICK ? 2 * 1024 * 1024 : 42 * 1024 * 1024;
const ROUNDS = QUICK ? 1 : 3;
const GATEWAYS = 8;
/** a measurement that takes longer than this is reported as timed out instead of hanging the run */
const LIMIT_MS = 300_000;
/** long keep-alive: a client starved of CPU while parsing a 42 MB message must not be dropped for a missed ping */
const CLIENT = { keepalive: 600 };

function within<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${LIMIT_MS / 1000} s`)), LIMIT_MS);
  });
  return Promise.race([p, limit]).finally(() => clearTimeout(timer));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function rawPublish(broker: TestBroker, bytes: Buffer, round: number): Promise<number> {
  const topic = `bench/raw/${round}`;
  const subs: SyncClient[] = [];
  let received = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  for (let i = 0; i < GATEWAYS; i++) {
    const c = new SyncClient(broker.url, { ...CLIENT, clientId: `raw-${round}-${i}` });
    await c.waitConnected();
    await c.subscribe(topic, (_t, p) => {
      if (p.length === bytes.length && ++received === GATEWAYS) resolveAll();
    });
    subs.push(c);
  }
  const pub = new SyncClient(broker.url, { ...CLIENT, clientId: `raw-pub-${round}`, ackTimeoutMs: 600_000 });
  await pub.waitConnected();
  const t0 = process.hrtime.bigint();
  await within(Promise.all([pub.publishAcked(topic, bytes), all]), 'raw publish');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await pub.close(true);
  for (const c of subs) await c.close(true);
  return ms;
}

async function syncDelivery(broker: TestBroker, bytes: Buffer, round: number, root: string): Promise<number> {
  const keys = generateKeyPair();
  const cloudClient = new SyncClient(broker.url, { ...CLIENT, clientId: `cloud-${round}`, ackTimeoutMs: 600_000 });
  await cloudClient.waitConnected();
  const cloudStore = new DurableQueue({ path: ':memory:', maxAgeMs: 0 });
  const fleet = `bench${round}`;
  const cloud = new CloudSync({ client: cloudClient, fleet, store: cloudStore, privateKey: keys.privateKey, chunkSize: DEFAULT_CHUNK_SIZE });
  const edges: Array<{ edge: EdgeSync; client: SyncClient; queue: DurableQueue }> = [];
  let installed = 0;
  let resolveAll: () => void = () => undefined;
  const all = new Promise<void>((r) => (resolveAll = r));
  for (let i = 0; i < GATEWAYS; i++) {
    const client = new SyncClient(broker.url, { ...CLIENT, clientId: `gw-${round}-${i}` });
    await client.waitConnected();
    const queue = new DurableQueue({ path: ':memory:', maxAgeMs: 0 });
    const edge = new EdgeSync({
      client, fleet, gatewayId: `gw${i}`, queue,
      receiver: new ModelReceiver({ dir: path.join(root, `r${round}-gw${i}`), trusted: trustedKeys(keys.publicKey) }),
      onModel: () => {
        if (++installed === GATEWAYS) resolveAll();
      },
    });
    await edge.start();
    edges.push({ edge, client, queue });
  }
  const t0 = process.hrtime.bigint();
  await within(cloud.publishModel(bytes, { name: 'bench', version: 1 }).then(() => all), 'cloud-sync delivery');
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  // check one gateway's file
  const sha = crypto.createHash('sha256').update(fs.readFileSync(path.join(root, `r${round}-gw0`, 'bench.onnx'))).digest('hex');
  if (sha !== crypto.createHash('sha256').update(bytes).digest('hex')) throw new Error('installed file differs');
  for (const e of edges) {
    await e.edge.close();
    await e.client.close(true);
    e.queue.close();
  }
  // each round uses its own fleet (topic prefix), so earlier rounds' retained chunks are never read
  await cloud.close();
  await cloudClient.close(true);
  cloudStore.close();
  return ms;
}

async function runOn(label: string, make: () => Promise<TestBroker>, bytes: Buffer): Promise<void> {
  const broker = await make();
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-sync-'));
  const raw: number[] = [];
  const sync: number[] = [];
  try {
    for (let r = 0; r < ROUNDS; r++) {
      raw.push(await rawPublish(broker, bytes, r));
      sync.push(await syncDelivery(broker, bytes, r, root));
    }
  } finally {
    await broker.stop();
    fs.rmSync(root, { recursive: true, force: true });
  }
  const mb = bytes.length / 1024 / 1024;
  const chunks = Math.ceil(bytes.length / DEFAULT_CHUNK_SIZE);
  const r = median(raw);
  const s = median(sync);
  console.log(
    `${label.padEnd(10)} ${mb.toFixed(0).padStart(4)} MB x ${GATEWAYS}  raw publish ${r.toFixed(0).padStart(6)} ms (${((mb * GATEWAYS) / (r / 1000)).toFixed(0)} MB/s fan-out)` +
      `   cloud-sync ${s.toFixed(0).padStart(6)} ms (${chunks} chunks, ${((mb * GATEWAYS) / (s / 1000)).toFixed(0)} MB/s, ${(s / r).toFixed(2)}x raw)` +
      `   rounds: raw [${raw.map((x) => x.toFixed(0)).join(', ')}] sync [${sync.map((x) => x.toFixed(0)).join(', ')}]`,
  );
}

async function main(): Promise<void> {
  const bytes = crypto.randomBytes(SIZE);
  console.log(`cloud-sync bench: deliver a ${(SIZE / 1024 / 1024).toFixed(0)} MB model to ${GATEWAYS} gateways (median of ${ROUNDS}), node ${process.version}, ${os.cpus().length} cores`);
  await runOn('aedes', aedesBroker, bytes);
  if (fs.existsSync(MOSQUITTO)) await runOn('mosquitto', mosquittoBroker, bytes);
  else console.log('mosquitto  skipped: /usr/sbin/mosquitto not installed');
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
