/**
 * multitask-infer benchmark: per-message cost in a running flow against raw ONNX Runtime
 * session.run on the same model plus Node-RED's own per-message cost (a pass-through node in the
 * same harness); micro-batching against batch 1 under load; and a model of the paper's edge size
 * (~4 M parameters) at 20 messages/s on the main thread and in a worker thread, with the event
 * loop's delay measured beside.
 *
 *   node -r ts-node/register/transpile-only bench/multitask-infer.ts   (full: about 2 min; npm run bench -- multitask-infer)
 *   BENCH_QUICK=1 node -r ts-node/register/transpile-only bench/multitask-infer.ts   (seconds)
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { monitorEventLoopDelay } from 'perf_hooks';
import type * as OrtApi from 'onnxruntime-common';
import { loadNode, startServer, stopServer, helper, removeTestSpies, type Harness } from '../test/support/harness';
import passThrough = require('../test/support/pass-through-node');
import inferNode = require('../nodes/multitask-infer/multitask-infer');
import modelNode = require('../nodes/onnx-model/onnx-model');
import { buildGraph, headMetadata, SEQUENCE_LENGTH } from '../tools/build-turbine-model';
import { FEATURES, turbineDataset } from '../tools/turbine-sim';
import { ModelHolder } from '../lib/infer/model-holder';
import { InputMapper } from '../lib/infer/input-mapping';
import { DirectSession, directBinding } from '../lib/infer/direct-session';
import { loadRuntime } from '../lib/infer/session';

const ort: typeof OrtApi = require('onnxruntime-node');
const QUICK = process.env.BENCH_QUICK === '1';
const N = QUICK ? 300 : 3000;
const LOAD_N = QUICK ? 600 : 5000;
const RATE_SECONDS = QUICK ? 3 : 15;
const EDGE_BURST_N = QUICK ? 200 : 1000;
/** Section 1: rounds of every measurement, PER_ROUND messages each. */
const ROUNDS = QUICK ? 3 : 10;
const PER_ROUND = N / ROUNDS;

const now = () => Number(process.hrtime.bigint()) / 1e6;
const q = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
};
const fmt = (v: number, d = 3) => v.toFixed(d).padStart(9);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-mti-'));
const records = turbineDataset(11, 64, SEQUENCE_LENGTH).flatMap((s) => s.records);
const rec = (i: number) => records[i % records.length];

function edgeModel(): string {
  // ~4 M parameters: trunk 6→512 per step, LSTM 512, GRU 512, graph conv 16, fault dense 64
  const b = buildGraph(3, SEQUENCE_LENGTH, { trunk: 512, state: 512, perf: 512, graph: 16, fault: 64 });
  const m = b.build({
    name: 'turbine-edge-4M',
    feature_names: JSON.stringify(FEATURES),
    sequence_length: String(SEQUENCE_LENGTH),
    normalization: JSON.stringify({ type: 'zscore', mean: [17, 9500, 4.5, 3.3, 1.1, 17], std: [2, 600, 1, 0.5, 0.3, 10] }),
    heads: JSON.stringify(headMetadata({ pmean: [35, 17, 560], pstd: [2, 5, 40] })),
  });
  const file = path.join(dir, 'edge.onnx');
  m.save(file);
  console.log(`edge-size model: ${m.parameterCount().toLocaleString()} parameters, ${(fs.statSync(file).size / 1e6).toFixed(1)} MB`);
  return file;
}

function smallModel(): string {
  const shipped = path.join(__dirname, '..', 'models', 'turbine-multitask.onnx');
  if (fs.existsSync(shipped)) return shipped;
  const m = buildGraph(7).build({
    name: 'turbine-untrained',
    feature_names: JSON.stringify(FEATURES),
    sequence_length: String(SEQUENCE_LENGTH),
    heads: JSON.stringify(headMetadata({ pmean: [35, 17, 560], pstd: [2, 5, 40] })),
  });
  const file = path.join(dir, 'small.onnx');
  m.save(file);
  return file;
}

/** Raw session.run at batch 1 on a normalised window, same thread options as the node (1 thread). */
async function rawRun(file: string, n: number, gapMs = 0): Promise<number[]> {
  const s = await ort.InferenceSession.create(file, SESSION_OPTIONS);
  const data = benchInput();
  const times: number[] = [];
  for (let i = 0; i < n + 50; i++) {
    if (gapMs > 0 && i >= 45) await new Promise((r) => setTimeout(r, gapMs));
    const t = now();
    await s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, [1, SEQUENCE_LENGTH, FEATURES.length]) });
    if (i >= 50) times.push(now() - t);
  }
  await s.release();
  return times;
}

const SESSION_OPTIONS = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' } as const;
const benchInput = () => new Float32Array(SEQUENCE_LENGTH * FEATURES.length).map((_, i) => ((i % 7) - 3) / 3);

/** The synchronous native run multitask-infer uses on the main thread (lib/infer/direct-session.ts). */
function directSession(file: string): DirectSession {
  const binding = directBinding(loadRuntime());
  if (!binding) throw new Error('the bundled onnxruntime-node is not 1.17.x: no direct session');
  return new DirectSession(binding, new Uint8Array(fs.readFileSync(file)), SESSION_OPTIONS);
}

/** The same run through the native binding, synchronously (what the node does), back to back. */
function directRun(file: string, n: number): number[] {
  const s = directSession(file);
  const feeds = { [s.inputNames[0]]: { data: benchInput(), dims: [1, SEQUENCE_LENGTH, FEATURES.length] } };
  const times: number[] = [];
  for (let i = 0; i < n + 50; i++) {
    const t = now();
    s.runSync(feeds);
    if (i >= 50) times.push(now() - t);
  }
  s.release();
  return times;
}

/**
 * "Raw run + pass-through" as one node in a running flow: a pass-through whose handler first does a
 * raw session.run (same model, options and input as rawRun) and then forwards the message. It
 * shows what session.run costs between Node-RED's own work (a tight loop of runs keeps ONNX
 * Runtime's code and data in the CPU caches; a flow does not). Registered only by this bench.
 */
let rawRunSession: OrtApi.InferenceSession | undefined;
function rawRunPassThrough(RED: any): void {
  const data = benchInput();
  function RawRunPassThrough(this: any, config: any) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg: any, send: (m: any) => void, done: (e?: Error) => void) => {
      const s = rawRunSession!;
      s.run({ [s.inputNames[0]]: new ort.Tensor('float32', data, [1, SEQUENCE_LENGTH, FEATURES.length]) }).then(() => {
        send(msg);
        done();
      }, done);
    });
  }
  RED.nodes.registerType('raw-run-pass-through', RawRunPassThrough);
}

/**
 * The floor for any node that runs the model in the flow: a pass-through whose handler does the
 * synchronous native run multitask-infer does (same model, options and input every time) and
 * then forwards the message. The run's own time inside the flow is recorded in `directRunInFlow`.
 */
let directRunSession: DirectSession | undefined;
const directRunInFlow: number[] = [];
function directRunPassThrough(RED: any): void {
  const data = benchInput();
  function DirectRunPassThrough(this: any, config: any) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg: any, send: (m: any) => void, done: (e?: Error) => void) => {
      const s = directRunSession!;
      const t = now();
      s.runSync({ [s.inputNames[0]]: { data, dims: [1, SEQUENCE_LENGTH, FEATURES.length] } });
      directRunInFlow.push(now() - t);
      send(msg);
      done();
    });
  }
  RED.nodes.registerType('direct-run-pass-through', DirectRunPassThrough);
}

/** The node's own work without Node-RED, as the node does it at batch 1: input mapping into a reused row + ModelHolder.runSync + head decoding. */
async function corePath(file: string, n: number): Promise<number[]> {
  const holder = new ModelHolder({ runIn: 'main' });
  const m = await holder.open(new Uint8Array(fs.readFileSync(file)));
  if (!m.runsSync) throw new Error('the main-thread model has no synchronous run');
  const mapper = new InputMapper({ fields: m.spec.featureNames, sequenceLength: m.spec.sequenceLength, normalization: m.spec.normalization, partial: 'pad' });
  const row = new Float32Array(mapper.sequenceLength * mapper.width);
  const times: number[] = [];
  for (let i = 0; i < n + 50; i++) {
    const t = now();
    const r = mapper.map(rec(i), '', row);
    if (r.ready) m.decoder.decode(holder.runSync(m, [r.row]), 0, 1);
    if (i >= 50) times.push(now() - t);
  }
  await holder.close();
  return times;
}

/**
 * Messages each flow gets before the clock runs. Every flow load registers the node types again, so
 * a node's closures start cold in V8 each round; 200 messages let them reach optimised code.
 */
const FLOW_WARMUP = 200;

/**
 * One message at a time through the node under test: per-message latency (send → answer at the
 * wired node). The message is built before the clock starts.
 */
async function closedLoop(h: Harness, n: number, make: (i: number) => Record<string, unknown>): Promise<number[]> {
  const times: number[] = [];
  const out = helper.getNode('out0');
  let arrived: (() => void) | undefined;
  const onOut = () => arrived?.();
  out.on('input', onOut);
  for (let i = 0; i < n + FLOW_WARMUP; i++) {
    const msg = make(i);
    const t = now();
    await new Promise<void>((resolve) => {
      arrived = resolve;
      h.send(msg);
    });
    if (i >= FLOW_WARMUP) times.push(now() - t);
  }
  out.removeListener('input', onOut);
  h.outputs[0].length = 0;
  h.completed.length = 0;
  return times;
}

/** Everything at once (a burst of n): messages/s until the last answer. */
async function burst(h: Harness, n: number): Promise<number> {
  h.outputs[0].length = 0;
  const t = now();
  for (let i = 0; i < n; i++) h.send({ payload: { ...rec(i) } });
  await h.until(() => h.outputs[0].length + h.caught.length >= n, 120_000);
  if (h.caught.length) throw new Error(`errors in burst: ${h.caught[0].error.message}`);
  return n / ((now() - t) / 1000);
}

/** Messages at a fixed rate for `seconds`: latency of each, and the event loop's delay meanwhile. */
async function atRate(h: Harness, rate: number, seconds: number): Promise<{ p50: number; p99: number; max: number; loopP99: number; loopMax: number; answered: number }> {
  h.outputs[0].length = 0;
  const sentAt = new Map<number, number>();
  const lat: number[] = [];
  const out = helper.getNode('out0');
  const onOut = (m: any) => lat.push(now() - sentAt.get(m.seq)!);
  out.on('input', onOut);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const total = Math.round(rate * seconds);
  let i = 0;
  await new Promise<void>((resolve) => {
    const start = now();
    const tick = () => {
      const due = Math.floor(((now() - start) / 1000) * rate) + 1;
      while (i < Math.min(due, total)) {
        sentAt.set(i, now());
        h.send({ payload: { ...rec(i) }, seq: i });
        i++;
      }
      if (i >= total) return resolve();
      setTimeout(tick, 1);
    };
    tick();
  });
  await h.until(() => lat.length + h.caught.length >= total, 60_000);
  loop.disable();
  out.removeListener('input', onOut);
  return { p50: q(lat, 0.5), p99: q(lat, 0.99), max: Math.max(...lat), loopP99: loop.percentile(99) / 1e6, loopMax: loop.max / 1e6, answered: lat.length };
}

const load = () => os.loadavg().map((v) => v.toFixed(2)).join(', ');

async function inferFlow(file: string, node: Record<string, unknown>, runIn: string): Promise<Harness> {
  const h = await loadNode([modelNode, inferNode], { type: 'multitask-infer', model: 'cfg', partial: 'pad', maxPending: 100000, ...node }, 2, [
    { id: 'cfg', type: 'onnx-model', path: file, runIn, maxQueue: 100000 },
  ]);
  h.send({ control: 'stats' });
  await h.until(() => h.outputs[1].length === 1, 60_000);
  removeTestSpies();
  return h;
}

async function main(): Promise<void> {
  console.log(`multitask-infer benchmark${QUICK ? ' (BENCH_QUICK)' : ''} — node ${process.version}, ${os.cpus().length} cores, ${os.cpus()[0].model}, load average ${load()} (1/5/15 min)`);
  const small = smallModel();
  console.log(`model: ${path.relative(process.cwd(), small)} (${(fs.statSync(small).size / 1e3).toFixed(0)} kB)`);
  await startServer();

  // 1. per-message cost at batch 1: raw run, pass-through, multitask-infer. The pass-through
  // carries a message of the size multitask-infer sends (its three decoded heads, msg.features
  // and msg.model), so the Complete node's clone and Node-RED's delivery cost the same on both;
  // both run in the same flow shape (2 outputs wired, Catch + Complete scoped to the node).
  // Rounds alternate, so load from elsewhere on the machine falls on all alike.
  let h = await inferFlow(small, { maxBatch: 1 }, 'main');
  h.send({ payload: { ...rec(0) } });
  await h.until(() => h.outputs[0].length === 1);
  const sample = h.outputs[0][0];
  await helper.unload();
  const inferMsg = (i: number) => ({ payload: { ...rec(i) } });
  const passMsg = (i: number) => ({ payload: structuredClone(sample.payload), features: { ...rec(i) }, model: { ...sample.model } });
  console.log(`   output message: ${JSON.stringify({ payload: sample.payload, features: sample.features, model: sample.model }).length} bytes as JSON; load average before section 1: ${load()}`);
  rawRunSession = await ort.InferenceSession.create(small, SESSION_OPTIONS);
  directRunSession = directSession(small);
  const flowLoop = async (register: unknown, type: string): Promise<number[]> => {
    const flow = await loadNode(register, { type }, 2);
    removeTestSpies();
    const times = await closedLoop(flow, PER_ROUND, passMsg);
    await helper.unload();
    return times;
  };
  const inferLoop = async (): Promise<number[]> => {
    const flow = await inferFlow(small, { maxBatch: 1 }, 'main');
    const times = await closedLoop(flow, PER_ROUND, inferMsg);
    await helper.unload();
    return times;
  };
  // Each round runs every measurement once, starting one further along the list each time, so
  // load from elsewhere and the position in a round fall on all alike.
  const measurements: Array<[string, () => Promise<number[]>]> = [
    ['raw', () => rawRun(small, PER_ROUND)],
    ['direct', async () => directRun(small, PER_ROUND)],
    ['core', () => corePath(small, PER_ROUND)],
    ['pass', () => flowLoop(passThrough, 'pass-through')],
    ['infer', inferLoop],
    ['rawInFlow', () => flowLoop(rawRunPassThrough, 'raw-run-pass-through')],
    ['directInFlow', async () => {
      const from = directRunInFlow.length;
      const flowTimes = await flowLoop(directRunPassThrough, 'direct-run-pass-through');
      directRunInFlow.splice(from, FLOW_WARMUP); // closedLoop's warm-up messages
      return flowTimes;
    }],
  ];
  const times: Record<string, number[]> = Object.fromEntries(measurements.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < measurements.length; k++) {
      const [name, measure] = measurements[(round + k) % measurements.length];
      times[name].push(...(await measure()));
    }
  }
  await rawRunSession.release();
  directRunSession.release();
  h = await inferFlow(small, { maxBatch: 1 }, 'worker');
  const b1Worker = await closedLoop(h, N, inferMsg);
  await helper.unload();

  const { raw, direct, core, pass, infer: b1, rawInFlow, directInFlow } = times;
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const p50 = (xs: number[]) => q(xs, 0.5);
  const row = (label: string, xs: number[]) => console.log(`   ${label.padEnd(52)}${fmt(mean(xs))}${fmt(p50(xs))}${fmt(q(xs, 0.99))}`);
  const ratios = (xs: number[], meanOf: number, p50Of: number) => `mean ${(mean(xs) / meanOf).toFixed(2)}, p50 ${(p50(xs) / p50Of).toFixed(2)}`;
  const goalMean = mean(raw) + mean(pass);
  const goalP50 = p50(raw) + p50(pass);
  console.log(`\n1) batch 1, one message at a time (${N} messages each, ${ROUNDS} alternating rounds, ms)   mean      p50      p99`);
  row('raw ONNX Runtime session.run (batch 1, back to back)', raw);
  row('direct native run, what the node calls (back to back)', direct);
  row('map + run + decode, no Node-RED (lib/infer)', core);
  row('pass-through node (Node-RED per message)', pass);
  console.log(`   ${'raw + pass-through'.padEnd(52)}${fmt(goalMean)}${fmt(goalP50)}`);
  row('multitask-infer, batch 1', b1);
  row('multitask-infer, batch 1, worker thread', b1Worker);
  console.log(`   ratio multitask-infer (main thread) / (raw + pass-through): ${ratios(b1, goalMean, goalP50)} (goal ≤ 1.10)`);
  row('pass-through doing a raw session.run, in the flow', rawInFlow);
  row('pass-through doing the direct run, in the flow', directInFlow);
  console.log(`   the direct run itself, timed inside that pass-through: p50 ${p50(directRunInFlow).toFixed(3)} ms (back to back ${p50(direct).toFixed(3)} ms)`);
  console.log(`   floor (pass-through doing the direct run) / (raw + pass-through): ${ratios(directInFlow, goalMean, goalP50)}`);
  console.log(`   ratio multitask-infer / (pass-through doing the direct run, same flow): ${ratios(b1, mean(directInFlow), p50(directInFlow))}`);
  console.log(`   node's own time at p50: ${((p50(b1) - p50(directInFlow)) * 1000).toFixed(0)} µs beyond the floor, ${((p50(b1) - goalP50) * 1000).toFixed(0)} µs beyond raw + pass-through; load average after: ${load()}`);

  // 2. bursts: batch 1 against micro-batching, small and edge-size model
  const edge = edgeModel();
  console.log(`\n2) under load: a burst of messages, main thread          msg/s   batch 1   micro-batching (≤32, 2 ms)   gain   last batch sizes`);
  for (const [label, file, n] of [['small model', small, LOAD_N], ['edge-size model', edge, EDGE_BURST_N]] as const) {
    h = await inferFlow(file, { maxBatch: 1 }, 'main');
    const one = await burst(h, n);
    await helper.unload();
    h = await inferFlow(file, { maxBatch: 32, maxWait: 2 }, 'main');
    const many = await burst(h, n);
    h.send({ control: 'stats' });
    await h.until(() => h.outputs[1].length === 2);
    const sizes = h.outputs[1][1].payload.recentBatchSizes as number[];
    await helper.unload();
    console.log(`   ${(label + ` (${n} messages)`).padEnd(48)}      ${one.toFixed(0).padStart(8)}   ${many.toFixed(0).padStart(10)}                  ${(many / one).toFixed(2)}×   ${sizes.slice(-4).join(', ')}`);
  }
  console.log('   goal: micro-batching beats batch 1 in messages/s under load');

  // 3. edge-size model at 20 messages/s: main thread vs worker thread
  const rawEdge = await rawRun(edge, QUICK ? 20 : 100);
  console.log(`\n   load average before section 3: ${load()}`);
  console.log(`\n3) edge-size model at 20 msg/s for ${RATE_SECONDS} s (ms)     latency p50   p99    max  | event-loop delay p99   max`);
  // one run every 50 ms, as at 20 msg/s: between runs the 16 MB of weights leave the CPU caches
  const rawEdgePaced = await rawRun(edge, QUICK ? 20 : 100, 50);
  console.log(`   raw session.run batch 1, back to back: p50 ${q(rawEdge, 0.5).toFixed(2)} ms, p99 ${q(rawEdge, 0.99).toFixed(2)} ms`);
  console.log(`   raw session.run batch 1, one every 50 ms: p50 ${q(rawEdgePaced, 0.5).toFixed(2)} ms, p99 ${q(rawEdgePaced, 0.99).toFixed(2)} ms`);
  for (const runIn of ['main', 'worker']) {
    h = await inferFlow(edge, { maxBatch: 1 }, runIn);
    const r = await atRate(h, 20, RATE_SECONDS);
    console.log(`   ${runIn.padEnd(6)} thread (${r.answered} answered)            ${fmt(r.p50, 2)}${fmt(r.p99, 2)}${fmt(r.max, 2)}  |          ${fmt(r.loopP99, 2)}${fmt(r.loopMax, 2)}`);
    await helper.unload();
  }
  console.log('   goal: p99 ≤ 15 ms at 20 msg/s with the event loop responsive');
  console.log(`   load average after: ${load()}`);
  await stopServer();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
