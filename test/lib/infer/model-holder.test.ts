import { strict as assert } from 'assert';
import { ModelHolder } from '../../../lib/infer/model-holder';
import { WorkerRunner, MainThreadRunner } from '../../../lib/infer/worker-runner';
import { QueueFullError } from '../../../lib/infer/micro-batcher';
import { makeModel, gemmRow, turbineLike } from './fixtures';

const v1 = turbineLike(1, 2);
const v2 = turbineLike(2, 2, -1);
const row = Float32Array.from([0.5, -1, 2, 0.25]);

describe('infer/model-holder', () => {
  it('runs a batch and matches the weights computed by hand', async () => {
    const h = new ModelHolder({ runIn: 'main' });
    try {
      const m = await h.open(makeModel(v1));
      const out = await h.run(m, [row, new Float32Array(4)]);
      const want = gemmRow(row, v1.heads[1].W, v1.heads[1].b);
      assert.deepEqual(out.performance.dims, [2, 2]);
      assert.ok(Math.abs(out.performance.data[0] - want[0]) < 1e-5);
      assert.ok(Math.abs(out.performance.data[1] - want[1]) < 1e-5);
      assert.deepEqual(Array.from(out.performance.data.slice(2)), v1.heads[1].b);
      assert.equal(m.runner.kind, 'main');
    } finally {
      await h.close();
    }
  });

  it('one row runs as it is and gives the same answer as the same row inside a batch; a row of the wrong length is refused', async () => {
    const h = new ModelHolder({ runIn: 'main' });
    try {
      const m = await h.open(makeModel(v1));
      const single = Float32Array.from(row);
      const one = await h.run(m, [single]);
      const two = await h.run(m, [new Float32Array(4), row]);
      const want = gemmRow(row, v1.heads[1].W, v1.heads[1].b);
      assert.deepEqual(one.performance.dims, [1, 2]);
      assert.ok(Math.abs(one.performance.data[0] - want[0]) < 1e-5 && Math.abs(one.performance.data[1] - want[1]) < 1e-5);
      assert.deepEqual(Array.from(one.performance.data), Array.from(two.performance.data.slice(2)));
      assert.deepEqual(Array.from(single), Array.from(row), 'the row is not changed by the run');
      await assert.rejects(h.run(m, [new Float32Array(3)]), /row 0 has 3 values, the model takes 4/);
      await assert.rejects(h.run(m, [row, new Float32Array(5)]), /row 1 has 5 values/);
    } finally {
      await h.close();
    }
  });

  it('runSync gives the answer of run on a main-thread model, and is refused for a worker model', async () => {
    const main = new ModelHolder({ runIn: 'main' });
    const worker = new ModelHolder({ runIn: 'worker' });
    try {
      const m = await main.open(makeModel(v1));
      const w = await worker.open(makeModel(v1));
      assert.equal(m.runsSync, true, 'the bundled onnxruntime-node 1.17 runs synchronously on the main thread');
      assert.equal(w.runsSync, false);
      for (const rows of [[row], [row, new Float32Array(4), Float32Array.from([1, 2, 3, 4])]]) {
        const a = main.runSync(m, rows);
        const b = await main.run(m, rows);
        for (const k of ['state', 'performance', 'faults']) {
          assert.deepEqual(a[k].dims, b[k].dims);
          assert.deepEqual(Array.from(a[k].data), Array.from(b[k].data));
        }
      }
      assert.throws(() => main.runSync(m, [new Float32Array(3)]), /row 0 has 3 values, the model takes 4/);
      assert.throws(() => worker.runSync(w, [row]), /no synchronous run \(it runs in the worker thread\)/);
    } finally {
      await main.close();
      await worker.close();
    }
  });

  it('a swap is atomic: runs already holding the old model finish on it, new ones get the new model', async () => {
    const h = new ModelHolder({ runIn: 'main' });
    try {
      const swaps: number[] = [];
      h.on('swap', (m) => swaps.push(m.spec.version));
      await h.open(makeModel(v1));
      const held = h.acquire();
      const ev = await h.swap(makeModel(v2));
      assert.equal(ev.event, 'installed');
      assert.equal(h.current!.spec.version, 2);
      // the old session stays open while it has a user
      const old = await h.run(held, [row]);
      const want = gemmRow(row, v1.heads[1].W, v1.heads[1].b);
      assert.ok(Math.abs(old.performance.data[0] - want[0]) < 1e-5);
      h.release(held);
      await new Promise((r) => setImmediate(r));
      await assert.rejects(h.run(held, [row]), /session closed/);
      const fresh = h.acquire();
      const now = await h.run(fresh, [row]);
      const want2 = gemmRow(row, v2.heads[1].W, v2.heads[1].b);
      assert.ok(Math.abs(now.performance.data[0] - want2[0]) < 1e-5);
      h.release(fresh);
      assert.deepEqual(swaps, [1, 2]);
    } finally {
      await h.close();
    }
  });

  it('serialises concurrent swaps, refuses a failing candidate and restores in order', async () => {
    const h = new ModelHolder({ runIn: 'main', keepPrevious: 2 });
    try {
      await h.open(makeModel(v1));
      const [a, b, c, same] = await Promise.all([h.swap(makeModel(turbineLike(2))), h.swap(makeModel(turbineLike(3))), h.swap(makeModel(turbineLike(3, 2, -1))), h.swap(makeModel(turbineLike(3)))]);
      assert.deepEqual([a.event, b.event, c.event], ['installed', 'installed', 'refused']);
      assert.match(c.reason!, /not newer than the running 3/);
      // the running file itself again (cloud-sync re-announcing after a restart) is no swap and no refusal
      assert.deepEqual([same.event, same.reason, same.model.sha256], ['installed', 'already running', b.model.sha256]);
      assert.equal(h.restorable, 2);
      assert.equal((await h.restore()).model.version, 2);
      assert.equal((await h.restore()).model.version, 1);
      const none = await h.restore();
      assert.equal(none.event, 'refused');
      assert.match(none.reason!, /no previous version/);
      assert.equal(h.current!.spec.version, 1);
      // a validator can refuse, naming why
      h.addValidator((spec) => (spec.version === 9 ? 'version 9 is banned here' : undefined));
      const v9 = await h.swap(makeModel(turbineLike(9)));
      assert.equal(v9.event, 'refused');
      assert.equal(v9.reason, 'version 9 is banned here');
      assert.equal(v9.model.version, 9);
      assert.equal(h.current!.spec.version, 1);
    } finally {
      await h.close();
    }
  });

  it('counts its users: the last detach releases the session, the next attach loads it again, close releases it', async () => {
    const h = new ModelHolder({ runIn: 'main' });
    try {
      await h.open(makeModel(v1));
      assert.deepEqual(h.sessions, { opened: 1, released: 0 });
      await Promise.all([h.attach(), h.attach()]);
      assert.equal(h.userCount, 2);
      await h.detach();
      assert.equal(h.openSessions, 1, 'one user left: the session stays');
      const inFlight = h.acquire(); // a run still holding the model when the last user goes
      await h.detach();
      assert.equal(h.userCount, 0);
      assert.equal(h.current, undefined);
      assert.equal(h.idle!.spec.version, 1);
      assert.equal(h.openSessions, 1, 'released only when the run in flight is done');
      const out = await h.run(inFlight, [row]);
      assert.ok(Math.abs(out.performance.data[0] - gemmRow(row, v1.heads[1].W, v1.heads[1].b)[0]) < 1e-5);
      h.release(inFlight);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(h.sessions, { opened: 1, released: 1 });
      assert.throws(() => h.acquire(), /no model loaded/);
      await h.detach(); // one too many: ignored
      assert.equal(h.userCount, 0);
      // a new user loads the same model again, with a new session
      const swaps: number[] = [];
      h.on('swap', (m) => swaps.push(m.spec.version));
      await h.attach();
      assert.deepEqual(h.sessions, { opened: 2, released: 1 });
      assert.deepEqual(swaps, [1]);
      assert.equal(h.idle, undefined);
      const m = h.acquire();
      assert.deepEqual(Array.from((await h.run(m, [row])).performance.data), Array.from(out.performance.data));
      h.release(m);
      // the last user leaving and a new one coming at once (a redeploy of the only user) keep it
      void h.detach();
      await h.attach();
      assert.deepEqual(h.sessions, { opened: 2, released: 1 });
      assert.equal(h.current!.spec.version, 1);
    } finally {
      await h.close();
    }
    assert.deepEqual(h.sessions, { opened: 2, released: 2 }, 'close releases it with a user still attached');
    await h.attach(); // after close: nothing to load, no error
    assert.equal(h.sessions.opened, 2);
  });

  it('keeps swaps and restore across a release; an unused holder releases after its first load', async () => {
    const h = new ModelHolder({ runIn: 'main' });
    try {
      await h.open(makeModel(v1));
      await h.releaseIfUnused();
      assert.deepEqual(h.sessions, { opened: 1, released: 1 }, 'no user: no session');
      await h.attach();
      const ev = await h.swap(makeModel(v2));
      assert.equal(ev.event, 'installed');
      await h.releaseIfUnused(); // a user is attached: kept
      await new Promise((r) => setImmediate(r)); // (v1's session, replaced, is released in the background)
      assert.deepEqual(h.sessions, { opened: 3, released: 2 }, 'v1, v1 again, v2; v1 twice released');
      await h.detach();
      assert.equal(h.openSessions, 0);
      assert.equal(h.idle!.spec.version, 2);
      await h.attach();
      assert.equal(h.current!.spec.version, 2, 'the model running when the last user went comes back');
      assert.equal((await h.restore()).model.version, 1);
      await new Promise((r) => setImmediate(r));
      assert.equal(h.openSessions, 1);
    } finally {
      await h.close();
    }
    assert.equal(h.openSessions, 0);
  });

  it('releases a worker-thread session inside the worker (the worker stays) and loads it there again', async () => {
    const h = new ModelHolder({ runIn: 'worker' });
    try {
      await h.open(makeModel(v1));
      await h.attach();
      const before = WorkerRunner.sessionsInWorker;
      await h.detach();
      assert.equal(WorkerRunner.sessionsInWorker, before - 1);
      await h.attach();
      assert.equal(WorkerRunner.sessionsInWorker, before);
      const m = h.acquire();
      const [a, b] = [await h.run(m, [row]), gemmRow(row, v1.heads[1].W, v1.heads[1].b)];
      h.release(m);
      assert.ok(Math.abs(a.performance.data[0] - b[0]) < 1e-5);
      assert.deepEqual(h.sessions, { opened: 2, released: 1 });
    } finally {
      await h.close();
    }
  });

  it('picks a worker for models over the size threshold and gives the same answers', async () => {
    const bytes = makeModel(v1);
    const w = new ModelHolder({ runIn: 'auto', workerThresholdBytes: bytes.length - 1 });
    const m = new ModelHolder({ runIn: 'auto' });
    try {
      const a = await w.open(bytes);
      const b = await m.open(bytes);
      assert.equal(a.runner.kind, 'worker');
      assert.equal(b.runner.kind, 'main');
      const [x, y] = await Promise.all([w.run(a, [row]), m.run(b, [row])]);
      assert.deepEqual(Array.from(x.state.data), Array.from(y.state.data));
      assert.deepEqual(Array.from(x.faults.data), Array.from(y.faults.data));
    } finally {
      await w.close();
      await m.close();
    }
  });

  it('the worker runner refuses runs beyond its queue limit at once', async () => {
    const r = await WorkerRunner.create(makeModel(v1), {}, 1);
    try {
      const feeds = { x: { data: new Float32Array(4), dims: [1, 2, 2] } };
      const results = await Promise.allSettled([r.run(feeds), r.run(feeds), r.run(feeds)]);
      assert.deepEqual(results.map((x) => x.status), ['fulfilled', 'fulfilled', 'rejected']);
      assert.ok((results[2] as PromiseRejectedResult).reason instanceof QueueFullError);
      assert.deepEqual(r.outputNames, ['state', 'performance', 'faults']);
      await assert.rejects(r.run({ x: { data: new Float32Array(3), dims: [1, 3] } }), /./);
    } finally {
      await r.close();
    }
    await assert.rejects(r.run({ x: { data: new Float32Array(4), dims: [1, 2, 2] } }), /session closed/);
    const main = await MainThreadRunner.create(makeModel(v1));
    await main.close();
    await assert.rejects(main.run({}), /session closed/);
  });

  it('survives many worker sessions opened and closed beside main-thread sessions (one shared worker)', async () => {
    // terminating a worker thread that loaded onnxruntime-node corrupts the heap; the runner must not
    const bytes = makeModel(v1);
    const feeds = { x: { data: Float32Array.from(row), dims: [1, 2, 2] } };
    const main = await MainThreadRunner.create(bytes);
    try {
      const want = Array.from((await main.run(feeds)).state.data);
      for (let i = 0; i < 30; i++) {
        const w = await WorkerRunner.create(bytes);
        const [a, b] = await Promise.all([w.run(feeds), main.run(feeds)]);
        assert.deepEqual(Array.from(a.state.data), want);
        assert.deepEqual(Array.from(b.state.data), want);
        const pending = w.run(feeds);
        await w.close(); // waits for the run already asked for
        assert.deepEqual(Array.from((await pending).state.data), want);
      }
    } finally {
      await main.close();
    }
  });
});
