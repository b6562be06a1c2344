import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { createHash } from 'crypto';
import { loadNode, startServer, stopServer, helper, waitFor, type Harness } from '../support/harness';
import { makeModel, gemmRow, turbineLike, type FixtureOptions } from '../lib/infer/fixtures';
import inferNode = require('../../nodes/multitask-infer/multitask-infer');
import modelNode = require('../../nodes/onnx-model/onnx-model');
import type { ModelHolder } from '../../lib/infer/model-holder';
import { WorkerRunner } from '../../lib/infer/worker-runner';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mti-'));
const v1 = turbineLike(1, 2);
const v2 = turbineLike(2, 2, -1);
const v1Bytes = makeModel(v1);
const v2Bytes = makeModel(v2);
fs.writeFileSync(path.join(dir, 'v1.onnx'), v1Bytes);
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Expected head outputs for a window of records, computed by hand from the fixture's weights. */
function expected(o: FixtureOptions, records: Array<{ speed: number; vibration: number }>) {
  const mean = [3000, 2];
  const std = [100, 0.5];
  const x = records.flatMap((r) => [(r.speed - mean[0]) / std[0], (r.vibration - mean[1]) / std[1]]);
  const [state, perf, faults] = o.heads.map((h) => gemmRow(x, h.W, h.b));
  const e = state.map(Math.exp);
  const z = e.reduce((a, b) => a + b, 0);
  const probs = e.map((v) => v / z);
  const labels = ['normal', 'sub-healthy', 'warning', 'fault'];
  const best = probs.indexOf(Math.max(...probs));
  const sig = faults.map((v) => 1 / (1 + Math.exp(-v)));
  const thr = [0.5, 0.6, 0.4];
  return {
    state: { label: labels[best], probs },
    efficiency: perf[0] * 2 + 35,
    power: perf[1] * 5 + 20,
    faults: ['bearing', 'blade', 'nozzle'].filter((_, i) => sig[i] >= thr[i]),
    scores: sig,
  };
}

const cfg = (extra: Record<string, unknown> = {}) => ({ id: 'cfg', type: 'onnx-model', path: path.join(dir, 'v1.onnx'), runIn: 'main', ...extra });
const load = (node: Record<string, unknown> = {}, cfgExtra: Record<string, unknown> = {}, extra: Record<string, unknown>[] = []) =>
  loadNode([modelNode, inferNode], { type: 'multitask-infer', model: 'cfg', ...node }, 2, [cfg(cfgExtra), ...extra]);

const recs = [
  { speed: 3050, vibration: 2.4 },
  { speed: 2900, vibration: 1.1 },
  { speed: 3120, vibration: 3.0 },
];

function checkAnswer(msg: any, o: FixtureOptions, window: typeof recs) {
  const e = expected(o, window);
  assert.equal(msg.payload.state.label, e.state.label);
  ['normal', 'sub-healthy', 'warning', 'fault'].forEach((l, i) => assert.ok(Math.abs(msg.payload.state.probabilities[l] - e.state.probs[i]) < 1e-5, l));
  assert.ok(Math.abs(msg.payload.performance.efficiency.value - e.efficiency) < 1e-4);
  assert.equal(msg.payload.performance.efficiency.unit, '%');
  assert.ok(Math.abs(msg.payload.performance.power.value - e.power) < 1e-4);
  assert.deepEqual(msg.payload.faults.labels, e.faults);
  assert.ok(Math.abs(msg.payload.faults.scores.nozzle - e.scores[2]) < 1e-5);
}

describe('multitask-infer node', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(async () => {
    await stopServer();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** The last status text the node under test set (the helper spies on Node.prototype.status). */
  function statusText(h: Harness): string {
    const calls = (h.node.status.getCalls() as any[]).filter((c) => c.thisValue === h.node);
    return calls.length ? String(calls[calls.length - 1].args[0]?.text ?? '') : '';
  }
  const ready = (h: Harness) => h.until(() => /v1/.test(statusText(h)));

  it('fills the window, then answers every head with values computed from the weights', async () => {
    const h = await load();
    await ready(h);
    recs.forEach((r) => h.send({ payload: r }));
    await h.until(() => h.completed.length === 3);
    assert.equal(h.outputs[0].length, 2, 'first record only fills the window');
    checkAnswer(h.outputs[0][0], v1, recs.slice(0, 2));
    checkAnswer(h.outputs[0][1], v1, recs.slice(1, 3));
    assert.deepEqual(h.outputs[0][0].model, { name: 'fixture-turbine', version: 1, sha256: sha(v1Bytes) });
    assert.deepEqual(h.outputs[0][0].features, recs[1]);
    assert.equal(h.caught.length, 0);
  });

  it('takes a whole sequence as an array of records and pads when told to', async () => {
    const h = await load({ partial: 'pad' });
    h.send({ payload: recs.slice(0, 2) });
    h.send({ payload: recs[2] });
    await h.until(() => h.completed.length === 2);
    checkAnswer(h.outputs[0][0], v1, recs.slice(0, 2));
    checkAnswer(h.outputs[0][1], v1, [recs[2], recs[2]]);
    assert.equal(h.outputs[0][1].padded, 1);
  });

  it('reports bad input naming the field, once per message, and keeps running', async () => {
    const h = await load({ partial: 'pad' });
    h.send({ payload: { speed: 3000 } });
    h.send({ payload: { speed: 3000, vibration: NaN } });
    h.send({ payload: [recs[0]] });
    h.send({ payload: 'hello' });
    h.send({ payload: { speed: 3000, vibration: 2 } });
    // done() once per message: Complete sees the successes, Catch the done(err)s
    await h.until(() => h.completed.length === 1 && h.caught.length === 4);
    const errs = h.caught.map((m) => m.error.message);
    assert.match(errs[0], /msg\.payload\.vibration: expected a finite number, got undefined/);
    assert.match(errs[1], /msg\.payload\.vibration: .*NaN/);
    assert.match(errs[2], /msg\.payload: expected a record or an array of 2 records/);
    assert.match(errs[3], /msg\.payload: expected an object/);
    assert.equal(h.outputs[0].length, 1);
    checkAnswer(h.outputs[0][0], v1, [{ speed: 3000, vibration: 2 }, { speed: 3000, vibration: 2 }]);
  });

  it('hot-swaps for every node sharing the model, refuses bad or older models and restores', async () => {
    const h = await load({}, {}, [{ id: 'n2', type: 'multitask-infer', model: 'cfg', partial: 'pad', wires: [['h2'], []] }, { id: 'h2', type: 'helper' }]);
    const other: any[] = [];
    helper.getNode('h2').on('input', (m: any) => other.push(m));
    const n2 = helper.getNode('n2');
    h.send({ payload: recs[0] });
    h.send({ payload: Buffer.from(v2Bytes), model: { name: 'fixture-turbine', version: 2 } });
    await h.until(() => h.outputs[1].length === 1);
    assert.equal(h.outputs[1][0].control, 'model-event');
    assert.equal(h.outputs[1][0].payload.event, 'installed');
    assert.deepEqual(h.outputs[1][0].payload.model, { name: 'fixture-turbine', version: 2, sha256: sha(v2Bytes) });
    assert.equal(h.outputs[1][0].payload.previous.version, 1);
    // the window kept across the swap (same fields and length), answered by v2
    h.send({ payload: recs[1] });
    n2.receive({ payload: recs[2] });
    await h.until(() => h.outputs[0].length === 1 && other.length === 1);
    assert.equal(h.outputs[0][0].model.version, 2);
    checkAnswer(h.outputs[0][0], v2, recs.slice(0, 2));
    assert.equal(other[0].model.version, 2, 'the second node runs the swapped model too');
    checkAnswer(other[0], v2, [recs[2], recs[2]]);
    // refused: older version, garbage bytes, wrong announced hash, a model producing NaN
    h.send({ payload: Buffer.from(v1Bytes) });
    h.send({ payload: Buffer.from('not a model') });
    h.send({ payload: Buffer.from(makeModel(turbineLike(3))), model: { sha256: 'ab'.repeat(32) } });
    h.send({ payload: Buffer.from(makeModel({ ...turbineLike(4), nan: true })) });
    h.send({ payload: Buffer.from(makeModel({ ...turbineLike(5), metadata: { heads: '[{"task":"x","output":"nope","type":"regression","names":["a"]}]' } })) });
    await h.until(() => h.outputs[1].length === 6);
    const refusals = h.outputs[1].slice(1).map((m) => m.payload);
    assert.ok(refusals.every((p) => p.event === 'refused'), JSON.stringify(refusals));
    assert.match(refusals[0].reason, /model_version 1 is not newer than the running 2/);
    assert.match(refusals[1].reason, /ONNX/i);
    assert.match(refusals[2].reason, /SHA-256/);
    assert.match(refusals[3].reason, /not finite/);
    assert.match(refusals[4].reason, /no output "nope"/);
    h.send({ payload: recs[2] });
    await h.until(() => h.outputs[0].length === 2);
    assert.equal(h.outputs[0][1].model.version, 2, 'the running model survived every refusal');
    // restore brings v1 back; a second restore has nothing left
    h.send({ control: 'restore' });
    await h.until(() => h.outputs[1].length === 7);
    assert.equal(h.outputs[1][6].payload.event, 'restored');
    assert.equal(h.outputs[1][6].payload.model.version, 1);
    h.send({ payload: recs[0] });
    await h.until(() => h.outputs[0].length === 3);
    assert.equal(h.outputs[0][2].model.version, 1);
    checkAnswer(h.outputs[0][2], v1, [recs[2], recs[0]]);
    h.send({ control: 'restore' });
    await h.until(() => h.outputs[1].length === 8);
    assert.equal(h.outputs[1][7].payload.event, 'refused');
    const sent = 12;
    await h.until(() => h.completed.length === sent);
    assert.equal(h.caught.length, 0);
  });

  it('at batch 1 on the main thread answers a record before its input handler returns; in a worker, afterwards, with the same answer', async () => {
    const sendsBy = (h: Harness) => (h.node.send.getCalls() as any[]).filter((c) => c.thisValue === h.node).length;
    const main = await load({ partial: 'pad' });
    await ready(main);
    main.send({ payload: recs[0] });
    assert.equal(sendsBy(main), 1, 'sent synchronously (no promise, no tick)');
    await main.until(() => main.completed.length === 1);
    checkAnswer(main.outputs[0][0], v1, [recs[0], recs[0]]);
    await helper.unload();
    const worker = await load({ partial: 'pad' }, { runIn: 'worker' });
    await ready(worker);
    worker.send({ payload: recs[0] });
    assert.equal(sendsBy(worker), 0, 'a worker run is answered later');
    await worker.until(() => worker.completed.length === 1);
    assert.deepEqual(worker.outputs[0][0].payload, main.outputs[0][0].payload);
  });

  it('refreshes its status at most every 250 ms, not per message', async () => {
    const h = await load({ partial: 'pad' });
    await ready(h);
    const statusCalls = () => (h.node.status.getCalls() as any[]).filter((c) => c.thisValue === h.node).length;
    const before = statusCalls();
    const started = Date.now();
    for (let i = 0; i < 200; i++) h.send({ payload: recs[i % 3] });
    await h.until(() => h.completed.length === 200);
    const elapsed = Date.now() - started;
    const updates = statusCalls() - before;
    // one at the first answer, then at most one per 250 ms of the burst (+1 for a boundary)
    assert.ok(updates >= 1 && updates <= 2 + Math.floor(elapsed / 250), `${updates} status updates for 200 messages in ${elapsed} ms`);
    assert.match(statusText(h), /^fixture-turbine v1 · \d+\.\d\d ms p50$/);
  });

  it('micro-batches under load and answers each message in order', async () => {
    const L1: FixtureOptions = { ...turbineLike(1, 1) };
    fs.writeFileSync(path.join(dir, 'l1.onnx'), makeModel(L1));
    const h = await load({ maxBatch: 4, maxWait: 200 }, { path: path.join(dir, 'l1.onnx') });
    await ready(h);
    const inputs = Array.from({ length: 8 }, (_, i) => ({ speed: 2900 + 25 * i, vibration: 1 + 0.3 * i }));
    inputs.forEach((r, i) => h.send({ payload: r, seq: i }));
    await h.until(() => h.completed.length === 8);
    assert.deepEqual(h.outputs[0].map((m) => m.seq), [0, 1, 2, 3, 4, 5, 6, 7]);
    h.outputs[0].forEach((m, i) => checkAnswer(m, L1, [inputs[i]]));
    h.send({ control: 'stats' });
    await h.until(() => h.outputs[1].length === 1);
    const stats = h.outputs[1][0].payload;
    assert.deepEqual(stats.recentBatchSizes, [4, 4]);
    assert.equal(stats.answered, 8);
    assert.equal(stats.runIn, 'main');
  });

  it('runs the model in a worker thread with the same answers', async () => {
    const h = await load({ partial: 'pad' }, { runIn: 'worker' });
    h.send({ payload: recs[0] });
    h.send({ control: 'stats' });
    await h.until(() => h.completed.length === 2);
    checkAnswer(h.outputs[0][0], v1, [recs[0], recs[0]]);
    assert.equal(h.outputs[1][0].payload.runIn, 'worker');
  });

  it('takes a model from msg.model.path and answers reset and unknown controls', async () => {
    fs.writeFileSync(path.join(dir, 'v2.onnx'), v2Bytes);
    const h = await load({ partial: 'pad' }, { path: '' });
    h.send({ payload: recs[0] });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /no model loaded yet/);
    h.send({ model: { path: path.join(dir, 'v2.onnx') } });
    await h.until(() => h.outputs[1].length === 1);
    assert.equal(h.outputs[1][0].payload.event, 'installed');
    h.send({ control: 'reset' });
    h.send({ control: 'bogus' });
    await h.until(() => h.completed.length === 2 && h.caught.length === 2);
    assert.deepEqual(h.outputs[1][1].payload, { reset: true });
    assert.match(h.caught[1].error.message, /msg\.control: expected 'restore', 'reset' or 'stats'/);
  });

  it('refuses a swap whose features do not fit a node with a custom field list', async () => {
    const h = await load({ fields: 'spd, vib', partial: 'pad' });
    h.send({ payload: { spd: 3000, vib: 2 } });
    await h.until(() => h.outputs[0].length === 1);
    checkAnswer(h.outputs[0][0], v1, [{ speed: 3000, vibration: 2 }, { speed: 3000, vibration: 2 }]);
    const three = makeModel({ ...turbineLike(2, 1), features: ['speed', 'vibration', 'temp'], normalization: undefined, heads: [{ task: 's', type: 'regression', names: ['a'], W: [[1], [1], [1]], b: [0] }] });
    h.send({ payload: Buffer.from(three) });
    await h.until(() => h.outputs[1].length === 1);
    assert.equal(h.outputs[1][0].payload.event, 'refused');
    assert.match(h.outputs[1][0].payload.reason, /maps 2 fields, the model takes 3 features/);
  });

  for (const runIn of ['main', 'worker']) {
    it(`shares one session (${runIn} thread) between its users: a redeploy removing one keeps it, removing both releases it, a new user loads it again`, async () => {
      const h = await load({ partial: 'pad' }, { runIn }, [{ id: 'n2', type: 'multitask-infer', model: 'cfg', partial: 'pad', wires: [['h2'], []] }, { id: 'h2', type: 'helper' }]);
      await ready(h);
      const holder = helper.getNode('cfg').holder as ModelHolder;
      const inWorker = WorkerRunner.sessionsInWorker;
      assert.equal(holder.userCount, 2);
      assert.deepEqual(holder.sessions, { opened: 1, released: 0 }, 'one session for both nodes');
      const flow = (helper as any)._redNodes.getFlows().flows as Array<{ id: string }>;
      const without = (...ids: string[]) => flow.filter((n) => !ids.includes(n.id));
      const signature = async () => (await helper.request().get('/onnx-model/cfg/signature').expect(200)).body;
      const answers = async () => {
        const before = h.outputs[0].length;
        helper.getNode('n1').receive({ payload: recs[0] });
        await h.until(() => h.outputs[0].length === before + 1);
        checkAnswer(h.outputs[0][before], v1, [recs[0], recs[0]]);
      };

      // partial deploy ('modified nodes') removing n2: the config node and n1 keep running
      await helper.setFlows(without('n2', 'h2'), 'nodes');
      assert.equal(helper.getNode('cfg').holder, holder, 'the config node was not restarted');
      assert.equal(holder.userCount, 1);
      assert.deepEqual(holder.sessions, { opened: 1, released: 0 });
      await answers();

      // n1 changed (restarted): its close and its start keep the session
      await helper.setFlows(without('n2', 'h2').map((n) => (n.id === 'n1' ? { ...n, name: 'renamed' } : n)), 'nodes');
      await h.until(() => holder.userCount === 1);
      assert.deepEqual(holder.sessions, { opened: 1, released: 0 });

      // both users gone: the session is released, the config node keeps the model's bytes
      await helper.setFlows(without('n1', 'n2', 'h2'), 'nodes');
      await h.until(() => holder.sessions.released === 1);
      assert.equal(holder.userCount, 0);
      assert.equal(holder.openSessions, 0);
      if (runIn === 'worker') await h.until(() => WorkerRunner.sessionsInWorker === inWorker - 1);
      assert.equal((await signature()).session, 'released');

      // a user deployed again: the model is loaded again and answers
      await helper.setFlows(without('n2', 'h2'), 'nodes');
      await h.until(() => holder.sessions.opened === 2 && holder.current !== undefined);
      assert.equal(holder.openSessions, 1);
      if (runIn === 'worker') assert.equal(WorkerRunner.sessionsInWorker, inWorker);
      const sig = await signature();
      assert.equal(sig.session, 'open');
      assert.equal(sig.runIn, runIn);
      await answers();

      // stopping the flows closes the config node: its session goes with it
      await helper.unload();
      await h.until(() => holder.openSessions === 0);
      assert.deepEqual(holder.sessions, { opened: 2, released: 2 });
      if (runIn === 'worker') assert.equal(WorkerRunner.sessionsInWorker, inWorker - 1);
    });
  }

  it('an onnx-model node that no multitask-infer node uses loads and checks its file, then holds no session', async () => {
    await loadNode([modelNode, inferNode], { ...cfg(), id: undefined }, 0);
    const holder = helper.getNode('n1').holder as ModelHolder;
    await waitFor(() => holder.sessions.released === 1);
    assert.deepEqual(holder.sessions, { opened: 1, released: 0 + 1 });
    assert.equal(holder.idle!.spec.version, 1);
    const sig = await helper.request().get('/onnx-model/n1/signature').expect(200);
    assert.equal(sig.body.session, 'released');
  });

  it('serves the model signature to the editor (file path and deployed model)', async () => {
    const h = await load();
    await ready(h);
    const file = await helper.request().get('/onnx-model/signature').query({ path: path.join(dir, 'v1.onnx') }).expect(200);
    assert.equal(file.body.name, 'fixture-turbine');
    assert.equal(file.body.version, 1);
    assert.deepEqual(file.body.features, ['speed', 'vibration']);
    assert.equal(file.body.sequenceLength, 2);
    assert.deepEqual(file.body.inputs, [{ name: 'x', dims: [-1, 2, 2] }]);
    assert.deepEqual(file.body.heads.map((x: any) => x.task), ['state', 'performance', 'faults']);
    assert.equal(file.body.sha256, sha(v1Bytes));
    h.send({ payload: Buffer.from(v2Bytes) });
    await h.until(() => h.outputs[1].length === 1);
    const live = await helper.request().get('/onnx-model/cfg/signature').expect(200);
    assert.equal(live.body.version, 2);
    assert.equal(live.body.runIn, 'main');
    assert.equal(live.body.users, 1);
    assert.equal(live.body.restorable, 1);
    const missing = await helper.request().get('/onnx-model/signature').query({ path: path.join(dir, 'nope.onnx') }).expect(400);
    assert.match(missing.body.error, /ENOENT/);
    await helper.request().get('/onnx-model/nothing/signature').expect(404);
  });

  it('shows a config error at deploy and reports it per message', async () => {
    const h = await load({ maxBatch: 'x' });
    assert.match(statusText(h), /maxBatch/);
    h.send({ payload: recs[0] });
    await h.until(() => h.caught.length === 1);
    assert.equal(h.completed.length, 0);
    assert.match(h.caught[0].error.message, /maxBatch/);
  });

  it('reports a model file that cannot be loaded', async () => {
    fs.writeFileSync(path.join(dir, 'bad.onnx'), 'garbage');
    const h = await load({}, { path: path.join(dir, 'bad.onnx') });
    h.send({ payload: recs[0] });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /ONNX/i);
    assert.match(statusText(h), /model:/);
    // a model message recovers the node
    h.send({ payload: Buffer.from(v1Bytes) });
    await h.until(() => h.outputs[1].length === 1);
    assert.equal(h.outputs[1][0].payload.event, 'installed');
    h.send({ payload: [recs[0], recs[1]] });
    await h.until(() => h.outputs[0].length === 1);
    checkAnswer(h.outputs[0][0], v1, recs.slice(0, 2));
  });
});

describe('examples/gas-turbine-multitask.json', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('deploys as shipped and answers within a few seconds with the packaged model', async function () {
    this.timeout(15000);
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/gas-turbine-multitask.json'), 'utf8'));
    const summary = flow.find((n: any) => n.id === 'mti_summary');
    summary.wires[0].push('probe');
    const infer = flow.find((n: any) => n.id === 'mti_infer');
    infer.wires[1].push('events');
    flow.push({ id: 'probe', type: 'helper', z: 'mti_tab' }, { id: 'events', type: 'helper', z: 'mti_tab' });
    const core = (p: string) => require(`@node-red/nodes/core/${p}`);
    const sensorWindow = require('../../nodes/sensor-window/sensor-window');
    await helper.load([core('common/20-inject.js'), core('function/10-function.js'), core('common/21-debug.js'), core('common/90-comment.js'), sensorWindow, modelNode, inferNode], flow);
    const got: any[] = [];
    const events: any[] = [];
    helper.getNode('probe').on('input', (m: any) => got.push(m));
    helper.getNode('events').on('input', (m: any) => events.push(m));
    const start = Date.now();
    while (got.length < 2 && Date.now() - start < 10000) await new Promise((r) => setTimeout(r, 50));
    assert.ok(got.length >= 2, 'the debug node got answers');
    const p = got[0].payload;
    assert.match(p.state, /^(normal|sub-healthy|warning|fault) \(\d+ %\)$/);
    assert.match(p.efficiency, /^\d+\.\d %$/);
    assert.match(p.power, / MW$/);
    assert.match(p.model, /^gas-turbine-multitask v\d+$/);
    helper.getNode('mti_stats').receive({});
    const t = Date.now();
    while (events.length < 1 && Date.now() - t < 3000) await new Promise((r) => setTimeout(r, 20));
    assert.equal(events[0].control, 'stats');
    assert.equal(events[0].payload.errors, 0);
  });
});
