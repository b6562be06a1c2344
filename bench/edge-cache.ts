/**
 * edge-cache benchmarks, side by side in one run
 * (run: node -r ts-node/register/transpile-only bench/edge-cache.ts, or npx tsx bench/edge-cache.ts;
 * BENCH_QUICK=1 for a short setting):
 *  1. storage at synchronous NORMAL and FULL: a raw better-sqlite3 insert loop (WAL, same table,
 *     grouped transactions) against the lib queue appending the same records in the same groups,
 *     replaying them (read + decode + ack), and the forwarder end to end (enqueue with encoding ->
 *     grouped commit -> deliver -> ack) with the SQLite connection on the main thread
 *     (DurableQueue) and on a worker thread (WorkerQueue, what the node uses): flat out, and at a
 *     fixed rate with the main thread's busy share and event-loop delay; three interleaved runs
 *     each, median printed (the machine is shared: single runs are noisy);
 *  2. the edge-cache node in a test-helper flow against the pass-through node (Node-RED's own
 *     per-message cost) and against "floor" nodes that only do what any durable node must on
 *     Node-RED's thread (serialise the message into a packed batch, hold send + done() until its
 *     group's commit, no storage at all): in groups of 1000 and of 100, answered on the next turn of
 *     the event loop (groups of 1000 and of 100), and with a 3 ms wait for each group's commit; a
 *     diagnostic row of edge-cache with its commits answered on the next turn and nothing stored;
 *     and the bounds for any store on Node-RED's thread (the pass-through's or the floor's cost plus
 *     one raw SQLite insert per message). Messages/s flat out (acks sent back in batches), and the
 *     main thread's busy share at a fixed rate; a discarded warm-up run, then interleaved runs, each
 *     after a full garbage collection (so no run pays for the garbage of the one before), median
 *     printed (BENCH_SECTION=2 runs only this section, e.g. under --cpu-prof; BENCH_RECORD=1 keeps
 *     every message that comes out, as the tests' harness does);
 *  3. the SIGKILL fault test with EDGE_CACHE_FAULT_KILLS kills (default 50; 3 when quick).
 */
import Database = require('better-sqlite3');
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { performance, monitorEventLoopDelay } from 'perf_hooks';
import * as v8 from 'v8';
import * as vm from 'vm';
import { DurableQueue, WorkerQueue, StoreForwarder, encodeBody, encodeMessage, decodeMessage, type Synchronous } from '../lib/store';
import { RecordBatch } from '../lib/store/record-batch';
import { loadNode, removeTestSpies, startServer, stopServer, helper } from '../test/support/harness';
import { runFaultTest } from '../test/nodes/edge-cache-fault/run';
import edgeCache = require('../nodes/edge-cache/edge-cache');
import passThrough = require('../test/support/pass-through-node');

const QUICK = process.env.BENCH_QUICK === '1';
const N = QUICK ? 20_000 : 100_000;
const GROUP = 1000;
const REPS = 3;
const NODE_N = QUICK ? 5_000 : 100_000;
/** fixed-rate runs: messages per second and seconds */
const FIXED_RATE = 5_000;
const FIXED_SECONDS = QUICK ? 1 : 4;
/**
 * BENCH_RECORD=1: the harness keeps every message that comes out, as the tests do. Default off,
 * as in a running flow; kept, the growing heap makes every garbage collection dearer, and more so
 * for the node that allocates least.
 */
const RECORD = process.env.BENCH_RECORD === '1';
const KILLS = Number(process.env.EDGE_CACHE_FAULT_KILLS || (QUICK ? 3 : 50));
/** BENCH_SECTION=2 runs only the node-in-a-flow section (for profiling); default all three */
const SECTIONS = (process.env.BENCH_SECTION || '1,2,3').split(',').map((x) => x.trim());

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-bench-'));
const weld = (i: number) => ({ topic: 'weld', payload: { seq: i, current: 182.4, voltage: 24.1, wireFeed: 8.2, seamOffset: 0.12, speed: 6.5 }, timestamp: 1_700_000_000_000 + i * 50 });
const BODY = encodeMessage(weld(0));

function rate(n: number, start: bigint): number {
  return n / (Number(process.hrtime.bigint() - start) / 1e9);
}
const fmt = (x: number) => Math.round(x).toLocaleString('en-US').padStart(9);

function fresh(name: string): string {
  const f = path.join(dir, name);
  for (const s of ['', '-wal', '-shm']) fs.rmSync(f + s, { force: true });
  return f;
}

function rawInsert(sync: Synchronous): number {
  const db = new Database(fresh(`raw-${sync}.sqlite`));
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${sync}`);
  db.exec('CREATE TABLE queue (id INTEGER PRIMARY KEY AUTOINCREMENT, ts INTEGER NOT NULL, topic TEXT, bytes INTEGER NOT NULL, body BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO queue (ts, topic, bytes, body) VALUES (?, ?, ?, ?)');
  const group = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(Date.now(), 'weld', BODY.length, BODY);
  });
  const t = process.hrtime.bigint();
  for (let i = 0; i < N; i += GROUP) group(GROUP);
  const r = rate(N, t);
  db.close();
  return r;
}

function queueAppendReplay(sync: Synchronous): { append: number; replay: number } {
  const q = new DurableQueue({ path: fresh(`q-${sync}.sqlite`), synchronous: sync, maxAgeMs: 0 });
  const entries = Array.from({ length: GROUP }, () => ({ body: BODY, topic: 'weld' }));
  let t = process.hrtime.bigint();
  for (let i = 0; i < N; i += GROUP) q.append(entries);
  const append = rate(N, t);
  t = process.hrtime.bigint();
  let after = 0;
  let n = 0;
  for (;;) {
    const rows = q.readAfter(after, GROUP);
    if (!rows.length) break;
    for (const row of rows) decodeMessage(row.body);
    q.ack(rows.map((r) => r.id));
    after = rows[rows.length - 1].id;
    n += rows.length;
  }
  const replay = rate(n, t);
  if (n !== N || q.size !== 0) throw new Error(`replay saw ${n} of ${N}`);
  q.close();
  return { append, replay };
}

type StoreThread = 'main' | 'worker';
const openQueue = (name: string, sync: Synchronous, where: StoreThread) => {
  const options = { path: fresh(name), synchronous: sync, maxAgeMs: 0 };
  return where === 'main' ? new DurableQueue(options) : new WorkerQueue(options);
};

/** What one fixed-rate run cost the main thread. */
interface Load {
  /** share of the time the event loop was busy (performance.eventLoopUtilization) */
  busy: number;
  /** event-loop delay p99, ms */
  delayP99: number;
}

/**
 * Call `send(i)` for i = 0..n-1 at `perSecond` (checked every millisecond), then wait for
 * `finished()`; measures the main thread's busy share and event-loop delay meanwhile.
 */
async function atFixedRate(n: number, perSecond: number, send: (i: number) => void, finished: () => boolean): Promise<Load> {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const before = performance.eventLoopUtilization();
  const start = Date.now();
  let i = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const due = Math.min(n, Math.floor(((Date.now() - start) * perSecond) / 1000));
      for (; i < due; i++) send(i);
      if (i >= n && finished()) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  const busy = performance.eventLoopUtilization(before).utilization;
  delay.disable();
  return { busy, delayP99: delay.percentile(99) / 1e6 };
}

/**
 * A forwarder over `q` whose deliveries are acknowledged straight back, batched per event-loop
 * turn (as an uplink confirming in bursts would); `onDelivered(count)` after each delivery.
 */
function ackingForwarder(q: DurableQueue | WorkerQueue, onDelivered: (count: number) => void): StoreForwarder<Record<string, unknown>> {
  let delivered = 0;
  let acks: number[] = [];
  const fwd: StoreForwarder<Record<string, unknown>> = new StoreForwarder<Record<string, unknown>>({
    queue: q,
    decode: (row) => decodeMessage(row.body),
    deliver: (d) => {
      if (acks.length === 0) setImmediate(() => {
        const batch = acks;
        acks = [];
        fwd.ack(batch);
      });
      acks.push(d.id);
      onDelivered(++delivered);
    },
    commitMaxCount: GROUP,
    maxInFlight: 5000,
  });
  return fwd;
}

const enqueueWeld = (fwd: StoreForwarder<Record<string, unknown>>, i: number) => {
  const m = weld(i);
  fwd.enqueue({ body: encodeBody(m), topic: m.topic }, m, () => undefined);
};

/** The forwarder at a fixed rate: the main thread's load. */
async function forwarderFixedRate(sync: Synchronous, where: StoreThread): Promise<Load> {
  const q = openQueue(`fr-${sync}-${where}.sqlite`, sync, where);
  const n = FIXED_RATE * FIXED_SECONDS;
  let delivered = 0;
  const fwd = ackingForwarder(q, (count) => (delivered = count));
  const load = await atFixedRate(n, FIXED_RATE, (i) => enqueueWeld(fwd, i), () => delivered === n);
  fwd.close();
  q.close();
  return load;
}

/** The forwarder flat out: records/s from the first enqueue to the last delivery. */
async function forwarderEndToEnd(sync: Synchronous, where: StoreThread): Promise<number> {
  const q = openQueue(`f-${sync}-${where}.sqlite`, sync, where);
  const t = process.hrtime.bigint();
  let r = 0;
  let fwd: StoreForwarder<Record<string, unknown>> | undefined;
  await new Promise<void>((resolve) => {
    fwd = ackingForwarder(q, (count) => {
      if (count === N) {
        r = rate(N, t);
        setImmediate(resolve);
      }
    });
    let i = 0;
    const produce = () => {
      const end = Math.min(N, i + GROUP);
      for (; i < end; i++) enqueueWeld(fwd!, i);
      if (i < N) setImmediate(produce);
    };
    produce();
  });
  fwd!.close();
  q.close();
  return r;
}

/**
 * The floor for any node that accepts a message only once it is durable: it serialises the message
 * with the same codec into a packed batch (RecordBatch, as edge-cache does) and holds the message
 * and its done() until its group would commit (GROUP messages or 10 ms), then sends it on; it
 * stores nothing and keeps no ids. Variants: groups of SMALL_GROUP; a complete group handed on at
 * the next turn of the event loop (the soonest any store working beside Node-RED's thread could
 * answer); or COMMIT_WAIT_MS after it is complete, as if a store took that long to commit it (what
 * the wait alone costs: messages kept longer are copied by the garbage collector). Registered only
 * by this bench.
 */
const COMMIT_WAIT_MS = 3; // about one group's insert time in the raw loop of section 1 (1000 rows at ~400 k rows/s)
/** a floor with small groups: messages held for a shorter time (a store would need 10 times the commits) */
const SMALL_GROUP = 100;
/** how a floor hands a complete group on: `finish` at once, on the next turn, or after a wait */
type Handover = (finish: () => void) => void;
const atOnce: Handover = (finish) => finish();
const nextTurn: Handover = (finish) => setImmediate(finish);
const afterCommitWait: Handover = (finish) => setTimeout(finish, COMMIT_WAIT_MS);
function encodeAndHoldNode(RED: any): void {
  const register = (type: string, groupSize: number, handOver: Handover) => {
    function EncodeAndHold(this: any, config: any) {
      RED.nodes.createNode(this, config);
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the node is used inside callbacks
      const node = this;
      const batch = new RecordBatch();
      let msgs: any[] = [];
      let dones: Array<() => void> = [];
      let timer: NodeJS.Timeout | null = null;
      const release = (now: boolean) => {
        if (timer) clearTimeout(timer);
        timer = null;
        const group = msgs;
        const groupDone = dones;
        msgs = [];
        dones = [];
        if (batch.take().ends.length !== group.length) throw new Error('batch lost a record');
        const finish = () => {
          for (let i = 0; i < group.length; i++) {
            node.send(group[i]);
            groupDone[i]();
          }
        };
        if (now) finish();
        else handOver(finish);
      };
      this.on('input', (msg: any, _send: unknown, done: () => void) => {
        batch.append(encodeBody(msg), typeof msg.topic === 'string' ? msg.topic : null);
        msgs.push(msg);
        dones.push(done);
        if (msgs.length >= groupSize) release(false);
        else if (!timer) timer = setTimeout(() => release(false), 10);
      });
      this.on('close', () => release(true));
    }
    RED.nodes.registerType(type, EncodeAndHold);
  };
  register('encode-and-hold', GROUP, atOnce);
  register('encode-hold-small', SMALL_GROUP, atOnce);
  register('encode-hold-wait', GROUP, afterCommitWait);
  register('encode-hold-next-turn', GROUP, nextTurn);
  register('encode-hold-small-next-turn', SMALL_GROUP, nextTurn);
}

/**
 * Diagnostic for the row "edge-cache with an instant store": the worker queue's commits are answered
 * on the next turn of the event loop with consecutive ids, and nothing is written — what the node
 * costs in a flow when storing takes no time at all. Only this bench does this, only for that row.
 */
const realCommitBatchAsync = WorkerQueue.prototype.commitBatchAsync;
function answerCommitsInstantly(on: boolean): void {
  if (!on) {
    WorkerQueue.prototype.commitBatchAsync = realCommitBatchAsync;
    return;
  }
  let nextId = 1;
  WorkerQueue.prototype.commitBatchAsync = function (batch, acks, done) {
    const ids = Array.from(batch.ends, () => nextId++);
    const result = { ids, refusedReasons: ids.map(() => null), acked: acks.length, dropped: { oldest: 0, expired: 0, refused: 0, thinned: 0, reset: 0 }, droppedIds: [] };
    setImmediate(() => done(null, result));
  };
}

/** the node under test; edge-cache with its SQLite connection on a worker thread (default) or on Node-RED's thread */
type FlowNode = 'pass-through' | 'encode-and-hold' | 'encode-hold-small' | 'encode-hold-wait' | 'encode-hold-next-turn' | 'encode-hold-small-next-turn' | 'edge-cache' | 'edge-cache/main' | 'edge-cache/instant';

async function loadFlowNode(kind: FlowNode, sync: Synchronous) {
  const isCache = kind.startsWith('edge-cache');
  const config = isCache
    ? { type: 'edge-cache', file: fresh(`node-${sync}.sqlite`), synchronous: sync, storeThread: kind === 'edge-cache/main' ? 'main' : 'worker', rate: 0, maxInFlight: 5000, commitCount: GROUP, ackTimeout: 30 }
    : { type: kind };
  const module = isCache ? edgeCache : kind === 'pass-through' ? passThrough : encodeAndHoldNode;
  answerCommitsInstantly(kind === 'edge-cache/instant');
  const h = await loadNode(module, config, isCache ? 2 : 1, [], {}, { record: RECORD });
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const out = helper.getNode('out0');
  let received = 0;
  let acks: number[] = [];
  out.on('input', (m: any) => {
    received++;
    if (isCache) {
      if (acks.length === 0) setImmediate(() => {
        const batch = acks;
        acks = [];
        h.send({ ack: batch });
      });
      acks.push(m._cacheId);
    }
  });
  return { h, received: () => received };
}

/**
 * A full garbage collection, so every flow run starts from the same clean heap: without it a run
 * pays for the garbage the run before left in the old generation (incremental marking running
 * through it), and which node pays depends on the order.
 */
v8.setFlagsFromString('--expose-gc');
const collectGarbage = vm.runInNewContext('gc') as () => void;
async function cleanHeap(): Promise<void> {
  collectGarbage();
  await new Promise((resolve) => setTimeout(resolve, 20));
  collectGarbage();
}

/** Flat out: messages/s from the first send to the last message out. */
async function nodeInFlow(kind: FlowNode, sync: Synchronous): Promise<number> {
  const { h, received } = await loadFlowNode(kind, sync);
  await cleanHeap();
  const t = process.hrtime.bigint();
  let i = 0;
  await new Promise<void>((resolve) => {
    const produce = () => {
      const end = Math.min(NODE_N, i + 500);
      for (; i < end; i++) h.send(weld(i));
      if (i < NODE_N) setImmediate(produce);
    };
    produce();
    const check = () => (received() >= NODE_N ? resolve() : setImmediate(check));
    check();
  });
  const r = rate(NODE_N, t);
  await helper.unload();
  return r;
}

/** At FIXED_RATE messages/s: the main thread's busy share and event-loop delay. */
async function nodeAtFixedRate(kind: FlowNode, sync: Synchronous): Promise<Load> {
  const { h, received } = await loadFlowNode(kind, sync);
  await cleanHeap();
  const n = FIXED_RATE * FIXED_SECONDS;
  const load = await atFixedRate(n, FIXED_RATE, (i) => h.send(weld(i)), () => received() >= n);
  await helper.unload();
  return load;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const pct = (x: number) => `${(100 * x).toFixed(1)} %`;

async function main(): Promise<void> {
  console.log(`edge-cache bench${QUICK ? ' (quick)' : ''}: ${N} records of ${BODY.length} bytes (serialised weld-seam message), groups of ${GROUP}; load average ${os.loadavg().map((v) => v.toFixed(2)).join(', ')}`);
  if (SECTIONS.includes('1')) {
    console.log(`\n1. storage, records/s, median of ${REPS} interleaved runs            synchronous NORMAL   synchronous FULL`);
    const labels = ['raw better-sqlite3 insert loop', 'queue append (grouped commits)', 'queue replay (read+decode+ack)', 'forwarder enqueue->deliver->ack, SQLite on main thread', 'forwarder enqueue->deliver->ack, SQLite on worker'];
    const samples = new Map<string, number[]>();
    const add = (label: string, sync: Synchronous, v: number) => {
      const key = `${label}|${sync}`;
      if (!samples.has(key)) samples.set(key, []);
      samples.get(key)!.push(v);
    };
    const loads = new Map<string, Load[]>();
    for (let rep = 0; rep < REPS; rep++) {
      for (const sync of ['NORMAL', 'FULL'] as const) {
        add(labels[0], sync, rawInsert(sync));
        const q = queueAppendReplay(sync);
        add(labels[1], sync, q.append);
        add(labels[2], sync, q.replay);
        add(labels[3], sync, await forwarderEndToEnd(sync, 'main'));
        add(labels[4], sync, await forwarderEndToEnd(sync, 'worker'));
        for (const where of ['main', 'worker'] as const) {
          const key = `${where}|${sync}`;
          loads.set(key, [...(loads.get(key) ?? []), await forwarderFixedRate(sync, where)]);
        }
      }
    }
    for (const label of labels) {
      console.log(`   ${label.padEnd(58)} ${fmt(median(samples.get(`${label}|NORMAL`)!))}            ${fmt(median(samples.get(`${label}|FULL`)!))}`);
    }
    console.log(`   forwarder at ${FIXED_RATE} records/s for ${FIXED_SECONDS} s: main thread busy / event-loop delay p99`);
    for (const where of ['main', 'worker'] as const) {
      const cell = (sync: Synchronous) => {
        const l = loads.get(`${where}|${sync}`)!;
        return `${pct(median(l.map((x) => x.busy))).padStart(7)} / ${median(l.map((x) => x.delayP99)).toFixed(1).padStart(5)} ms`;
      };
      console.log(`     SQLite on the ${where === 'main' ? 'main thread' : 'worker     '}                             ${cell('NORMAL')}   ${cell('FULL')}`);
    }
  }

  if (SECTIONS.includes('2')) {
    await startServer();
    const kinds: Array<[FlowNode, Synchronous, string]> = [
      ['pass-through', 'NORMAL', 'pass-through node (Node-RED per message)'],
      ['encode-and-hold', 'NORMAL', 'floor: serialise into a batch + hold, no store'],
      ['encode-hold-small', 'NORMAL', `floor with groups of ${SMALL_GROUP}, no store`],
      ['encode-hold-next-turn', 'NORMAL', 'floor, answered on the next turn, no store'],
      ['encode-hold-small-next-turn', 'NORMAL', `same in groups of ${SMALL_GROUP}, no store`],
      ['encode-hold-wait', 'NORMAL', `floor + ${COMMIT_WAIT_MS} ms wait per group, no store`],
      ['edge-cache', 'NORMAL', 'edge-cache, NORMAL, SQLite on a worker (default)'],
      ['edge-cache', 'FULL', 'edge-cache, FULL, SQLite on a worker (default)'],
      ['edge-cache/main', 'NORMAL', 'edge-cache, NORMAL, SQLite on the main thread'],
      ['edge-cache/main', 'FULL', 'edge-cache, FULL, SQLite on the main thread'],
      ['edge-cache/instant', 'NORMAL', 'diagnostic: edge-cache with an instant store'],
    ];
    // one discarded warm-up run of each first, so no figure includes JIT compilation of Node-RED's paths
    for (const [kind, sync] of kinds) await nodeInFlow(kind, sync);
    const flat = kinds.map(() => [] as number[]);
    const fixed = kinds.map(() => [] as Load[]);
    for (let rep = 0; rep < REPS; rep++) {
      // interleaved rounds, median of each (the machine is shared: single runs are noisy)
      for (let k = 0; k < kinds.length; k++) flat[k].push(await nodeInFlow(kinds[k][0], kinds[k][1]));
      for (let k = 0; k < kinds.length; k++) fixed[k].push(await nodeAtFixedRate(kinds[k][0], kinds[k][1]));
    }
    const passRate = median(flat[0]);
    const floorRate = median(flat[1]);
    // a store on Node-RED's thread adds at least one SQLite insert per message to the pass-through's cost
    const insertRate = median([rawInsert('NORMAL'), rawInsert('NORMAL'), rawInsert('NORMAL')]);
    const syncBound = 1 / (1 / passRate + 1 / insertRate);
    const syncFloor = 1 / (1 / floorRate + 1 / insertRate);
    const passBusy = median(fixed[0].map((l) => l.busy));
    console.log(`\n2. in a test-helper flow (spies removed${RECORD ? ', every message out kept' : ', messages out not kept'}, a full GC before each run), median of ${REPS} interleaved runs after a warm-up`);
    console.log(`   flat out: ${NODE_N} messages, msg/s, share of pass-through, share of the floor | at ${FIXED_RATE} msg/s for ${FIXED_SECONDS} s: main thread busy, pass-through's busy / this one's, event-loop delay p99`);
    const share = (x: number, of: number) => `${((100 * x) / of).toFixed(0)} %`.padStart(6);
    kinds.forEach(([, , label], k) => {
      const r = median(flat[k]);
      const busy = median(fixed[k].map((l) => l.busy));
      const delay = median(fixed[k].map((l) => l.delayP99));
      console.log(`   ${label.padEnd(48)} ${fmt(r)} ${share(r, passRate)} ${k === 0 ? '      ' : share(r, floorRate)}  | ${pct(busy).padStart(7)} ${share(passBusy, busy)} ${delay.toFixed(1).padStart(6)} ms`);
    });
    console.log(`   bound for any store on Node-RED's thread: pass-through + one raw SQLite insert per message (${fmt(insertRate).trim()} inserts/s, NORMAL) = ${fmt(syncBound).trim()} msg/s, ${((100 * syncBound) / passRate).toFixed(0)} %`);
    console.log(`   ... and the floor + one raw SQLite insert per message = ${fmt(syncFloor).trim()} msg/s, ${((100 * syncFloor) / passRate).toFixed(0)} %`);
    console.log('   goal: edge-cache >= 80 % of pass-through');
    await stopServer();
  }
  if (!SECTIONS.includes('3')) {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }

  console.log(`\n3. SIGKILL fault test, ${KILLS} kills (child runs lib/store's forwarder on a WorkerQueue at full speed, 1 in flight)`);
  const r = await runFaultTest({ kills: KILLS, mode: 'lib', store: 'worker', window: 1, seed: 50, minMs: 100, maxMs: 600 });
  console.log(`   accepted ${r.accepted}, delivered ${r.delivered}, duplicates ${r.duplicates}, committed but not reported before the kill ${r.committedNotReported}, ${(r.ms / 1000).toFixed(1)} s`);
  console.log(`   ${r.problems.length === 0 ? 'PASS: every accepted message delivered, in order, one id each' : 'FAIL: ' + r.problems.join('; ')}`);
  fs.rmSync(dir, { recursive: true, force: true });
  if (r.problems.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
