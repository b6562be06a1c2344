/**
 * PyTorch-exported models from ONNX's conformance data (Debian package libonnx-testdata): every
 * optimised model must load in ONNX Runtime and stay within the stated tolerance of PyTorch's own
 * output (output_0.pb): int8 within 3 % of the output's largest magnitude (+1e-3 absolute).
 */
import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import { decodeTensor } from '../../../lib/onnx/tensor';
import { optimize, type OptimizeOptions } from '../../../lib/optimize/optimize';
import { maxAbs, maxAbsDiff, opTypes, runOrt } from './helpers';

const DIR = '/usr/share/libonnx-testdata/data/pytorch-converted';
const MODELS = ['test_Linear', 'test_Linear_no_bias', 'test_Conv1d', 'test_Conv1d_stride', 'test_Conv2d', 'test_Conv2d_no_bias', 'test_Conv2d_padding', 'test_Conv2d_groups', 'test_Conv2d_depthwise', 'test_Conv3d'];
const CHAINS: Array<[string, (cal: OptimizeOptions['calibration']) => OptimizeOptions]> = [
  ['int8 dynamic', () => ({ int8: { mode: 'dynamic' } })],
  ['int8 static calibrated', (calibration) => ({ int8: { mode: 'static' }, calibration })],
  ['int8 static per-channel', (calibration) => ({ int8: { mode: 'static', perChannel: true }, calibration })],
];

describe('optimize: PyTorch-exported conformance models', function () {
  if (!fs.existsSync(DIR)) {
    it(`skipped: ${DIR} is absent (install the Debian package libonnx-testdata)`, function () {
      console.log(`      (skipped: ${DIR} not installed)`);
      this.skip();
    });
    return;
  }
  for (const name of MODELS) {
    const dir = path.join(DIR, name);
    if (!fs.existsSync(dir)) continue;
    for (const [label, chain] of CHAINS) {
      it(`${name}: ${label}`, async () => {
        const model = fs.readFileSync(path.join(dir, 'model.onnx'));
        const x = decodeTensor(fs.readFileSync(path.join(dir, 'test_data_set_0', 'input_0.pb')));
        const y = decodeTensor(fs.readFileSync(path.join(dir, 'test_data_set_0', 'output_0.pb')));
        const feeds = { '0': { shape: x.dims, data: x.data as Float32Array } };
        const { model: out, report } = await optimize(model, { ...chain({ inputs: feeds }), latency: false });
        assert.ok(report.steps.quantized!.length >= 1, 'nothing quantized');
        const ops = opTypes(out);
        if (label === 'int8 dynamic') assert.ok(ops.includes('MatMulInteger') || ops.includes('ConvInteger'), ops.join(','));
        else assert.ok(ops.includes('QuantizeLinear') && ops.includes('DequantizeLinear'));
        const got = Object.values(await runOrt(out, feeds))[0];
        assert.deepEqual(got.dims, y.dims);
        const diff = maxAbsDiff(got.data, y.data as Float32Array);
        const tol = 0.03 * maxAbs(y.data as Float32Array) + 1e-3;
        assert.ok(diff <= tol, `max |Δ| ${diff} > ${tol}`);
      });
    }
  }
});
