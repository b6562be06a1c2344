import { strict as assert } from 'assert';
import { loadNode, startServer, stopServer, helper } from '../support/harness';
import dualFusion = require('../../nodes/dual-fusion/dual-fusion');

const base = { type: 'dual-fusion', sourceA: 'laser', sourceB: 'xray', field: 'thickness', skew: '20', timeout: '5000' };

describe('dual-fusion node', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('fuses a pair into a record on output 1 and completes both messages', async () => {
    const h = await loadNode(dualFusion, { ...base, mode: 'fixed', weightA: '0.8', weightB: '0.2' }, 2);
    h.send({ topic: 'laser', payload: 2.0, timestamp: 1000 });
    h.send({ topic: 'xray', payload: '2.05', timestamp: 1004 });
    await h.until(() => h.outputs[0].length === 1 && h.completed.length === 2);
    const m = h.outputs[0][0];
    assert.equal(m.topic, 'thickness');
    assert.deepEqual(Object.keys(m.payload), ['thickness']);
    assert.ok(Math.abs(m.payload.thickness - 2.01) < 1e-12);
    assert.equal(m.timestamp, 1002);
    assert.equal(m.fusion.event, 'fused');
    assert.deepEqual(m.fusion.weights, { laser: 0.8, xray: 0.2 });
    assert.deepEqual(m.fusion.sources, { laser: { value: 2.0, timestamp: 1000 }, xray: { value: 2.05, timestamp: 1004 } });
    assert.equal(m.fusion.degraded, null);
    assert.equal(h.outputs[1].length, 0);
    assert.equal(h.caught.length, 0);
  });

  it('shows the latest counts in the status once messages stop, despite the status throttle', async () => {
    const h = await loadNode(dualFusion, { ...base, mode: 'fixed', weightA: '0.5', weightB: '0.5' }, 2);
    const statuses: any[] = [];
    const setStatus = h.node.status.bind(h.node);
    h.node.status = (s: any) => {
      statuses.push(s);
      setStatus(s);
    };
    for (let i = 0; i < 3; i++) {
      h.send({ topic: 'laser', payload: 2, timestamp: i * 100 });
      h.send({ topic: 'xray', payload: 2, timestamp: i * 100 });
    }
    await h.until(() => h.outputs[0].length === 3);
    assert.ok(!statuses.some((s) => / 3 fused$/.test(s.text)), 'the third pair came within the throttle');
    await h.until(() => statuses.length > 0 && / 3 fused$/.test(statuses[statuses.length - 1].text), 3000);
    assert.equal(statuses[statuses.length - 1].fill, 'green');
  });

  it('holds a lone sample for the skew, then reports it on output 2 before completing it', async () => {
    const h = await loadNode(dualFusion, { ...base }, 2);
    const order: string[] = [];
    helper.getNode('out1').on('input', () => order.push('reported'));
    helper.getNode('completed').on('input', () => order.push('completed'));
    h.send({ topic: 'laser', payload: 2.0 });
    await h.until(() => h.completed.length === 1);
    assert.deepEqual(order, ['reported', 'completed']);
    const m = h.outputs[1][0];
    assert.equal(m.payload, 2.0);
    assert.equal(m.topic, 'laser');
    assert.deepEqual([m.fusion.event, m.fusion.source, m.fusion.reason], ['unpaired', 'laser', 'expired']);
    assert.equal(h.outputs[0].length, 0);
  });

  it('routes a disagreeing pair to output 2 with both values', async () => {
    const h = await loadNode(dualFusion, { ...base, tolerance: '0.05' }, 2);
    h.send({ topic: 'laser', payload: 2.0, timestamp: 0 });
    h.send({ topic: 'xray', payload: 2.2, timestamp: 0 });
    await h.until(() => h.outputs[1].length === 1 && h.completed.length === 2);
    const m = h.outputs[1][0];
    assert.equal(m.fusion.event, 'disagreement');
    assert.equal(m.payload.laser, 2.0);
    assert.equal(m.payload.xray, 2.2);
    assert.ok(Math.abs(m.payload.thickness - 2.1) < 1e-12); // equal weights while the noise is unknown
    assert.ok(Math.abs(m.fusion.difference + 0.2) < 1e-12);
    assert.equal(m.fusion.tolerance, 0.05);
    assert.equal(h.outputs[0].length, 0);
  });

  it('degrades to the live source when the other never arrives, and recovers', async () => {
    const h = await loadNode(dualFusion, { ...base, skew: '10', timeout: '150', noiseA: '0.003' }, 2);
    const statuses: any[] = [];
    const setStatus = h.node.status.bind(h.node);
    h.node.status = (s: any) => {
      statuses.push(s);
      setStatus(s);
    };
    await h.until(() => h.outputs[1].filter((m) => m.fusion.event === 'stale').length === 2);
    await h.until(() => statuses.some((s) => s.fill === 'red'));
    assert.match(statuses[statuses.length - 1].text, /laser: missing · xray: missing/);
    assert.deepEqual(h.outputs[1].map((m) => [m.payload.source, m.payload.state]).sort(), [['laser', 'missing'], ['xray', 'missing']]);
    h.send({ topic: 'laser', payload: 2.003 });
    await h.until(() => h.outputs[0].length === 1);
    const m = h.outputs[0][0];
    assert.equal(m.fusion.event, 'degraded');
    assert.equal(m.fusion.degraded, 'xray');
    assert.equal(m.payload.thickness, 2.003);
    assert.deepEqual(m.fusion.weights, { laser: 1, xray: 0 });
    assert.equal(m.fusion.uncertainty, 0.003);
    assert.ok(h.outputs[1].some((e) => e.fusion.event === 'recovered' && e.payload.source === 'laser'));
    assert.equal(statuses[statuses.length - 1].fill, 'yellow');
    assert.match(statuses[statuses.length - 1].text, /laser: live · xray: missing/);
    h.send({ topic: 'xray', payload: 2.0 });
    await h.until(() => h.outputs[1].some((e) => e.fusion.event === 'recovered' && e.payload.source === 'xray'));
    await h.until(() => statuses[statuses.length - 1].fill === 'green');
    assert.match(statuses[statuses.length - 1].text, /laser: live · xray: live/);
  });

  it('reports bad input to Catch, once per message, and keeps running', async () => {
    const h = await loadNode(dualFusion, { ...base, mode: 'fixed', weightA: '0.5', weightB: '0.5' }, 2);
    h.send({ topic: 'gamma', payload: 1 });
    h.send({ topic: 'laser', payload: 'thick' });
    h.send({ topic: 'laser', payload: NaN });
    h.send({ topic: 'laser', payload: 1, timestamp: 'yesterday' });
    h.send({ topic: 'laser', payload: 1, timestamp: 50 });
    h.send({ topic: 'xray', payload: 3, timestamp: 50 });
    await h.until(() => h.caught.length === 4 && h.outputs[0].length === 1 && h.completed.length === 2);
    const errors = h.caught.map((m) => m.error.message);
    assert.match(errors[0], /msg\.topic: expected "laser" or "xray"/);
    assert.match(errors[1], /msg\.payload: expected a number, got string "thick"/);
    assert.match(errors[2], /msg\.payload: expected a finite number, got NaN/);
    assert.match(errors[3], /msg\.timestamp/);
    assert.equal(h.outputs[0][0].payload.thickness, 2);
  });

  it('answers stats and reset on output 2 and refuses unknown controls', async () => {
    const h = await loadNode(dualFusion, { ...base, skew: '1000' }, 2);
    h.send({ topic: 'laser', payload: 1, timestamp: 0 });
    h.send({ topic: 'xray', payload: 1, timestamp: 0 });
    h.send({ topic: 'laser', payload: 1, timestamp: 10 }); // held (skew 1 s)
    h.send({ control: 'stats' });
    await h.until(() => h.outputs[1].length === 1);
    const s = h.outputs[1][0];
    assert.equal(s.control, 'stats');
    assert.equal(s.payload.counts.fused, 1);
    assert.equal(s.payload.sources.laser.state, 'live');
    assert.equal(s.payload.sources.laser.held, 1);
    assert.equal(s.payload.mode, 'adaptive');
    h.send({ control: 'reset' });
    await h.until(() => h.outputs[1].length === 2 && h.completed.length === 5);
    assert.deepEqual(h.outputs[1][1].payload, { reset: true });
    h.send({ control: 'explode' });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /msg\.control: expected one of reset, stats/);
  });

  it('refuses bad config at deploy: status, and an error for every message', async () => {
    const h = await loadNode(dualFusion, { ...base, mode: 'fixed', weightA: '0.6', weightB: '0.6' }, 2);
    h.send({ topic: 'laser', payload: 1 });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /weights must sum to 1/);
    const errors = helper.log().args.filter((a: any[]) => a[0]?.level === 20 && a[0]?.type === 'dual-fusion');
    assert.ok(errors.some((a: any[]) => /weights must sum to 1/.test(String(a[0].msg))), 'node.error at deploy');
  });
});

describe('dual-fusion example flow', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('examples/steel-thickness-fusion.json loads and fuses the simulated gauges within a few seconds', async () => {
    const flow: any[] = require('../../examples/steel-thickness-fusion.json');
    const tab = flow.find((n) => n.type === 'tab');
    assert.ok(flow.every((n) => n.type === 'tab' || n.z === tab.id), 'one tab');
    assert.ok(flow.some((n) => n.type === 'comment'));
    const fusion = flow.find((n) => n.type === 'dual-fusion');
    const nodes = flow.map((n) => (n.id === fusion.id ? { ...n, wires: [...n.wires.map((w: string[]) => [...w]), []] } : n));
    const tapped = nodes.find((n) => n.id === fusion.id);
    tapped.wires[0].push('tap-fused');
    tapped.wires[1].push('tap-events');
    nodes.push({ id: 'tap-fused', type: 'helper', z: tab.id }, { id: 'tap-events', type: 'helper', z: tab.id });
    const core = ['common/20-inject.js', 'function/10-function.js', 'common/21-debug.js', 'common/90-comment.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await helper.load([dualFusion, ...core], nodes);
    const fused: any[] = [];
    helper.getNode('tap-fused').on('input', (m: any) => fused.push(m));
    await new Promise<void>((resolve, reject) => {
      const started = Date.now();
      const poll = () => (fused.length >= 3 ? resolve() : Date.now() - started > 8000 ? reject(new Error(`only ${fused.length} fused records`)) : setTimeout(poll, 20));
      poll();
    });
    for (const m of fused) {
      assert.equal(typeof m.payload.thickness, 'number');
      assert.ok(Math.abs(m.payload.thickness - m.truth) < 0.05);
    }
  });
});
