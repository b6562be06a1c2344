/**
 * edge-cache benchmarks, side by side in one run
 * (run: node -r ts-node/register/transpile-only bench/edge-cache.ts, or npx tsx bench/edge-cache.ts;
 * BENCH_QUICK=1 for a short setting):
 *  1. storage at synchronous NORMAL and FULL: a raw better-sqlite3 insert loop (WAL, same table,
 *     grouped transactions) against the lib queue appending the same records in the same groups,
 *     replaying them (read + decode + ack), and the forwarder end to end (enqueue with encoding ->
 *     grouped commit -> deliver -> ack); three interleaved runs each, median printed (the machine
 *     is shared: single runs are noisy);
 *  2. the edge-cache node in a test-helper flow against the pass-through node (Node-RED's own
 *     per-message cost): messages/s in and out, acks sent back in batches; a discarded warm-up run,
 *     then three interleaved runs, median printed (BENCH_SECTION=2 runs only this section, e.g. under --cpu-prof);
 *  3. the SIGKILL fault test with EDGE_CACHE_FAULT_KILLS kills (default 50; 3 when quick).
 */
import Database = require('better-sqlite3');
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { DurableQueue, StoreForwarder, encodeMessage, decodeMessage, type Synchronous } from '../lib/store';
import { loadNode, removeTestSpies, startServer, stopServer, helper } from '../test/support/harness';
import { runFaultTest } from '../test/nodes/edge-cache-fault/run';
import edgeCache = require('../nodes/edge-cache/edge-cache');
import passThrough = require('../test/support/pass-through-node');

const QUICK = process.env.BENCH_QUICK === '1';
const N = QUICK ? 20_000 : 100_000;
const GROUP = 1000;
const REPS = 3;
const NODE_N = QUICK ? 5_000 : 20_000;
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

function forwarderEndToEnd(sync: Synchronous): Promise<number> {
  const q = new DurableQueue({ path: fresh(`f-${sync}.sqlite`), synchronous: sync, maxAgeMs: 0 });
  return new Promise((resolve) => {
    let delivered = 0;
    let acks: number[] = [];
    const t = process.hrtime.bigint();
    const fwd: StoreForwarder<Record<string, unknown>> = new StoreForwarder<Record<string, unknown>>({
      queue: q,
      decode: (row) => decodeMessage(row.body),
      deliver: (d) => {
        delivered++;
        if (acks.length === 0) setImmediate(() => {
          const batch = acks;
          acks = [];
          fwd.ack(batch);
        });
        acks.push(d.id);
        if (delivered === N) {
          const r = rate(N, t);
          setImmediate(() => {
            fwd.close();
            q.close();
            resolve(r);
          });
        }
      },
      commitMaxCount: GROUP,
      maxInFlight: 5000,
    });
    let i = 0;
    const produce = () => {
      const end = Math.min(N, i + GROUP);
      for (; i < end; i++) {
        const m = weld(i);
        fwd.enqueue({ body: encodeMessage(m), topic: m.topic }, m, () => undefined);
      }
      if (i < N) setImmediate(produce);
    };
    produce();
  });
}

async function nodeInFlow(kind: 'edge-cache' | 'pass-through', sync: Synchronous): Promise<number> {
  const config = kind === 'edge-cache'
    ? { type: 'edge-cache', file: fresh(`node-${sync}.sqlite`), synchronous: sync, rate: 0, maxInFlight: 5000, commitCount: GROUP, ackTimeout: 30 }
    : { type: 'pass-through' };
  const h = await loadNode(kind === 'edge-cache' ? edgeCache : passThrough, config, kind === 'edge-cache' ? 2 : 1);
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const out = helper.getNode('out0');
  const result = await new Promise<number>((resolve) => {
    let received = 0;
    let acks: number[] = [];
    const t = process.hrtime.bigint();
    out.on('input', (m: any) => {
      received++;
      if (kind === 'edge-cache') {
        if (acks.length === 0) setImmediate(() => {
          const batch = acks;
          acks = [];
          h.send({ ack: batch });
        });
        acks.push(m._cacheId);
      }
      if (received === NODE_N) resolve(rate(NODE_N, t));
    });
    let i = 0;
    const produce = () => {
      const end = Math.min(NODE_N, i + 500);
      for (; i < end; i++) h.send(weld(i));
      if (i < NODE_N) setImmediate(produce);
    };
    produce();
  });
  await helper.unload();
  return result;
}

async function main(): Promise<void> {
  console.log(`edge-cache bench${QUICK ? ' (quick)' : ''}: ${N} records of ${BODY.length} bytes (serialised weld-seam message), groups of ${GROUP}`);
  console.log(`\n1. storage, records/s, median of ${REPS} interleaved runs   synchronous NORMAL   synchronous FULL`);
  const labels = ['raw better-sqlite3 insert loop', 'queue append (grouped commits)', 'queue replay (read+decode+ack)', 'forwarder enqueue->deliver->ack'];
  const samples = new Map<string, number[]>();
  const add = (label: string, sync: Synchronous, v: number) => {
    const key = `${label}|${sync}`;
    if (!samples.has(key)) samples.set(key, []);
    samples.get(key)!.push(v);
  };
  for (let rep = 0; rep < (SECTIONS.includes('1') ? REPS : 0); rep++) {
    for (const sync of ['NORMAL', 'FULL'] as const) {
      add(labels[0], sync, rawInsert(sync));
      const q = queueAppendReplay(sync);
      add(labels[1], sync, q.append);
      add(labels[2], sync, q.replay);
      add(labels[3], sync, await forwarderEndToEnd(sync));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  for (const label of SECTIONS.includes('1') ? labels : []) {
    console.log(`   ${label.padEnd(34)} ${fmt(median(samples.get(`${label}|NORMAL`)!))}            ${fmt(median(samples.get(`${label}|FULL`)!))}`);
  }

  if (SECTIONS.includes('2')) {
  await startServer();
  console.log(`\n2. in a test-helper flow, ${NODE_N} messages, msg/s, median of ${REPS} interleaved runs after a warm-up   NORMAL      FULL`);
  // interleaved rounds, median of each (the machine is shared: single runs are noisy)
  // one discarded warm-up run of each first, so no figure includes JIT compilation of Node-RED's paths
  await nodeInFlow('pass-through', 'NORMAL');
  await nodeInFlow('edge-cache', 'NORMAL');
  const runs: Record<'pass' | 'normal' | 'full', number[]> = { pass: [], normal: [], full: [] };
  for (let rep = 0; rep < REPS; rep++) {
    runs.pass.push(await nodeInFlow('pass-through', 'NORMAL'));
    runs.normal.push(await nodeInFlow('edge-cache', 'NORMAL'));
    runs.full.push(await nodeInFlow('edge-cache', 'FULL'));
  }
  const pass = median(runs.pass);
  const normal = median(runs.normal);
  const full = median(runs.full);
  console.log(`   pass-through node                 ${fmt(pass)}`);
  console.log(`   edge-cache (acks in batches)      ${fmt(normal)} ${fmt(full)}`);
  console.log(`   edge-cache / pass-through         ${(100 * normal / pass).toFixed(0).padStart(8)} % ${(100 * full / pass).toFixed(0).padStart(8)} %`);
  await stopServer();
  }
  if (!SECTIONS.includes('3')) {
    fs.rmSync(dir, { recursive: true, force: true });
    return;
  }

  console.log(`\n3. SIGKILL fault test, ${KILLS} kills (child runs lib/store at full speed, 1 in flight)`);
  const r = await runFaultTest({ kills: KILLS, mode: 'lib', window: 1, seed: 50, minMs: 100, maxMs: 600 });
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
