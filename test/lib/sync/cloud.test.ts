import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { DurableQueue } from '../../../lib/store/queue';
import { CloudSync, ReceivedBatch } from '../../../lib/sync/cloud';
import { OnnxModel } from '../../../lib/onnx/model';
import type { SyncClient, MessageHandler } from '../../../lib/sync/transport';

/** a client that only records subscriptions, so the cloud's handlers can be fed directly */
function fakeClient(): { client: SyncClient; deliver(topic: string, payload: Buffer): void } {
  const handlers: Array<[string, MessageHandler]> = [];
  const client = {
    subscribe: async (f: string, h: MessageHandler) => void handlers.push([f, h]),
    unsubscribe: async () => undefined,
  } as unknown as SyncClient;
  return { client, deliver: (topic, payload) => handlers.filter(([f]) => f.endsWith(topic.split('/').pop()!)).forEach(([, h]) => h(topic, payload, {} as never)) };
}

/** a client that acknowledges every publish at once and keeps the topics */
function publishingClient(): { client: SyncClient; topics: string[] } {
  const topics: string[] = [];
  const client = {
    subscribe: async () => undefined,
    unsubscribe: async () => undefined,
    publishAcked: async (topic: string) => void topics.push(topic),
  } as unknown as SyncClient;
  return { client, topics };
}

const batch = (ids: number[], epoch = 'e1') => zlib.gzipSync(Buffer.from(JSON.stringify({ gateway: 'gw1', epoch, samples: ids.map((id) => ({ id, payload: { x: id } })) })));

describe('lib/sync/cloud', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-cloud-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('counts a batch sent again after a cloud restart once (ids kept in the state file)', async () => {
    const store = new DurableQueue({ path: path.join(dir, 'samples.db'), maxAgeMs: 0, synchronous: 'NORMAL' });
    const got: ReceivedBatch[] = [];
    const f1 = fakeClient();
    const c1 = new CloudSync({ client: f1.client, fleet: 'p', store, stateFile: path.join(dir, 'gateways.json'), onSamples: (b) => got.push(b) });
    await c1.start();
    f1.deliver('industrial-ai/p/gateway/gw1/samples', batch([1, 2, 3]));
    assert.equal(store.size, 3);
    // the cloud restarts; the gateway sends 2..4 again (its PUBACK for 2..3 was lost) plus 4
    const f2 = fakeClient();
    const c2 = new CloudSync({ client: f2.client, fleet: 'p', store, stateFile: path.join(dir, 'gateways.json'), onSamples: (b) => got.push(b) });
    await c2.start();
    f2.deliver('industrial-ai/p/gateway/gw1/samples', batch([2, 3, 4]));
    assert.equal(store.size, 4);
    assert.deepEqual(got[1].accepted.map((s) => s.id), [4]);
    assert.equal(got[1].duplicates, 2);
    // the gateway's queue file was replaced (new epoch): its ids start at 1 again and all count
    f2.deliver('industrial-ai/p/gateway/gw1/samples', batch([1, 2], 'e2'));
    assert.equal(store.size, 6);
    assert.deepEqual(got[2].accepted.map((s) => s.id), [1, 2]);
    // a corrupt batch is reported, not stored
    const errors: Error[] = [];
    const f3 = fakeClient();
    const c3 = new CloudSync({ client: f3.client, fleet: 'p', store, onError: (e) => errors.push(e) });
    await c3.start();
    f3.deliver('industrial-ai/p/gateway/gw2/samples', Buffer.from('not gzip'));
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /sample batch from gw2/);
    assert.equal(store.size, 6);
    store.close();
  });

  it('refuses to publish a version that is not newer than the last one it published, also after a restart', async () => {
    const { privateKey } = crypto.generateKeyPairSync('ed25519');
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const store = new DurableQueue({ path: path.join(dir, 'samples.db'), maxAgeMs: 0, synchronous: 'NORMAL' });
    const modelDir = path.join(dir, 'models');
    const model = OnnxModel.load(path.join(__dirname, '../../../models/turbine-multitask.onnx'));
    const version = 5;
    model.modelVersion = version;
    const v = model.toBuffer();
    const p1 = publishingClient();
    const c1 = new CloudSync({ client: p1.client, fleet: 'p', store, privateKey: pem, modelDir });
    await c1.publishModel(v, { name: 'turbine', version });
    await c1.publishModel(v, { name: 'turbine', version }); // the same file again: a re-announcement
    await assert.rejects(c1.publishModel(v, { name: 'turbine', version: version - 1 }), /turbine v\d+ is not newer than v\d+, the last version this cloud published/);
    model.setMetadata('note', 'different bytes, same version');
    await assert.rejects(c1.publishModel(model.toBuffer(), { name: 'turbine', version }), /is not newer/);
    // a new cloud on the same model folder reads the version from the kept file
    const p2 = publishingClient();
    const c2 = new CloudSync({ client: p2.client, fleet: 'p', store, privateKey: pem, modelDir });
    await assert.rejects(c2.publishModel(v, { name: 'turbine', version: version - 1 }), /is not newer than v/);
    assert.equal(p2.topics.length, 0, 'nothing was published for the refused model');
    model.modelVersion = version + 1;
    await c2.publishModel(model.toBuffer(), { name: 'turbine', version: version + 1 });
    assert.ok(p2.topics.some((t) => t.endsWith('/manifest')));
    store.close();
  });
});
