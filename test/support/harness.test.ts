import { strict as assert } from 'assert';
import { loadNode, startServer, stopServer, helper } from './harness';
import passThrough = require('./pass-through-node');

describe('test harness', () => {
  before(startServer);
  afterEach(() => helper.unload());
  after(stopServer);

  it('delivers output and one completion per message', async () => {
    const h = await loadNode(passThrough, { type: 'pass-through' });
    h.send({ payload: 1 });
    h.send({ payload: 2 });
    await h.until(() => h.completed.length === 2);
    assert.deepEqual(h.outputs[0].map((m) => m.payload), [1, 2]);
    assert.equal(h.caught.length, 0);
  });
});
