import { strict as assert } from 'assert';
import { ConfigError } from '../../../lib/errors';
import { parseAugmentOptions, isSeed } from '../../../lib/augment/options';
import { defaultRulesJson, REACTOR_DEFAULT_RULES } from '../../../lib/augment/rules';

const rules = defaultRulesJson();

function refuses(raw: Record<string, unknown>, property: string, text: RegExp): void {
  assert.throws(() => parseAugmentOptions(raw), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.property, property);
    assert.match(err.message, text);
    return true;
  });
}

describe('augment options (node config)', () => {
  it('reads the editor strings; blanks give K 10, 20 redraws, one message each and no seed', () => {
    assert.deepEqual(parseAugmentOptions({ rules, count: '5', seed: '42', output: 'batch', maxAttempts: '3' }), {
      rules: REACTOR_DEFAULT_RULES, count: 5, seed: 42, output: 'batch', maxAttempts: 3,
    });
    const blank = parseAugmentOptions({ rules, count: '', seed: ' ', output: '', maxAttempts: undefined });
    assert.deepEqual([blank.count, blank.seed, blank.output, blank.maxAttempts], [10, null, 'each', 20]);
    assert.equal(parseAugmentOptions({ rules, seed: 0 }).seed, 0);
    assert.equal(parseAugmentOptions({ rules, seed: '4294967295' }).seed, 4294967295);
  });

  it('refuses K, redraws, seed and output out of their ranges, naming the property', () => {
    refuses({ rules, count: '0' }, 'count', /config count: expected an integer 1–100000, got "0"/);
    refuses({ rules, count: '2.5' }, 'count', /integer/);
    refuses({ rules, count: '100001' }, 'count', /integer 1–100000/);
    refuses({ rules, maxAttempts: '0' }, 'maxAttempts', /integer 1–1000/);
    refuses({ rules, seed: 'abc' }, 'seed', /config seed: expected an integer 0–4294967295, got "abc"/);
    refuses({ rules, seed: '-1' }, 'seed', /0–4294967295/);
    refuses({ rules, seed: 2 ** 32 }, 'seed', /0–4294967295/);
    refuses({ rules, output: 'all' }, 'output', /"each" or "batch"/);
  });

  it('refuses missing or bad rules through the rule parser', () => {
    refuses({}, 'rules', /empty/);
    refuses({ rules: '[{"kind":"range","field":"p","min":1.2,"max":0.6}]' }, 'rules[0].min', /range inverted/);
  });

  it('tells a valid seed', () => {
    assert.ok(isSeed(0) && isSeed(7) && isSeed(4294967295));
    for (const v of [-1, 1.5, 2 ** 32, '7', NaN, undefined, null]) assert.equal(isSeed(v), false, String(v));
  });
});
