/**
 * dual-fusion and tolerance-gate benchmarks, side by side in one run
 * (run: npx tsx bench/fusion-quality.ts; BENCH_QUICK=1 for a short setting):
 *  1. accuracy on generated strip thickness (laser σ 3 µm, X-ray σ 9 µm, true value known):
 *     RMSE and share within the paper's ±0.01 mm for each gauge alone, equal weights, adaptive and Kalman;
 *  2. the lib engines alone: pairs/s through DualFusion per mode, records/s through ToleranceGate
 *     with the engine-line rules;
 *  3. the nodes in a test-helper flow beside the pass-through node (Node-RED's own per-message cost):
 *     fused records/s out of dual-fusion (two input messages each), records/s through tolerance-gate.
 */
import { DualFusion } from '../lib/fusion/dual-fusion';
import { parseFusionOptions } from '../lib/fusion/options';
import { ToleranceGate } from '../lib/quality/gate';
import { parseRules } from '../lib/quality/rules';
import { SeededRandom } from '../lib/util/random';
import { loadNode, removeTestSpies, startServer, stopServer, helper, type Harness } from '../test/support/harness';
import dualFusion = require('../nodes/dual-fusion/dual-fusion');
import toleranceGate = require('../nodes/tolerance-gate/tolerance-gate');
import passThrough = require('../test/support/pass-through-node');

const QUICK = process.env.BENCH_QUICK === '1';
const SA = 0.003;
const SB = 0.009;
const DT = 10;

const ENGINE_RULES = [
  { kind: 'band', field: 'bore', nominal: 80, tolerance: 0.02 },
  { kind: 'class', field: 'ra', min: 0.8, max: 1.6 },
  { kind: 'geometric', field: 'flatness', max: 0.05 },
  { kind: 'geometric', field: 'perpendicularity', max: 0.03 },
  { kind: 'completeness', field: 'feed', interval: 100, missingRate: 0.001, window: 1000, expected: 10 },
  { kind: 'alignment', field: 'vibration,temperature', skew: 50 },
];

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(1);
}

interface Gauges {
  truth: Float64Array;
  a: Float64Array;
  b: Float64Array;
}

function gauges(n: number, seed: number): Gauges {
  const rnd = new SeededRandom(seed);
  const truth = new Float64Array(n);
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  let walk = 0;
  for (let i = 0; i < n; i++) {
    walk += rnd.normal(0, 0.0003);
    truth[i] = 2 + 0.05 * Math.sin((2 * Math.PI * i * DT) / 60_000) + walk;
    a[i] = truth[i] + rnd.normal(0, SA);
    b[i] = truth[i] + rnd.normal(0, SB);
  }
  return { truth, a, b };
}

function accuracy(g: Gauges, warmup: number): void {
  const n = g.truth.length;
  const rows: Array<[string, (i: number) => number]> = [
    ['laser alone', (i) => g.a[i]],
    ['X-ray alone', (i) => g.b[i]],
    ['equal weights', (i) => (g.a[i] + g.b[i]) / 2],
  ];
  for (const mode of ['fixed', 'adaptive', 'kalman']) {
    const f = new DualFusion<number>(parseFusionOptions({ sourceA: 'laser', sourceB: 'xray', mode, weightA: 0.9, weightB: 0.1, skew: 5, timeout: 1000, window: 200 }), 0);
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      f.push('a', { value: g.a[i], timestamp: i * DT }, i, i * DT);
      const e = f.push('b', { value: g.b[i], timestamp: i * DT }, i, i * DT)[0];
      out[i] = e.type === 'fused' ? e.result.value : NaN;
    }
    rows.push([mode === 'fixed' ? 'fixed 0.9 / 0.1' : mode, (i) => out[i]]);
  }
  const optimum = Math.sqrt((SA * SA * SB * SB) / (SA * SA + SB * SB));
  console.log(`accuracy over ${n - warmup} pairs (laser σ ${SA * 1000} µm, X-ray σ ${SB * 1000} µm; inverse-variance optimum ${(optimum * 1000).toFixed(2)} µm):`);
  console.log('  method            RMSE µm   max |err| µm   within ±0.01 mm');
  for (const [name, value] of rows) {
    let sq = 0;
    let max = 0;
    let within = 0;
    for (let i = warmup; i < n; i++) {
      const e = Math.abs(value(i) - g.truth[i]);
      sq += e * e;
      max = Math.max(max, e);
      if (e <= 0.01) within++;
    }
    const m = n - warmup;
    console.log(`  ${name.padEnd(16)} ${(Math.sqrt(sq / m) * 1000).toFixed(2).padStart(7)}   ${(max * 1000).toFixed(2).padStart(12)}   ${((within / m) * 100).toFixed(3).padStart(14)} %`);
  }
}

function libFusionRate(g: Gauges, mode: string): number {
  const f = new DualFusion<number>(parseFusionOptions({ sourceA: 'laser', sourceB: 'xray', mode, skew: 5, timeout: 1000 }), 0);
  const n = g.truth.length;
  const start = process.hrtime.bigint();
  let fused = 0;
  for (let i = 0; i < n; i++) {
    f.push('a', { value: g.a[i], timestamp: i * DT }, i, i * DT);
    fused += f.push('b', { value: g.b[i], timestamp: i * DT }, i, i * DT).length;
  }
  const rate = n / seconds(start);
  if (fused !== n) throw new Error(`expected ${n} fused, got ${fused}`);
  return rate;
}

function engineRecord(i: number, rnd: SeededRandom): { payload: Record<string, number>; timestamp: number; timestamps: Record<string, number> } {
  const t = i * 10;
  return {
    payload: { bore: 80 + rnd.normal(0, 0.008), ra: rnd.uniform(0.7, 1.7), flatness: Math.abs(rnd.normal(0, 0.02)), perpendicularity: Math.abs(rnd.normal(0, 0.012)), feed: 120, vibration: rnd.normal(0, 1), temperature: 60 + rnd.normal(0, 0.5) },
    timestamp: t,
    timestamps: { vibration: t, temperature: t + Math.abs(rnd.normal(0, 25)) },
  };
}

function libGateRate(n: number): { rate: number; grades: Record<string, number> } {
  const gate = new ToleranceGate(parseRules(ENGINE_RULES), { missingGrade: 'reject' });
  const rnd = new SeededRandom(5);
  const records = Array.from({ length: n }, (_, i) => {
    const r = engineRecord(i, rnd);
    return { values: r.payload, timestamp: r.timestamp, fieldTimestamps: r.timestamps };
  });
  const start = process.hrtime.bigint();
  for (const r of records) gate.assess(r);
  const rate = n / seconds(start);
  const s = gate.stats().records;
  return { rate, grades: { pass: s.rates.pass, review: s.rates.review, reject: s.rates.reject } };
}

/** Send messages with at most `inFlight` unfinished; messages/s once `expectDone` completions arrived. */
async function pump(h: Harness, count: number, make: (k: number) => Record<string, unknown>, inFlight = 200): Promise<number> {
  const base = h.completed.length;
  let sent = 0;
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve, reject) => {
    const tick = () => {
      if (h.caught.length) return reject(new Error(h.caught[0].error.message));
      const finished = h.completed.length - base;
      while (sent < count && sent - finished < inFlight) h.send(make(sent++));
      if (finished >= count) return resolve();
      setImmediate(tick);
    };
    tick();
  });
  const rate = count / seconds(start);
  for (const list of h.outputs) list.length = 0;
  h.completed.length = 0;
  return rate;
}

async function nodeRates(pairs: number, records: number): Promise<void> {
  await startServer();
  const g = gauges(pairs, 9);
  const sample = (k: number) => {
    const i = k >> 1;
    return (k & 1) === 0 ? { topic: 'laser', payload: g.a[i], timestamp: i * DT } : { topic: 'xray', payload: g.b[i], timestamp: i * DT };
  };
  const rnd = new SeededRandom(6);
  const recs = Array.from({ length: records }, (_, i) => engineRecord(i, rnd));
  const record = (k: number) => ({ ...recs[k], payload: { ...recs[k].payload } });

  let h = await loadNode(passThrough, { type: 'pass-through' });
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const passSamples = await pump(h, 2 * pairs, sample);
  await helper.unload();
  h = await loadNode(dualFusion, { type: 'dual-fusion', sourceA: 'laser', sourceB: 'xray', field: 'thickness', mode: 'adaptive', skew: '5', timeout: '5000' }, 2);
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const fusionMsgs = await pump(h, 2 * pairs, sample);
  await helper.unload();
  h = await loadNode(passThrough, { type: 'pass-through' });
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const passRecords = await pump(h, records, record);
  await helper.unload();
  h = await loadNode(toleranceGate, { type: 'tolerance-gate', rules: ENGINE_RULES, missingGrade: 'reject' }, 4);
  removeTestSpies(); // measure Node-RED and the node, not the test helper
  const gateRate = await pump(h, records, record);
  await helper.unload();
  await stopServer();

  console.log(`nodes in a flow (test helper, ≤ 200 messages in flight):`);
  console.log(`  pass-through, sample messages          ${fmt(passSamples).padStart(9)} msg/s`);
  console.log(`  dual-fusion (adaptive), sample messages ${fmt(fusionMsgs).padStart(8)} msg/s  = ${fmt(fusionMsgs / 2)} fused records/s`);
  console.log(`  pass-through, record messages          ${fmt(passRecords).padStart(9)} msg/s`);
  console.log(`  tolerance-gate (${ENGINE_RULES.length} rules), records      ${fmt(gateRate).padStart(9)} records/s`);
}

async function main(): Promise<void> {
  const nAcc = QUICK ? 3_000 : 100_000;
  const nLib = QUICK ? 10_000 : 500_000;
  const nNode = QUICK ? 500 : 20_000;
  console.log(`fusion-quality bench${QUICK ? ' (quick)' : ''}, Node ${process.version}`);
  accuracy(gauges(nAcc, 1), 500);
  const g = gauges(nLib, 2);
  console.log(`lib engines (${fmt(nLib)} pairs / records):`);
  // warm up every mode first, so the JIT does not charge its compile time to whichever mode runs first
  const warm = gauges(QUICK ? 5_000 : 50_000, 3);
  for (const mode of ['fixed', 'adaptive', 'kalman']) libFusionRate(warm, mode);
  for (const mode of ['fixed', 'adaptive', 'kalman']) console.log(`  DualFusion ${mode.padEnd(9)} ${fmt(libFusionRate(g, mode)).padStart(9)} pairs/s`);
  libGateRate(QUICK ? 5_000 : 50_000); // warm-up
  const gate = libGateRate(nLib);
  console.log(`  ToleranceGate (${ENGINE_RULES.length} rules) ${fmt(gate.rate).padStart(9)} records/s  (pass ${(gate.grades.pass * 100).toFixed(1)} %, review ${(gate.grades.review * 100).toFixed(1)} %, reject ${(gate.grades.reject * 100).toFixed(1)} %)`);
  await nodeRates(nNode, nNode);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
