import { strict as assert } from 'assert';
import { parseRules, parseGateOptions } from '../../../lib/quality/rules';
import { ConfigError } from '../../../lib/errors';

function refuses(raw: unknown, text: RegExp): void {
  assert.throws(
    () => parseRules(raw),
    (err: unknown) => err instanceof ConfigError && err.property === 'rules' && text.test(err.message),
    `expected refusal matching ${text}`,
  );
}

describe('quality: rule parsing', () => {
  it('reads the engine-line rules from editor strings with default grades', () => {
    const rules = parseRules([
      { kind: 'band', field: 'bore', nominal: '80', tolerance: '0.02' },
      { kind: 'class', field: 'ra', min: '0.8', max: '1.6' },
      { kind: 'geometric', field: 'flatness', max: '0.05' },
      { kind: 'geometric', field: 'perpendicularity', max: '0.03', name: 'perp' },
      { kind: 'completeness', field: 'feed', interval: '100', missingRate: '0.001', window: '1000' },
      { kind: 'alignment', field: 'vibration, temperature', skew: '50' },
    ]);
    assert.deepEqual(rules[0], { kind: 'band', name: 'band bore', grade: 'review', field: 'bore', nominal: 80, tolerance: 0.02 });
    assert.deepEqual(rules[1], { kind: 'class', name: 'class ra', grade: 'review', field: 'ra', min: 0.8, max: 1.6 });
    assert.deepEqual(rules[2], { kind: 'geometric', name: 'geometric flatness', grade: 'reject', field: 'flatness', max: 0.05 });
    assert.equal(rules[3].name, 'perp');
    assert.deepEqual(rules[4], { kind: 'completeness', name: 'completeness feed', grade: 'review', field: 'feed', maxIntervalMs: 100, maxMissingRate: 0.001, window: 1000, expectedIntervalMs: null });
    assert.deepEqual(rules[5], { kind: 'alignment', name: 'alignment vibration, temperature', grade: 'reject', fields: ['vibration', 'temperature'], maxSkewMs: 50 });
  });

  it('accepts a JSON string, a chosen grade, * for alignment, and makes names unique', () => {
    const rules = parseRules(JSON.stringify([
      { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.02, grade: 'reject' },
      { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.05 },
      { kind: 'alignment', field: '*', skew: 50 },
    ]));
    assert.equal(rules[0].grade, 'reject');
    assert.deepEqual(rules.map((r) => r.name), ['band bore', 'band bore #2', 'alignment *']);
    assert.equal((rules[2] as { fields: unknown }).fields, '*');
  });

  it('refuses bad rules with a message naming the rule', () => {
    refuses([{ kind: 'band', field: 'bore', nominal: 80, tolerance: 0 }], /rule 1 \(band bore\): tolerance must be > 0, got 0/);
    refuses([{ kind: 'band', field: 'bore', nominal: 80, tolerance: -0.1 }], /tolerance must be > 0/);
    refuses([{ kind: 'band', field: 'bore', tolerance: 0.1 }], /nominal is required/);
    refuses([{ kind: 'class', field: 'ra', min: 1.6, max: 0.8 }], /rule 1 \(class ra\): min \(1\.6\) must not be greater than max \(0\.8\)/);
    refuses([{ kind: 'geometric', field: 'flatness', max: 0.05 }, { kind: 'geometric', field: '', max: 0.03 }], /rule 2 \(geometric\): a field is required/);
    refuses([{ kind: 'geometric', max: 0.03 }], /a field is required/);
    refuses([{ kind: 'geometric', field: 'f', max: 'x' }], /max must be a number, got "x"/);
    refuses([{ kind: 'geometric', field: 'f', max: 0 }], /limit must be > 0/);
    refuses([{ kind: 'circle', field: 'f' }], /kind must be one of band, class, geometric, completeness, alignment/);
    refuses([{ kind: 'band', field: 'bore', nominal: 80, tolerance: 1, grade: 'pass' }], /grade must be review or reject/);
    refuses([{ kind: 'completeness', field: 'feed' }], /set a max interval, a max missing rate, or both/);
    refuses([{ kind: 'completeness', field: 'feed', missingRate: 2 }], /fraction in \(0, 1\]/);
    refuses([{ kind: 'completeness', field: 'feed', interval: 100, window: 0 }], /window must be a whole number/);
    refuses([{ kind: 'alignment', field: 'vibration', skew: 50 }], /at least two fields/);
    refuses([{ kind: 'alignment', field: 'a,b', skew: -1 }], /max skew must be ≥ 0/);
    refuses([], /at least one rule/);
    refuses('not json', /JSON array/);
    refuses({ kind: 'band' }, /expected a list of rules/);
    refuses([null], /rule 1: expected an object/);
  });

  it('reads the missing-field grade', () => {
    assert.deepEqual(parseGateOptions({}), { missingGrade: 'reject' });
    assert.deepEqual(parseGateOptions({ missingGrade: 'review' }), { missingGrade: 'review' });
    assert.throws(() => parseGateOptions({ missingGrade: 'pass' }), /missingGrade: expected review or reject/);
  });
});
