import { strict as assert } from 'assert';
import { parseFusionOptions } from '../../../lib/fusion/options';
import { ConfigError } from '../../../lib/errors';

const base = { sourceA: 'laser', sourceB: 'xray' };

function refuses(raw: Record<string, unknown>, property: string, text: RegExp): void {
  assert.throws(
    () => parseFusionOptions(raw),
    (err: unknown) => err instanceof ConfigError && err.property === property && text.test(err.message),
  );
}

describe('fusion: options', () => {
  it('fills defaults from blanks', () => {
    const o = parseFusionOptions({ ...base, field: '', mode: '', skew: '', timeout: '', tolerance: '', window: '', noiseA: '', processNoise: '' });
    assert.deepEqual(o, {
      sources: { a: 'laser', b: 'xray' },
      field: 'value',
      mode: 'adaptive',
      weights: { a: 0.5, b: 0.5 },
      skewMs: 20,
      timeoutMs: 2000,
      tolerance: null,
      window: 200,
      noise: { a: null, b: null },
      processNoise: null,
      maxHeld: 100,
    });
  });

  it('reads editor strings as numbers', () => {
    const o = parseFusionOptions({ ...base, mode: 'fixed', weightA: '0.7', weightB: '0.3', skew: '5', timeout: '500', tolerance: '0.05', noiseA: '0.004', noiseB: '0.01', processNoise: '0', maxHeld: '8' });
    assert.deepEqual(o.weights, { a: 0.7, b: 0.3 });
    assert.equal(o.skewMs, 5);
    assert.equal(o.timeoutMs, 500);
    assert.equal(o.tolerance, 0.05);
    assert.deepEqual(o.noise, { a: 0.004, b: 0.01 });
    assert.equal(o.processNoise, 0);
    assert.equal(o.maxHeld, 8);
  });

  it('fixed weights must sum to 1 and lie in [0, 1]', () => {
    refuses({ ...base, mode: 'fixed', weightA: 0.6, weightB: 0.6 }, 'weightB', /sum to 1/);
    refuses({ ...base, mode: 'fixed', weightA: 1.5, weightB: -0.5 }, 'weightA', /between 0 and 1/);
    refuses({ ...base, mode: 'fixed', weightA: 'abc' }, 'weightA', /expected a number/);
    assert.deepEqual(parseFusionOptions({ ...base, mode: 'fixed', weightA: 0.25 }).weights, { a: 0.25, b: 0.75 });
    // weights are not checked outside fixed mode
    assert.equal(parseFusionOptions({ ...base, mode: 'kalman', weightA: 0.6, weightB: 0.6 }).mode, 'kalman');
  });

  it('refuses missing or equal sources, unknown modes and impossible timings', () => {
    refuses({ sourceB: 'x' }, 'sourceA', /required/);
    refuses({ sourceA: 'x', sourceB: ' ' }, 'sourceB', /required/);
    refuses({ sourceA: 'x', sourceB: 'x' }, 'sourceB', /different/);
    refuses({ ...base, mode: 'median' }, 'mode', /one of fixed, adaptive, kalman/);
    refuses({ ...base, skew: -1 }, 'skew', /≥ 0/);
    refuses({ ...base, skew: 100, timeout: 100 }, 'timeout', /longer than the pairing skew/);
    refuses({ ...base, tolerance: 0 }, 'tolerance', /> 0/);
    refuses({ ...base, window: 2.5 }, 'window', /whole number/);
    refuses({ ...base, noiseB: -0.1 }, 'noiseB', /> 0/);
    refuses({ ...base, processNoise: -1 }, 'processNoise', /≥ 0/);
    refuses({ ...base, maxHeld: 0 }, 'maxHeld', /≥ 1/);
  });
});
