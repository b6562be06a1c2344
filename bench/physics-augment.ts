/**
 * physics-augment benchmark: augmented samples per second (lib alone and through the Node-RED node,
 * beside Node-RED's own per-message cost) and what augmentation does to the data set: the spread of
 * the augmented set against the real set, per field.
 *
 *   npx tsx bench/physics-augment.ts            (full)
 *   BENCH_QUICK=1 npx tsx bench/physics-augment.ts   (seconds)
 */
import { Augmenter, REACTOR_DEFAULT_RULES, defaultRulesJson, parseRules, spreadReport, type Sample } from '../lib/augment';
import { SeededRandom } from '../lib/util/random';
import { loadNode, removeTestSpies, startServer, stopServer, helper } from '../test/support/harness';
import physicsAugment = require('../nodes/physics-augment/physics-augment');
import passThrough = require('../test/support/pass-through-node');

const QUICK = process.env.BENCH_QUICK === '1';
const K = 10;
const REAL_RECORDS = QUICK ? 200 : 2000;
const NODE_MESSAGES = QUICK ? 200 : 2000;
const CURVE_POINTS = 300;

/** Simulated real reactor batches (seeded), like the example flow's simulator. */
function realRecords(n: number, seed: number): Sample[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: n }, (_, t) => {
    const feedB = rng.uniform(14, 16);
    const feedA = feedB * rng.uniform(1.95, 2.05);
    return {
      temperature: 100 + 12 * Math.sin(t / 10) + rng.uniform(-1, 1),
      pressure: rng.uniform(0.75, 1.05),
      catalyst: rng.uniform(11.8, 12.2),
      reactionTime: 120,
      feedA,
      feedB,
      solvent: 100 - feedA - feedB,
      agitatorSpeed: rng.uniform(160, 280),
    };
  });
}

/** Median of three timed runs after one untimed warm-up run (the JIT settles first). */
function timeIt(fn: () => number): { seconds: number; samples: number } {
  fn();
  const runs: Array<{ seconds: number; samples: number }> = [];
  for (let i = 0; i < 3; i++) {
    const start = process.hrtime.bigint();
    const samples = fn();
    runs.push({ seconds: Number(process.hrtime.bigint() - start) / 1e9, samples });
  }
  return runs.sort((a, b) => a.seconds - b.seconds)[1];
}

function libThroughput(): void {
  const reactor = new Augmenter(REACTOR_DEFAULT_RULES);
  const records = realRecords(REAL_RECORDS, 1);
  const scalar = timeIt(() => records.reduce((n, r, i) => n + reactor.augment(r, K, i).samples.length, 0));

  const curveRules = new Augmenter(parseRules([{ kind: 'perturb', field: 'temperature', amplitude: 2, min: 80, max: 120, knots: 6 }]));
  const curves = records.slice(0, Math.max(50, REAL_RECORDS / 10)).map((r, i) => ({
    temperature: Array.from({ length: CURVE_POINTS }, (_, j) => (r.temperature as number) + 5 * Math.sin((i + j) / 40)),
  }));
  const curve = timeIt(() => curves.reduce((n, r, i) => n + curveRules.augment(r, K, i).samples.length, 0));

  console.log('lib/augment, K = 10 per real sample (median of 3 runs after a warm-up)');
  console.log('  setting                                   real   augmented   seconds   augmented/s');
  console.log(`  reactor record (5 default rules)     ${String(records.length).padStart(8)} ${String(scalar.samples).padStart(11)} ${scalar.seconds.toFixed(3).padStart(9)} ${Math.round(scalar.samples / scalar.seconds).toString().padStart(13)}`);
  console.log(`  temperature curve, ${CURVE_POINTS} points      ${String(curves.length).padStart(8)} ${String(curve.samples).padStart(11)} ${curve.seconds.toFixed(3).padStart(9)} ${Math.round(curve.samples / curve.seconds).toString().padStart(13)}`);
}

async function nodeThroughput(): Promise<void> {
  await startServer();
  const records = realRecords(NODE_MESSAGES, 2);
  const rows: string[] = [];
  for (const [label, module, config] of [
    ['pass-through (Node-RED cost)', passThrough, { type: 'pass-through' }],
    ['physics-augment K=10, each', physicsAugment, { type: 'physics-augment', rules: defaultRulesJson(), count: String(K), seed: '1', output: 'each', maxAttempts: '20' }],
    ['physics-augment K=10, batch', physicsAugment, { type: 'physics-augment', rules: defaultRulesJson(), count: String(K), seed: '1', output: 'batch', maxAttempts: '20' }],
  ] as Array<[string, unknown, Record<string, unknown>]>) {
    const h = await loadNode(module, config, 2);
    removeTestSpies(); // measure Node-RED and the node, not the test helper
    let delivered = 0;
    h.outputs.forEach((_, i) => helper.getNode(`out${i}`).on('input', (m: any) => {
      if (i === 0) delivered += Array.isArray(m.payload) ? m.payload.length : 1;
    }));
    // warm-up: a tenth of the messages, untimed
    const warm = Math.ceil(records.length / 10);
    for (const r of records.slice(0, warm)) h.send({ payload: r, topic: 'R-101' });
    await h.until(() => h.completed.length === warm, 120000);
    delivered = 0;
    const start = process.hrtime.bigint();
    for (const r of records) h.send({ payload: r, topic: 'R-101' });
    await h.until(() => h.completed.length === warm + records.length, 120000);
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const augmented = label.startsWith('pass') ? records.length : delivered;
    rows.push(`  ${label.padEnd(30)} ${String(records.length).padStart(8)} ${seconds.toFixed(3).padStart(9)} ${Math.round(records.length / seconds).toString().padStart(10)} ${Math.round(augmented / seconds).toString().padStart(13)}`);
    await helper.unload();
  }
  await stopServer();
  console.log('\nthrough Node-RED (node-red-node-test-helper, one flow), real messages in');
  console.log('  node                             messages   seconds    msgs/s   augmented/s');
  for (const r of rows) console.log(r);
}

function spread(): void {
  const real = realRecords(REAL_RECORDS, 3);
  const reactor = new Augmenter(REACTOR_DEFAULT_RULES);
  const augmented: Sample[] = [];
  let asked = 0;
  real.forEach((r, i) => {
    const out = reactor.augment(r, K, 1000 + i);
    asked += K;
    for (const s of out.samples) augmented.push(s.payload);
  });
  console.log(`\nspread of the augmented set against the real set (${real.length} real records, ${augmented.length} of ${asked} augmented emitted)`);
  console.log('  field               real mean   real std   aug mean    aug std  std ratio   real range          augmented range');
  const fmt = (x: number) => (Number.isNaN(x) ? '—' : Math.abs(x) >= 100 ? x.toFixed(1) : Math.abs(x) >= 1 ? x.toFixed(3) : x.toPrecision(3));
  for (const f of spreadReport(real, augmented)) {
    const rr = f.real.n ? `${fmt(f.real.min)}–${fmt(f.real.max)}` : '(derived)';
    console.log(`  ${f.field.padEnd(18)} ${fmt(f.real.mean).padStart(10)} ${fmt(f.real.std).padStart(10)} ${fmt(f.augmented.mean).padStart(10)} ${fmt(f.augmented.std).padStart(10)} ${fmt(f.stdRatio).padStart(10)}   ${rr.padEnd(18)}  ${fmt(f.augmented.min)}–${fmt(f.augmented.max)}`);
  }
}

async function main(): Promise<void> {
  console.log(`physics-augment benchmark${QUICK ? ' (BENCH_QUICK)' : ''}, Node ${process.version}`);
  libThroughput();
  await nodeThroughput();
  spread();
}

main().then(() => process.exit(0), (err) => {
  console.error(err);
  process.exit(1);
});
