import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { loadNode, startServer, stopServer, helper, type Harness } from '../support/harness';
import { REACTOR_DEFAULT_RULES, defaultRulesJson } from '../../lib/augment/rules';
import physicsAugment = require('../../nodes/physics-augment/physics-augment');

const real = () => ({ temperature: 100, pressure: 0.9, catalyst: 12, reactionTime: 120, conversion: 0.9, feedA: 30, feedB: 15, solvent: 55, agitatorSpeed: 210 });

function config(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: 'physics-augment', rules: defaultRulesJson(), count: '10', seed: '7', output: 'each', maxAttempts: '20', ...extra };
}

/** Calls of a spied Node prototype method made by the node under test. */
function callsOf(h: Harness, method: 'status' | 'error'): any[][] {
  return h.node[method].getCalls().filter((c: any) => c.thisValue === h.node).map((c: any) => c.args);
}

describe('physics-augment node', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('sends K marked augmented samples on output 1 and the real message unchanged on output 2', async () => {
    const h = await loadNode(physicsAugment, config(), 2);
    h.send({ payload: real(), topic: 'R-101', labels: { quality: 'ok' } });
    await h.until(() => h.completed.length === 1);
    assert.equal(h.caught.length, 0);
    assert.equal(h.outputs[0].length, 10);
    assert.equal(h.outputs[1].length, 1);
    assert.deepEqual(h.outputs[1][0].payload, real());
    assert.equal(h.outputs[1][0].augmented, undefined);
    // no two messages downstream share an object (a downstream change to one cannot reach another)
    assert.notEqual(h.outputs[0][0].labels, h.outputs[0][1].labels);
    assert.notEqual(h.outputs[0][0].labels, h.outputs[1][0].labels);
    assert.notEqual(h.outputs[0][0].augmented.rules, h.outputs[0][1].augmented.rules);
    const ids = new Set(h.outputs[0].map((m) => m._msgid));
    assert.equal(ids.size, 10);
    h.outputs[0].forEach((m, i) => {
      assert.equal(m.topic, 'R-101');
      assert.deepEqual(m.labels, { quality: 'ok' });
      assert.equal(m.augmented.index, i);
      assert.equal(typeof m.augmented.seed, 'number');
      assert.deepEqual(m.augmented.rules, ['perturb:temperature', 'range:pressure', 'kinetics:catalyst', 'stoichiometry:feedA+feedB+solvent', 'stirring:agitatorSpeed']);
      assert.equal(m.payload.augmented, undefined);
      assert.ok(Math.abs(m.payload.temperature - 100) <= 2 && m.payload.pressure >= 0.6 && m.payload.pressure <= 1.2);
      assert.ok(Math.abs(m.payload.feedA + m.payload.feedB + m.payload.solvent - 100) < 1e-9);
      assert.ok(m.payload.agitatorSpeed >= 150 && m.payload.agitatorSpeed <= 300 && m.payload.heatTransferCoeff > 2000);
    });
  });

  it('batch mode: one message holding the K samples and their seeds', async () => {
    const h = await loadNode(physicsAugment, config({ output: 'batch', count: '6' }), 2);
    h.send({ payload: real() });
    await h.until(() => h.completed.length === 1);
    assert.equal(h.outputs[0].length, 1);
    const m = h.outputs[0][0];
    assert.equal(m.payload.length, 6);
    assert.equal(m.augmented.seeds.length, 6);
    assert.equal(m.augmented.requested, 6);
    assert.equal(m.augmented.emitted, 6);
    assert.equal(typeof m.augmented.seed, 'number');
    assert.equal(h.outputs[1].length, 1);
  });

  it('same seed, same output across deploys; msg.seed replays a set', async () => {
    const run = async (seed: unknown) => {
      const h = await loadNode(physicsAugment, config({ count: '4' }), 2);
      h.send({ payload: real(), seed });
      h.send({ payload: real() });
      await h.until(() => h.completed.length === 2);
      const out = h.outputs[0].map((m) => ({ payload: m.payload, augmented: m.augmented }));
      await helper.unload();
      return out;
    };
    const a = await run(undefined);
    const b = await run(undefined);
    assert.equal(a.length, 8);
    assert.deepEqual(a, b);
    // the second message differs from the first (the seed sequence moves on)
    assert.notDeepEqual(a[0].payload, a[4].payload);
    const c = await run(a[4].augmented.messageSeed);
    assert.deepEqual(c[0], a[4]);
  });

  it('augments a batch curve smoothly and keeps its topic and sample rate', async () => {
    const rules = JSON.stringify([{ kind: 'perturb', field: 'temperature', amplitude: 2, min: 80, max: 120, knots: 3 }]);
    const h = await loadNode(physicsAugment, config({ rules, count: '3' }), 2);
    const curve = Array.from({ length: 50 }, (_, i) => 95 + i * 0.2);
    h.send({ payload: curve, topic: 'temperature', sampleRate: 1, timestamp: 1000 });
    h.send({ payload: Float64Array.from(curve), topic: 'temperature', timestamps: curve.map((_, i) => 1000 + i * 1000) });
    await h.until(() => h.completed.length === 2);
    assert.equal(h.outputs[0].length, 6);
    // the typed-array copy of the same curve gets the next message seed: other drifts, same constraints
    assert.notDeepEqual(h.outputs[0][0].payload, h.outputs[0][3].payload);
    assert.equal(h.outputs[0][3].timestamps.length, 50);
    for (const m of h.outputs[0]) {
      assert.equal(m.topic, 'temperature');
      if (m.timestamps === undefined) assert.equal(m.sampleRate, 1);
      assert.ok(m.timestamp === 1000 || m.timestamps[0] === 1000);
      assert.equal(m.payload.length, 50);
      m.payload.forEach((v: number, i: number) => {
        assert.ok(Math.abs(v - curve[i]) <= 2 + 1e-9);
        // 3 knots over 49 steps: the drift changes by at most π·2/24.5 = 0.256 per step (+0.2 of the curve itself)
        if (i > 0) assert.ok(Math.abs(v - m.payload[i - 1] - 0.2) <= (Math.PI * 2) / 24.5 + 1e-9);
      });
    }
  });

  it('a sample missing a field goes to Catch naming the field; the node keeps running', async () => {
    const h = await loadNode(physicsAugment, config({ count: '2' }), 2);
    const { temperature: _t, ...missing } = real();
    h.send({ payload: missing });
    h.send({ payload: 'not a record' });
    h.send({ payload: [1, 2, 3], topic: 'temperature' });
    h.send({ payload: real() });
    await h.until(() => h.caught.length === 3 && h.outputs[1].length === 1);
    assert.match(h.caught[0].error.message, /^InputError: msg\.payload\.temperature: expected a number or an array of numbers, got undefined \(missing field\)/);
    assert.match(h.caught[1].error.message, /^InputError: msg\.payload: expected an object/);
    assert.match(h.caught[2].error.message, /^InputError: msg\.sampleRate/);
    assert.equal(h.outputs[0].length, 2);
    await h.until(() => h.completed.length === 1);
    assert.equal(h.completed.length, 1);
  });

  it('samples that cannot be made valid are counted, not sent; stats and reset answer on output 2', async () => {
    const h = await loadNode(physicsAugment, config({ count: '5' }), 2);
    h.send({ payload: { ...real(), temperature: 130 } });
    h.send({ payload: real() });
    h.send({ control: 'stats' });
    await h.until(() => h.completed.length === 3);
    assert.equal(h.outputs[0].length, 5);
    const stats = h.outputs[1][2];
    assert.equal(stats.control, 'stats');
    assert.equal(stats.payload.received, 2);
    assert.equal(stats.payload.requested, 10);
    assert.equal(stats.payload.emitted, 5);
    assert.equal(stats.payload.notEmitted, 5);
    assert.deepEqual(stats.payload.notEmittedByRule, { 'perturb:temperature': 5 });
    h.send({ control: 'reset' });
    h.send({ control: 'stats' });
    h.send({ control: 'bogus' });
    await h.until(() => h.completed.length === 5 && h.caught.length === 1);
    assert.deepEqual(h.outputs[1][3].payload, { reset: true });
    assert.equal(h.outputs[1][4].payload.received, 0);
    assert.match(h.caught[0].error.message, /^InputError: msg\.control: expected 'stats' or 'reset'/);
  });

  it('shows yellow status after samples were refused', async () => {
    const h = await loadNode(physicsAugment, config({ count: '2' }), 2);
    h.send({ payload: { ...real(), temperature: 130 } });
    await h.until(() => callsOf(h, 'status').some((a) => a[0].fill === 'yellow'), 2000);
  });

  for (const [what, extra, text] of [
    ['an inverted range', { rules: JSON.stringify([{ kind: 'range', field: 'p', min: 1.2, max: 0.6 }]) }, /config rules\[0\]\.min: range inverted/],
    ['a perturbation wider than its range', { rules: JSON.stringify([{ kind: 'perturb', field: 'T', amplitude: 30, min: 80, max: 120 }]) }, /wider than the range/],
    ['ratios that cannot sum to 100 %', { rules: JSON.stringify([{ kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03, bounds: { a: [70, 80], b: [40, 50] } }]) }, /minimums add up to 110/],
    ['K of 0', { count: '0' }, /config count/],
    ['a bad seed', { seed: 'abc' }, /config seed/],
  ] as Array<[string, Record<string, unknown>, RegExp]>) {
    it(`refuses ${what} at deploy: error, red status, and every message answered with the error`, async () => {
      const h = await loadNode(physicsAugment, config(extra), 2);
      const errors = callsOf(h, 'error');
      assert.ok(errors.some((a) => text.test(String(a[0]))), `node.error calls: ${JSON.stringify(errors)}`);
      assert.ok(callsOf(h, 'status').some((a) => a[0].fill === 'red' && /^config /.test(a[0].text)), 'red status naming the config error');
      h.send({ payload: real() });
      await h.until(() => h.caught.length === 1);
      assert.match(h.caught[0].error.message, text);
      assert.equal(h.outputs[0].length + h.outputs[1].length, 0);
    });
  }

  it('the editor defaults are the reactor defaults of lib/augment', () => {
    const html = fs.readFileSync(path.join(__dirname, '../../nodes/physics-augment/physics-augment.html'), 'utf8');
    const block = /\/\/ DEFAULT_RULES_BEGIN([\s\S]*?)\/\/ DEFAULT_RULES_END/.exec(html);
    assert.ok(block, 'DEFAULT_RULES block in the editor');
    const editorDefaults = new Function(`${block[1]}; return DEFAULT_RULES;`)();
    assert.deepEqual(editorDefaults, JSON.parse(JSON.stringify(REACTOR_DEFAULT_RULES)));
  });

  it('the example flow produces augmented and real records within seconds of deploy', async () => {
    const flow = JSON.parse(fs.readFileSync(path.join(__dirname, '../../examples/chemical-reactor-augment.json'), 'utf8'));
    assert.equal(flow.filter((n: any) => n.type === 'tab').length, 1);
    const types = new Set(flow.map((n: any) => n.type));
    for (const t of types) assert.ok(['tab', 'comment', 'inject', 'function', 'debug', 'physics-augment'].includes(t as string), `unexpected node type ${t}`);
    // debug nodes become helper nodes so the test sees what they would show
    // (the periodic stats request is left out: the test asks for stats itself once records arrived)
    const testFlow = flow.filter((n: any) => n.id !== 'aug-stats').map((n: any) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper' } : n));
    assert.ok(flow.some((n: any) => n.id === 'aug-stats' && n.props[0].p === 'control' && n.props[0].v === 'stats'));
    await helper.load([
      physicsAugment,
      require('@node-red/nodes/core/common/20-inject.js'),
      require('@node-red/nodes/core/function/10-function.js'),
      require('@node-red/nodes/core/common/90-comment.js'),
    ], testFlow);
    const augmented: any[] = [];
    const realOut: any[] = [];
    helper.getNode('aug-debug-augmented').on('input', (m: any) => augmented.push(m));
    helper.getNode('aug-debug-real').on('input', (m: any) => realOut.push(m));
    let asked = false;
    await new Promise<void>((resolve, reject) => {
      const start = Date.now();
      const tick = () => {
        if (augmented.length >= 5 && realOut.length >= 1 && !asked) {
          asked = true;
          helper.getNode('aug-node').receive({ control: 'stats' });
        }
        if (realOut.some((m) => m.control === 'stats')) return resolve();
        if (Date.now() - start > 8000) return reject(new Error(`example: ${augmented.length} augmented, ${realOut.length} on output 2`));
        setTimeout(tick, 20);
      };
      tick();
    });
    assert.ok(augmented.every((m) => m.augmented && typeof m.augmented.seed === 'number' && m.topic === 'R-101'));
    assert.ok(realOut.some((m) => m.payload && typeof m.payload.temperature === 'number' && m.augmented === undefined));
    const stats = realOut.find((m) => m.control === 'stats');
    assert.ok(stats.payload.received >= 1 && stats.payload.emitted >= 5);
  });
});
