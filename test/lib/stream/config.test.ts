import { strict as assert } from 'assert';
import { parseConfig, parseSignals, parseStats } from '../../../lib/stream/config';

describe('lib/stream config', () => {
  it('has defaults: 5-min time window, mean, an output per input, msg.topic required', () => {
    const c = parseConfig({});
    assert.deepEqual(c.window, { kind: 'time', size: 300_000 });
    assert.deepEqual(c.stats, ['mean']);
    assert.deepEqual(c.rate, { mode: 'input', every: 0 });
    assert.equal(c.output, 'signal');
    assert.equal(c.late, 'accept');
    assert.equal(c.gapMs, 1000);
    assert.equal(c.defaultTopic, null);
    assert.equal(c.signals.size, 0);
  });

  it('reads the editor strings', () => {
    const c = parseConfig({
      window: '2.5', windowUnit: 's', stats: 'rms, kurtosis', rate: 'interval', rateInterval: '250', output: 'features',
      featureTopic: 'mill', late: 'drop', gap: '0', maxSamples: '5000', topic: ' vib ',
      signals: '{"pressure": {"valid": [300, 800]}, "speed": {"normalise": [0, 12], "stats": ["last"]}}',
    });
    assert.deepEqual(c.window, { kind: 'time', size: 2500 });
    assert.deepEqual(c.stats, ['rms', 'kurtosis']);
    assert.deepEqual(c.rate, { mode: 'interval', every: 250 });
    assert.equal(c.output, 'features');
    assert.equal(c.featureTopic, 'mill');
    assert.equal(c.late, 'drop');
    assert.equal(c.gapMs, 0);
    assert.equal(c.maxSamples, 5000);
    assert.equal(c.defaultTopic, 'vib');
    assert.deepEqual([...c.signals.keys()], ['pressure', 'speed']);
    assert.deepEqual(c.signals.get('pressure'), { valid: [300, 800] });
    assert.deepEqual(c.signals.get('speed'), { normalise: [0, 12], stats: ['last'] });
    assert.deepEqual(parseConfig({ window: '300000', windowUnit: 'samples' }).window, { kind: 'count', size: 300_000 });
    assert.deepEqual(parseConfig({ rate: 'count', rateCount: '1000' }).rate, { mode: 'count', every: 1000 });
  });

  it('names the property in every config error', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ window: '0' }, /^config window: expected a window length > 0, got "0"/],
      [{ window: 'abc' }, /^config window: /],
      [{ window: '2.5', windowUnit: 'samples' }, /^config window: expected a whole number of samples/],
      [{ windowUnit: 'days' }, /^config windowUnit: expected one of ms, s, min, h, samples/],
      [{ stats: 'mean,median' }, /^config stats: unknown statistic "median"/],
      [{ stats: ' , ' }, /^config stats: select at least one statistic/],
      [{ rate: 'count', rateCount: '0' }, /^config rateCount: /],
      [{ rate: 'interval', rateInterval: '-5' }, /^config rateInterval: /],
      [{ rate: 'sometimes' }, /^config rate: /],
      [{ output: 'csv' }, /^config output: /],
      [{ late: 'ignore' }, /^config late: /],
      [{ gap: '-1' }, /^config gap: /],
      [{ maxSamples: '10', window: '100', windowUnit: 'samples' }, /^config window: a count window of 100 samples is larger than maxSamples/],
      [{ signals: '{bad json' }, /^config signals: not valid JSON/],
      [{ signals: '[1, 2]' }, /^config signals: expected an object/],
      [{ signals: '{"p": {"valid": [800, 300]}}' }, /^config signals\.p\.valid: expected from <= to/],
      [{ signals: '{"p": {"valid": [300]}}' }, /^config signals\.p\.valid: expected \[from, to\]/],
      [{ signals: '{"s": {"normalise": [1, 1]}}' }, /^config signals\.s\.normalise: expected from < to/],
      [{ signals: '{"s": {"stats": ["avg"]}}' }, /^config signals\.s\.stats: unknown statistic "avg"/],
      [{ signals: '{"s": {"range": [0, 1]}}' }, /^config signals\.s\.range: unknown key/],
      [{ signals: '{"s": 5}' }, /^config signals\.s: expected an object/],
    ];
    for (const [raw, re] of cases) assert.throws(() => parseConfig(raw), (err: Error) => re.test(err.message) && err.name === 'ConfigError', JSON.stringify(raw));
  });

  it('parses statistic lists and signal objects directly', () => {
    assert.deepEqual(parseStats(['max', 'min', 'max'], 'stats'), ['max', 'min']);
    assert.equal(parseSignals('').size, 0);
    assert.equal(parseSignals({ a: {} }).size, 1);
  });
});
