import { strict as assert } from 'assert';
import fc from 'fast-check';
import { loadNode, startServer, stopServer, helper } from '../support/harness';
import toleranceGate = require('../../nodes/tolerance-gate/tolerance-gate');

const RULES = [
  { kind: 'band', field: 'bore', nominal: '80', tolerance: '0.02', grade: '' },
  { kind: 'class', field: 'ra', min: '0.8', max: '1.6', grade: '' },
  { kind: 'geometric', field: 'flatness', max: '0.05', grade: '' },
  { kind: 'alignment', field: 'vibration,temperature', skew: '50', grade: '' },
];
const base = { type: 'tolerance-gate', rules: RULES, missingGrade: 'reject' };
const good = { bore: 80.004, ra: 1.1, flatness: 0.01, vibration: 0.2, temperature: 61 };

describe('tolerance-gate node', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('routes pass, review and reject to outputs 1–3 with msg.quality, completing each message once', async () => {
    const h = await loadNode(toleranceGate, base, 4);
    h.send({ payload: good, id: 'p' });
    h.send({ payload: { ...good, bore: 80.03 }, id: 'v' });
    h.send({ payload: { ...good, flatness: 0.08 }, id: 'j' });
    h.send({ payload: good, timestamp: 1000, timestamps: { vibration: 1000, temperature: 1070 }, id: 'a' });
    await h.until(() => h.completed.length === 4);
    assert.deepEqual(h.outputs.map((o) => o.map((m) => m.id)), [['p'], ['v'], ['j', 'a'], []]);
    assert.deepEqual(h.outputs[0][0].quality, { grade: 'pass', reasons: [] });
    const review = h.outputs[1][0].quality;
    assert.equal(review.grade, 'review');
    assert.deepEqual([review.reasons[0].rule, review.reasons[0].field, review.reasons[0].value], ['band bore', 'bore', 80.03]);
    assert.equal(review.reasons[0].limit.max, 80.02);
    const aligned = h.outputs[2][1].quality.reasons[0];
    assert.deepEqual([aligned.kind, aligned.value, aligned.limit], ['alignment', 70, { max: 50 }]);
    assert.equal(h.caught.length, 0);
  });

  it('property: every record lands on exactly one of the three outputs', async () => {
    const h = await loadNode(toleranceGate, base, 4);
    const value = fc.oneof(fc.double({ min: -100, max: 200, noNaN: true }), fc.constant(undefined), fc.constant('text'));
    const record = fc.record({ bore: value, ra: value, flatness: value, vibration: value, temperature: value });
    let next = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(record, { minLength: 1, maxLength: 15 }), fc.option(fc.integer({ min: 0, max: 200 })), async (records, skew) => {
        const before = h.outputs.map((o) => o.length);
        const ids = records.map(() => next++);
        records.forEach((payload, i) => h.send({ payload, id: ids[i], timestamp: 0, ...(skew === null ? {} : { timestamps: { vibration: 0, temperature: skew } }) }));
        await h.until(() => h.outputs.slice(0, 3).reduce((n, o, i) => n + o.length - before[i], 0) >= records.length);
        const seen = h.outputs.slice(0, 3).flatMap((o, i) => o.slice(before[i]).map((m) => m.id));
        assert.deepEqual([...seen].sort((a, b) => a - b), ids);
        for (let out = 0; out < 3; out++) {
          for (const m of h.outputs[out].slice(before[out])) assert.equal(m.quality.grade, ['pass', 'review', 'reject'][out]);
        }
      }),
      { numRuns: 25, seed: 99 },
    );
    await h.until(() => h.completed.length === next);
    assert.equal(h.outputs[3].length, 0);
    assert.equal(h.caught.length, 0);
  });

  it('gives a missing field a reason, reports a non-record to Catch, and keeps running', async () => {
    const h = await loadNode(toleranceGate, base, 4);
    h.send({ payload: { bore: 80, ra: 1.0, vibration: 1, temperature: 1 } });
    h.send({ payload: 42 });
    h.send({ payload: [1, 2] });
    h.send({ payload: good, timestamps: 'soon' });
    h.send({ payload: good });
    await h.until(() => h.caught.length === 3 && h.completed.length === 2);
    const missing = h.outputs[2][0].quality;
    assert.deepEqual(missing.reasons.map((r: any) => [r.field, r.check, r.detail]), [['flatness', 'missing', 'missing field (or not a finite number)']]);
    assert.match(h.caught[0].error.message, /msg\.payload: expected an object of named numbers \(a record\), got 42/);
    assert.match(h.caught[1].error.message, /got array of length 2/);
    assert.match(h.caught[2].error.message, /msg\.timestamps/);
    assert.equal(h.outputs[0].length, 1);
  });

  it('combines with a verdict from an earlier gate', async () => {
    const h = await loadNode(toleranceGate, base, 4);
    const earlier = { grade: 'review', reasons: [{ rule: 'upstream', field: 'x', value: 1, limit: { max: 0 } }] };
    h.send({ payload: good, quality: earlier });
    await h.until(() => h.completed.length === 1);
    assert.equal(h.outputs[1].length, 1);
    assert.deepEqual(h.outputs[1][0].quality.reasons.map((r: any) => r.rule), ['upstream']);
  });

  it('answers stats and reset on output 4, shows rates in the status, and refuses unknown controls', async () => {
    const h = await loadNode(toleranceGate, base, 4);
    const statuses: any[] = [];
    const setStatus = h.node.status.bind(h.node);
    h.node.status = (s: any) => {
      statuses.push(s);
      setStatus(s);
    };
    for (const bore of [80.0, 80.01, 79.99, 80.03]) h.send({ payload: { ...good, bore } });
    h.send({ control: 'stats' });
    await h.until(() => h.outputs[3].length === 1);
    const s = h.outputs[3][0];
    assert.equal(s.control, 'stats');
    assert.deepEqual([s.payload.records.total, s.payload.records.pass, s.payload.records.review], [4, 3, 1]);
    assert.equal(s.payload.records.rates.review, 0.25);
    const bore = s.payload.fields.bore;
    assert.deepEqual([bore.lsl, bore.usl], [79.98, 80.02]);
    const values = [80.0, 80.01, 79.99, 80.03];
    const mean = values.reduce((a, b) => a + b) / 4;
    const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / 3);
    assert.ok(Math.abs(bore.cp - 0.04 / (6 * std)) < 1e-6);
    assert.ok(Math.abs(bore.cpk - Math.min(80.02 - mean, mean - 79.98) / (3 * std)) < 1e-6);
    const cpkText = (Math.min(80.02 - mean, mean - 79.98) / (3 * std)).toFixed(2);
    await h.until(() => statuses.some((x) => x.text === `pass 75.0% · review 25.0% · reject 0.0% · n 4 · Cpk bore ${cpkText}`));
    h.send({ control: 'reset' });
    h.send({ control: 'stats' });
    await h.until(() => h.outputs[3].length === 3);
    assert.deepEqual(h.outputs[3][1].payload, { reset: true });
    assert.equal(h.outputs[3][2].payload.records.total, 0);
    h.send({ control: 'calibrate' });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /msg\.control: expected one of stats, reset, got string "calibrate"/);
  });

  it('refuses bad rules at deploy, naming the rule, and reports every message', async () => {
    for (const [rules, text] of [
      [[{ kind: 'band', field: 'bore', nominal: '80', tolerance: '0' }], /rule 1 \(band bore\): tolerance must be > 0/],
      [[{ kind: 'class', field: 'ra', min: '1.6', max: '0.8' }], /min \(1\.6\) must not be greater than max \(0\.8\)/],
      [[{ kind: 'geometric', field: '', max: '0.05' }], /a field is required/],
    ] as const) {
      const h = await loadNode(toleranceGate, { ...base, rules }, 4);
      h.send({ payload: good });
      await h.until(() => h.caught.length === 1);
      assert.match(h.caught[0].error.message, text);
      const logged = helper.log().args.filter((a: any[]) => a[0]?.level === 20 && a[0]?.type === 'tolerance-gate');
      assert.ok(logged.some((a: any[]) => text.test(String(a[0].msg))), 'node.error at deploy');
      await helper.unload();
    }
  });
});

describe('tolerance-gate example flow', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('examples/engine-line-quality.json loads and routes the simulated records within a few seconds', async () => {
    const flow: any[] = require('../../examples/engine-line-quality.json');
    const tab = flow.find((n) => n.type === 'tab');
    assert.ok(flow.every((n) => n.type === 'tab' || n.z === tab.id), 'one tab');
    assert.ok(flow.some((n) => n.type === 'comment'));
    const gateId = flow.find((n) => n.type === 'tolerance-gate').id;
    const nodes = flow.map((n) => (n.id === gateId ? { ...n, wires: n.wires.map((w: string[], i: number) => [...w, `tap${i}`]) } : n));
    for (let i = 0; i < 4; i++) nodes.push({ id: `tap${i}`, type: 'helper', z: tab.id });
    const core = ['common/20-inject.js', 'function/10-function.js', 'common/21-debug.js', 'common/90-comment.js'].map((f) => require(`@node-red/nodes/core/${f}`));
    await helper.load([toleranceGate, ...core], nodes);
    const seen: any[][] = [[], [], [], []];
    for (let i = 0; i < 4; i++) helper.getNode(`tap${i}`).on('input', (m: any) => seen[i].push(m));
    const started = Date.now();
    while (seen[0].length + seen[1].length + seen[2].length < 10) {
      if (Date.now() - started > 8000) throw new Error('too few records');
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(seen[0].length > 0, 'some records pass');
    for (let i = 0; i < 3; i++) for (const m of seen[i]) assert.equal(m.quality.grade, ['pass', 'review', 'reject'][i]);
  });
});

describe('dual-fusion → tolerance-gate (live path)', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('a fused thickness record is graded against ±0.01 mm', async () => {
    const dualFusion = require('../../nodes/dual-fusion/dual-fusion');
    const h = await loadNode([toleranceGate, dualFusion], { type: 'tolerance-gate', rules: [{ kind: 'band', field: 'thickness', nominal: '2', tolerance: '0.01' }] }, 4, [
      { id: 'fuse', type: 'dual-fusion', sourceA: 'laser', sourceB: 'xray', field: 'thickness', mode: 'fixed', weightA: '0.75', weightB: '0.25', skew: '20', timeout: '5000', wires: [['n1']] },
    ]);
    const fuse = helper.getNode('fuse');
    fuse.receive({ topic: 'laser', payload: 2.004, timestamp: 0 });
    fuse.receive({ topic: 'xray', payload: 2.008, timestamp: 0 }); // 2.005: pass
    fuse.receive({ topic: 'laser', payload: 2.012, timestamp: 100 });
    fuse.receive({ topic: 'xray', payload: 2.016, timestamp: 100 }); // 2.013: review
    await h.until(() => h.completed.length === 2);
    assert.equal(h.outputs[0].length, 1);
    assert.ok(Math.abs(h.outputs[0][0].payload.thickness - 2.005) < 1e-12);
    assert.equal(h.outputs[1].length, 1);
    assert.equal(h.outputs[1][0].quality.reasons[0].field, 'thickness');
    assert.equal(h.outputs[1][0].fusion.event, 'fused');
  });
});
