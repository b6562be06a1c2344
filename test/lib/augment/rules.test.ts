import { strict as assert } from 'assert';
import { ConfigError } from '../../../lib/errors';
import { defaultRulesJson, parseRules, REACTOR_DEFAULT_RULES, ruleId, type Rule } from '../../../lib/augment/rules';

function refuses(rules: unknown, property: RegExp, message: RegExp): void {
  assert.throws(() => parseRules(rules), (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.match(err.property, property);
    assert.match(err.message, message);
    return true;
  });
}

const perturb = { kind: 'perturb', field: 'temperature', amplitude: 2, min: 80, max: 120 };

describe('augment rules (config)', () => {
  it('parses the reactor defaults from their JSON text', () => {
    const rules = parseRules(defaultRulesJson());
    assert.deepEqual(rules, REACTOR_DEFAULT_RULES);
    assert.deepEqual(rules.map(ruleId), [
      'perturb:temperature', 'range:pressure', 'kinetics:catalyst', 'stoichiometry:feedA+feedB+solvent', 'stirring:agitatorSpeed',
    ]);
  });

  it('fills defaults: knots 4, total 100, water-like fluid and paddle constants', () => {
    const [p, s, st] = parseRules([
      perturb,
      { kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03 },
      { kind: 'stirring', field: 'rpm', segments: [{ min: 150, max: 300 }], heatTransferField: 'h' },
    ]) as [Rule, Rule, Rule];
    assert.equal(p.kind === 'perturb' && p.knots, 4);
    assert.equal(s.kind === 'stoichiometry' && s.total, 100);
    assert.ok(st.kind === 'stirring');
    assert.deepEqual(st.fluid, { density: 1000, viscosity: 0.001, heatCapacity: 4180, conductivity: 0.6, viscosityRatio: 1 });
    assert.equal(st.vessel.C, 0.36);
    assert.equal(st.vessel.a, 2 / 3);
    assert.deepEqual(st.segments, [{ min: 150, max: 300, weight: 1 }]);
  });

  it('refuses an inverted range', () => {
    refuses([{ ...perturb, min: 120, max: 80 }], /^rules\[0\]\.min$/, /range inverted/);
    refuses([{ kind: 'range', field: 'pressure', min: 1.2, max: 0.6 }], /^rules\[0\]\.min$/, /range inverted/);
    refuses([{ kind: 'stirring', field: 'rpm', segments: [{ min: 300, max: 150 }] }], /segments\[0\]\.min$/, /inverted/);
  });

  it('refuses a perturbation wider than its range', () => {
    refuses([{ ...perturb, amplitude: 25 }], /^rules\[0\]\.amplitude$/, /wider than the range 80–120/);
    refuses([{ ...perturb, amplitude: 0 }], /amplitude/, /> 0/);
  });

  it('refuses ratios that cannot hold together or cannot sum to the total', () => {
    // a/b ∈ [2, 3] and b/c ∈ [1, 1.1] force a/c ∈ [2, 3.3]: a band a/c ∈ [5, 6] contradicts them
    refuses([{ kind: 'stoichiometry', fields: ['a', 'b', 'c'], relative: 0.03, ratios: [
      { numerator: 'a', denominator: 'b', min: 2, max: 3 },
      { numerator: 'b', denominator: 'c', min: 1, max: 1.1 },
      { numerator: 'a', denominator: 'c', min: 5, max: 6 },
    ] }], /ratios$/, /contradict/);
    refuses([{ kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03, bounds: { a: [60, 70], b: [50, 60] } }], /bounds$/, /minimums add up to 110, more than the total 100/);
    refuses([{ kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03, bounds: { a: [10, 30], b: [10, 40] } }], /bounds$/, /maximums add up to 70, less than/);
    refuses([{ kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03, ratios: [{ numerator: 'a', denominator: 'x', min: 1, max: 2 }] }], /denominator$/, /not one of fields/);
    refuses([{ kind: 'stoichiometry', fields: ['a', 'b'], relative: 0.03, ratios: [{ numerator: 'a', denominator: 'b', min: 2, max: 1 }] }], /ratios\[0\]\.min$/, /inverted/);
    refuses([{ kind: 'stoichiometry', fields: ['a'], relative: 0.03 }], /fields$/, /at least two/);
    // consistent chain is accepted
    parseRules([{ kind: 'stoichiometry', fields: ['a', 'b', 'c'], relative: 0.03, ratios: [
      { numerator: 'a', denominator: 'b', min: 2, max: 3 },
      { numerator: 'b', denominator: 'c', min: 1, max: 1.1 },
      { numerator: 'a', denominator: 'c', min: 3, max: 6 },
    ] }]);
  });

  it('refuses bad JSON, unknown kinds, unknown properties and missing numbers', () => {
    refuses('[{"kind": "perturb",', /^rules$/, /not valid JSON/);
    refuses('{}', /^rules$/, /JSON array/);
    refuses([], /^rules$/, /at least one/);
    refuses([{ kind: 'noise', field: 'x' }], /^rules\[0\]\.kind$/, /expected one of perturb, range, kinetics, stoichiometry, stirring/);
    refuses([{ ...perturb, amplitud: 2 }], /^rules\[0\]\.amplitud$/, /unknown property/);
    refuses([{ kind: 'range', field: 'p', min: '0.6', max: 1.2 }], /^rules\[0\]\.min$/, /expected a number, got string "0.6"/);
    refuses([{ kind: 'kinetics', dose: 'cat', relative: 0.05, temperature: 'T', A: 1, Ea: 1, conversionField: 'X' }], /\.time$/, /reaction time field/);
    refuses([{ kind: 'kinetics', dose: 'cat', relative: 1.5, temperature: 'T', A: 1, Ea: 1, rateField: 'k' }], /\.relative$/, /< 1/);
    refuses([{ kind: 'stirring', field: 'rpm', segments: [{ min: 150, max: 300 }], vessel: { impellerDiameter: 2 } }], /impellerDiameter$/, /smaller than vesselDiameter/);
    refuses([{ kind: 'kinetics', dose: 'cat', relative: 0.05, temperature: 'T', A: 1, Ea: 1, rateField: 'k', calibrate: true }], /\.calibrate$/, /needs conversionField/);
    refuses([{ kind: 'kinetics', dose: 'cat', relative: 0.05, temperature: 'T', time: 't', A: 1, Ea: 1, conversionField: 'X', calibrate: 'yes' }], /\.calibrate$/, /true or false/);
  });

  it('refuses two rules writing one field, and a rule reading a field a later rule rewrites', () => {
    refuses([perturb, { kind: 'range', field: 'temperature', min: 80, max: 120 }], /^rules\[1\]$/, /already written by rules\[0\]/);
    refuses([
      { kind: 'kinetics', dose: 'cat', relative: 0.05, temperature: 'temperature', A: 1, Ea: 1, rateField: 'k' },
      perturb,
    ], /^rules\[1\]$/, /rewrites "temperature" after rules\[0\] \(kinetics:cat\)/);
  });
});
