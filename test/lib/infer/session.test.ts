import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { onnx } from 'onnx-proto';
import { InputError } from '../../../lib/errors';
import { Session, loadRuntime, runtimeInfo } from '../../../lib/infer/session';
import { GraphBuilder } from '../../../lib/onnx/builder';
import { OnnxModel, makeValueInfo } from '../../../lib/onnx/model';
import { makeTensor } from '../../../lib/onnx/tensor';

/** y = x·W + b (W [3, 2] given), h = relu(x·W1) kept as an internal value. */
function smallModel(): OnnxModel {
  const b = new GraphBuilder({ name: 'small', seed: 1 });
  const x = b.input('x', ['batch', 3]);
  const h = b.dense(x, 2, { name: 'h', weight: [1, -1, 2, 0, 0, 1], bias: false, activation: 'relu' });
  b.output(b.dense(h, 1, { name: 'o', weight: [1, 10], bias: [0.5] }), 'y');
  b.output(b.dense(x, 2, { name: 'aux', weight: [1, 0, 0, 1, 0, 0], bias: false }), 'z');
  return b.build();
}

/** By hand: h = relu([x0 + 2 x1, -x0 + x2]); y = h0 + 10 h1 + 0.5; z = [x0, x1]. */
function expectSmall(x: number[]): { y: number; z: number[]; h: number[] } {
  const h = [Math.max(0, x[0] + 2 * x[1]), Math.max(0, -x[0] + x[2])];
  return { y: h[0] + 10 * h[1] + 0.5, z: [x[0], x[1]], h };
}

function close(a: ArrayLike<number | bigint>, b: number[], tol = 1e-5): void {
  const av = Array.from(a, Number);
  assert.equal(av.length, b.length);
  av.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol + tol * Math.abs(b[i]), `[${i}] ${v} vs ${b[i]}`));
}

describe('lib/infer/session', () => {
  const sessions: Session[] = [];
  afterEach(async () => {
    for (const s of sessions.splice(0)) await s.release();
  });
  async function open(...args: Parameters<typeof Session.create>): Promise<Session> {
    const s = await Session.create(...args);
    sessions.push(s);
    return s;
  }

  it('uses the bundled onnxruntime-node 1.17.0 with the CPU provider', () => {
    const info = runtimeInfo();
    assert.equal(info.version, '1.17.0');
    assert.deepEqual(info.providers, ['cpu']);
    assert.equal(loadRuntime(), loadRuntime(), 'loaded once');
  });

  it('creates a session from an OnnxModel, bytes and a file; runs with named inputs and outputs', async () => {
    const m = smallModel();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'session-test-'));
    const file = path.join(dir, 'small.onnx');
    m.save(file);
    const x = [1, 2, 3, -1, 0.5, 4];
    for (const src of [m, m.toBuffer(), file]) {
      const s = await open(src, { intraOpThreads: 1, interOpThreads: 1 });
      assert.deepEqual(s.inputNames, ['x']);
      assert.deepEqual(s.outputNames, ['y', 'z']);
      assert.deepEqual(s.inputs, [{ name: 'x', type: 'float32', shape: ['batch', 3] }]);
      const out = await s.run({ x: { dims: [2, 3], data: x } });
      const e0 = expectSmall(x.slice(0, 3)), e1 = expectSmall(x.slice(3));
      assert.deepEqual(out.y.dims, [2, 1]);
      assert.equal(out.y.type, 'float32');
      close(out.y.data as Float32Array, [e0.y, e1.y]);
      close(out.z.data as Float32Array, [...e0.z, ...e1.z]);
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('returns exactly the outputs asked for, under their own names (works around ORT mislabelling fetches)', async () => {
    const s = await open(smallModel());
    const x = [3, 1, 2];
    const e = expectSmall(x);
    const onlyZ = await s.run({ x: { dims: [1, 3], data: new Float32Array(x) } }, ['z']);
    assert.deepEqual(Object.keys(onlyZ), ['z']);
    close(onlyZ.z.data as Float32Array, e.z);
    const both = await s.run({ x: { dims: [1, 3], data: x } }, ['z', 'y']);
    close(both.y.data as Float32Array, [e.y]);
    close(both.z.data as Float32Array, e.z);
    await assert.rejects(s.run({ x: { dims: [1, 3], data: x } }, ['nope']), /outputs: expected names among \[y, z\], got string "nope"/);
  });

  it('runs a batch of samples with and without the batch axis, splitting the results back', async () => {
    const s = await open(smallModel());
    const samples = [[1, 2, 3], [0, -1, 5], [2, 2, 2]];
    const res = await s.runBatch([
      { x: { dims: [3], data: samples[0] } },
      { x: { dims: [2, 3], data: new Float32Array([...samples[1], ...samples[2]]) } },
    ]);
    assert.equal(res.length, 2);
    assert.deepEqual(res[0].y.dims, [1], 'no batch axis in, none out');
    close(res[0].y.data as Float32Array, [expectSmall(samples[0]).y]);
    assert.deepEqual(res[1].y.dims, [2, 1]);
    close(res[1].y.data as Float32Array, [expectSmall(samples[1]).y, expectSmall(samples[2]).y]);
    close(res[1].z.data as Float32Array, [...expectSmall(samples[1]).z, ...expectSmall(samples[2]).z]);
    await assert.rejects(s.runBatch([]), /samples: expected a non-empty array/);
    await assert.rejects(s.runBatch([{ x: { dims: [1, 3], data: [1, 2, 3] } }, { x: { dims: [1, 4], data: [1, 2, 3, 4] } }]), /samples\[1\]\.x: expected shape \[k, 3\] like samples\[0\]/);
    await assert.rejects(s.runBatch([{ y: { dims: [3], data: [1, 2, 3] } } as never]), /samples\[0\]\.x: .*missing input/);
  });

  it('reads intermediate activations through extra outputs on a copy of the model', async () => {
    const m = smallModel();
    const before = m.toBuffer();
    const s = await open(m);
    const x = [1, 2, -4];
    const acts = await s.activations({ x: { dims: [1, 3], data: x } }, ['h_relu', 'h_matmul', 'y']);
    assert.deepEqual(Object.keys(acts), ['h_relu', 'h_matmul', 'y']);
    const e = expectSmall(x);
    close(acts.h_relu.data as Float32Array, e.h);
    close(acts.h_matmul.data as Float32Array, [x[0] + 2 * x[1], -x[0] + x[2]]);
    close(acts.y.data as Float32Array, [e.y]);
    // the model itself is unchanged, and the plain run still has its own outputs only
    assert.ok(m.toBuffer().equals(before));
    assert.deepEqual(Object.keys(await s.run({ x: { dims: [1, 3], data: x } })), ['y', 'z']);
    // all intermediates by default
    const all = await s.activations({ x: { dims: [1, 3], data: x } });
    assert.deepEqual(Object.keys(all).sort(), [...m.intermediateNames].sort());
    await assert.rejects(s.activations({ x: { dims: [1, 3], data: x } }, ['not_there']), (e2: Error) => {
      assert.ok(e2 instanceof InputError);
      assert.match(e2.message, /names: expected values produced by the model's nodes \(e\.g\. .*h_matmul.*\), got string "not_there" \(no node produces this value\)/);
      return true;
    });
  });

  it('refuses bad feeds with errors naming the input, the expected and the received shape', async () => {
    const s = await open(smallModel());
    const cases: [unknown, RegExp][] = [
      [{ x: { dims: [2, 4], data: new Float32Array(8) } }, /inputs\.x: expected float32 tensor of shape \[batch, 3\], got Float32Array of length 8 \(shape \[2, 4\]: axis 1 is 4, the model takes 3\)/],
      [{ x: { dims: [3], data: [1, 2, 3] } }, /inputs\.x: .*shape \[3\] has rank 1, the model takes rank 2/],
      [{ x: { dims: [2, 3], data: [1, 2, 3] } }, /inputs\.x: .*3 values do not fit shape \[2, 3\] \(6 needed\)/],
      [{ x: { type: 'int32', dims: [1, 3], data: new Int32Array(3) } }, /inputs\.x: .*element type int32, the model takes float32/],
      [{}, /inputs\.x: expected float32 tensor of shape \[batch, 3\], got undefined \(missing input\)/],
      [{ x: { dims: [1, 3], data: [1, 2, 3] }, w: 1 }, /inputs\.w: expected one of the model's inputs \[x\], got 1 \(unknown input name\)/],
      [{ x: [1, 2, 3] }, /inputs\.x: expected float32 tensor of shape \[batch, 3\] \(\{ dims, data \}\)/],
      [null, /inputs: expected an object of named tensors, got null/],
    ];
    for (const [feeds, re] of cases) {
      await assert.rejects(s.run(feeds as never), (e: Error) => {
        assert.ok(e instanceof InputError, `${e.name}: ${e.message}`);
        assert.match(e.message, re);
        return true;
      });
    }
    // still works after refusing
    const out = await s.run({ x: { dims: [1, 3], data: [1, 2, 3] } });
    close(out.y.data as Float32Array, [expectSmall([1, 2, 3]).y]);
  });

  it('checks that a symbolic dimension agrees across inputs', async () => {
    const b = new GraphBuilder();
    const a = b.input('a', ['batch', 2]);
    const c = b.input('c', ['batch', 2]);
    b.output(b.add(a, c), 'sum');
    const s = await open(b.build());
    await assert.rejects(
      s.run({ a: { dims: [2, 2], data: [1, 2, 3, 4] }, c: { dims: [3, 2], data: [1, 2, 3, 4, 5, 6] } }),
      /inputs\.c: .*axis 0 \('batch'\) is 3 but 'batch' is 2 in input 'a'/,
    );
    const ok = await s.run({ a: { dims: [1, 2], data: [1, 2] }, c: { dims: [1, 2], data: [10, 20] } });
    close(ok.sum.data as Float32Array, [11, 22]);
  });

  it('picks execution providers: unavailable ones are skipped with a note, cpu is the fallback', async () => {
    const s = await open(smallModel(), { executionProviders: ['cuda', 'tensorrt'] });
    assert.deepEqual(s.providers, ['cpu']);
    assert.equal(s.notes.length, 2);
    assert.match(s.notes[0], /execution provider 'cuda' is not available in onnxruntime-node 1\.17\.0 \(has: cpu\); skipped/);
    const prev = process.env.INDUSTRIAL_AI_ORT_PROVIDERS;
    process.env.INDUSTRIAL_AI_ORT_PROVIDERS = 'dml, cpu';
    try {
      const t = await open(smallModel());
      assert.deepEqual(t.providers, ['cpu']);
      assert.match(t.notes[0], /'dml' is not available/);
    } finally {
      if (prev === undefined) delete process.env.INDUSTRIAL_AI_ORT_PROVIDERS;
      else process.env.INDUSTRIAL_AI_ORT_PROVIDERS = prev;
    }
    assert.throws(() => loadRuntime('/nonexistent/dir'), /cannot find onnxruntime-node from '\/nonexistent\/dir'/);
    const here = runtimeInfo(path.resolve('node_modules/onnxruntime-node'));
    assert.equal(here.version, '1.17.0');
    await assert.rejects(Session.create(smallModel(), { intraOpThreads: -1 }), /options\.intraOpThreads: expected a non-negative integer/);
  });

  it('reports a model ORT cannot load, with the model named', async () => {
    const m = new OnnxModel(smallModel().proto);
    m.addNode({ opType: 'NoSuchOp', inputs: ['y'], outputs: ['q'] });
    m.addOutput('q', 'float32');
    m.source = 'broken.onnx';
    await assert.rejects(Session.create(m), /ONNX Runtime could not load broken\.onnx: .*NoSuchOp/);
    await assert.rejects(Session.create(Buffer.from('{"not":"onnx"}')), /not an ONNX model: the bytes look like JSON text/);
    // an op newer than the model's opset (Gelu arrived in opset 20)
    const gelu = (opset: number): OnnxModel => new OnnxModel({
      irVersion: 8, opsetImport: [{ domain: '', version: opset }],
      graph: { name: 'g', node: [{ opType: 'Gelu', input: ['x'], output: ['y'] }], input: [makeValueInfo('x', 'float32', [1, 2])], output: [makeValueInfo('y', 'float32', [1, 2])] },
    }, `gelu-opset${opset}.onnx`);
    await assert.rejects(Session.create(gelu(13)), /ONNX Runtime could not load gelu-opset13\.onnx: .*No Op registered for Gelu with domain_version of 13/);
    const ok = await open(gelu(20));
    const y = (await ok.run({ x: { dims: [1, 2], data: [0, 1] } })).y.data as Float32Array;
    close(y, [0, 0.8413447]); // x·Φ(x): Φ(1) = 0.8413447
  });

  it('release frees the session; running after release fails; releasing twice is fine', async () => {
    const s = await Session.create(smallModel());
    await s.activations({ x: { dims: [1, 3], data: [1, 2, 3] } }, ['h_relu']);
    await s.release();
    assert.equal(s.closed, true);
    await assert.rejects(s.run({ x: { dims: [1, 3], data: [1, 2, 3] } }), /session was released/);
    await assert.rejects(s.activations({ x: { dims: [1, 3], data: [1, 2, 3] } }, ['h_relu']), /session was released/);
    await s.release();
  });

  describe('int8 kernels in onnxruntime-node 1.17.0', () => {
    /** numpy-style round half to even. */
    const rint = (v: number): number => {
      const f = Math.floor(v);
      const d = v - f;
      return d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
    };
    const sat = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

    function model(nodes: onnx.INodeProto[], inits: ReturnType<typeof makeTensor>[], inputs: onnx.ValueInfoProto[], outputs: onnx.ValueInfoProto[], opset = 13): OnnxModel {
      const m = new OnnxModel({ irVersion: 8, opsetImport: [{ domain: '', version: opset }], graph: { name: 'q', node: nodes, input: inputs, output: outputs } });
      for (const t of inits) m.setInitializer(t);
      assert.deepEqual(m.validate(), []);
      return m;
    }

    it('DynamicQuantizeLinear → MatMulInteger → Cast → Mul (the dynamic int8 pattern) gives the integer results computed by hand', async () => {
      const W = [[3, -7], [127, -128], [0, 5]]; // int8 [3, 2]
      const wScale = 0.02;
      const m = model(
        [
          { opType: 'DynamicQuantizeLinear', input: ['x'], output: ['xq', 'xs', 'xzp'] },
          { opType: 'MatMulInteger', input: ['xq', 'W', 'xzp'], output: ['acc'] },
          { opType: 'Cast', input: ['acc'], output: ['accf'], attribute: [{ name: 'to', type: 2, i: 1 }] },
          { opType: 'Mul', input: ['xs', 'ws'], output: ['scale'] },
          { opType: 'Mul', input: ['accf', 'scale'], output: ['y'] },
        ],
        [makeTensor('int8', [3, 2], W.flat(), 'W'), makeTensor('float32', [], [wScale], 'ws')],
        [makeValueInfo('x', 'float32', ['batch', 3])],
        [makeValueInfo('y', 'float32', ['batch', 2]), makeValueInfo('xq', 'uint8', ['batch', 3]), makeValueInfo('xs', 'float32', []), makeValueInfo('xzp', 'uint8', []), makeValueInfo('acc', 'int32', ['batch', 2])],
      );
      const s = await open(m);
      const x = [0.5, -1.2, 2.3, 0.05, 1.0, -0.3];
      const out = await s.run({ x: { dims: [2, 3], data: x } });
      // ONNX DynamicQuantizeLinear: range includes 0, uint8, zero point rounded half to even
      const lo = Math.min(0, ...x), hi = Math.max(0, ...x);
      const scale = Math.fround((hi - lo) / 255);
      const zp = sat(rint(-lo / scale), 0, 255);
      const xq = x.map((v) => sat(rint(v / scale) + zp, 0, 255));
      close(out.xs.data as Float32Array, [scale], 1e-7);
      assert.deepEqual(Array.from(out.xzp.data as Uint8Array), [zp]);
      assert.deepEqual(Array.from(out.xq.data as Uint8Array), xq);
      const acc = [0, 1].flatMap((r) => [0, 1].map((j) => [0, 1, 2].reduce((a, k) => a + (xq[r * 3 + k] - zp) * W[k][j], 0)));
      assert.ok(out.acc.data instanceof Int32Array);
      assert.deepEqual(Array.from(out.acc.data), acc);
      close(out.y.data as Float32Array, acc.map((v) => v * scale * wScale), 1e-5);
      // and y approximates the float product
      const yf = [0, 1].flatMap((r) => [0, 1].map((j) => [0, 1, 2].reduce((a, k) => a + x[r * 3 + k] * W[k][j] * wScale, 0)));
      close(out.y.data as Float32Array, yf, 0.05);
    });

    const A = [10, 200, 37, 128, 0, 255]; // u8 [2, 3]
    const B = [1, -2, 3, 4, -5, 6]; // s8 [3, 2]
    const aS = 0.05, aZ = 128, bS = 0.1, bZ = 0, yS = 0.2, yZ = 100;
    const qInits = (): ReturnType<typeof makeTensor>[] => [
      makeTensor('float32', [], [aS], 'as'), makeTensor('uint8', [], [aZ], 'az'), makeTensor('int8', [3, 2], B, 'B'),
      makeTensor('float32', [], [bS], 'bs'), makeTensor('int8', [], [bZ], 'bz'), makeTensor('float32', [], [yS], 'ys'), makeTensor('uint8', [], [yZ], 'yz'),
    ];
    const qlinear: onnx.INodeProto = { opType: 'QLinearMatMul', input: ['a', 'as', 'az', 'B', 'bs', 'bz', 'ys', 'yz'], output: ['y'] };
    const expectedY = (): number[] => [0, 1].flatMap((r) => [0, 1].map((j) => {
      const acc = [0, 1, 2].reduce((sum, k) => sum + (A[r * 3 + k] - aZ) * (B[k * 2 + j] - bZ), 0);
      return sat(rint((acc * aS * bS) / yS) + yZ, 0, 255);
    }));
    const nearY = (y: number[]): void => {
      const e = expectedY();
      y.forEach((v, i) => assert.ok(Math.abs(v - e[i]) <= 1, `QLinearMatMul[${i}] ${v} vs ${e[i]} (±1 for fixed-point requantisation)`));
    };

    it('QLinearMatMul (u8 × s8 → u8) agrees with the formula', async () => {
      const m = model([qlinear], qInits(), [makeValueInfo('a', 'uint8', [2, 3])], [makeValueInfo('y', 'uint8', [2, 2])]);
      const s = await open(m);
      const out = await s.run({ a: makeTensor('uint8', [2, 3], A) });
      assert.ok(out.y.data instanceof Uint8Array);
      nearY(Array.from(out.y.data));
    });

    it('QuantizeLinear / DequantizeLinear agree with the formulas (round half to even, saturation)', async () => {
      const m = model(
        [
          { opType: 'QuantizeLinear', input: ['x', 'ys', 'yz'], output: ['q'] },
          { opType: 'DequantizeLinear', input: ['q', 'ys', 'yz'], output: ['d'] },
        ],
        [makeTensor('float32', [], [yS], 'ys'), makeTensor('uint8', [], [yZ], 'yz')],
        [makeValueInfo('x', 'float32', [6])],
        [makeValueInfo('q', 'uint8', [6]), makeValueInfo('d', 'float32', [6])],
      );
      const s = await open(m);
      const x = [0.1, 0.3, -20, 40, 1.234, -0.5];
      const out = await s.run({ x: { dims: [6], data: x } });
      // x / scale in float32, as the kernel computes it (0.3f / 0.2f is 1.5000000x: rounds to 2)
      const q = x.map((v) => sat(rint(Math.fround(Math.fround(v) / Math.fround(yS))) + yZ, 0, 255));
      assert.deepEqual(Array.from(out.q.data as Uint8Array), q);
      close(out.d.data as Float32Array, q.map((v) => (v - yZ) * yS));
    });

    it('activations of a QLinearMatMul → DequantizeLinear → QuantizeLinear chain (ORT optimiser breaks when these are outputs)', async () => {
      // With graph optimisation 'extended' or 'all', ONNX Runtime (1.17.0 and 1.30.0 alike) refuses
      // this graph when 'y' or 'yf' is a graph output ("Node input 'y' is not a graph input ...")
      // or crashes the process (SIGSEGV). activations() therefore runs its copy unoptimised.
      const m = model(
        [qlinear, { opType: 'DequantizeLinear', input: ['y', 'ys', 'yz'], output: ['yf'] }, { opType: 'QuantizeLinear', input: ['yf', 'ys', 'yz'], output: ['yq'] }],
        qInits(), [makeValueInfo('a', 'uint8', [2, 3])], [makeValueInfo('yq', 'uint8', [2, 2])],
      );
      const s = await open(m);
      const main = await s.run({ a: makeTensor('uint8', [2, 3], A) });
      const acts = await s.activations({ a: makeTensor('uint8', [2, 3], A) }, ['y', 'yf', 'yq']);
      const y = Array.from(acts.y.data as Uint8Array);
      nearY(y);
      close(acts.yf.data as Float32Array, y.map((v) => (v - yZ) * yS));
      assert.deepEqual(Array.from(main.yq.data as Uint8Array), y);
      assert.deepEqual(Array.from(acts.yq.data as Uint8Array), y);
      // the same copy as a model of its own: the wrapper falls back to 'basic' optimisation, with a note
      const exposed = m.clone();
      exposed.addOutput('y', 'uint8', [2, 2]);
      exposed.addOutput('yf', 'float32', [2, 2]);
      const t = await open(exposed);
      assert.match(t.notes.join('\n'), /graph optimisation 'all' broke the model \(.*Node input 'y'.*\); using 'basic'/);
      assert.deepEqual(Array.from((await t.run({ a: makeTensor('uint8', [2, 3], A) })).y.data as Uint8Array), y);
      await assert.rejects(Session.create(exposed, { graphOptimizationLevel: 'all' }), /ONNX Runtime could not load .*Node input 'y' is not a graph input/);
    });

    it('ConvInteger (u8 input, s8/u8 weights with zero points) gives exact int32 results', async () => {
      const X = [3, 0, 255, 17, 9, 100, 42]; // u8 [1, 1, 7]
      const Wt = [2, 5, 7]; // u8 [1, 1, 3]
      const xz = 10, wz = 4;
      const m = model(
        [{ opType: 'ConvInteger', input: ['x', 'w', 'xz', 'wz'], output: ['y'], attribute: [{ name: 'kernel_shape', type: 7, ints: [3] }, { name: 'strides', type: 7, ints: [2] }] }],
        [makeTensor('uint8', [1, 1, 3], Wt, 'w'), makeTensor('uint8', [], [xz], 'xz'), makeTensor('uint8', [], [wz], 'wz')],
        [makeValueInfo('x', 'uint8', [1, 1, 7])],
        [makeValueInfo('y', 'int32', [1, 1, 3])],
      );
      const s = await open(m);
      const out = await s.run({ x: makeTensor('uint8', [1, 1, 7], X) });
      const expected = [0, 1, 2].map((o) => [0, 1, 2].reduce((a, k) => a + (X[o * 2 + k] - xz) * (Wt[k] - wz), 0));
      assert.deepEqual(out.y.dims, [1, 1, 3]);
      assert.deepEqual(Array.from(out.y.data as Int32Array), expected);
    });

    it('runs opset 20 models (the highest 1.17 implements) and refuses opset 21 before ORT sees it', async () => {
      const b = new GraphBuilder({ opset: 20 });
      b.output(b.dense(b.input('x', [1, 2]), 1, { weight: [2, 3], bias: [1] }), 'y');
      const m20 = b.build();
      const s = await open(m20);
      close((await s.run({ x: { dims: [1, 2], data: [1, 1] } })).y.data as Float32Array, [6]);
      const p = onnx.ModelProto.decode(m20.toBuffer());
      p.opsetImport![0].version = 21;
      const bytes = Buffer.from(onnx.ModelProto.encode(p).finish());
      await assert.rejects(Session.create(bytes), /unsupported opset 21 \(ai\.onnx opsets 1–20 are supported; ONNX Runtime 1\.17 implements up to 20\)/);
      // ORT itself refuses it too (so the limit is real, not ours)
      await assert.rejects(Session.create(OnnxModel.fromBuffer(bytes, { validate: false })), /ONNX Runtime could not load .*opset 21/i);
    });
  });
});
