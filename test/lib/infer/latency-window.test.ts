import { strict as assert } from 'assert';
import { LatencyWindow } from '../../../lib/infer/latency-window';

describe('infer/latency-window', () => {
  it('is empty at first, then gives quantiles of the values added (numeric order, not text order)', () => {
    const w = new LatencyWindow(10);
    assert.equal(w.quantile(0.5), undefined);
    for (const v of [9, 10, 100, 2, 1]) w.add(v);
    // sorted: 1 2 9 10 100 → index floor(q·5)
    assert.equal(w.quantile(0), 1);
    assert.equal(w.quantile(0.5), 9);
    assert.equal(w.quantile(0.99), 100);
    assert.equal(w.quantile(1), 100);
  });

  it('keeps only the last `size` values', () => {
    const w = new LatencyWindow(4);
    for (let v = 1; v <= 10; v++) w.add(v * 1.5);
    // last four: 10.5 12 13.5 15
    assert.equal(w.quantile(0), 10.5);
    assert.equal(w.quantile(0.5), 13.5);
    assert.equal(w.quantile(1), 15);
  });
});
