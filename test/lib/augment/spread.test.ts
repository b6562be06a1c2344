import { strict as assert } from 'assert';
import { fieldStats, spreadReport } from '../../../lib/augment/spread';
import { smoothPerturbation } from '../../../lib/augment/smooth';
import { SeededRandom } from '../../../lib/util/random';

describe('augment spread report', () => {
  it('population statistics of a field', () => {
    // 2, 4, 4, 4, 5, 5, 7, 9: mean 5, squared deviations sum 32, std = sqrt(32/8) = 2
    assert.deepEqual(fieldStats([2, 4, 4, 4, 5, 5, 7, 9]), { n: 8, mean: 5, std: 2, min: 2, max: 9 });
    assert.ok(Number.isNaN(fieldStats([]).mean));
  });

  it('compares the augmented set with the real set per field, curves counting every point', () => {
    const real = [{ T: 100, p: 1 }, { T: 102, p: 1 }];
    const augmented = [{ T: [99, 101], p: 0.8, h: 2000 }, { T: [103, 97], p: 1.2, h: 3000 }];
    const report = spreadReport(real, augmented);
    assert.deepEqual(report.map((r) => r.field), ['T', 'p', 'h']);
    const t = report[0];
    // real T: mean 101, std 1, range 2; augmented T points 99, 101, 103, 97: mean 100, std sqrt(20/4) = 2.236068, range 6
    assert.equal(t.real.std, 1);
    assert.ok(Math.abs(t.augmented.std - Math.sqrt(5)) < 1e-12);
    assert.ok(Math.abs(t.stdRatio - Math.sqrt(5)) < 1e-12);
    assert.equal(t.rangeRatio, 3);
    // p does not vary in the real set: ratios are NaN; h is not in the real set at all
    assert.ok(Number.isNaN(report[1].stdRatio) && Number.isNaN(report[1].rangeRatio));
    assert.equal(report[2].real.n, 0);
    assert.deepEqual(spreadReport(real, augmented, ['p']).map((r) => r.field), ['p']);
  });
});

describe('smooth perturbation', () => {
  it('passes through its knots with cosine interpolation between them', () => {
    // 7 points, 3 knots at indexes 0, 3, 6; halfway between knots the weight is (1 − cos(π/3))/2 = 0.25 and 0.75
    const rng = new SeededRandom(5);
    const copy = new SeededRandom(5);
    const knots = [copy.uniform(-2, 2), copy.uniform(-2, 2), copy.uniform(-2, 2)];
    const d = smoothPerturbation(7, 2, 3, rng);
    assert.equal(d.length, 7);
    assert.ok(Math.abs(d[0] - knots[0]) < 1e-12 && Math.abs(d[3] - knots[1]) < 1e-12 && Math.abs(d[6] - knots[2]) < 1e-12);
    assert.ok(Math.abs(d[1] - (knots[0] + 0.25 * (knots[1] - knots[0]))) < 1e-12);
    assert.ok(Math.abs(d[5] - (knots[1] + 0.75 * (knots[2] - knots[1]))) < 1e-12);
    assert.deepEqual(smoothPerturbation(0, 2, 3, rng), []);
    assert.equal(smoothPerturbation(1, 2, 3, rng).length, 1);
  });
});
