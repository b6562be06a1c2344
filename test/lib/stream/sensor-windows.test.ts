import { strict as assert } from 'assert';
import { parseConfig, type RawSensorWindowConfig } from '../../../lib/stream/config';
import { SensorWindows } from '../../../lib/stream/sensor-windows';
import type { Batch } from '../../../lib/contract/samples';

function make(raw: RawSensorWindowConfig): SensorWindows {
  return new SensorWindows(parseConfig({ gap: '0', ...raw }));
}

function batch(topic: string | undefined, values: number[], start: number, rate = 1000): Batch {
  return { topic, values, start, intervalMs: 1000 / rate, timestamps: null };
}

describe('lib/stream SensorWindows', () => {
  it('keeps one window per signal', () => {
    const sw = make({ stats: 'mean,max' });
    const a = sw.ingest(batch('a', [1, 2, 3], 0));
    const b = sw.ingest(batch('b', [10, 20], 0));
    const a2 = sw.ingest(batch('a', [4], 3));
    assert.deepEqual(a[0].payload, { mean: 2, max: 3 });
    assert.deepEqual(b[0].payload, { mean: 15, max: 20 });
    assert.deepEqual(a2[0].payload, { mean: 2.5, max: 4 });
    assert.deepEqual(sw.signalNames, ['a', 'b']);
  });

  it('counts N samples per signal across batches', () => {
    const sw = make({ window: '100', windowUnit: 'samples', rate: 'count', rateCount: '3' });
    const outs = [
      ...sw.ingest(batch('a', [1, 2], 0)),
      ...sw.ingest(batch('b', [100], 0)),
      ...sw.ingest(batch('a', [3, 4, 5, 6, 7], 2)),
    ];
    assert.deepEqual(outs.map((o) => [o.topic, o.payload.mean, o.timestamp]), [['a', 2, 2], ['a', 3.5, 5]]);
  });

  it('sends nothing for an interval without samples and resumes at the next boundary', () => {
    const sw = make({ window: '1', windowUnit: 's', rate: 'interval', rateInterval: '100' });
    const outs = [
      ...sw.ingest({ topic: 'a', values: [1, 2, 3, 4], start: 0, intervalMs: null, timestamps: [50, 90, 520, 530] }),
      ...sw.ingest({ topic: 'a', values: [5], start: 0, intervalMs: null, timestamps: [601] }),
    ];
    // boundaries: 100 (samples 50, 90), then 520 jumps to boundary 600 (samples up to 530)
    assert.deepEqual(outs.map((o) => [o.timestamp, o.payload.mean]), [[100, 1.5], [600, 2.5]]);
  });

  it('builds feature vectors in the listed order, waits until every signal has samples, and counts the waits', () => {
    const sw = make({
      output: 'features', stats: 'mean',
      signals: JSON.stringify({ temperature: {}, vibration: { stats: ['rms', 'kurtosis'] }, speed: { normalise: [0, 10], stats: ['last'] } }),
    });
    assert.equal(sw.ingest(batch('vibration', [1, -1, 1, -1], 0)).length, 0);
    assert.equal(sw.ingest(batch('temperature', [800], 0)).length, 0);
    assert.equal(sw.summary().incomplete, 2);
    const out = sw.ingest(batch('speed', [7.5], 0));
    assert.equal(out.length, 1);
    assert.deepEqual(Object.keys(out[0].payload), ['temperature_mean', 'vibration_rms', 'vibration_kurtosis', 'speed_last']);
    assert.deepEqual(out[0].payload, { temperature_mean: 800, vibration_rms: 1, vibration_kurtosis: 1, speed_last: 0.5 });
    // unlisted signals join after the listed ones
    const more = sw.ingest(batch('extra', [2], 1));
    assert.deepEqual(Object.keys(more[0].payload).slice(-1), ['extra_mean']);
  });

  it('shares the interval clock across signals in feature mode and moves every window to the boundary', () => {
    const sw = make({ output: 'features', window: '100', windowUnit: 'ms', rate: 'interval', rateInterval: '100', stats: 'mean' });
    sw.ingest(batch('a', [1, 3], 0, 100)); // a at 0, 10 ms
    sw.ingest(batch('b', [5], 50)); // b at 50 ms
    const out = sw.ingest(batch('a', [3], 150)); // crosses 100: a's window at 100 is (0, 100] → only the 3 at 10 ms
    assert.equal(out.length, 1);
    assert.equal(out[0].timestamp, 100);
    assert.deepEqual(out[0].payload, { a_mean: 3, b_mean: 5 });
  });

  it('resets one signal or all', () => {
    const sw = make({});
    sw.ingest(batch('a', [1], 0));
    sw.ingest(batch('b', [2], 0));
    assert.deepEqual(sw.reset('a'), ['a']);
    assert.deepEqual(sw.signalNames, ['b']);
    assert.deepEqual(sw.reset('nope'), []);
    assert.deepEqual(sw.reset(), ['b']);
    assert.equal(sw.summary().signals, 0);
  });

  it('summarises counts for the status', () => {
    const sw = make({ gap: '100', signals: JSON.stringify({ p: { valid: [0, 10] } }) });
    sw.ingest({ topic: 'p', values: [1, 50, NaN, 2], start: 0, intervalMs: null, timestamps: [0, 1, 2, 500] });
    sw.ingest({ topic: 'p', values: [3], start: 0, intervalMs: null, timestamps: [400] });
    assert.deepEqual(sw.summary(), { signals: 1, samples: 3, accepted: 3, dropped: 2, late: 1, gaps: 1, clamped: 0, incomplete: 0 });
  });

  it('refuses a missing topic without a default, and uses the default when set', () => {
    assert.throws(() => make({}).ingest(batch(undefined, [1], 0)), /^InputError: msg\.topic: expected a signal name/);
    assert.equal(make({ topic: 'x' }).ingest(batch(undefined, [1], 0))[0].topic, 'x');
  });

  it('refuses new signals beyond maxSignals', () => {
    const sw = make({ maxSignals: '2' });
    sw.ingest(batch('a', [1], 0));
    sw.ingest(batch('b', [1], 0));
    assert.throws(() => sw.ingest(batch('c', [1], 0)), /msg\.topic: expected one of the 2 signals already held/);
    assert.equal(sw.ingest(batch('a', [3], 1))[0].payload.mean, 2);
  });

  it('reports gaps on the next output only', () => {
    const sw = make({ gap: '100' });
    const first = sw.ingest({ topic: 'a', values: [1, 2], start: 0, intervalMs: null, timestamps: [0, 500] });
    const second = sw.ingest(batch('a', [3], 501));
    assert.deepEqual(first[0].gaps, [{ from: 0, to: 500, ms: 500 }]);
    assert.deepEqual(second[0].gaps, []);
    assert.equal((second[0].counts as { gaps: number }).gaps, 1);
  });

  it('leaves an earlier output as it was: its gaps list and counts do not take later samples', () => {
    const sw = make({ gap: '100' });
    const first = sw.ingest(batch('a', [1], 0))[0];
    const second = sw.ingest(batch('a', [2, 3], 1000))[0];
    // the gap 0 -> 1000 belongs to the second output only
    assert.deepEqual(first.gaps, []);
    assert.deepEqual(first.counts, { accepted: 1, nonFinite: 0, outOfRange: 0, late: 0, clamped: 0, gaps: 0, overflow: 0 });
    assert.deepEqual(second.gaps, [{ from: 0, to: 1000, ms: 1000 }]);
    assert.deepEqual(second.counts, { accepted: 3, nonFinite: 0, outOfRange: 0, late: 0, clamped: 0, gaps: 1, overflow: 0 });
    const third = sw.ingest(batch('a', [4], 1500))[0];
    assert.deepEqual(third.gaps, [{ from: 1001, to: 1500, ms: 499 }]);
    assert.deepEqual(second.gaps, [{ from: 0, to: 1000, ms: 1000 }]);
    assert.equal((second.counts as { gaps: number }).gaps, 1);
  });

  it('emits every N samples and at each interval boundary, in order, from one batch', () => {
    const byCount = make({ rate: 'count', rateCount: '2', window: '10', windowUnit: 'samples' });
    // 1..5 in one batch: outputs after 2 and 4 samples (means 1.5 and 2.5), 5 waits for the next
    const outs = byCount.ingest(batch('a', [1, 2, 3, 4, 5], 0));
    assert.deepEqual(outs.map((o) => [o.payload.mean, o.timestamp]), [[1.5, 1], [2.5, 3]]);
    assert.deepEqual(byCount.ingest(batch('a', [6], 5)).map((o) => o.payload.mean), [3.5]);
    const byTime = make({ rate: 'interval', rateInterval: '2', window: '10', windowUnit: 'samples' });
    // samples at t = 0..4 ms; boundaries at 0, 2, 4: the window as it stood at each boundary
    const t = byTime.ingest(batch('a', [10, 20, 30, 40, 50], 0));
    assert.deepEqual(t.map((o) => [o.timestamp, o.payload.mean]), [[0, 10], [2, 20]]);
  });
});
