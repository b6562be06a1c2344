/**
 * The executor over ONNX's backend test data (Debian package libonnx-testdata): every case under
 * data/node and data/pytorch-converted whose ops and data types the executor supports must match the
 * expected outputs within |a − b| ≤ 1e-4 + 1e-4·|b|; every excluded case is printed with its reason.
 * Runs on the preferred backend (wasm here); pytorch-converted also on the pure-JS cpu backend. Without the package
 * the suite prints that it did not run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tf, useBackend, preferredBackend, BackendName } from '../../../lib/onnx/executor/backend';
import { runSuite, runCase, CaseResult, DEFAULT_TESTDATA } from '../../../lib/onnx/executor/conformance';

const GOALS: Record<string, number> = { node: 150, 'pytorch-converted': 55 };

describe('executor conformance (libonnx-testdata)', function () {
  this.timeout(120000);
  if (!fs.existsSync(DEFAULT_TESTDATA)) {
    it(`did not run: ${DEFAULT_TESTDATA} is not installed (Debian package libonnx-testdata)`, () => {
      console.log('    libonnx-testdata not installed: executor conformance suite not run');
    });
    return;
  }

  const backends: BackendName[] = [];
  before(async () => {
    const best = await preferredBackend();
    backends.push(best);
    if (best !== 'cpu') backends.push('cpu');
  });

  for (const suite of Object.keys(GOALS)) {
    it(`${suite}: at least ${GOALS[suite]} cases pass, none fails, exclusions listed`, async () => {
      // the node suite on the preferred backend; pytorch-converted (conv/pool heavy) on every backend
      for (const b of suite === 'node' ? backends.slice(0, 1) : backends) {
        await useBackend(b);
        const before = tf.memory().numTensors;
        const results: CaseResult[] = runSuite(tf, DEFAULT_TESTDATA, suite);
        const pass = results.filter(r => r.status === 'pass');
        const fail = results.filter(r => r.status === 'fail');
        const excluded = results.filter(r => r.status === 'excluded');
        console.log(`    [${b}] ${suite}: ${pass.length} passed, ${fail.length} failed, ${excluded.length} excluded of ${results.length}`);
        if (b === backends[0]) {
          const byReason = new Map<string, string[]>();
          for (const r of excluded) byReason.set(r.reason!, [...(byReason.get(r.reason!) ?? []), r.name]);
          for (const [reason, names] of [...byReason].sort((x, y) => y[1].length - x[1].length)) {
            console.log(`      excluded (${names.length}) ${reason}: ${names.join(' ')}`);
          }
        }
        for (const r of fail) console.log(`      FAILED ${r.name}: ${r.reason}`);
        assert.deepEqual(fail.map(r => `${r.name}: ${r.reason}`), [], `${b}: failing cases`);
        assert.ok(pass.length >= GOALS[suite], `${b}: ${pass.length} < ${GOALS[suite]} cases pass`);
        assert.equal(tf.memory().numTensors, before, `${b}: tensors leaked`);
      }
    });
  }

  it('a wrong expected output is caught (the comparison can fail)', async () => {
    await useBackend('cpu');
    const dir = path.join(DEFAULT_TESTDATA, 'node');
    for (const c of ['test_relu', 'test_gemm_all_attributes', 'test_lstm_defaults', 'test_conv_with_strides_padding']) {
      assert.equal(runCase(tf, path.join(dir, c)).status, 'pass', c);
      const r = runCase(tf, path.join(dir, c), -1, 0);
      assert.equal(r.status, 'fail', c);
      assert.match(r.reason!, /output '.*': element 0: /);
    }
  });
});
