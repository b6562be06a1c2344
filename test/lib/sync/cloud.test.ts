import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { DurableQueue } from '../../../lib/store/queue';
import { CloudSync, ReceivedBatch } from '../../../lib/sync/cloud';
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
});
