/**
 * `npm run bench`: run every benchmark in bench/ one after another (never in parallel: they
 * measure time on a shared machine) and print their figures. `BENCH_QUICK=1` passes the short
 * settings through; `npm run bench -- sensor-window` runs only the benchmarks whose name matches.
 * Each benchmark also runs alone: `node -r ts-node/register/transpile-only bench/<name>.ts`.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const filter = process.argv[2];
const benches = fs
  .readdirSync(__dirname)
  .filter((f) => f.endsWith('.ts') && f !== 'run-all.ts' && !f.startsWith('_'))
  .filter((f) => !filter || f.includes(filter))
  .sort();

// ts-node in transpile-only mode: plain TypeScript emit. (tsx wraps every closure in a __name()
// helper, which slows hot per-record code several times and would understate the figures.)
const register = require.resolve('ts-node/register/transpile-only');
let failed = 0;
for (const file of benches) {
  console.log(`\n=== ${file} ===`);
  const started = Date.now();
  const run = spawnSync(process.execPath, ['-r', register, path.join(__dirname, file)], { stdio: 'inherit', env: process.env });
  console.log(`(${file}: ${((Date.now() - started) / 1000).toFixed(1)} s${run.status ? `, exit ${run.status}` : ''})`);
  if (run.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
