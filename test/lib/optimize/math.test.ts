import { strict as assert } from 'assert';
import { int8SymmetricScale, PAPER_ACTIVATION_RANGE, quantizeUint8, quantizeWeight, RangeObserver, roundHalfEven, uint8Params } from '../../../lib/optimize/quant-math';
import { codebookExpand, codebookQuantize } from '../../../lib/optimize/codebook';
import { SeededRandom } from '../../../lib/util/random';

describe('optimize: quantisation arithmetic', () => {
  it('rounds half to even like ONNX QuantizeLinear', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 2.4, -2.6].map(roundHalfEven), [0, 2, 2, -0, -2, -2, 2, -3]);
  });

  it('uint8 activation parameters include zero and map the range onto 0..255', () => {
    // [-1, 3]: scale 4/255, zero point round(1 / (4/255)) = round(63.75) = 64
    const p = uint8Params(-1, 3);
    assert.ok(Math.abs(p.scale - 4 / 255) < 1e-12);
    assert.equal(p.zeroPoint, 64);
    // all positive: widened to [0, 2] → zero point 0
    assert.deepEqual(uint8Params(0.5, 2), { scale: 2 / 255, zeroPoint: 0 });
    // the paper's fixed range [-8, 7.875]: scale 15.875/255, zero point round(8 · 255 / 15.875) = round(128.504) = 129
    const f = uint8Params(...PAPER_ACTIVATION_RANGE);
    assert.ok(Math.abs(f.scale - 15.875 / 255) < 1e-12);
    assert.equal(f.zeroPoint, 129);
    assert.deepEqual(Array.from(quantizeUint8([-8, 0, 7.875, 100, -100], f)), [0, 129, 255, 255, 0]);
    assert.throws(() => uint8Params(2, 1), RangeError);
  });

  it('quantizes weights per tensor: q = round(w / s) with s = max|w| / 127', () => {
    const w = new Float32Array([0.5, -1.27, 0.01, 0.635]);
    const q = quantizeWeight(w, [2, 2], { perChannel: false, channelAxis: 1 });
    assert.ok(Math.abs(q.scales[0] - 0.01) < 1e-8);
    assert.deepEqual(Array.from(q.q), [50, -127, 1, 64]); // 63.5 → 64 (half to even)
    assert.equal(q.saturated, 0);
    assert.ok(q.maxError <= 0.005 + 1e-7);
  });

  it('quantizes per channel along the right axis', () => {
    // MatMul weight [K=2, N=2]: columns are channels
    const w = new Float32Array([1, 0.1, -2, 0.05]);
    const cols = quantizeWeight(w, [2, 2], { perChannel: true, channelAxis: 1 });
    assert.deepEqual(Array.from(cols.scales, (s) => +s.toFixed(6)), [+(2 / 127).toFixed(6), +(0.1 / 127).toFixed(6)]);
    assert.deepEqual(Array.from(cols.q), [64, 127, -127, 64]); // 63.5 → 64, 0.05/(0.1/127)=63.5 → 64
    // Conv weight [M=2, C=1, k=2]: rows are channels
    const conv = quantizeWeight(new Float32Array([0.5, -0.25, 4, 2]), [2, 1, 2], { perChannel: true, channelAxis: 0 });
    assert.deepEqual(Array.from(conv.q), [127, -64, 127, 64]); // -63.5 → -64
  });

  it('fixed scale (paper eq. 3, s = 0.125): Q = round(F / 0.125), saturating at ±127', () => {
    const w = new Float32Array([0.3, -0.0625, 1, 20, -16]);
    const q = quantizeWeight(w, [5], { perChannel: false, channelAxis: 0, fixedScale: 0.125 });
    assert.deepEqual(Array.from(q.q), [2, -0, 8, 127, -127].map((v) => v || 0)); // 2.4 → 2, -0.5 → -0, 160 → 127, -128 → -127
    assert.equal(q.saturated, 2);
    assert.throws(() => quantizeWeight(w, [5], { perChannel: false, channelAxis: 0, fixedScale: 0 }), RangeError);
  });

  it('observes calibration ranges', () => {
    const o = new RangeObserver();
    assert.equal(o.seen, false);
    o.update([1, 2, 3]);
    o.update(new Float32Array([-4, 0]));
    assert.deepEqual([o.min, o.max], [-4, 3]);
    assert.equal(int8SymmetricScale(0), 1);
  });
});

describe('optimize: codebook quantisation (paper eq. 4)', () => {
  it('uses the fine step where values are dense and the coarse step where sparse', () => {
    const rng = new SeededRandom(3);
    // 900 values packed in [0, 0.1), 100 spread over [0.1, 2): the first cell is dense
    const x = new Float32Array(1000);
    for (let i = 0; i < 900; i++) x[i] = rng.uniform(0, 0.0999);
    for (let i = 900; i < 1000; i++) x[i] = rng.uniform(0.1, 1.999);
    const cb = codebookQuantize(x, { fine: 0.01, coarse: 0.1 });
    assert.equal(cb.denseCount, 900);
    const y = codebookExpand(cb);
    for (let i = 0; i < 900; i++) assert.ok(Math.abs(x[i] - y[i]) < 0.01, `dense value ${x[i]} → ${y[i]}`);
    for (let i = 900; i < 1000; i++) assert.ok(Math.abs(x[i] - y[i]) < 0.1, `sparse value ${x[i]} → ${y[i]}`);
    // 10 fine levels in the dense cell + at most 19 coarse cells
    assert.ok(cb.levels.length <= 10 + 19, `${cb.levels.length} levels`);
    assert.ok(cb.levels.length >= 11);
  });

  it('never exceeds 256 levels (demotes the least dense cells) and rejects bad steps', () => {
    const x = new Float32Array(20000);
    for (let i = 0; i < x.length; i++) x[i] = (i / x.length) * 10 - 5; // uniform: every cell at the threshold
    const cb = codebookQuantize(x, { threshold: 0 }); // everything "dense": 1000 fine cells → must shrink
    assert.ok(cb.levels.length <= 256);
    const y = codebookExpand(cb);
    let m = 0;
    for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i] - y[i]));
    assert.ok(m < 0.1 && Math.abs(m - cb.maxError) < 1e-6);
    assert.throws(() => codebookQuantize(x, { fine: 0.2, coarse: 0.1 }), RangeError);
    // 300 non-empty coarse cells cannot fit in 256 levels
    assert.throws(() => codebookQuantize(Float32Array.from({ length: 300 }, (_, i) => i * 0.1 + 0.05)), /coarse levels exceed 256/);
  });
});
