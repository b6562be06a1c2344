import { strict as assert } from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main } from '../../../lib/optimize/cli';
import { buildMlp } from '../../../tools/build-boiler-model';
import { opTypes } from './helpers';

function io(isTTY = false) {
  const o = { out: '', err: '', isTTY };
  return { o, io: { out: (s: string) => { o.out += s; }, err: (s: string) => { o.err += s; }, isTTY } };
}

describe('optimize: CLI (industrial-ai optimize)', () => {
  let dir: string;
  let input: string;
  const model = buildMlp([8, 64, 32, 1], { seed: 4, outputName: 'y' });
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pq-cli-'));
    input = path.join(dir, 'in.onnx');
    fs.writeFileSync(input, model);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('--help prints the usage and exits 0', async () => {
    const { o, io: cio } = io();
    assert.equal(await main(['--help'], cio), 0);
    assert.match(o.out, /Usage: industrial-ai optimize <in.onnx> -o <out.onnx>/);
    assert.match(o.out, /--prune-l1 T/);
  });

  it('optimises with a chain, shows progress, writes the model and the report, leaves the input alone', async () => {
    const out = path.join(dir, 'out.onnx');
    const report = path.join(dir, 'report.json');
    const calib = path.join(dir, 'calib.json');
    fs.writeFileSync(calib, JSON.stringify({ inputs: { features: { shape: [4, 8], data: Array.from({ length: 32 }, (_, i) => Math.sin(i)) } } }));
    const { o, io: cio } = io(true);
    const code = await main(['optimize', input, '-o', out, '--prune-l1', '0.3', '--lowrank', '8', '--int8', 'static', '--calib', calib, '--report', report, '--repeats', '2'], cio);
    assert.equal(code, 0, o.err);
    assert.match(o.err, /\[#+-*\] +\d+% /); // the progress bar
    assert.match(o.out, /wrote .*out\.onnx/);
    assert.match(o.out, /latency batch 1: /);
    assert.deepEqual(fs.readFileSync(input), model);
    const ops = opTypes(fs.readFileSync(out));
    assert.ok(ops.includes('QuantizeLinear'));
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    assert.equal(r.optimized.bytes, fs.statSync(out).size);
    assert.ok(r.original.latencyMs.batch1 > 0 && r.optimized.latencyMs.batch32 > 0);
    assert.ok(Array.isArray(r.steps.quantized) && r.steps.quantized.length > 0);
  });

  it('refuses to overwrite the input, and reports bad flags and bad data clearly', async () => {
    let c = io();
    assert.equal(await main(['optimize', input, '-o', input, '--int8', 'dynamic'], c.io), 1);
    assert.match(c.o.err, /never overwritten/);
    assert.deepEqual(fs.readFileSync(input), model);
    c = io();
    assert.equal(await main(['optimize', input, '-o', path.join(dir, 'x.onnx'), '--int8', 'fast'], c.io), 2);
    assert.match(c.o.err, /--int8: expected 'dynamic' or 'static', got 'fast'/);
    c = io();
    assert.equal(await main(['optimize', input, '-o', path.join(dir, 'x.onnx'), '--prune-l1', '1.3', '--no-latency'], c.io), 1);
    assert.match(c.o.err, /prune.threshold: expected a number in \[0, 1\)/);
    c = io();
    const bad = path.join(dir, 'bad.json');
    fs.writeFileSync(bad, JSON.stringify({ inputs: { features: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } } }));
    assert.equal(await main(['optimize', input, '-o', path.join(dir, 'x.onnx'), '--int8', 'static', '--calib', bad, '--no-latency'], c.io), 1);
    assert.match(c.o.err, /calibration.inputs.features.shape: expected shape \[\?, 8\], got string "\[2, 3\]"/);
    c = io();
    const notOnnx = path.join(dir, 'not.onnx');
    fs.writeFileSync(notOnnx, '{"hello": "json"}');
    assert.equal(await main(['optimize', notOnnx, '-o', path.join(dir, 'x.onnx'), '--int8', 'dynamic', '-q'], c.io), 1);
    assert.match(c.o.err, /model: expected an ONNX model/);
    assert.equal(fs.existsSync(path.join(dir, 'x.onnx')), false);
    c = io();
    assert.equal(await main(['optimize', '-o', 'y.onnx'], c.io), 2);
    assert.match(c.o.err, /no input model given/);
  });

  it('fine-tunes with --finetune-epochs / --train / --lr / --batch-size, and refuses incomplete or bad fine-tuning flags', async () => {
    const out = path.join(dir, 'ft.onnx');
    const report = path.join(dir, 'ft-report.json');
    const train = path.join(dir, 'train.json');
    const n = 16;
    const xs = Array.from({ length: n * 8 }, (_, i) => Math.sin(i * 0.7));
    const ys = Array.from({ length: n }, (_, s) => xs[s * 8] - 0.5 * xs[s * 8 + 1]);
    fs.writeFileSync(train, JSON.stringify({ inputs: { features: { shape: [n, 8], data: xs } }, expected: { y: { shape: [n, 1], data: ys } } }));
    let c = io();
    const code = await main(['optimize', input, '-o', out, '--prune-keep', '8', '--finetune-epochs', '3', '--train', train, '--lr', '0.005', '--batch-size', '8', '--int8', 'dynamic', '--no-latency', '--report', report], c.io);
    assert.equal(code, 0, c.o.err);
    assert.match(c.o.out, /fine-tuning: 3 epochs on 16 samples \(lr 0\.005, batch 8, /);
    assert.match(c.o.err, /fine-tuning epoch 1\/3/);
    const r = JSON.parse(fs.readFileSync(report, 'utf8'));
    assert.equal(r.steps.finetune.history.length, 3);
    assert.equal(r.steps.finetune.batchSize, 8);
    assert.ok(r.steps.finetune.lossAfter < r.steps.finetune.lossBefore);
    assert.ok(opTypes(fs.readFileSync(out)).includes('MatMulInteger'));
    c = io();
    assert.equal(await main(['optimize', input, '-o', out, '--prune-keep', '8', '--train', train], c.io), 2);
    assert.match(c.o.err, /--train is for fine-tuning: give --finetune-epochs N too/);
    c = io();
    assert.equal(await main(['optimize', input, '-o', out, '--prune-keep', '8', '--finetune-epochs', '2'], c.io), 2);
    assert.match(c.o.err, /--finetune-epochs needs training data \(--train data.json\)/);
    c = io();
    assert.equal(await main(['optimize', input, '-o', out, '--prune-keep', '8', '--lr', '0.1'], c.io), 2);
    assert.match(c.o.err, /--lr and --batch-size are fine-tuning options/);
    c = io();
    const bad = path.join(dir, 'train-bad.json');
    fs.writeFileSync(bad, JSON.stringify({ inputs: { features: { shape: [2, 8], data: xs.slice(0, 16) } } }));
    assert.equal(await main(['optimize', input, '-o', out, '--prune-keep', '8', '--finetune-epochs', '2', '--train', bad, '-q'], c.io), 1);
    assert.match(c.o.err, /training.expected: expected target outputs or class labels/);
  });
});
