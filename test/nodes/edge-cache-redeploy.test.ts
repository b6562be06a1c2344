/**
 * The edge-cache node on the worker-thread queue across redeploys: held messages on redeploy,
 * reset with commits in flight, acks and the status after a redeploy.
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadNode, startServer, stopServer, helper } from '../support/harness';
import edgeCache = require('../../nodes/edge-cache/edge-cache');
import { DurableQueue } from '../../lib/store/queue';

describe('edge-cache node across redeploys', () => {
  let dir: string;
  before(startServer);
  after(stopServer);
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-nr-'));
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cfg = (extra: Record<string, unknown> = {}) => ({ type: 'edge-cache', file: path.join(dir, 'q.sqlite'), synchronous: 'NORMAL', ackTimeout: 5, rate: 0, commitInterval: 5, ...extra });
  const answers = (h: { outputs: any[][] }, control: string) => h.outputs[1].filter((m) => m.control === control);

  for (const storeThread of ['worker', 'main'] as const) {
    it(`redeploy with messages held for their commit: they are committed and their done() is called (SQLite on the ${storeThread} thread)`, async () => {
      const h = await loadNode(edgeCache, cfg({ storeThread, commitInterval: 60_000, commitCount: 1000 }), 2);
      h.send({ control: 'offline' });
      for (let i = 0; i < 5; i++) h.send({ payload: i });
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(h.completed.filter((m) => m.control === undefined).length, 0, 'held until the commit (controls complete at once)');
      let doneCalls = 0;
      // count done() as the node calls it (the Complete node may already be closed on unload)
      const n = h.node as any;
      const orig = n._complete?.bind(n);
      if (orig) n._complete = (msg: any, err: any) => { if (msg.control === undefined) doneCalls++; return orig(msg, err); };
      await helper.unload();
      const q = new DurableQueue({ path: path.join(dir, 'q.sqlite'), maxAgeMs: 0 });
      try {
        assert.deepEqual(q.readAfter(0, 10).map((r) => r.id), [1, 2, 3, 4, 5]);
      } finally {
        q.close();
      }
      if (orig) assert.equal(doneCalls, 5, 'done() once per held message on close');
      assert.equal(h.caught.length, 0);
    });
  }

  it('reset with messages held and commits in flight (worker): every message gets exactly one done(), and the backlog is empty afterwards', async () => {
    const h = await loadNode(edgeCache, cfg({ commitCount: 1, commitInterval: 1000 }), 2);
    h.send({ control: 'offline' });
    for (let i = 0; i < 20; i++) h.send({ payload: i });
    h.send({ control: 'reset' });
    const data = () => h.completed.filter((m) => m.control === undefined).length + h.caught.length;
    await h.until(() => answers(h, 'reset').length === 1 && data() >= 20);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(data(), 20, 'one done() per message');
    const s = answers(h, 'reset')[0].payload;
    assert.equal(s.count, 0);
    assert.equal(s.heldForCommit, 0);
    assert.equal(s.removed, 20, 'all 20 were committed first, then removed');
    h.send({ control: 'online' });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.outputs[0].length, 0, 'nothing delivered after the reset');
  });
});
