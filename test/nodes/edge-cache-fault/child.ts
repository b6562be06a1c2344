/**
 * Child process of the edge-cache fault test: runs the edge-cache node through the test helper
 * (FAULT_MODE=node) or the lib/store queue and forwarder it is built on (FAULT_MODE=lib, starts in
 * a fraction of the time), feeds it numbered messages as fast as it accepts them, plays an uplink that loses messages in
 * short random outages and acknowledges the rest, and writes what happens to stdout (a pipe:
 * synchronous writes, so every line written before a SIGKILL reaches the parent):
 *   READY             the flow runs
 *   A <seq>           message <seq> was accepted (its done() was called: it is committed)
 *   D <seq> <id>      the uplink received message <seq> with _cacheId <id> (it is acked next)
 *   EMPTY             (drain run) the queue is empty
 * Environment: FAULT_FILE (queue file), FAULT_SEQ (first seq), FAULT_PRODUCE (1 = produce,
 * 0 = only drain), FAULT_SEED, FAULT_SYNC (FULL/NORMAL), FAULT_WINDOW (maxInFlight, default 1),
 * FAULT_STORE (lib mode: worker = WorkerQueue, the node's store, default; main = DurableQueue).
 */
import * as fs from 'fs';
import { SeededRandom } from '../../../lib/util/random';
import { DurableQueue, WorkerQueue, StoreForwarder, decodeMessage, encodeBody, type Synchronous } from '../../../lib/store';

const file = process.env.FAULT_FILE as string;
const produce = process.env.FAULT_PRODUCE === '1';
let seq = Number(process.env.FAULT_SEQ ?? 0);
const rnd = new SeededRandom(Number(process.env.FAULT_SEED ?? 1));

const out = (line: string) => fs.writeSync(1, line);
const BACKLOG_CAP = 5000;

/** The same loop on lib/store directly: enqueue -> callback after commit (A), deliver (D), ack. */
function mainLib(): void {
  const options = { path: file, synchronous: (process.env.FAULT_SYNC || 'NORMAL') as Synchronous, maxAgeMs: 0 };
  const queue = process.env.FAULT_STORE === 'main' ? new DurableQueue(options) : new WorkerQueue(options);
  let uplinkDown = false;
  let acks: number[] = [];
  const flushAcks = () => {
    const batch = acks;
    acks = []; // before ack(): acking delivers more, synchronously
    if (batch.length) fwd.ack(batch);
  };
  const fwd: StoreForwarder<Record<string, any>> = new StoreForwarder<Record<string, any>>({
    queue,
    decode: (row) => decodeMessage(row.body),
    deliver: (d) => {
      if (uplinkDown) return;
      out(`D ${d.value.seq} ${d.id}\n`);
      if (acks.length === 0) setImmediate(flushAcks);
      acks.push(d.id);
    },
    commitIntervalMs: 5,
    commitMaxCount: 500,
    ackTimeoutMs: 1000,
    retryIntervalMs: 200,
    maxInFlight: Number(process.env.FAULT_WINDOW || 1),
  });
  out('READY\n');
  if (produce) {
    const flap = () => {
      uplinkDown = !uplinkDown;
      setTimeout(flap, uplinkDown ? 50 + rnd.next() * 150 : 100 + rnd.next() * 400);
    };
    setTimeout(flap, 100 + rnd.next() * 300);
    let outstanding = 0;
    const pump = () => {
      // as fast as it is accepted, with the backlog capped so the drain run stays short
      while (outstanding < 1000 && queue.size < BACKLOG_CAP) {
        const s = seq++;
        outstanding++;
        const msg = { seq: s, topic: 'weld', payload: { seq: s, current: 180 + (s % 9), voltage: 24.2, wireFeed: 8.1 }, timestamp: Date.now() };
        fwd.enqueue({ body: encodeBody(msg), topic: 'weld' }, msg, (err) => {
          outstanding--;
          if (!err) out(`A ${s}\n`);
        });
      }
      setImmediate(pump);
    };
    pump();
  } else {
    const check = () => {
      const st = fwd.stats();
      if (st.count === 0 && st.inFlight === 0) {
        out('EMPTY\n');
        fwd.close();
        queue.close();
        process.exit(0);
      }
      setTimeout(check, 50);
    };
    setTimeout(check, 50);
  }
}

async function main(): Promise<void> {
  if (process.env.FAULT_MODE === 'lib') return mainLib();
  // loaded only here: the Node-RED runtime takes seconds to load, the lib mode does without it
  const { loadNode, startServer, helper } = require('../../support/harness') as typeof import('../../support/harness');
  const edgeCache = require('../../../nodes/edge-cache/edge-cache');
  await startServer();
  const h = await loadNode(
    edgeCache,
    {
      type: 'edge-cache',
      file,
      synchronous: process.env.FAULT_SYNC || 'NORMAL',
      maxAge: 0,
      maxSize: 0,
      ackTimeout: 1,
      retryInterval: 0.2,
      maxInFlight: Number(process.env.FAULT_WINDOW || 1),
      rate: 0,
      commitInterval: 5,
      commitCount: 500,
    },
    2,
  );
  let uplinkDown = false;
  let acks: number[] = [];
  let acked = 0;
  const flushAcks = () => {
    const batch = acks;
    acks = [];
    if (batch.length) h.send({ ack: batch });
  };
  helper.getNode('out0').on('input', (m: any) => {
    if (uplinkDown) return; // lost on the way: never acknowledged
    out(`D ${m.seq} ${m._cacheId}\n`);
    if (acks.length === 0) setImmediate(flushAcks);
    acks.push(m._cacheId);
    acked++;
  });
  // the uplink drops out now and then
  const flap = () => {
    uplinkDown = !uplinkDown;
    setTimeout(flap, uplinkDown ? 50 + rnd.next() * 150 : 100 + rnd.next() * 400);
  };
  if (produce) setTimeout(flap, 100 + rnd.next() * 300);

  let completed = 0;
  helper.getNode('completed').on('input', (m: any) => {
    if (typeof m.seq === 'number') {
      completed++;
      out(`A ${m.seq}\n`);
    }
  });
  out('READY\n');
  if (produce) {
    let sent = 0;
    const pump = () => {
      while (sent - completed < 1000 && completed - acked < BACKLOG_CAP) {
        const s = seq++;
        sent++;
        h.send({ seq: s, topic: 'weld', payload: { seq: s, current: 180 + (s % 9), voltage: 24.2, wireFeed: 8.1 }, timestamp: Date.now() });
      }
      setImmediate(pump);
    };
    pump();
  } else {
    uplinkDown = false;
    const check = () => {
      h.send({ control: 'stats' });
    };
    helper.getNode('out1').on('input', (m: any) => {
      if (m.control === 'stats' && m.payload.count === 0 && m.payload.inFlight === 0) {
        out('EMPTY\n');
        helper.unload().then(() => process.exit(0));
      } else if (m.control === 'stats') {
        uplinkDown = false;
        setTimeout(check, 50);
      }
    });
    setTimeout(check, 50);
  }
}

main().catch((err) => {
  process.stderr.write(String(err?.stack ?? err) + '\n');
  process.exit(2);
});
