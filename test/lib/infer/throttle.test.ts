import { strict as assert } from 'assert';
import { Throttle } from '../../../lib/infer/throttle';

describe('infer/throttle', () => {
  it('says yes at first, then at most once per interval of its clock', () => {
    let now = 1000;
    const t = new Throttle(250, () => now);
    assert.equal(t.due(), true, 'the first call is due');
    assert.equal(t.due(), false);
    now += 249;
    assert.equal(t.due(), false);
    now += 1;
    assert.equal(t.due(), true, '250 ms after the last yes');
    now += 100;
    assert.equal(t.due(), false, 'counted from the last yes, not the last call');
    now += 10_000;
    assert.equal(t.due(), true);
    assert.equal(t.due(), false);
  });
});
