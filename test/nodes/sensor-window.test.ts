import { strict as assert } from 'assert';
import { loadNode, startServer, stopServer, helper, waitFor } from '../support/harness';
import sensorWindow = require('../../nodes/sensor-window/sensor-window');

const base = { type: 'sensor-window', window: '5', windowUnit: 'min', stats: 'mean', rate: 'input', gap: '0' };

describe('sensor-window node', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('sends the selected statistics of a batch window, one done() per message', async () => {
    const h = await loadNode(sensorWindow, { ...base, stats: 'mean,min,max,ptp,last' });
    // 1..10 at 1 kHz: mean 5.5, min 1, max 10
    h.send({ topic: 'temperature', payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], sampleRate: 1000, timestamp: 1_000_000, batchId: 'b7' });
    await h.until(() => h.completed.length === 1);
    const out = h.outputs[0];
    assert.equal(out.length, 1);
    assert.equal(out[0].topic, 'temperature');
    assert.deepEqual(out[0].payload, { mean: 5.5, min: 1, max: 10, ptp: 9, last: 10 });
    assert.equal(out[0].timestamp, 1_000_009);
    assert.deepEqual(out[0].window, { n: 10, from: 1_000_000, to: 1_000_009 });
    // on every input, the input message goes on with its answer: other properties kept, batch timing removed
    assert.equal(out[0].batchId, 'b7');
    assert.equal(out[0].sampleRate, undefined);
    assert.equal(h.caught.length, 0);
  });

  it('answers with a copy of the input message (any shape), and done() reports the input as it arrived', async () => {
    const h = await loadNode(sensorWindow, { ...base, stats: 'mean,max' });
    const original = { topic: 'pressure', payload: [400, 600], sampleRate: 1000, timestamp: 2000, lot: 'L1' };
    // a message built with object spread, as Function nodes often do
    h.send({ ...original, extra: { line: 3 } });
    await h.until(() => h.completed.length === 1);
    const out = h.outputs[0][0];
    assert.deepEqual(out.payload, { mean: 500, max: 600 });
    assert.equal(out.timestamp, 2001);
    assert.equal(out.lot, 'L1');
    assert.deepEqual(out.extra, { line: 3 });
    assert.equal(out.sampleRate, undefined);
    assert.deepEqual(out.counts, { accepted: 2, nonFinite: 0, outOfRange: 0, late: 0, clamped: 0, gaps: 0, overflow: 0 });
    // the Complete node sees the message that came in, not the answer
    const completed = h.completed[0];
    assert.deepEqual(completed.payload, [400, 600]);
    assert.equal(completed.sampleRate, 1000);
    assert.equal(completed.timestamp, 2000);
    assert.equal(completed.counts, undefined);
    assert.equal(completed._msgid, out._msgid);
  });

  it('takes single samples and Float32Array batches with msg.timestamps', async () => {
    const h = await loadNode(sensorWindow, { ...base, window: '3', windowUnit: 'samples', stats: 'mean,std' });
    h.send({ topic: 'p', payload: 2, timestamp: 10 });
    h.send({ topic: 'p', payload: new Float32Array([4, 4, 5, 5, 7, 9]), timestamps: [11, 12, 13, 14, 15, 16] });
    await h.until(() => h.completed.length === 2);
    assert.deepEqual(h.outputs[0][0].payload, { mean: 2, std: 0 });
    // count window of 3 keeps 5, 7, 9: mean 7, population std sqrt(8/3)
    assert.equal(h.outputs[0][1].payload.mean, 7);
    assert.ok(Math.abs(h.outputs[0][1].payload.std - Math.sqrt(8 / 3)) < 1e-12);
  });

  it('drops out-of-range and non-finite samples and reports the counts', async () => {
    const h = await loadNode(sensorWindow, { ...base, stats: 'mean,min,max', signals: JSON.stringify({ pressure: { valid: [300, 800] } }) });
    h.send({ topic: 'pressure', payload: [100, 500, 900, NaN, 600, Infinity, 300, 800], sampleRate: 100, timestamp: 0 });
    await h.until(() => h.completed.length === 1);
    const m = h.outputs[0][0];
    assert.deepEqual(m.payload, { mean: (500 + 600 + 300 + 800) / 4, min: 300, max: 800 });
    assert.equal(m.counts.accepted, 4);
    assert.equal(m.counts.outOfRange, 2);
    assert.equal(m.counts.nonFinite, 2);
  });

  it('emits every N samples, mid-batch', async () => {
    const h = await loadNode(sensorWindow, { ...base, rate: 'count', rateCount: '4' });
    h.send({ topic: 'v', payload: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], sampleRate: 1000, timestamp: 0 });
    await h.until(() => h.completed.length === 1);
    assert.deepEqual(h.outputs[0].map((m) => m.payload.mean), [2.5, 4.5]);
    assert.deepEqual(h.outputs[0].map((m) => m.timestamp), [3, 7]);
    h.send({ topic: 'v', payload: [11, 12], sampleRate: 1000, timestamp: 10 });
    await h.until(() => h.completed.length === 2);
    assert.deepEqual(h.outputs[0].map((m) => m.payload.mean), [2.5, 4.5, 6.5]);
  });

  it('emits every T ms of signal time with the window as it stood at the boundary', async () => {
    const h = await loadNode(sensorWindow, { ...base, window: '10', windowUnit: 'ms', rate: 'interval', rateInterval: '5' });
    // samples at t = 0..19 ms, values = t; boundaries at 0, 5, 10, 15 ms
    h.send({ topic: 'v', payload: Array.from({ length: 20 }, (_, i) => i), sampleRate: 1000, timestamp: 0 });
    await h.until(() => h.completed.length === 1);
    const got = h.outputs[0].map((m) => [m.timestamp, m.payload.mean, m.window.n]);
    // window (b−10, b]: at 0 → {0}; 5 → 0..5; 10 → 1..10; 15 → 6..15
    assert.deepEqual(got, [[0, 0, 1], [5, 2.5, 6], [10, 5.5, 10], [15, 10.5, 10]]);
  });

  it('combines several signals into one feature vector record, normalising speed to [-1, 1]', async () => {
    const signals = { temperature: { stats: ['mean'] }, speed: { normalise: [0, 20], stats: ['last'] } };
    const h = await loadNode(sensorWindow, { ...base, output: 'features', featureTopic: 'mill', signals: JSON.stringify(signals) });
    h.send({ topic: 'temperature', payload: [1000, 1010], sampleRate: 1, timestamp: 0 });
    await h.until(() => h.completed.length === 1);
    assert.equal(h.outputs[0].length, 0, 'no vector while speed has no sample');
    h.send({ topic: 'speed', payload: 15, timestamp: 2000 });
    await h.until(() => h.completed.length === 2);
    const m = h.outputs[0][0];
    assert.equal(m.topic, 'mill');
    assert.deepEqual(m.payload, { temperature_mean: 1005, speed_last: 0.5 });
    assert.deepEqual(m.timestamps, { temperature_mean: 1000, speed_last: 2000 });
  });

  it('answers reset and stats controls on its output', async () => {
    const h = await loadNode(sensorWindow, base);
    h.send({ topic: 'a', payload: [1, 2, 3], sampleRate: 1, timestamp: 0 });
    h.send({ topic: 'b', payload: 7, timestamp: 0 });
    h.send({ control: 'stats' });
    await h.until(() => h.completed.length === 3);
    const stats = h.outputs[0][2];
    assert.equal(stats.control, 'stats');
    assert.equal(stats.payload.a.statistics.mean, 2);
    assert.equal(stats.payload.b.n, 1);
    h.send({ control: 'reset', topic: 'a' });
    await h.until(() => h.completed.length === 4);
    assert.deepEqual(h.outputs[0][3].payload, { reset: ['a'] });
    h.send({ topic: 'a', payload: 10, timestamp: 0 });
    await h.until(() => h.completed.length === 5);
    assert.equal(h.outputs[0][4].payload.mean, 10, 'a starts fresh after reset');
    assert.equal(h.outputs[0][4].counts.accepted, 1);
    h.send({ control: 'reset' });
    await h.until(() => h.completed.length === 6);
    assert.deepEqual(h.outputs[0][5].payload.reset.sort(), ['a', 'b']);
  });

  it('routes bad input to Catch naming the field and keeps running', async () => {
    const h = await loadNode(sensorWindow, { ...base, window: '1', windowUnit: 's' });
    h.send({ topic: 'x', payload: 'abc' });
    h.send({ payload: 1 });
    h.send({ topic: 'x', payload: [1, 'two', 3], sampleRate: 10 });
    h.send({ topic: 'x', payload: [1, 2, 3] });
    h.send({ topic: 'x', payload: 5, timestamp: 10_000 });
    h.send({ topic: 'x', payload: 6, timestamp: 8_000 });
    h.send({ topic: 'x', control: 'flush' });
    h.send({ topic: 'x', payload: 7, timestamp: 10_500 });
    await h.until(() => h.caught.length + h.completed.length === 8);
    assert.equal(h.caught.length, 6);
    const errors = h.caught.map((m) => m.error.message);
    assert.match(errors[0], /^InputError: msg\.payload: expected a number/);
    assert.match(errors[1], /^InputError: msg\.topic: expected a signal name/);
    assert.match(errors[2], /^InputError: msg\.payload\[1\]: expected a number/);
    assert.match(errors[3], /^InputError: msg\.sampleRate/);
    assert.match(errors[4], /^InputError: msg\.timestamp: .*goes back by more than the window/);
    assert.match(errors[5], /^InputError: msg\.control/);
    assert.equal(h.completed.length, 2);
    assert.deepEqual(h.outputs[0].map((m) => m.payload.mean), [5, 6]);
  });

  it('uses the default signal name when msg.topic is missing', async () => {
    const h = await loadNode(sensorWindow, { ...base, topic: 'spindle' });
    h.send({ payload: 3, timestamp: 0 });
    await h.until(() => h.completed.length === 1);
    assert.equal(h.outputs[0][0].topic, 'spindle');
  });

  it('shows a config error in the status and routes every message to Catch', async () => {
    const h = await loadNode(sensorWindow, { ...base, stats: 'mean,median' });
    h.send({ topic: 'x', payload: 1 });
    await h.until(() => h.caught.length === 1);
    assert.match(h.caught[0].error.message, /config stats: unknown statistic "median"/);
    assert.equal(h.completed.length, 0);
  });

  it('shows counts in the status', async () => {
    const h = await loadNode(sensorWindow, { ...base, signals: JSON.stringify({ p: { valid: [0, 1] } }) });
    const statuses: any[] = [];
    h.node.on('call:status', (call: any) => statuses.push(call.args[0]));
    h.send({ topic: 'p', payload: [0.5, 2, NaN], sampleRate: 1, timestamp: 0 });
    await h.until(() => statuses.some((s) => s.fill === 'yellow'));
    const last = statuses[statuses.length - 1];
    assert.equal(last.shape, 'dot');
    assert.match(last.text, /1 signals · 1 in windows · 2 dropped · 0 gaps · 0 late|sensor-window\.status\.summary/);
  });
});

describe('examples/steel-rolling-window.json', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('produces a rolling-mill feature vector and per-signal statistics from its simulator', async () => {
    const flow = require('../../examples/steel-rolling-window.json') as Record<string, any>[];
    assert.equal(flow.filter((n) => n.type === 'tab').length, 1);
    assert.ok(flow.some((n) => n.type === 'comment' && n.info.length > 200));
    // debug nodes become helper nodes; the repeating inject is replaced by ticks sent here
    const nodes = flow.map((n) => (n.type === 'debug' ? { id: n.id, z: n.z, type: 'helper' } : n.type === 'inject' ? { ...n, once: false, repeat: '' } : n));
    const modules = [
      sensorWindow,
      require('@node-red/nodes/core/common/20-inject.js'),
      require('@node-red/nodes/core/function/10-function.js'),
      require('@node-red/nodes/core/common/90-comment.js'),
    ];
    await helper.load(modules, nodes);
    const features: any[] = [];
    const perSignal: any[] = [];
    helper.getNode('sw_debug_features').on('input', (m: any) => features.push(m));
    helper.getNode('sw_debug_signals').on('input', (m: any) => perSignal.push(m));
    const sim = helper.getNode('sw_sim');
    for (let k = 0; k < 7; k++) {
      sim.receive({ payload: k });
      await waitFor(() => features.length >= k, 5000);
    }
    await waitFor(() => features.length >= 6 && new Set(perSignal.map((m) => m.topic)).size === 4, 5000);
    const v = features[features.length - 1];
    assert.equal(v.topic, 'rolling-mill');
    assert.deepEqual(Object.keys(v.payload), ['temperature_mean', 'pressure_mean', 'pressure_min', 'pressure_max', 'vibration_rms', 'vibration_kurtosis', 'speed_last']);
    assert.ok(Math.abs(v.payload.temperature_mean - 1050) < 30, `temperature ${v.payload.temperature_mean}`);
    assert.ok(v.payload.pressure_min >= 300 && v.payload.pressure_max <= 800, 'pressure within its validity range');
    assert.ok(v.payload.vibration_rms > 0.5 && v.payload.vibration_rms < 0.9, `rms ${v.payload.vibration_rms}`);
    assert.ok(v.payload.vibration_kurtosis > 3, `impacts raise kurtosis above 3: ${v.payload.vibration_kurtosis}`);
    assert.ok(v.payload.speed_last >= -1 && v.payload.speed_last <= 1);
    assert.ok(v.counts.pressure.outOfRange > 0, 'the simulator sends some out-of-range pressures');
    assert.deepEqual([...new Set(perSignal.map((m) => m.topic))].sort(), ['pressure', 'speed', 'temperature', 'vibration']);
    assert.ok(perSignal.every((m) => m.window.n > 0 && typeof m.counts.accepted === 'number'));
  });
});

describe('sensor-window editor files', () => {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const dir = path.join(__dirname, '../../nodes/sensor-window');
  const html = fs.readFileSync(path.join(dir, 'sensor-window.html'), 'utf8');
  const catalogue = JSON.parse(fs.readFileSync(path.join(dir, 'locales/en-US/sensor-window.json'), 'utf8'));
  const lookup = (key: string) => key.split('.').reduce((d: any, k) => (d && typeof d === 'object' ? d[k] : undefined), catalogue);

  it('has a catalogue entry for every i18n key the editor and the runtime use', () => {
    const keys = [
      ...[...html.matchAll(/data-i18n="(?:\[[a-z]+\])?([^"]+)"/g)].map((m) => m[1]),
      ...[...html.matchAll(/label\('([A-Za-z]+)'\)/g)].map((m) => `sensor-window.label.${m[1]}`),
      ...[...html.matchAll(/sensor-window:(sensor-window\.[A-Za-z]+\.[A-Za-z]+)'/g)].map((m) => m[1]),
      ...[...fs.readFileSync(path.join(dir, 'sensor-window.ts'), 'utf8').matchAll(/RED\._\('([^']+)'/g)].map((m) => m[1]),
    ];
    assert.ok(keys.length > 40);
    const missing = keys.filter((k) => typeof lookup(k) !== 'string');
    assert.deepEqual(missing, []);
  });

  it('labels every property and writes help in the core style', () => {
    const defaults = html.slice(html.indexOf('defaults: {'), html.indexOf('inputs: 1'));
    const props = [...defaults.matchAll(/^ {12}([A-Za-z]+): \{/gm)].map((m) => m[1]);
    assert.ok(props.length >= 14, `properties ${props.join(',')}`);
    for (const p of props.filter((p) => p !== 'name')) assert.match(defaults, new RegExp(`${p}: \\{[^\\n]*label: label\\('${p}'\\)`), `${p} has a label`);
    for (const section of ['<h3>Inputs</h3>', '<h3>Outputs</h3>', '<h3>Details</h3>', 'class="message-properties"']) assert.ok(html.includes(section), section);
    assert.match(html, /data-help-name="sensor-window">\s*<p>[^<]+<\/p>/);
    assert.ok(fs.existsSync(path.join(__dirname, '../../icons/sensor-window.svg')));
  });
});
