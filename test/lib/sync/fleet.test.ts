/**
 * Integration: one cloud and 8 gateways on a real broker (aedes on loopback; Mosquitto too when it
 * is installed): samples up, a signed model down to all 8, versions reported, then the faults.
 */
import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { DurableQueue } from '../../../lib/store/queue';
import { describeModel, generateKeyPair, signManifest, trustedKeys, chunkOf, SignedManifest } from '../../../lib/sync/manifest';
import { ModelReceiver, InstalledModel } from '../../../lib/sync/receiver';
import { SyncClient, topics } from '../../../lib/sync/transport';
import { EdgeSync, ModelEventReport } from '../../../lib/sync/edge';
import { CloudSync, ReceivedBatch } from '../../../lib/sync/cloud';
import { waitFor } from '../../support/harness';
import { aedesBroker, mosquittoBroker, MOSQUITTO, TestBroker } from './brokers';
import { modelBytes as bytes } from './model-bytes';

const GATEWAYS = 8;
const FLEET = 'weld';


interface Gw {
  id: string;
  client: SyncClient;
  edge: EdgeSync;
  queue: DurableQueue;
  dir: string;
  models: Array<{ model: InstalledModel; kind: string }>;
  events: ModelEventReport[];
}

function fleetSuite(label: string, makeBroker: () => Promise<TestBroker>) {
  describe(`lib/sync fleet of ${GATEWAYS} gateways on ${label}`, function () {
    this.timeout(30000);
    const keys = generateKeyPair();
    const stranger = generateKeyPair();
    let broker: TestBroker;
    let root: string;
    let cloudClient: SyncClient;
    let cloud: CloudSync;
    let cloudStore: DurableQueue;
    const batches: ReceivedBatch[] = [];
    const gws: Gw[] = [];
    const opts = { reconnectPeriod: 200, ackTimeoutMs: 1000 };

    async function startGateway(id: string, dir: string): Promise<Gw> {
      const client = new SyncClient(broker.url, { ...opts, clientId: `gw-${id}-${crypto.randomBytes(3).toString('hex')}` });
      await client.waitConnected();
      const queue = new DurableQueue({ path: path.join(dir, 'samples.db'), maxAgeMs: 0, synchronous: 'NORMAL' });
      const gw: Gw = { id, client, queue, dir, models: [], events: [], edge: null as unknown as EdgeSync };
      gw.edge = new EdgeSync({
        client, fleet: FLEET, gatewayId: id, queue, batchSize: 40,
        receiver: new ModelReceiver({ dir: path.join(dir, 'models'), trusted: trustedKeys(keys.publicKey) }),
        onModel: (model, kind) => gw.models.push({ model, kind }),
        onEvent: (e) => gw.events.push(e),
      });
      await gw.edge.start();
      return gw;
    }

    async function stopGateway(gw: Gw): Promise<void> {
      await gw.edge.close();
      await gw.client.close(true);
      gw.queue.close();
    }

    /** publish chunks `which` of a signed model by hand (retained), optionally tampering one */
    async function publishChunks(s: SignedManifest, data: Buffer, which: number[], tamper?: number): Promise<void> {
      for (const i of which) {
        const c = Buffer.from(chunkOf(data, s.manifest, i));
        if (i === tamper) c[0] ^= 0xff;
        await cloudClient.publishAcked(topics.chunk(FLEET, s.manifest.name, s.manifest.version, i), c, { retain: true });
      }
    }

    const installedVersions = () => gws.map((g) => g.edge.receiver.installed('turbine')?.version ?? 0);
    const lastEvent = (g: Gw) => g.events[g.events.length - 1];

    before(async () => {
      broker = await makeBroker();
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-fleet-'));
      cloudClient = new SyncClient(broker.url, { ...opts, clientId: `cloud-${crypto.randomBytes(3).toString('hex')}` });
      await cloudClient.waitConnected();
      cloudStore = new DurableQueue({ path: ':memory:', maxAgeMs: 0 });
      cloud = new CloudSync({ client: cloudClient, fleet: FLEET, store: cloudStore, privateKey: keys.privateKey, chunkSize: 16 * 1024, onSamples: (b) => batches.push(b) });
      await cloud.start();
      for (let i = 0; i < GATEWAYS; i++) gws.push(await startGateway(`gw${i}`, path.join(root, `gw${i}`)));
    });

    after(async () => {
      for (const g of gws) await stopGateway(g).catch(() => undefined);
      await cloud.close();
      await cloudClient.close(true);
      cloudStore.close();
      await broker.stop();
      fs.rmSync(root, { recursive: true, force: true });
    });

    it('uploads every gateway\'s samples in gzip batches; the cloud stores each exactly once', async () => {
      for (const g of gws) {
        const samples = Array.from({ length: 100 }, (_, k) => ({ payload: { current: k, voltage: Number(g.id.slice(2)) }, labels: { defect: k % 2 }, timestamp: 1_700_000_000_000 + k }));
        assert.equal(g.edge.addSamples(samples).length, 100);
      }
      const results = await Promise.all(gws.map((g) => g.edge.upload()));
      for (const r of results) assert.deepEqual(r, { batches: 3, samples: 100, backlog: 0 });
      await waitFor(() => cloud.stored === GATEWAYS * 100, 5000);
      // each gateway's samples arrived once and whole: ids 1..100, payload as sent
      for (const g of gws) {
        const got = batches.filter((b) => b.gateway === g.id).flatMap((b) => b.accepted);
        assert.deepEqual(got.map((s) => s.id), Array.from({ length: 100 }, (_, k) => k + 1));
        assert.deepEqual(got[7].payload, { current: 7, voltage: Number(g.id.slice(2)) });
        assert.deepEqual(got[7].labels, { defect: 1 });
      }
      await waitFor(() => cloud.fleetView().length === GATEWAYS && cloud.fleetView().every((v) => v.backlog === 0 && v.samplesReceived === 100), 5000);
    });

    it('a batch delivered twice (PUBACK lost) is counted once', async () => {
      const raw = zlib.gzipSync(Buffer.from(JSON.stringify({ gateway: 'gw0', samples: [{ id: 100, payload: { current: 99 } }, { id: 101, payload: { current: 1 } }] })));
      await cloudClient.publishAcked(topics.samples(FLEET, 'gw0'), raw);
      await cloudClient.publishAcked(topics.samples(FLEET, 'gw0'), raw);
      // first delivery: id 100 is old (1 dropped), 101 new; second delivery: both old (2 dropped)
      await waitFor(() => cloud.fleetView()[0].duplicatesDropped === 3, 5000);
      assert.equal(cloud.stored, GATEWAYS * 100 + 1);
    });

    const v1 = bytes(300_000, 101);
    it('delivers a signed model to all 8 gateways, which install it and report the version', async () => {
      const signed = await cloud.publishModel(v1, { name: 'turbine', version: 1, metrics: { mae: 0.12 } });
      assert.equal(signed.manifest.chunkCount, Math.ceil(300_000 / 16384));
      await waitFor(() => installedVersions().every((v) => v === 1), 10000);
      for (const g of gws) {
        assert.deepEqual(fs.readFileSync(path.join(g.dir, 'models', 'turbine.onnx')), v1);
        assert.equal(g.models.length, 1);
        assert.equal(g.models[0].kind, 'installed');
        assert.equal(g.models[0].model.sha256, crypto.createHash('sha256').update(v1).digest('hex'));
        assert.deepEqual(g.models[0].model.metrics, { mae: 0.12 });
      }
      await waitFor(() => cloud.fleetView().every((v) => v.models.turbine?.version === 1), 5000);
    });

    it('rejects a bad signature, an unknown key and an older version; running models untouched', async () => {
      const v2 = bytes(50_000, 202);
      const good = signManifest(describeModel(v2, { name: 'turbine', version: 2, chunkSize: 16384 }), keys.privateKey);
      const badSig = { ...good, manifest: { ...good.manifest, metrics: { mae: 0.001 } } };
      await cloud.publishEnvelope('turbine', badSig);
      await waitFor(() => gws.every((g) => /^bad-signature/.test(lastEvent(g)?.reason ?? '')), 5000);
      const unknown = signManifest(describeModel(v2, { name: 'turbine', version: 2, chunkSize: 16384 }), stranger.privateKey);
      await cloud.publishEnvelope('turbine', unknown);
      await waitFor(() => gws.every((g) => /^unknown-key/.test(lastEvent(g)?.reason ?? '')), 5000);
      const older = signManifest(describeModel(bytes(1000, 5), { name: 'turbine', version: 1, chunkSize: 16384 }), keys.privateKey);
      await cloud.publishEnvelope('turbine', older);
      await waitFor(() => gws.every((g) => /^older-version/.test(lastEvent(g)?.reason ?? '')), 5000);
      assert.deepEqual(installedVersions(), Array(GATEWAYS).fill(1));
      for (const g of gws) assert.deepEqual(fs.readFileSync(path.join(g.dir, 'models', 'turbine.onnx')), v1);
      // the rejection reaches the cloud's fleet view
      await waitFor(() => cloud.fleetView().every((v) => v.lastModelEvent?.event === 'rejected'), 5000);
    });

    it('rejects a tampered chunk and installs when the intact chunk is published again', async () => {
      const v2 = bytes(80_000, 303);
      const s = signManifest(describeModel(v2, { name: 'turbine', version: 2, chunkSize: 16384 }), keys.privateKey);
      await publishChunks(s, v2, [0, 1, 2, 3, 4], 2);
      await cloud.publishEnvelope('turbine', s);
      await waitFor(() => gws.every((g) => g.events.some((e) => e.model.version === 2 && /^tampered-chunk/.test(e.reason ?? ''))), 5000);
      assert.deepEqual(installedVersions(), Array(GATEWAYS).fill(1));
      await publishChunks(s, v2, [2]);
      await waitFor(() => installedVersions().every((v) => v === 2), 5000);
      for (const g of gws) assert.deepEqual(fs.readFileSync(path.join(g.dir, 'models', 'turbine.onnx')), v2);
    });

    it('a transfer cut by a gateway restart resumes from the chunks it holds', async () => {
      const v3 = bytes(160_000, 404);
      const s = signManifest(describeModel(v3, { name: 'turbine', version: 3, chunkSize: 16384 }), keys.privateKey);
      const n = s.manifest.chunkCount;
      const half = Array.from({ length: 5 }, (_, i) => i);
      await publishChunks(s, v3, half);
      await cloud.publishEnvelope('turbine', s);
      const g = gws[3];
      await waitFor(() => g.edge.status().transfer?.received === 5, 5000);
      // the gateway goes down mid-transfer and comes back
      await stopGateway(g);
      const back = await startGateway(g.id, g.dir);
      gws[3] = back;
      await waitFor(() => back.events.some((e) => e.event === 'resumed'), 5000);
      assert.match(back.events.find((e) => e.event === 'resumed')?.reason ?? '', new RegExp(`^5 of ${n} chunks`));
      await publishChunks(s, v3, Array.from({ length: n - 5 }, (_, i) => i + 5));
      await waitFor(() => installedVersions().every((v) => v === 3), 5000);
      assert.deepEqual(fs.readFileSync(path.join(back.dir, 'models', 'turbine.onnx')), v3);
      assert.deepEqual(fs.readFileSync(path.join(back.dir, 'models', 'turbine.previous.onnx')).length, 80_000);
    });

    it('a refusal by the model consumer restores the previous version and is reported', async () => {
      const g = gws[5];
      const installedCount = g.models.length;
      // a refusal naming another model (or an older sha) restores nothing
      assert.equal(g.edge.modelEvent({ event: 'refused', model: { name: 'turbine', version: 2, sha256: 'f'.repeat(64) }, reason: 'stale' }), null);
      assert.equal(g.edge.receiver.installed('turbine')?.version, 3);
      const sha3 = g.edge.receiver.installed('turbine')?.sha256;
      // the consumer names the model by its own metadata name: found by sha256
      const restored = g.edge.modelEvent({ event: 'refused', model: { name: 'gas-turbine', version: 3, sha256: sha3 }, reason: 'input shape differs' });
      assert.equal(restored?.version, 2);
      // the consumer refused, so it still runs v2: no model message is sent again
      assert.equal(g.models.length, installedCount);
      assert.equal(fs.readFileSync(path.join(g.dir, 'models', 'turbine.onnx')).length, 80_000);
      // (the cloud's view may still show the v2 of before the v3 install: wait for the refusal's report)
      await waitFor(() => {
        const v = cloud.fleetView().find((x) => x.gateway === g.id);
        return v?.models.turbine?.version === 2 && /input shape differs; restored v2/.test(v.lastModelEvent?.reason ?? '');
      }, 5000);
      assert.equal(cloud.fleetView().find((v) => v.gateway === g.id)?.lastModelEvent?.event, 'refused');
    });

    it('with a persistent session the broker queues uploads while the cloud is offline', async () => {
      const id = `cloud-persist-${crypto.randomBytes(3).toString('hex')}`;
      const store = new DurableQueue({ path: ':memory:', maxAgeMs: 0 });
      let c = new SyncClient(broker.url, { ...opts, clientId: id, clean: false });
      await c.waitConnected();
      let sync = new CloudSync({ client: c, fleet: FLEET, store });
      await sync.start();
      await c.close(true); // the cloud goes down; its session stays on the broker
      const g = gws[2];
      g.edge.addSamples(Array.from({ length: 12 }, (_, k) => ({ payload: { current: 500 + k } })));
      const up = await g.edge.upload();
      assert.deepEqual(up, { batches: 1, samples: 12, backlog: 0 });
      c = new SyncClient(broker.url, { ...opts, clientId: id, clean: false });
      sync = new CloudSync({ client: c, fleet: FLEET, store });
      await sync.start();
      await waitFor(() => store.size === 12, 5000);
      await sync.close();
      await c.close(true);
      store.close();
    });

    it('an upload while the broker is down keeps the samples; after it is back they arrive once', async () => {
      const g = gws[1];
      g.edge.addSamples(Array.from({ length: 30 }, (_, k) => ({ payload: { current: 1000 + k } })));
      const before = cloud.stored;
      await broker.stop();
      await waitFor(() => !g.client.connected, 5000);
      const failed = await g.edge.upload();
      assert.ok(failed.error, 'upload must fail without the broker');
      assert.equal(failed.backlog, 30);
      await broker.restart();
      await waitFor(() => g.client.connected && cloudClient.connected, 10000);
      // the cloud resubscribes on every connect (SyncClient); wait for that SUBACK before uploading,
      // since a broker restarted without persistence forgets sessions and queues nothing
      await cloudClient.mqtt.subscribeAsync(topics.samples(FLEET, '+'), { qos: 1 });
      const ok = await g.edge.upload();
      assert.equal(ok.error, undefined);
      assert.equal(ok.backlog, 0);
      await waitFor(() => cloud.stored === before + 30, 5000);
      // mqtt.js may resend the unacknowledged batch on reconnect: still counted once
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(cloud.stored, before + 30);
    });
  });
}

fleetSuite('aedes (embedded, loopback)', aedesBroker);
if (fs.existsSync(MOSQUITTO)) fleetSuite('Mosquitto (loopback)', mosquittoBroker);
else {
  describe('lib/sync fleet on Mosquitto', () => {
    it('skipped: /usr/sbin/mosquitto is not installed', function () {
      console.log('      Mosquitto fleet test skipped: /usr/sbin/mosquitto not found');
      this.skip();
    });
  });
}
