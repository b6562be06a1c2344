/**
 * Crash safety: a child process runs the edge-cache node at full speed and is killed with SIGKILL
 * at random points (5 here; EDGE_CACHE_FAULT_KILLS=50, or the bench, for 50), plus one kill of
 * the node itself in Node-RED (EDGE_CACHE_FAULT_NODE_KILLS for more) and a run with 200 in flight. Every accepted
 * message must be delivered, in order; repeats only with the same id.
 * SIGKILL proves crash safety; power-loss safety rests on synchronous FULL, which the node and
 * queue tests check is in force on every connection.
 */
import { strict as assert } from 'assert';
import { runFaultTest, check } from './edge-cache-fault/run';

describe('edge-cache fault test (SIGKILL)', () => {
  const kills = Number(process.env.EDGE_CACHE_FAULT_KILLS || 5);

  it(`lib/store forwarder on a WorkerQueue (the node's store): loses nothing accepted over ${kills} kills at random points`, async function () {
    this.timeout(60_000 + kills * 8_000);
    const r = await runFaultTest({ kills, mode: 'lib', store: 'worker', window: 1, seed: 8, minMs: 100, maxMs: 400 });
    assert.deepEqual(r.problems, []);
    assert.equal(r.kills, kills);
    assert.ok(r.accepted > kills * 100, `only ${r.accepted} messages accepted: the writer did not run at a high rate`);
    assert.ok(r.delivered >= r.accepted);
  });

  it('edge-cache node in Node-RED (test helper): loses nothing accepted over a kill', async function () {
    this.timeout(120_000);
    const r = await runFaultTest({ kills: Number(process.env.EDGE_CACHE_FAULT_NODE_KILLS || 1), mode: 'node', window: 1, seed: 9, minMs: 200, maxMs: 500 });
    assert.deepEqual(r.problems, []);
    assert.ok(r.accepted > 200, `only ${r.accepted} messages accepted`);
    assert.ok(r.delivered >= r.accepted);
  });

  it('lib/store forwarder on a DurableQueue (SQLite on the main thread), 200 in flight: loses nothing over 2 kills (order by id)', async function () {
    this.timeout(90_000);
    const r = await runFaultTest({ kills: 2, mode: 'lib', store: 'main', window: 200, seed: 10, minMs: 100, maxMs: 400 });
    assert.deepEqual(r.problems, []);
    assert.ok(r.accepted > 300, `only ${r.accepted} messages accepted`);
  });

  it('the checker finds losses, reordering and changed ids', () => {
    const ok = ['READY', 'A 0', 'A 1', 'D 0 1', 'D 1 2', 'D 1 2', 'EMPTY'];
    assert.deepEqual(check(ok, 1).problems, []);
    assert.equal(check(ok, 1).duplicates, 1);
    assert.match(check(['A 0', 'A 1', 'D 0 1', 'EMPTY'], 1).problems.join(), /accepted seq 1 was never delivered/);
    assert.match(check(['D 1 2', 'D 0 1', 'EMPTY'], 1).problems.join(), /out of order/);
    assert.deepEqual(check(['D 1 2', 'D 0 1', 'EMPTY'], 1, false).problems, [], 'a lost message may come after later ones with a window');
    assert.match(check(['D 1 1', 'D 0 2', 'EMPTY'], 1, false).problems.join(), /ids not increasing/);
    assert.match(check(['D 0 1', 'D 0 5', 'EMPTY'], 1).problems.join(), /delivered with id 1 and again with id 5/);
    assert.match(check(['D 0 1', 'D 2 3', 'EMPTY'], 1).problems.join(), /gap between seq 0 and 2/);
    assert.match(check(['D 0 1'], 1).problems.join(), /never reported an empty queue/);
  });
});
