/**
 * sensor-window benchmarks, side by side on one generated 1 kHz stream (run: npx tsx bench/sensor-window.ts;
 * BENCH_QUICK=1 for a short setting):
 *  1. the lib window alone, samples/s, 300 000-sample window (5 min at 1 kHz);
 *  2. the node in a test-helper flow with 1000-sample batches, beside the pass-through node on the same batches;
 *  3. against node-red-node-smooth (scalar messages only) with a 300 000-sample window: mean, and max.
 */
import { SignalWindow, type Statistic } from '../lib/stream/window';
import { SeededRandom } from '../lib/util/random';
import { loadNode, startServer, stopServer, helper, type Harness } from '../test/support/harness';
import sensorWindow = require('../nodes/sensor-window/sensor-window');
import passThrough = require('../test/support/pass-through-node');

const QUICK = process.env.BENCH_QUICK === '1';
const RATE = 1000;
const WINDOW = 300_000;
const BATCH = 1000;

/** the 1 kHz signal: pressure-like level with a vibration component and occasional invalid values */
function signal(total: number): Float64Array {
  const rng = new SeededRandom(2024);
  const out = new Float64Array(total);
  for (let i = 0; i < total; i++) {
    out[i] = 550 + 120 * Math.sin((2 * Math.PI * 50 * i) / RATE) + 20 * (rng.next() - 0.5) + (i % 997 === 0 ? 400 : 0);
  }
  return out;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

function fmt(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return n.toFixed(1);
}

function libRate(data: Float64Array, stats: Statistic[], kind: 'time' | 'count', valid: [number, number] | null): number {
  const win = new SignalWindow({ kind, size: kind === 'time' ? (WINDOW * 1000) / RATE : WINDOW, stats, valid });
  // fill the window first, then time full-window operation (every push also evicts)
  for (let i = 0; i < WINDOW; i += BATCH) win.ingest(data.subarray(i, i + BATCH), 0, i, 1000 / RATE, null, null);
  const start = process.hrtime.bigint();
  let n = 0;
  for (let i = WINDOW; i + BATCH <= data.length; i += BATCH) {
    win.ingest(data.subarray(i, i + BATCH), 0, i, 1000 / RATE, null, null);
    n += BATCH;
  }
  const s = seconds(start);
  if (win.length === 0) throw new Error('window empty');
  return n / s;
}

/** Send messages with at most `inFlight` unfinished; resolve with messages/s once all are done or caught. */
async function pump(h: Harness, make: (k: number) => Record<string, unknown>, from: number, to: number, inFlight = 200): Promise<number> {
  const base = h.completed.length + h.caught.length;
  const target = to - from;
  let sent = 0;
  const start = process.hrtime.bigint();
  await new Promise<void>((resolve) => {
    const tick = () => {
      const finished = h.completed.length + h.caught.length - base;
      while (sent < target && sent - finished < inFlight) h.send(make(from + sent++));
      if (h.completed.length + h.caught.length - base >= target) return resolve();
      setImmediate(tick);
    };
    tick();
  });
  const rate = target / seconds(start);
  // keep memory flat: the harness stores every message it sees
  for (const list of h.outputs) list.length = 0;
  h.completed.length = 0;
  return rate;
}

async function flowRate(module: unknown, config: Record<string, unknown>, make: (k: number) => Record<string, unknown>, prefill: number, measure: number): Promise<{ rate: number; caught: number; firstError: string | null }> {
  const h = await loadNode(module, config);
  if (prefill > 0) await pump(h, make, 0, prefill);
  const caughtBefore = h.caught.length;
  const rate = await pump(h, make, prefill, prefill + measure);
  const caught = h.caught.length - caughtBefore;
  const firstError = h.caught.length ? String(h.caught[0].error?.message ?? h.caught[0].error) : null;
  await helper.unload();
  return { rate, caught, firstError };
}

/** Largest n for which Math.max.apply(Math, array of n) works in this process (what smooth's max does). */
function spreadLimit(): number {
  let lo = 1000;
  let hi = 10_000_000;
  while (hi - lo > 1000) {
    const mid = Math.floor((lo + hi) / 2);
    try {
      Math.max.apply(Math, new Array(mid).fill(1));
      lo = mid;
    } catch {
      hi = mid;
    }
  }
  return lo;
}

async function main(): Promise<void> {
  const libSamples = QUICK ? 2_000_000 : 20_000_000;
  const batches = QUICK ? 400 : 3000;
  const scalarPrefill = QUICK ? 0 : WINDOW;
  const scalarMeasure = QUICK ? 10_000 : 60_000;
  console.log(`sensor-window benchmark${QUICK ? ' (BENCH_QUICK)' : ''}: Node.js ${process.version}, 1 kHz signal, window ${WINDOW} samples (5 min)`);

  // 1. lib
  const data = signal(WINDOW + libSamples);
  const lib: Array<[string, number]> = [];
  libRate(data.subarray(0, WINDOW + 2_000_000), ['mean'], 'time', [300, 800]); // warm-up
  lib.push(['mean + range filter, 5-min time window', libRate(data, ['mean'], 'time', [300, 800])]);
  lib.push(['mean + range filter, 300 000-sample count window', libRate(data, ['mean'], 'count', [300, 800])]);
  lib.push(['max, 5-min time window', libRate(data, ['max'], 'time', [300, 800])]);
  lib.push(['all 8 statistics, 5-min time window', libRate(data, ['mean', 'min', 'max', 'std', 'rms', 'ptp', 'kurtosis', 'last'], 'time', [300, 800])]);
  console.log('\n1. lib window (one core), samples/s with the window full:');
  for (const [what, r] of lib) console.log(`   ${what.padEnd(50)} ${fmt(r).padStart(9)} samples/s${what.startsWith('mean + range filter, 5') ? `  (goal >= 50 M/s: ${r >= 50e6 ? 'met' : 'NOT met'})` : ''}`);

  // 2. node in a flow, 1000-sample batches, vs pass-through
  await startServer();
  const stream = signal(batches * BATCH);
  const batchMsg = (k: number) => ({ topic: 'pressure', payload: stream.subarray((k % batches) * BATCH, (k % batches) * BATCH + BATCH), sampleRate: RATE, timestamp: k * BATCH });
  const swConfig = { type: 'sensor-window', window: '5', windowUnit: 'min', stats: 'mean', rate: 'input', gap: '0', signals: JSON.stringify({ pressure: { valid: [300, 800] } }) };
  await flowRate(passThrough, { type: 'pass-through' }, batchMsg, 0, 200); // warm-up
  await flowRate(sensorWindow, swConfig, batchMsg, 0, 200);
  const prefillBatches = WINDOW / BATCH;
  const pt = await flowRate(passThrough, { type: 'pass-through' }, batchMsg, prefillBatches, batches);
  const sw = await flowRate(sensorWindow, swConfig, batchMsg, prefillBatches, batches);
  const swMax = await flowRate(sensorWindow, { ...swConfig, stats: 'max' }, batchMsg, prefillBatches, batches);
  console.log(`\n2. in a test-helper flow, ${BATCH}-sample batches (${batches} batches after filling the window):`);
  console.log(`   pass-through node             ${fmt(pt.rate).padStart(9)} msg/s  ${fmt(pt.rate * BATCH).padStart(9)} samples/s`);
  console.log(`   sensor-window mean + range    ${fmt(sw.rate).padStart(9)} msg/s  ${fmt(sw.rate * BATCH).padStart(9)} samples/s  = ${((100 * sw.rate) / pt.rate).toFixed(0)} % of pass-through (goal >= 80 %)`);
  console.log(`   sensor-window max             ${fmt(swMax.rate).padStart(9)} msg/s  ${fmt(swMax.rate * BATCH).padStart(9)} samples/s  = ${((100 * swMax.rate) / pt.rate).toFixed(0)} % of pass-through`);

  // 3. against node-red-node-smooth on the same 1 kHz signal, scalar messages
  const smoothNode = require('node-red-node-smooth/17-smooth.js');
  const scalarTotal = scalarPrefill + scalarMeasure;
  const scalars = signal(scalarTotal);
  const scalarMsg = (k: number) => ({ topic: 'pressure', payload: scalars[k], timestamp: k });
  const smoothMean = await flowRate(smoothNode, { type: 'smooth', action: 'mean', count: String(WINDOW), round: '', mult: 'single', reduce: false }, scalarMsg, scalarPrefill, scalarMeasure);
  const swScalarMean = await flowRate(sensorWindow, { ...swConfig, signals: '{}' }, scalarMsg, scalarPrefill, scalarMeasure);
  const swScalarMax = await flowRate(sensorWindow, { ...swConfig, stats: 'max', signals: '{}' }, scalarMsg, scalarPrefill, scalarMeasure);
  console.log(`\n3. against node-red-node-smooth, window ${WINDOW} samples, ${scalarMeasure} scalar messages${scalarPrefill ? ` after ${scalarPrefill} to fill the window` : ' (window filling)'}:`);
  console.log(`   smooth mean, scalar messages         ${fmt(smoothMean.rate).padStart(9)} msg/s = samples/s`);
  console.log(`   sensor-window mean, scalar messages  ${fmt(swScalarMean.rate).padStart(9)} msg/s = ${(swScalarMean.rate / smoothMean.rate).toFixed(2)}x smooth (goal >= 1x)`);
  console.log(`   sensor-window mean, 1000-sample batches ${fmt(sw.rate * BATCH).padStart(6)} samples/s = ${((sw.rate * BATCH) / smoothMean.rate).toFixed(0)}x smooth's samples/s (goal >= 500x)`);
  console.log(`   sensor-window max, scalar messages   ${fmt(swScalarMax.rate).padStart(9)} msg/s`);

  // smooth's max spreads the whole window as call arguments: O(window) per message, and it throws past the engine's limit
  const limit = spreadLimit();
  const maxMeasure = QUICK ? 5000 : 20_000;
  const smoothMaxEarly = await flowRate(smoothNode, { type: 'smooth', action: 'max', count: String(WINDOW), round: '', mult: 'single', reduce: false }, scalarMsg, 0, Math.min(maxMeasure, scalarTotal));
  console.log(`   smooth max, first ${maxMeasure} messages (window 0 → ${maxMeasure})  ${fmt(smoothMaxEarly.rate).padStart(9)} msg/s`);
  console.log(`   Math.max.apply argument limit here: about ${fmt(limit)} values, below the ${fmt(WINDOW)}-sample window`);
  if (!QUICK) {
    // drive smooth max past the limit: the window grows one sample per message
    const h = await loadNode(smoothNode, { type: 'smooth', action: 'max', count: String(WINDOW), round: '', mult: 'single', reduce: false });
    const total = Math.min(WINDOW, limit + 2000);
    const big = signal(total);
    const t0 = process.hrtime.bigint();
    let k = 0;
    const step = 5000;
    let lastRate = 0;
    while (k < total && h.caught.length === 0) {
      const t1 = process.hrtime.bigint();
      const n = Math.min(step, total - k);
      await pump(h, (j) => ({ payload: big[j] }), k, k + n);
      lastRate = n / seconds(t1);
      k += n;
    }
    const err = h.caught.length ? String(h.caught[0].error?.message ?? h.caught[0].error) : 'none';
    console.log(`   smooth max driven to ${fmt(k)} messages in ${seconds(t0).toFixed(1)} s: last ${step} at ${fmt(lastRate)} msg/s; first error reaching Catch: ${err}`);
    await helper.unload();
  } else {
    console.log('   (full run drives smooth max past the limit and reports the error its Catch node sees)');
  }
  await stopServer();
}

main().then(
  () => process.exit(0),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
