import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { loadNode, startServer, stopServer, helper, waitFor } from '../support/harness';
import edgeCache = require('../../nodes/edge-cache/edge-cache');
import { DurableQueue } from '../../lib/store/queue';

describe('edge-cache node', () => {
  let dir: string;
  before(startServer);
  after(stopServer);
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-n-'));
  });
  afterEach(async () => {
    await helper.unload();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const cfg = (extra: Record<string, unknown> = {}) => ({ type: 'edge-cache', file: path.join(dir, 'q.sqlite'), synchronous: 'NORMAL', ackTimeout: 5, rate: 0, commitInterval: 5, ...extra });
  const answers = (h: { outputs: any[][] }, control: string) => h.outputs[1].filter((m) => m.control === control);
  const stats = async (h: Awaited<ReturnType<typeof loadNode>>) => {
    const n = answers(h, 'stats').length;
    h.send({ control: 'stats' });
    await h.until(() => answers(h, 'stats').length > n);
    return answers(h, 'stats')[n].payload;
  };

  for (const storeThread of ['worker', 'main'] as const) {
  it(`forwards every message with its _cacheId, done() once each, and removes it on ack (SQLite on the ${storeThread} thread)`, async () => {
    const h = await loadNode(edgeCache, cfg({ storeThread }), 2);
    const payloads = [{ current: 181.2, voltage: 24.1 }, Buffer.from([1, 2, 3]), new Float32Array([0.5, 1.5])];
    payloads.forEach((payload, i) => h.send({ topic: 'weld', payload, timestamp: 1000 + i }));
    await h.until(() => h.outputs[0].length === 3 && h.completed.length === 3);
    assert.deepEqual(h.outputs[0].map((m) => m._cacheId), [1, 2, 3]);
    assert.deepEqual(h.outputs[0][0].payload, payloads[0]);
    assert.ok(Buffer.isBuffer(h.outputs[0][1].payload));
    assert.ok(h.outputs[0][2].payload instanceof Float32Array);
    assert.equal(h.outputs[0][2].timestamp, 1002);
    let s = await stats(h);
    assert.equal(s.count, 3);
    assert.equal(s.inFlight, 3);
    h.send({ ack: [1, 2] });
    h.send({ ack: '3' });
    await h.until(() => h.completed.length === 6);
    h.send({ control: 'flush' });
    s = await stats(h);
    assert.equal(s.count, 0);
    assert.equal(s.totals.acked, 3);
    // one done() for each message in: 3 records, 2 acks, 2 stats and a flush; never a second one
    await h.until(() => h.completed.length === 8);
    await new Promise((resolve) => setTimeout(resolve, 30));
    assert.equal(h.completed.length, 8);
    assert.equal(h.caught.length, 0);
  });
  }

  for (const level of ['FULL', 'NORMAL']) {
    it(`reports synchronous ${level} read back from the connection it opened`, async () => {
      const h = await loadNode(edgeCache, cfg({ synchronous: level }), 2);
      const s = await stats(h);
      assert.equal(s.synchronous, level);
      assert.equal(s.connections, 1, 'the node opens one connection, and it was verified');
      assert.equal(s.file, path.join(dir, 'q.sqlite'));
    });
  }

  it('calls done() only at the grouped commit', async () => {
    const h = await loadNode(edgeCache, cfg({ commitInterval: 300, commitCount: 3 }), 2);
    h.send({ payload: 1 });
    h.send({ payload: 2 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.completed.length, 0, 'held until the commit');
    assert.equal(h.outputs[0].length, 0, 'nothing forwarded before the commit');
    h.send({ payload: 3 }); // reaches the commit count
    await h.until(() => h.completed.length === 3);
    assert.deepEqual(h.outputs[0].map((m) => m.payload), [1, 2, 3]);
  });

  it('replays the backlog after a redeploy with the same ids', async () => {
    let h = await loadNode(edgeCache, cfg(), 2);
    h.send({ control: 'offline' });
    h.send({ payload: 'a' });
    h.send({ payload: 'b' });
    await h.until(() => h.completed.length === 3);
    assert.equal(h.outputs[0].length, 0);
    await helper.unload();
    h = await loadNode(edgeCache, cfg(), 2);
    await h.until(() => h.outputs[0].length === 2);
    assert.deepEqual(h.outputs[0].map((m) => [m._cacheId, m.payload]), [[1, 'a'], [2, 'b']]);
  });

  it('offline holds delivery, online resumes; link changes come out on output 2', async () => {
    const h = await loadNode(edgeCache, cfg(), 2);
    h.send({ control: 'offline' });
    for (let i = 0; i < 5; i++) h.send({ payload: i });
    await h.until(() => h.completed.length === 6);
    assert.equal(h.outputs[0].length, 0);
    h.send({ control: 'online' });
    await h.until(() => h.outputs[0].length === 5);
    assert.deepEqual(h.outputs[0].map((m) => m.payload), [0, 1, 2, 3, 4]);
    assert.deepEqual(answers(h, 'link').map((m) => m.payload.state), ['offline', 'online']);
    assert.equal(answers(h, 'online')[0].payload.link, 'online');
  });

  it('treats a missing ack as link down and retries in order', async () => {
    const h = await loadNode(edgeCache, cfg({ ackTimeout: 0.1, retryInterval: 0.1 }), 2);
    h.send({ payload: 'x' });
    h.send({ payload: 'y' });
    await h.until(() => answers(h, 'link').length === 1);
    assert.equal(answers(h, 'link')[0].payload.state, 'down');
    await h.until(() => h.outputs[0].length >= 3);
    assert.deepEqual(h.outputs[0].slice(0, 3).map((m) => m._cacheId), [1, 2, 1], 'the probe is the oldest unacked');
    h.send({ ack: 1 });
    await h.until(() => h.outputs[0].some((m, i) => i >= 3 && m._cacheId === 2));
    assert.equal(answers(h, 'link')[1].payload.state, 'online');
  });

  it('rejects a message that cannot be stored, keeps running and loses nothing', async () => {
    const h = await loadNode(edgeCache, cfg(), 2);
    h.send({ payload: { ok: 1, callback: () => 1 } });
    h.send({ payload: 'fine' });
    // done(err) reaches Catch (not Complete): one caught, one completed
    await h.until(() => h.caught.length === 1 && h.completed.length === 1);
    assert.match(h.caught[0].error.message, /msg\.payload\.callback: expected a message that can be stored/);
    await h.until(() => h.outputs[0].length === 1);
    assert.equal(h.outputs[0][0].payload, 'fine');
  });

  it('rejects bad acks and unknown controls with InputErrors', async () => {
    const h = await loadNode(edgeCache, cfg(), 2);
    h.send({ ack: [1, -2] });
    h.send({ ack: 'abc' });
    h.send({ control: 'explode' });
    await h.until(() => h.caught.length === 3);
    assert.equal(h.completed.length, 0);
    assert.match(h.caught[0].error.message, /msg\.ack\[1\]: expected a cache id/);
    assert.match(h.caught[1].error.message, /msg\.ack: expected a cache id/);
    assert.match(h.caught[2].error.message, /msg\.control: expected 'online', 'offline', 'stats', 'flush', 'reset'/);
  });

  it('refuse-newest: a refused message reaches Catch', async () => {
    const h = await loadNode(edgeCache, cfg({ maxCount: 2, policy: 'refuse-newest' }), 2);
    h.send({ control: 'offline' });
    h.send({ payload: 1 });
    h.send({ payload: 2 });
    h.send({ payload: 3 });
    await h.until(() => h.completed.length === 3 && h.caught.length === 1);
    assert.match(h.caught[0].error.message, /message refused: queue full: 2 messages \(limit 2\)/);
    assert.equal(h.caught[0].payload, 3);
    const s = await stats(h);
    assert.equal(s.totals.dropped.refused, 1);
  });

  it('drop-oldest: dropped messages are counted and reported on output 2', async () => {
    const h = await loadNode(edgeCache, cfg({ maxCount: 3, policy: 'drop-oldest' }), 2);
    h.send({ control: 'offline' });
    for (let i = 0; i < 5; i++) h.send({ payload: i });
    await h.until(() => answers(h, 'dropped').length === 1, 4000);
    const d = answers(h, 'dropped')[0].payload;
    assert.equal(d.oldest, 2);
    assert.equal(d.total, 2);
    assert.equal(d.policy, 'drop-oldest');
    h.send({ control: 'online' });
    await h.until(() => h.outputs[0].length === 3);
    assert.deepEqual(h.outputs[0].map((m) => m.payload), [2, 3, 4]);
  });

  it('reset discards the backlog and says how much', async () => {
    const h = await loadNode(edgeCache, cfg(), 2);
    h.send({ control: 'offline' });
    h.send({ payload: 1 });
    h.send({ payload: 2 });
    await h.until(() => h.completed.length === 3);
    h.send({ control: 'reset' });
    await h.until(() => answers(h, 'reset').length === 1);
    assert.equal(answers(h, 'reset')[0].payload.removed, 2);
    assert.equal(answers(h, 'reset')[0].payload.count, 0);
  });

  it('moves a corrupt queue file aside, reports it loudly and works on', async () => {
    const file = path.join(dir, 'q.sqlite');
    fs.writeFileSync(file, Buffer.alloc(4096, 0x33));
    const h = await loadNode(edgeCache, cfg(), 2);
    await h.until(() => answers(h, 'recovered').length === 1);
    const rec = answers(h, 'recovered')[0].payload;
    assert.ok(fs.existsSync(rec.movedTo));
    const s = await stats(h);
    assert.equal(s.synchronous, 'NORMAL', 'the fresh connection has the configured level too');
    const errorCalls = h.node.error.getCalls().map((c: any) => String(c.args[0]));
    assert.ok(errorCalls.some((m: string) => /queue file was corrupt/.test(m) && m.includes(rec.movedTo)), errorCalls.join('\n'));
    h.send({ payload: 'after' });
    await h.until(() => h.outputs[0].length === 1);
    assert.equal(h.outputs[0][0]._cacheId, 1);
  });

  it('a file locked by someone else is a clear deploy error; its messages reach Catch', async () => {
    const holder = new DurableQueue({ path: path.join(dir, 'q.sqlite') });
    try {
      const h = await loadNode(edgeCache, cfg(), 2);
      const errors = h.node.error.getCalls().map((c: any) => String(c.args[0]));
      assert.ok(errors.some((m: string) => /locked by another process or node/.test(m)), errors.join('\n'));
      const status = h.node.status.getCalls().map((c: any) => c.args[0]);
      assert.ok(status.some((x: any) => x.fill === 'red' && /locked/.test(x.text)));
      h.send({ payload: 1 });
      await h.until(() => h.caught.length === 1);
      assert.match(h.caught[0].error.message, /locked/);
      assert.deepEqual(fs.readdirSync(dir).filter((f) => f.includes('corrupt')), [], 'a locked file is not moved aside');
    } finally {
      holder.close();
    }
  });

  it('two nodes on one file: the second is refused', async () => {
    await loadNode(edgeCache, cfg(), 2, [{ id: 'n2', type: 'edge-cache', file: path.join(dir, 'q.sqlite'), wires: [[], []] }]);
    const second = helper.getNode('n2');
    const errors = second.error.getCalls().map((c: any) => String(c.args[0]));
    assert.ok(errors.some((m: string) => /locked by another process or node/.test(m)), errors.join('\n'));
  });

  it('a bad config is shown in the status and reported at deploy; input reaches Catch', async () => {
    const h = await loadNode(edgeCache, cfg({ policy: 'keep-everything' }), 2);
    const status = h.node.status.getCalls().map((c: any) => c.args[0]);
    assert.ok(status.some((s: any) => s.fill === 'red' && /config policy/.test(s.text)));
    h.send({ payload: 1 });
    await h.until(() => h.caught.length === 1);
    assert.equal(h.completed.length, 0);
    assert.match(h.caught[0].error.message, /config policy: expected one of drop-oldest, refuse-newest, thin-out/);
  });

  it('refuses an unknown storeThread at deploy', async () => {
    const h = await loadNode(edgeCache, cfg({ storeThread: 'gpu' }), 2);
    h.send({ payload: 1 });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /config storeThread: expected worker or main, got "gpu"/);
  });

  it('defaults its file under the user directory', async () => {
    helper.settings({ userDir: dir });
    try {
      const h = await loadNode(edgeCache, { type: 'edge-cache', synchronous: 'NORMAL', rate: 0 }, 2);
      const s = await stats(h);
      assert.equal(s.file, path.join(dir, 'edge-cache', 'n1.sqlite'));
      assert.ok(fs.existsSync(s.file));
    } finally {
      helper.settings({});
    }
  });

  for (const storeThread of ['worker', 'main'] as const) {
  it(`shows online, backlog and the oldest message age in the status (SQLite on the ${storeThread} thread)`, async () => {
    const h = await loadNode(edgeCache, cfg({ storeThread }), 2);
    h.send({ control: 'offline' });
    h.send({ payload: 1 });
    await h.until(() => h.completed.length === 2);
    await waitFor(() => h.node.status.getCalls().some((c: any) => /offline · 1 queued, oldest \d+ s/.test(c.args[0].text)), 3000);
    h.send({ control: 'online' });
    await waitFor(() => h.node.status.getCalls().some((c: any) => c.args[0].fill === 'green' && /^online/.test(c.args[0].text)), 3000);
  });
  }
});

describe('examples/welding-edge-cache.json', () => {
  let dir: string;
  before(startServer);
  after(stopServer);
  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs on its own: records reach the cloud, the link is cut and restored, nothing is lost', async function () {
    this.timeout(30_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-ex-'));
    helper.settings({ userDir: dir });
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/welding-edge-cache.json'), 'utf8'));
    assert.equal(flow.filter((n: any) => n.type === 'tab').length, 1);
    for (const n of flow) {
      if (n.type === 'debug') n.type = 'helper'; // collect what the debug nodes would show
      // the same story, faster: cut after 1 s, restore 1.5 s later, ack timeout 0.3 s
      if (n.id === 'ec_cut_auto') n.onceDelay = '1';
      if (n.id === 'ec_restore_auto') n.onceDelay = '2.5';
      if (n.id === 'ec_stats_tick') n.repeat = '0.5';
      if (n.type === 'edge-cache') Object.assign(n, { ackTimeout: 0.3, retryInterval: 0.2 });
    }
    const core = (p: string) => require(`@node-red/nodes/core/${p}`);
    await helper.load([edgeCache, core('common/20-inject.js'), core('function/10-function.js'), core('function/15-change.js'), core('common/90-comment.js')], flow);
    assert.ok(helper.getNode('ec_cache'), 'edge-cache created');
    const seqs: number[] = [];
    const status: string[] = [];
    const cloudReports: any[] = [];
    helper.getNode('ec_cloud').on('input', (m: any) => seqs.push(m.payload.seq));
    helper.getNode('ec_dbg_status').on('input', (m: any) => status.push(m.control === 'stats' ? m.payload : `${m.control}:${m.payload?.state}`));
    helper.getNode('ec_dbg_cloud').on('input', (m: any) => cloudReports.push(m.payload));
    await waitFor(() => status.includes('link:down') && status.includes('link:online') && cloudReports.length > 0, 20_000);
    // let the backlog drain to the few records between send and ack (the producer and the stats
    // tick run in step, so it may read 1 with its age on every tick), then compare
    const drained = /^link online, backlog [0-9](?: \(oldest [0-9]+ s\))?,/;
    await waitFor(() => status.some((x, i) => i > status.indexOf('link:online') && drained.test(x)), 10_000);
    const first = [...new Set(seqs)];
    const max = Math.max(...first);
    assert.deepEqual(first, Array.from({ length: max + 1 }, (_, i) => i), 'every record reached the cloud once, in order');
    assert.ok(max > 40, `only ${max + 1} records in ${status.length} stats`);
    assert.ok(fs.existsSync(path.join(dir, 'edge-cache', 'welding-example.sqlite')));
  });
});

