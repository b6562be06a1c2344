/**
 * cloud-sync and ai-broker through the Node-RED test helper: one cloud and two gateways on the
 * embedded aedes broker (127.0.0.1, free port), samples up, a signed ONNX model down, hot-swap
 * message out, refusal → restore, fleet view, edge-cache acknowledgements, bad input to Catch.
 */
import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { helper, loadNode, startServer, stopServer, waitFor, Harness } from '../support/harness';
import { generateKeyPair } from '../../lib/sync/manifest';
import { SyncClient, topics } from '../../lib/sync/transport';
import { loadModel } from '../../lib/onnx/model';
import { mosquittoBroker, MOSQUITTO, MOSQUITTO_PASSWD } from '../lib/sync/brokers';

const brokerNode = require('../../nodes/ai-broker/ai-broker');
const cloudSyncNode = require('../../nodes/cloud-sync/cloud-sync');

const MODEL = path.join(__dirname, '../../models/turbine-multitask.onnx');

function modelBytes(version: number): Buffer {
  const m = loadModel(MODEL);
  m.modelVersion = version;
  return m.toBuffer();
}

describe('cloud-sync node', function () {
  this.timeout(20000);
  const keys = generateKeyPair();
  let root: string;

  before(startServer);
  after(stopServer);
  beforeEach(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'cloud-sync-node-'));
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(root, { recursive: true, force: true });
  });

  const broker = { id: 'b1', type: 'ai-broker', embedded: true, embeddedPort: 0, url: '' };

  /** n1 = gateway gw-a; extra: cloud c1 and gateway gw-b, each wired to helper nodes */
  async function fleetFlow(): Promise<{ h: Harness; cloudOut: any[][]; gwbOut: any[][] }> {
    const cloudOut: any[][] = [[], [], []];
    const gwbOut: any[][] = [[], [], []];
    const h = await loadNode(
      [brokerNode, cloudSyncNode],
      { type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'weld', gatewayId: 'gw-a', dataDir: path.join(root, 'gw-a'), uploadInterval: 4, trustedKeys: keys.publicKey },
      3,
      [
        broker,
        { id: 'c1', type: 'cloud-sync', role: 'cloud', broker: 'b1', fleet: 'weld', dataDir: path.join(root, 'cloud'), chunkSize: 16, wires: [['c1o0'], ['c1o1'], ['c1o2']] },
        { id: 'c1o0', type: 'helper' }, { id: 'c1o1', type: 'helper' }, { id: 'c1o2', type: 'helper' },
        { id: 'e2', type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'weld', gatewayId: 'gw-b', dataDir: path.join(root, 'gw-b'), trustedKeys: keys.publicKey, wires: [['e2o0'], ['e2o1'], ['e2o2']] },
        { id: 'e2o0', type: 'helper' }, { id: 'e2o1', type: 'helper' }, { id: 'e2o2', type: 'helper' },
      ],
      { b1: { user: 'gateway', password: 's3cret' }, c1: { privateKey: keys.privateKey.replace(/\n/g, ' ') } },
    );
    for (let i = 0; i < 3; i++) {
      helper.getNode(`c1o${i}`).on('input', (m: any) => cloudOut[i].push(m));
      helper.getNode(`e2o${i}`).on('input', (m: any) => gwbOut[i].push(m));
    }
    // wait until both gateways announced their status to the cloud
    const c1 = helper.getNode('c1');
    await new Promise<void>((resolve, reject) => {
      const start = Date.now();
      const poll = () => {
        c1.receive({ control: 'fleet' });
        setTimeout(() => {
          const last = cloudOut[2][cloudOut[2].length - 1];
          if (last && last.payload.length === 2) return resolve();
          if (Date.now() - start > 8000) return reject(new Error('gateways never reported'));
          poll();
        }, 50);
      };
      poll();
    });
    return { h, cloudOut, gwbOut };
  }

  it('declares username and password as credentials in the editor and runtime, never as flow properties', () => {
    const html = fs.readFileSync(path.join(__dirname, '../../nodes/ai-broker/ai-broker.html'), 'utf8');
    const js = html.slice(html.indexOf("registerType('ai-broker'"));
    const defaultsText = js.slice(js.indexOf('defaults:'), js.indexOf('credentials:'));
    const credText = js.slice(js.indexOf('credentials:'), js.indexOf('label:', js.indexOf('credentials:')));
    assert.ok(defaultsText.includes('url:') && credText.length > 0);
    assert.doesNotMatch(defaultsText, /\b(user|password)\s*:/);
    assert.match(credText, /user:\s*\{\s*type:\s*"text"/);
    assert.match(credText, /password:\s*\{\s*type:\s*"password"/);
    const cloudHtml = fs.readFileSync(path.join(__dirname, '../../nodes/cloud-sync/cloud-sync.html'), 'utf8');
    assert.match(cloudHtml, /credentials:\s*\{\s*privateKey:\s*\{\s*type:\s*"password"/);
  });

  const mosquittoAuth = fs.existsSync(MOSQUITTO) && fs.existsSync(MOSQUITTO_PASSWD) ? it : it.skip;
  mosquittoAuth('connects to a password-protected Mosquitto with the credentials (and not with wrong ones)', async () => {
    const mq = await mosquittoBroker({ gateway: 's3cret' });
    try {
      const edge = (creds: Record<string, string>) => loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'edge', broker: 'b2', fleet: 'auth', gatewayId: 'gw-a', dataDir: path.join(root, `gw-${creds.password}`), trustedKeys: keys.publicKey }, 3,
        [{ id: 'b2', type: 'ai-broker', embedded: false, url: mq.url, ackTimeout: 1 }], { b2: creds });
      const probe = new SyncClient(mq.url, { clientId: 'probe-auth', username: 'gateway', password: 's3cret' });
      const seen: any[] = [];
      await probe.waitConnected();
      await probe.subscribe(topics.samples('auth', 'gw-a'), (_t, p) => seen.push(p));
      try {
        const h = await edge({ user: 'gateway', password: 's3cret' });
        h.send({ payload: { current: 1 } });
        h.send({ control: 'upload' });
        await h.until(() => h.outputs[2].some((m) => m.control === 'upload'), 10000);
        assert.deepEqual(h.outputs[2].find((m) => m.control === 'upload').payload, { batches: 1, samples: 1, backlog: 0 });
        await waitFor(() => seen.length === 1);
        await helper.unload();
        const bad = await edge({ user: 'gateway', password: 'wrong' });
        bad.send({ payload: { current: 2 } });
        bad.send({ control: 'upload' });
        // not authorised: the node still starts (a gateway may start without its link), stores the
        // sample, and the upload cannot be acknowledged, so the sample stays queued
        await bad.until(() => bad.caught.length === 1, 10000);
        assert.match(bad.caught[0].error.message, /upload stopped: .* \(1 samples kept\)/);
        assert.equal(seen.length, 1);
        assert.equal(bad.completed.length, 1);
      } finally {
        await probe.close(true);
      }
    } finally {
      await helper.unload();
      await mq.stop();
    }
  });

  it('stores samples, uploads them on control "upload", and the cloud receives them once', async () => {
    const { h, cloudOut } = await fleetFlow();
    for (let k = 0; k < 5; k++) h.send({ payload: { current: 100 + k, voltage: 20 }, labels: { porosity: k % 2 }, timestamp: 1_700_000_000_000 + k });
    h.send({ payload: { current: 'high' } });
    h.send({ payload: 'nothing' });
    // Complete sees the 5 stored messages; the 2 bad ones end in done(err) and reach Catch
    await h.until(() => h.completed.length === 5 && h.caught.length === 2);
    assert.match(h.caught[0].error.message, /msg\.payload\.current: expected a finite number/);
    assert.match(h.caught[1].error.message, /msg\.payload: expected a record/);
    h.send({ control: 'upload' });
    await h.until(() => h.outputs[2].some((m) => m.control === 'upload'));
    assert.deepEqual(h.outputs[2].find((m) => m.control === 'upload').payload, { batches: 1, samples: 5, backlog: 0 });
    await waitFor(() => cloudOut[0].length === 1);
    const batch = cloudOut[0][0];
    assert.equal(batch.gateway, 'gw-a');
    assert.deepEqual(batch.payload.map((s: any) => s.payload.current), [100, 101, 102, 103, 104]);
    assert.deepEqual(batch.payload[3].labels, { porosity: 1 });
    assert.equal(batch.payload[4].timestamp, 1_700_000_000_004);
    // a second upload has nothing to send
    h.send({ control: 'upload' });
    await h.until(() => h.outputs[2].filter((m) => m.control === 'upload').length === 2);
    assert.deepEqual(h.outputs[2].filter((m) => m.control === 'upload')[1].payload, { batches: 0, samples: 0, backlog: 0 });
    assert.equal(h.completed.length, 7);
  });

  it('publishes a signed ONNX model to both gateways, which emit a hot-swap message; a refusal restores the previous one', async () => {
    const { h, cloudOut, gwbOut } = await fleetFlow();
    const c1 = helper.getNode('c1');
    const v2 = modelBytes(2);
    c1.receive({ payload: v2, model: { name: 'turbine', metrics: { state_accuracy: 0.95 } } });
    await waitFor(() => h.outputs[0].length === 1 && gwbOut[0].length === 1, 10000);
    const sha2 = crypto.createHash('sha256').update(v2).digest('hex');
    for (const m of [h.outputs[0][0], gwbOut[0][0]]) {
      assert.equal(m.model.name, 'turbine');
      assert.equal(m.model.version, 2);
      assert.equal(m.model.sha256, sha2);
      assert.deepEqual(m.model.metrics, { state_accuracy: 0.95 });
      assert.deepEqual(fs.readFileSync(m.model.path), v2);
    }
    assert.equal(cloudOut[1].length, 1);
    assert.equal(cloudOut[1][0].model.version, 2);
    assert.equal(cloudOut[1][0].payload.manifest.chunkCount, Math.ceil(v2.length / 16384));

    const v3 = modelBytes(3);
    c1.receive({ payload: v3, model: { name: 'turbine' } });
    await waitFor(() => h.outputs[0].length === 2 && gwbOut[0].length === 2, 10000);
    assert.equal(h.outputs[0][1].model.version, 3);
    // multitask-infer refuses v3 on gw-a: gw-a restores v2 and says so
    h.send({ control: 'model-event', payload: { event: 'refused', model: { name: 'turbine', version: 3, sha256: h.outputs[0][1].model.sha256 }, reason: 'heads differ' } });
    await h.until(() => h.outputs[2].some((m) => m.control === 'model-event'));
    // the file on disk is v2 again; no model message (multitask-infer, having refused, runs v2)
    assert.equal(h.outputs[0].length, 2);
    assert.deepEqual(fs.readFileSync(h.outputs[0][0].model.path), v2);
    const answer = h.outputs[2].find((m) => m.control === 'model-event');
    assert.deepEqual(answer.payload.restored, { name: 'turbine', version: 2 });
    // the fleet view shows gw-a back on v2 and gw-b on v3
    await waitFor(() => {
      c1.receive({ control: 'fleet' });
      const last = cloudOut[2][cloudOut[2].length - 1];
      const view = Object.fromEntries(last.payload.map((v: any) => [v.gateway, v]));
      return view['gw-a']?.models.turbine?.version === 2 && view['gw-a'].lastModelEvent?.event === 'refused' && view['gw-b']?.models.turbine?.version === 3;
    }, 5000);
    assert.equal(h.caught.length, 0);
  });

  it('after a restart a gateway announces its installed model again on output 1 (reason "startup")', async () => {
    const { h } = await fleetFlow();
    const v2 = modelBytes(2);
    helper.getNode('c1').receive({ payload: v2, model: { name: 'turbine' } });
    await waitFor(() => h.outputs[0].length === 1, 10000);
    assert.equal(h.outputs[0][0].reason, 'installed');
    await helper.unload();
    const again = await loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'weld', gatewayId: 'gw-a', dataDir: path.join(root, 'gw-a'), trustedKeys: keys.publicKey }, 3, [broker], { b1: { user: 'gateway', password: 's3cret' } });
    await again.until(() => again.outputs[0].length === 1, 10000);
    const m = again.outputs[0][0];
    assert.equal(m.reason, 'startup');
    assert.deepEqual([m.model.name, m.model.version, m.model.sha256], ['turbine', 2, crypto.createHash('sha256').update(v2).digest('hex')]);
    assert.deepEqual(fs.readFileSync(m.model.path), v2);
    assert.equal(again.caught.length, 0);
  });

  it('the cloud reports a bad model message to Catch and keeps running', async () => {
    const h = await loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'cloud', broker: 'b1', fleet: 'weld', dataDir: path.join(root, 'cloud') }, 3, [broker], { n1: { privateKey: keys.privateKey } });
    h.send({ payload: modelBytes(3), model: { name: 'turbine', version: 4 } });
    h.send({ payload: Buffer.from('not onnx'), model: { name: 'turbine' } });
    h.send({ payload: modelBytes(0), model: { name: 'turbine' } });
    h.send({ payload: modelBytes(5), model: { name: 'bad/name' } });
    h.send({ control: 'frobnicate' });
    h.send({ control: 'retrain' });
    h.send({ control: 'fleet' });
    await h.until(() => h.completed.length === 1 && h.caught.length === 6);
    const messages = h.caught.map((m) => m.error.message);
    assert.match(messages[0], /msg\.model\.version: expected the file's model_version \(3\), got 4/);
    assert.match(messages[1], /msg\.payload: expected an ONNX model/);
    assert.match(messages[2], /model_version >= 1/);
    assert.match(messages[3], /msg\.model\.name/);
    assert.match(messages[4], /msg\.control/);
    assert.match(messages[5], /msg\.model\.name: expected the name of a model this cloud has published \(none yet\)/);
    assert.deepEqual(h.outputs[2][0].payload, []);
  });

  it('acts as edge-cache\'s uplink: a live message goes out QoS 1 and msg.ack comes back on PUBACK', async () => {
    const h = await loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'weld', gatewayId: 'gw-a', dataDir: path.join(root, 'gw'), trustedKeys: keys.publicKey }, 3, [broker]);
    const b = helper.getNode('b1');
    await waitFor(() => /:\d+$/.test(b.brokerUrl) && !b.brokerUrl.endsWith(':0'));
    const probe = new SyncClient(b.brokerUrl, { clientId: 'probe' });
    const seen: any[] = [];
    await probe.waitConnected();
    await probe.subscribe(topics.live('weld', 'gw-a'), (_t, p) => seen.push(JSON.parse(p.toString())));
    try {
      h.send({ topic: 'seam', payload: { current: 181.5 }, _cacheId: 41 });
      h.send({ topic: 'seam', payload: { current: 182.5 }, _cacheId: 42 });
      await h.until(() => h.outputs[1].length === 2);
      assert.deepEqual(h.outputs[1].map((m) => m.ack), [41, 42]);
      await waitFor(() => seen.length === 2);
      assert.deepEqual(seen[0], { id: 41, topic: 'seam', payload: { current: 181.5 } });
      assert.equal(h.completed.length, 2);
    } finally {
      await probe.close(true);
    }
  });

  it('shows a configuration error in status and through Catch', async () => {
    const statusNode = require('@node-red/nodes/core/common/25-status.js');
    const statuses: any[] = [];
    const h = await loadNode([brokerNode, cloudSyncNode, statusNode], { type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'weld', gatewayId: 'gw-a', dataDir: path.join(root, 'gw'), trustedKeys: '' }, 3, [
      broker,
      { id: 'st', type: 'status', scope: ['n1'], wires: [['sto']] },
      { id: 'sto', type: 'helper' },
    ]);
    helper.getNode('sto').on('input', (m: any) => statuses.push(m.status));
    h.send({ payload: { x: 1 } });
    await h.until(() => h.caught.length === 1 && statuses.length > 0);
    assert.match(h.caught[0].error.message, /config trustedKeys/);
    assert.equal(h.completed.length, 0);
    assert.equal(statuses[statuses.length - 1].fill, 'red');
    assert.match(statuses[statuses.length - 1].text, /config trustedKeys/);
    await helper.unload();
    const h2 = await loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'edge', broker: 'nope', fleet: 'a/b', gatewayId: 'gw', trustedKeys: keys.publicKey }, 3, [broker]);
    h2.send({ payload: { x: 1 } });
    await h2.until(() => h2.caught.length === 1);
    assert.match(h2.caught[0].error.message, /config fleet/);
    await helper.unload();
    const h3 = await loadNode([brokerNode, cloudSyncNode], { type: 'cloud-sync', role: 'edge', broker: 'nope', fleet: 'weld', gatewayId: 'gw', trustedKeys: keys.publicKey }, 3, [broker]);
    h3.send({ payload: { x: 1 } });
    await h3.until(() => h3.caught.length === 1);
    assert.match(h3.caught[0].error.message, /config broker/);
  });

  it('key-file mode: the cloud creates its signing key file, a gateway deployed before it trusts the .pub file', async () => {
    const keyFile = path.join(root, 'keys', 'signing.pem');
    const cloudOut: any[][] = [[], [], []];
    const h = await loadNode(
      [brokerNode, cloudSyncNode],
      { type: 'cloud-sync', role: 'edge', broker: 'b1', fleet: 'demo', gatewayId: 'gw-1', dataDir: path.join(root, 'gw'), trustedKeysFile: keyFile + '.pub' },
      3,
      [broker, { id: 'c1', type: 'cloud-sync', role: 'cloud', broker: 'b1', fleet: 'demo', dataDir: path.join(root, 'cloud'), keyFile, wires: [['c1o0'], ['c1o1'], ['c1o2']] },
        { id: 'c1o0', type: 'helper' }, { id: 'c1o1', type: 'helper' }, { id: 'c1o2', type: 'helper' }],
    );
    for (let i = 0; i < 3; i++) helper.getNode(`c1o${i}`).on('input', (m: any) => cloudOut[i].push(m));
    assert.ok(fs.existsSync(keyFile) && fs.existsSync(keyFile + '.pub'));
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    helper.getNode('c1').receive({ payload: modelBytes(7), model: { name: 'weld' } });
    await h.until(() => h.outputs[0].length === 1, 10000);
    assert.equal(h.outputs[0][0].model.version, 7);
    assert.equal(cloudOut[1].length, 1);
    assert.equal(h.caught.length, 0);
  });

  it('the example flow welding-fleet-sync.json runs a full cycle on its own: samples up, retrain, v2 down, hot swap, versions reported', async function () {
    this.timeout(40000);
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/welding-fleet-sync.json'), 'utf8'));
    const seen: Record<string, any[]> = {};
    for (const n of flow) {
      if (n.type === 'cloud-sync') {
        n.dataDir = path.join(root, n.id);
        if (n.keyFile) n.keyFile = path.join(root, 'keys', 'signing-key.pem');
        if (n.trustedKeysFile) n.trustedKeysFile = path.join(root, 'keys', 'signing-key.pem.pub');
      }
      if (n.type === 'debug') {
        n.type = 'helper';
        seen[n.id] = [];
      }
    }
    const modules = [
      brokerNode, cloudSyncNode, require('../../nodes/multitask-infer/multitask-infer'), require('../../nodes/onnx-model/onnx-model'),
      require('@node-red/nodes/core/common/20-inject.js'), require('@node-red/nodes/core/function/10-function.js'),
      require('@node-red/nodes/core/function/10-switch.js'), require('@node-red/nodes/core/common/90-comment.js'),
    ];
    await helper.load(modules, flow);
    for (const id of Object.keys(seen)) helper.getNode(id).on('input', (m: any) => seen[id].push(m));
    const fleetOn = (v: number) => seen['wfs-dbg-fleet'].some((m) => m.payload.length === 3 && m.payload.every((g: any) => g.models['weld-seam']?.version === v));
    await waitFor(() => fleetOn(2) && seen['wfs-dbg-swap'].filter((m) => m.payload.event === 'installed' && m.payload.model.version === 2).length === 3, 30000).catch((err) => {
      const errors = helper.log().args.map((a: any[]) => a[0]).filter((e: any) => e && e.level <= 20).map((e: any) => e.msg);
      throw new Error(`${err.message}; retraining: ${JSON.stringify(seen['wfs-dbg-retrain'].map((m) => m.payload))}; published: ${JSON.stringify(seen['wfs-dbg-pub'].map((m) => m.model.version))}; errors: ${JSON.stringify(errors)}`);
    });

    // samples up from all three gateways, labelled with the model's classification head
    assert.deepEqual(new Set(seen['wfs-dbg-samples'].map((m) => m.payload.gateway)), new Set(['gw-1', 'gw-2', 'gw-3']));
    for (const m of seen['wfs-dbg-samples']) assert.ok(Object.keys(m.payload.labels).every((l) => ['good', 'porosity', 'lack_of_fusion'].includes(l)));
    // v1 (the shipped file, byte for byte) and then the retrained v2 were published and installed on every gateway
    assert.deepEqual(seen['wfs-dbg-pub'].map((m) => m.model.version), [1, 2]);
    const installed = seen['wfs-dbg-model'].map((m) => m.model.version);
    assert.deepEqual(installed.filter((v) => v === 1).length, 3);
    assert.deepEqual(installed.filter((v) => v === 2).length, 3);
    // on each gateway the running file is v2 (its announced sha256), the one it replaced the shipped file, byte for byte
    for (const m of seen['wfs-dbg-model'].filter((x) => x.model.version === 2)) {
      const running = fs.readFileSync(m.model.path);
      assert.equal(crypto.createHash('sha256').update(running).digest('hex'), m.model.sha256);
      assert.equal(loadModel(running).modelVersion, 2);
      assert.deepEqual(fs.readFileSync(m.model.path.replace(/\.onnx$/, '.previous.onnx')), fs.readFileSync(path.join(__dirname, '../../models/weld-seam.onnx')));
    }
    // the retraining: fine-tuned on the uploaded samples, held-out loss not worse, published as v2
    assert.equal(seen['wfs-dbg-retrain'].length, 1);
    const r = seen['wfs-dbg-retrain'][0].payload;
    assert.equal(r.accepted, true, r.reason);
    assert.equal(r.published, true);
    assert.equal(r.previousVersion, 1);
    assert.equal(r.version, 2);
    assert.ok(r.after <= r.before);
    assert.ok(r.trainSamples >= 8 && r.testSamples >= 1);
    assert.equal(seen['wfs-dbg-pub'][1].model.metrics.heldOutLossAfter, r.after);
    // hot swaps: each gateway's multitask-infer loaded v1 and then v2, none refused
    const swaps = seen['wfs-dbg-swap'].map((m) => `${m.payload.event} v${m.payload.model.version}`);
    assert.equal(swaps.filter((s) => s === 'installed v1').length, 3);
    assert.equal(swaps.filter((s) => s === 'installed v2').length, 3);
    assert.equal(swaps.filter((s) => s.startsWith('refused')).length, 0);
    // the gateways reported the model events they got back from multitask-infer
    assert.ok(seen['wfs-dbg-gwev'].some((m) => m.control === 'model-event' && m.payload.event === 'installed'));
    // live seams were classified; the verdict lines name the model version that answered
    await waitFor(() => seen['wfs-dbg-verdict'].some((m) => m.payload.model === 'weld-seam v2'), 10000);
    for (const m of seen['wfs-dbg-verdict']) assert.ok(m.payload.accuracy >= 0 && m.payload.accuracy <= 1 && m.payload.seams > 0);
    // and nothing was logged as an error (Node-RED's log level 20; the checker deploys the example and looks for [error] lines)
    const bad = helper.log().args.map((a: any[]) => a[0]).filter((e: any) => e && e.level <= 20);
    assert.deepEqual(bad.map((e: any) => `${e.type ?? ''} ${e.msg}`), []);
  });

  it('full loop with multitask-infer: a signed model is hot-swapped; a model it refuses is rolled back on the gateway', async function () {
    this.timeout(30000);
    const inferNode = require('../../nodes/multitask-infer/multitask-infer');
    const onnxModelNode = require('../../nodes/onnx-model/onnx-model');
    const v1File = path.join(root, 'turbine-v1.onnx');
    fs.writeFileSync(v1File, modelBytes(1));
    const got: Record<string, any[]> = { gwModel: [], gwReport: [], events: [], published: [] };
    const flow = [
      { id: 'f1', type: 'tab', label: 'loop' },
      { ...broker, z: 'f1' },
      { id: 'cfg', type: 'onnx-model', path: v1File, runIn: 'main', z: 'f1' },
      { id: 'gw', type: 'cloud-sync', z: 'f1', role: 'edge', broker: 'b1', fleet: 'loop', gatewayId: 'gw-1', dataDir: path.join(root, 'gw'), trustedKeys: keys.publicKey, wires: [['infer', 'gwModel'], [], ['gwReport']] },
      { id: 'infer', type: 'multitask-infer', z: 'f1', model: 'cfg', property: 'payload', partial: 'pad', maxBatch: '1', maxWait: '5', maxPending: '1000', wires: [[], ['gw', 'events']] },
      { id: 'cl1', type: 'cloud-sync', z: 'f1', role: 'cloud', broker: 'b1', fleet: 'loop', dataDir: path.join(root, 'cloud'), wires: [[], ['published'], []] },
      { id: 'gwModel', type: 'helper', z: 'f1' }, { id: 'gwReport', type: 'helper', z: 'f1' }, { id: 'events', type: 'helper', z: 'f1' }, { id: 'published', type: 'helper', z: 'f1' },
    ];
    await helper.load([brokerNode, cloudSyncNode, inferNode, onnxModelNode], flow, { cl1: { privateKey: keys.privateKey } });
    for (const id of Object.keys(got)) helper.getNode(id).on('input', (m: any) => got[id].push(m));
    // (node ids must not equal property values such as role 'cloud': Node-RED would take them as references)
    const cloud = helper.getNode('cl1');
    cloud.receive({ payload: modelBytes(2), model: { name: 'turbine' } });
    await waitFor(() => got.events.some((m) => m.payload?.event === 'installed' && m.payload.model?.version === 2), 15000);
    await waitFor(() => got.gwReport.some((m) => m.control === 'model-event' && m.payload.event === 'installed'), 5000);

    // v3 whose metadata names a head output the graph does not have: multitask-infer refuses it
    const bad = loadModel(MODEL);
    bad.modelVersion = 3;
    const heads = JSON.parse(bad.metadata.heads);
    heads[0].output = 'no_such_output';
    bad.setMetadata('heads', JSON.stringify(heads));
    cloud.receive({ payload: bad.toBuffer(), model: { name: 'turbine' } });
    await waitFor(() => got.events.some((m) => m.payload?.event === 'refused' && m.payload.model?.version === 3), 15000);
    await waitFor(() => got.gwReport.some((m) => m.control === 'model-event' && m.payload.event === 'refused'), 5000);
    const answer = got.gwReport.find((m) => m.control === 'model-event' && m.payload.event === 'refused');
    assert.deepEqual(answer.payload.restored, { name: 'turbine', version: 2 });
    assert.deepEqual(fs.readFileSync(got.gwModel[0].model.path), modelBytes(2));
    assert.deepEqual(got.gwModel.map((m) => m.model.version), [2, 3]);
    // the refused version is not installed again when announced again
    helper.getNode('gw').receive({ control: 'status' });
    await waitFor(() => got.gwReport.some((m) => m.control === 'status'));
    assert.equal(got.gwReport.find((m) => m.control === 'status').payload.models.turbine.version, 2);
  });

  it('full cycle: labelled samples up, the cloud retrains and publishes only a model that is not worse, gateways install it', async function () {
    this.timeout(60000);
    const { turbineDataset, STATES, FAULTS } = require('../../tools/turbine-sim');
    const { h, cloudOut, gwbOut } = await fleetFlow();
    const c1 = helper.getNode('c1');
    c1.receive({ payload: modelBytes(1), model: { name: 'turbine' } });
    await waitFor(() => h.outputs[0].length === 1 && gwbOut[0].length === 1, 10000);
    turbineDataset(5150, 60, 8).forEach((s: any, i: number) => {
      s.records.forEach((rec: any, j: number) => {
        const last = j === s.records.length - 1;
        h.send({ topic: `w${i}`, payload: rec, ...(last ? { labels: { state: STATES[s.state], performance: { thermal_efficiency: s.performance[0] + 3, power: s.performance[1], exhaust_temperature: s.performance[2] }, faults: FAULTS.filter((_: string, k: number) => s.faults[k] === 1) } } : {}) });
      });
    });
    await h.until(() => h.completed.length === 480, 10000);
    h.send({ control: 'upload' });
    await waitFor(() => cloudOut[0].reduce((n, m) => n + m.payload.length, 0) === 480, 10000);
    c1.receive({ control: 'retrain', payload: { epochs: 6, learningRate: 0.003, batchSize: 16 } });
    await waitFor(() => cloudOut[2].some((m) => m.control === 'retrain'), 40000);
    const answer = cloudOut[2].find((m) => m.control === 'retrain').payload;
    assert.equal(answer.accepted, true, answer.reason);
    assert.ok(answer.after < answer.before);
    assert.equal(answer.version, 2);
    assert.equal(answer.published, true);
    assert.equal(answer.trainSamples, 48);
    await waitFor(() => h.outputs[0].length === 2 && gwbOut[0].length === 2, 15000);
    assert.equal(h.outputs[0][1].model.version, 2);
    assert.equal(h.outputs[0][1].model.metrics.heldOutLossAfter, answer.after);
    // the samples used are gone from the cloud's store; a retrain now has nothing to learn from
    c1.receive({ control: 'status' });
    await waitFor(() => cloudOut[2].some((m) => m.control === 'status'));
    assert.equal(cloudOut[2].find((m) => m.control === 'status').payload.stored, 0);
  });
});
