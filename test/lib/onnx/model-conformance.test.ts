/**
 * The I/O layer over ONNX's own backend test data (Debian package libonnx-testdata): every
 * model.onnx loads, and saving it unmodified gives the same protobuf message; every tensor .pb
 * decodes, and re-encoding it gives the same values. Non-tensor .pb files (SequenceProto,
 * OptionalProto, MapProto: inputs/outputs whose declared type is not a tensor) are listed as
 * excluded. Without the package the suite says it did not run.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { OnnxModel } from '../../../lib/onnx/model';
import { decodeTensor, encodeTensor } from '../../../lib/onnx/tensor';

const DATA = '/usr/share/libonnx-testdata/data';
const SUITES = ['node', 'pytorch-converted', 'pytorch-operator', 'simple'];

function caseDirs(): string[] {
  const out: string[] = [];
  for (const s of SUITES) {
    const dir = path.join(DATA, s);
    if (!fs.existsSync(dir)) continue;
    for (const c of fs.readdirSync(dir).sort()) {
      if (fs.existsSync(path.join(dir, c, 'model.onnx'))) out.push(path.join(dir, c));
    }
  }
  return out;
}

/** A canonical JSON form of a decoded model (int64 as strings, bytes as base64). */
function canonical(bytes: Uint8Array): string {
  return JSON.stringify(onnx.ModelProto.toObject(onnx.ModelProto.decode(bytes), { longs: String, bytes: String, defaults: false }));
}

describe('lib/onnx/model over libonnx-testdata', function () {
  if (!fs.existsSync(DATA)) {
    it('did not run: /usr/share/libonnx-testdata/data is not installed (Debian package libonnx-testdata)', () => {
      console.log('    libonnx-testdata not installed: I/O conformance suite not run');
    });
    return;
  }
  this.timeout(60000);
  const cases = caseDirs();

  it('loads every model and saves it back to the same message', () => {
    assert.ok(cases.length > 1000, `expected the full test data, found ${cases.length} cases`);
    let identicalBytes = 0;
    const failures: string[] = [];
    for (const dir of cases) {
      const bytes = fs.readFileSync(path.join(dir, 'model.onnx'));
      try {
        const m = OnnxModel.fromBuffer(bytes, { source: dir });
        const out = m.toBuffer();
        if (out.equals(bytes)) identicalBytes++;
        else if (canonical(out) !== canonical(bytes)) failures.push(`${dir}: re-encoded model differs`);
        // and the saved bytes load again with the same summary
        assert.deepEqual(OnnxModel.fromBuffer(out).summary(), m.summary());
      } catch (e) {
        failures.push(`${dir}: ${(e as Error).message}`);
      }
    }
    console.log(`    ${cases.length} models: ${cases.length - failures.length} round-trip to the same message (${identicalBytes} byte-identical)`);
    assert.deepEqual(failures, []);
  });

  it('decodes every tensor .pb and re-encodes it to the same values', () => {
    let decoded = 0;
    const excluded: string[] = [];
    const failures: string[] = [];
    for (const dir of cases) {
      const g = onnx.ModelProto.decode(fs.readFileSync(path.join(dir, 'model.onnx'))).graph!;
      const inits = new Set((g.initializer ?? []).map((t) => t.name));
      const ins = (g.input ?? []).filter((v) => !inits.has(v.name));
      const outs = g.output ?? [];
      for (const set of fs.readdirSync(dir).filter((d) => d.startsWith('test_data_set_')).sort()) {
        for (const f of fs.readdirSync(path.join(dir, set)).sort()) {
          const m = /^(input|output)_(\d+)\.pb$/.exec(f);
          if (!m) continue;
          const decl = (m[1] === 'input' ? ins : outs)[Number(m[2])];
          const file = path.join(dir, set, f);
          if (decl && decl.type && !decl.type.tensorType) {
            const kind = Object.keys(onnx.TypeProto.toObject(decl.type as onnx.TypeProto)).filter((k) => k !== 'denotation')[0];
            excluded.push(`${path.relative(DATA, file)}: ${kind} value, not a TensorProto`);
            continue;
          }
          try {
            const t = decodeTensor(fs.readFileSync(file));
            const back = decodeTensor(encodeTensor(t));
            assert.equal(back.type, t.type);
            assert.deepEqual(back.dims, t.dims);
            assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
            decoded++;
          } catch (e) {
            failures.push(`${path.relative(DATA, file)}: ${(e as Error).message}`);
          }
        }
      }
    }
    console.log(`    ${decoded} tensor .pb files decode and re-encode; ${excluded.length} excluded (non-tensor values):`);
    for (const x of excluded) console.log(`      ${x}`);
    assert.ok(decoded > 2500, `only ${decoded} decoded`);
    assert.deepEqual(failures, []);
  });
});
