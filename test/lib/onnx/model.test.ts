import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import Long from 'long';
import { onnx } from 'onnx-proto';
import { MAX_OPSET, OnnxFormatError, OnnxModel, attr, loadModel, makeValueInfo } from '../../../lib/onnx/model';
import { decodeTensor, encodeTensor, makeTensor, tensorFromProto, tensorToProto, toBigInt, toNumber } from '../../../lib/onnx/tensor';

const DATA = '/usr/share/libonnx-testdata/data';
const hasData = fs.existsSync(DATA);

/** A small hand-made model: y = Relu(x · W + B), W [3, 2] stored with float_data, B with raw_data. */
function tinyModel(opset = 13): onnx.ModelProto {
  const rawB = new Float32Array([0.5, -1]);
  return new onnx.ModelProto({
    irVersion: 8,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'test',
    graph: {
      name: 'tiny',
      node: [
        { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'mm' },
        { opType: 'Add', input: ['xw', 'B'], output: ['z'], name: 'add' },
        { opType: 'Relu', input: ['z'], output: ['y'], name: 'relu' },
      ],
      initializer: [
        { name: 'W', dataType: 1, dims: [3, 2], floatData: [1, 2, 3, 4, 5, 6] },
        { name: 'B', dataType: 1, dims: [2], rawData: new Uint8Array(rawB.buffer) },
      ],
      input: [makeValueInfo('x', 'float32', ['batch', 3])],
      output: [makeValueInfo('y', 'float32', ['batch', 2])],
    },
  });
}

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'onnx-model-test-'));
}

describe('lib/onnx/tensor', () => {
  it('decodes raw_data at an unaligned offset by copying', () => {
    const values = new Float32Array([1.5, -2.25, 3e-8, 1e30]);
    const bytes = new Uint8Array(values.byteLength + 1);
    bytes.set(new Uint8Array(values.buffer), 1); // offset 1: a Float32Array view would throw
    const t = tensorFromProto({ name: 'w', dataType: 1, dims: [2, 2], rawData: bytes.subarray(1) });
    assert.deepEqual(t.dims, [2, 2]);
    assert.ok(t.data instanceof Float32Array);
    assert.deepEqual(Array.from(t.data as Float32Array), Array.from(values));
  });

  it('decodes typed fields: float_data, int32_data (int8/bool/float16), double_data, int64 Long, uint64_data', () => {
    assert.deepEqual(Array.from(tensorFromProto({ dataType: 1, dims: [3], floatData: [1, 2, 3] }).data as Float32Array), [1, 2, 3]);
    const i8 = tensorFromProto({ dataType: 3, dims: [3], int32Data: [-128, 0, 127] });
    assert.ok(i8.data instanceof Int8Array);
    assert.deepEqual(Array.from(i8.data as Int8Array), [-128, 0, 127]);
    const b = tensorFromProto({ dataType: 9, dims: [2], int32Data: [1, 0] });
    assert.equal(b.type, 'bool');
    assert.deepEqual(Array.from(b.data as Uint8Array), [1, 0]);
    const h = tensorFromProto({ dataType: 10, dims: [1], int32Data: [0x3c00] }); // float16 1.0 bits
    assert.equal(h.type, 'float16');
    assert.deepEqual(Array.from(h.data as Uint16Array), [0x3c00]);
    assert.deepEqual(Array.from(tensorFromProto({ dataType: 11, dims: [2], doubleData: [0.1, 1e300] }).data as Float64Array), [0.1, 1e300]);
    // int64 beyond 2^53 survives exactly as a BigInt
    const big = Long.fromString('-9007199254740993');
    const i64 = tensorFromProto({ dataType: 7, dims: [3], int64Data: [big, Long.fromNumber(5), 7] });
    assert.ok(i64.data instanceof BigInt64Array);
    assert.deepEqual(Array.from(i64.data as BigInt64Array), [-9007199254740993n, 5n, 7n]);
    const u64 = tensorFromProto({ dataType: 13, dims: [1], uint64Data: [Long.fromString('18446744073709551615', true)] });
    assert.deepEqual(Array.from(u64.data as BigUint64Array), [18446744073709551615n]);
    const u32 = tensorFromProto({ dataType: 12, dims: [1], uint64Data: [4294967295] });
    assert.deepEqual(Array.from(u32.data as Uint32Array), [4294967295]);
  });

  it('decodes a scalar, strings, and a Long dims entry', () => {
    const s = tensorFromProto({ dataType: 6, dims: [], int32Data: [42] });
    assert.deepEqual(s.dims, []);
    assert.deepEqual(Array.from(s.data as Int32Array), [42]);
    const str = tensorFromProto({ dataType: 8, dims: [Long.fromNumber(2)], stringData: [Buffer.from('a'), Buffer.from('βγ')] });
    assert.deepEqual(str.data, ['a', 'βγ']);
  });

  it('encodes with raw_data and decodes back to equal values for every numeric type', () => {
    const cases = [
      makeTensor('float32', [2, 2], [1, -2, 3.5, 0]),
      makeTensor('float64', [2], [Math.PI, -1e-300]),
      makeTensor('int8', [3], [-128, 5, 127]),
      makeTensor('uint8', [2], [0, 255]),
      makeTensor('int16', [2], [-32768, 32767]),
      makeTensor('uint16', [1], [65535]),
      makeTensor('int32', [2], [-2147483648, 2147483647]),
      makeTensor('uint32', [1], [4294967295]),
      makeTensor('int64', [2], [-(2n ** 63n), 2n ** 63n - 1n]),
      makeTensor('uint64', [1], [2n ** 64n - 1n]),
      makeTensor('bool', [3], [1, 0, 1]),
      makeTensor('string', [2], ['x', 'yz']),
    ];
    for (const t of cases) {
      const proto = tensorToProto(t, 'n');
      if (t.type !== 'string') assert.ok(proto.rawData.length > 0, `${t.type} uses raw_data`);
      const back = decodeTensor(encodeTensor(t, 'n'));
      assert.equal(back.type, t.type);
      assert.equal(back.name, 'n');
      assert.deepEqual(back.dims, t.dims);
      assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>), t.type);
    }
  });

  it('property: any numeric tensor survives encode → decode, also from typed fields and at an unaligned offset', () => {
    const types = ['float32', 'float64', 'int8', 'uint8', 'int16', 'uint16', 'int32', 'uint32', 'int64', 'uint64', 'bool'] as const;
    const ranges: Record<(typeof types)[number], [number, number]> = {
      float32: [-1e6, 1e6], float64: [-1e12, 1e12], int8: [-128, 127], uint8: [0, 255], int16: [-32768, 32767], uint16: [0, 65535],
      int32: [-2147483648, 2147483647], uint32: [0, 4294967295], int64: [-(2 ** 53), 2 ** 53], uint64: [0, 2 ** 53], bool: [0, 1],
    };
    fc.assert(fc.property(
      fc.constantFrom(...types), fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 3 }), fc.integer({ min: 0, max: 2 ** 31 }),
      (type, dims, seed) => {
        const n = dims.reduce((a, b) => a * b, 1);
        let x = seed;
        const [lo, hi] = ranges[type];
        const values = Array.from({ length: n }, () => {
          x = (Math.imul(x, 1103515245) + 12345) >>> 0;
          const v = lo + (x / 4294967296) * (hi - lo);
          return type === 'float32' ? Math.fround(v) : type === 'float64' ? v : Math.round(v);
        });
        const t = makeTensor(type, dims, type === 'int64' || type === 'uint64' ? values.map(BigInt) : values, 'p');
        const bytes = encodeTensor(t);
        // decode at an odd offset inside a larger buffer, as inside a model file
        const padded = new Uint8Array(bytes.length + 3);
        padded.set(bytes, 3);
        const back = decodeTensor(padded.subarray(3));
        assert.deepEqual(back.dims, dims);
        assert.deepEqual(Array.from(back.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
        // the same values stored in the typed fields instead of raw_data
        const typed: onnx.ITensorProto = { dataType: tensorToProto(t).dataType, dims };
        if (type === 'float32') typed.floatData = values;
        else if (type === 'float64') typed.doubleData = values;
        else if (type === 'int64') typed.int64Data = values.map((v) => Long.fromString(String(v)));
        else if (type === 'uint64' || type === 'uint32') typed.uint64Data = values.map((v) => Long.fromString(String(v), true));
        else typed.int32Data = values;
        const fromTyped = decodeTensor(onnx.TensorProto.encode(typed).finish());
        assert.deepEqual(Array.from(fromTyped.data as ArrayLike<unknown>), Array.from(t.data as ArrayLike<unknown>));
      },
    ), { numRuns: 300 });
  });

  it('rejects data that does not fit the dims, UNDEFINED type, external data and garbage', () => {
    assert.throws(() => tensorFromProto({ name: 'w', dataType: 1, dims: [2, 3], floatData: [1, 2] }), /tensor 'w': 2 stored values for shape \[2, 3\] \(6 needed/);
    assert.throws(() => tensorFromProto({ name: 'w', dataType: 1, dims: [4], rawData: new Uint8Array(15) }), /raw_data has 15 bytes, shape \[4\] of float32 needs 16/);
    assert.throws(() => tensorFromProto({ dataType: 0, dims: [1] }), /UNDEFINED/);
    assert.throws(() => tensorFromProto({ dataType: 99, dims: [1] }), /unknown data type code 99/);
    assert.throws(() => tensorFromProto({ name: 'e', dataType: 1, dims: [1], dataLocation: 1, externalData: [{ key: 'location', value: 'w.bin' }] }), /external file/);
    assert.throws(() => decodeTensor(new Uint8Array([0x0a, 0xff, 0xff, 0xff])), OnnxFormatError);
    assert.throws(() => makeTensor('float32', [2, 2], [1, 2, 3]), /3 values do not fit shape \[2, 2\]/);
  });

  it('converts protobufjs int64 values exactly', () => {
    assert.equal(toNumber(Long.fromNumber(123456789012)), 123456789012);
    assert.equal(toNumber(7), 7);
    assert.equal(toBigInt(Long.fromString('-2')), -2n);
    assert.equal(toBigInt(Long.fromString('-1'), true), 2n ** 64n - 1n);
  });
});

describe('lib/onnx/model: load and inspect', () => {
  it('inspects a hand-made model: inputs, outputs, shapes, ops, opset, parameters, initializers', () => {
    const m = OnnxModel.fromBuffer(onnx.ModelProto.encode(tinyModel()).finish());
    assert.deepEqual(m.inputs, [{ name: 'x', type: 'float32', shape: ['batch', 3] }]);
    assert.deepEqual(m.outputs, [{ name: 'y', type: 'float32', shape: ['batch', 2] }]);
    assert.equal(m.opset, 13);
    assert.equal(m.irVersion, 8);
    assert.deepEqual(m.opCounts(), { MatMul: 1, Add: 1, Relu: 1 });
    assert.deepEqual(m.opTypes, ['Add', 'MatMul', 'Relu']);
    assert.equal(m.parameterCount(), 8);
    assert.deepEqual(m.initializerNames, ['W', 'B']);
    const W = m.getInitializer('W');
    assert.deepEqual(W.dims, [3, 2]);
    assert.deepEqual(Array.from(W.data as Float32Array), [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(Array.from(m.getInitializer('B').data as Float32Array), [0.5, -1]);
    assert.deepEqual(m.initializerInfo('W'), { type: 'float32', dims: [3, 2] });
    assert.deepEqual(m.nodes.map((n) => n.opType), ['MatMul', 'Add', 'Relu']);
    assert.throws(() => m.getInitializer('nope'), /no initializer named 'nope'/);
  });

  (hasData ? it : it.skip)('inspects a conformance model with attributes and an IR 3 model whose initializers are inputs', () => {
    const conv = OnnxModel.load(path.join(DATA, 'node/test_conv_with_strides_padding/model.onnx'));
    assert.deepEqual(conv.inputs.map((i) => [i.name, i.shape]), [['x', [1, 1, 7, 5]], ['W', [1, 1, 3, 3]]]);
    assert.deepEqual(conv.nodes[0].attributes, { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [2, 2] });
    const leaky = OnnxModel.load(path.join(DATA, 'node/test_leakyrelu/model.onnx'));
    assert.equal(leaky.nodes[0].attributes.alpha, Math.fround(0.1));
    // pytorch-converted models are IR 3: every weight is listed among graph inputs too
    const dir = fs.readdirSync(path.join(DATA, 'pytorch-converted')).find((c) => {
      const mm = OnnxModel.load(path.join(DATA, 'pytorch-converted', c, 'model.onnx'));
      return mm.irVersion === 3 && mm.initializerNames.length > 0;
    });
    assert.ok(dir, 'an IR 3 model with initializers exists');
    const m = OnnxModel.load(path.join(DATA, 'pytorch-converted', dir, 'model.onnx'));
    const inits = new Set(m.initializerNames);
    assert.ok(m.proto.graph!.input!.some((v) => inits.has(v.name!)), 'initializers are also graph inputs in the file');
    assert.ok(m.inputs.every((v) => !inits.has(v.name)), 'inputs leave them out');
    let count = 0;
    for (const t of m.initializers()) count += t.data.length;
    assert.equal(m.parameterCount(), count);
  });

  it('owns its data: changing the buffer it was decoded from changes nothing', () => {
    const bytes = Buffer.from(onnx.ModelProto.encode(tinyModel()).finish());
    const m = OnnxModel.fromBuffer(bytes);
    const before = m.toBuffer();
    bytes.fill(0);
    assert.deepEqual(Array.from(m.getInitializer('B').data as Float32Array), [0.5, -1]);
    assert.ok(m.toBuffer().equals(before));
  });

  it('loads from a file, and loadModel takes a path or bytes', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'tiny.onnx');
    fs.writeFileSync(file, onnx.ModelProto.encode(tinyModel()).finish());
    assert.equal(OnnxModel.load(file).source, file);
    assert.equal(loadModel(file).graphName, 'tiny');
    assert.equal(loadModel(fs.readFileSync(file)).graphName, 'tiny');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('lib/onnx/model: bad input gives errors that say what is wrong', () => {
  const good = Buffer.from(onnx.ModelProto.encode(tinyModel()).finish());

  it('a truncated file', () => {
    for (const cut of [good.length - 1, Math.floor(good.length / 2), 20]) {
      assert.throws(() => OnnxModel.fromBuffer(good.subarray(0, cut), { source: 'cut.onnx' }), (e: Error) => {
        assert.ok(e instanceof OnnxFormatError);
        assert.match(e.message, /^cut\.onnx: /);
        assert.match(e.message, /truncated or corrupt ONNX file \(\d+ bytes; protobuf: index out of range/);
        return true;
      });
    }
    // cut exactly at a field boundary, so protobuf still parses: the opset import (encoded after
    // the graph) is gone, and validation says so
    const noOpset = tinyModel();
    noOpset.opsetImport = [];
    const boundary = onnx.ModelProto.encode(noOpset).finish().length;
    assert.ok(good.subarray(0, boundary).equals(Buffer.from(onnx.ModelProto.encode(noOpset).finish())));
    assert.throws(() => OnnxModel.fromBuffer(good.subarray(0, boundary)), /invalid ONNX model: no ai\.onnx opset import, but the graph uses ai\.onnx ops/);
    // a cut inside the graph at a node boundary: nodes go missing, the output is then dangling
    const fewer = tinyModel();
    fewer.graph!.node!.pop();
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(fewer).finish()), /graph output 'y' is not produced/);
  });

  it('random bytes, empty input, a PNG, JSON, a ZIP (.pt) file', () => {
    let seed = 7;
    const rnd = Buffer.alloc(4096);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    assert.throws(() => OnnxModel.fromBuffer(rnd), /corrupt or not an ONNX file|truncated or corrupt|not an ONNX model/);
    assert.throws(() => OnnxModel.fromBuffer(Buffer.alloc(0)), /empty input \(0 bytes\)/);
    const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('0000000dIHDR', 'latin1'), rnd.subarray(0, 64)]);
    assert.throws(() => OnnxModel.fromBuffer(png), /not an ONNX model: the bytes look like a PNG image/);
    assert.throws(() => OnnxModel.fromBuffer(Buffer.from(JSON.stringify({ model: 'x', layers: [1, 2] }))), /not an ONNX model: the bytes look like JSON text/);
    assert.throws(() => OnnxModel.fromBuffer(Buffer.concat([Buffer.from('PK\u0003\u0004', 'latin1'), rnd.subarray(0, 100)])), /ZIP archive/);
    assert.throws(() => OnnxModel.fromBuffer('model.onnx' as unknown as Uint8Array), /expected a Buffer or Uint8Array/);
  });

  it('a missing file is the fs error (ENOENT); pkg: paths resolve inside the package', () => {
    assert.throws(() => OnnxModel.load('/nonexistent/model.onnx'), /ENOENT/);
    assert.throws(() => OnnxModel.load('pkg:models/no-such-model.onnx'), (e: Error) => {
      assert.match(e.message, /ENOENT/);
      assert.ok(e.message.includes(path.join(path.resolve(__dirname, '../../..'), 'models', 'no-such-model.onnx')), e.message);
      return true;
    });
  });

  it('an unsupported opset, and a newer IR version', () => {
    const m21 = onnx.ModelProto.encode(tinyModel(MAX_OPSET + 1)).finish();
    assert.throws(() => OnnxModel.fromBuffer(m21), new RegExp(`unsupported opset ${MAX_OPSET + 1} \\(ai\\.onnx opsets 1–${MAX_OPSET}`));
    assert.equal(OnnxModel.fromBuffer(m21, { validate: false }).opset, MAX_OPSET + 1);
    const ir = tinyModel();
    ir.irVersion = 11;
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(ir).finish()), /IR version 11 is newer than this library reads \(up to 10\)/);
    ir.irVersion = 10;
    const ir10 = OnnxModel.fromBuffer(onnx.ModelProto.encode(ir).finish());
    assert.match(ir10.warnings.join(), /IR version 10 is newer than onnx-proto's 8 .* dropped on save; ONNX Runtime 1\.17 runs IR ≤ 9/);
    assert.deepEqual(new OnnxModel(tinyModel()).warnings, []);
  });

  it('a dangling input, a graph output nothing produces, a value produced twice, bad initializer data', () => {
    const p = tinyModel();
    p.graph!.node![1].input = ['xw', 'Bias'];
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(p).finish()), /node 1 \(Add 'add'\) reads 'Bias', which no graph input, initializer or earlier node provides/);
    const q = tinyModel();
    q.graph!.output!.push(makeValueInfo('missing', 'float32'));
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(q).finish()), /graph output 'missing' is not produced/);
    const r = tinyModel();
    r.graph!.node![2].output = ['xw'];
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(r).finish()), /produces 'xw', which an earlier node already produces/);
    const s = tinyModel();
    s.graph!.initializer![0].floatData = [1, 2];
    assert.throws(() => OnnxModel.fromBuffer(onnx.ModelProto.encode(s).finish()), /tensor 'W': 2 stored values for shape \[3, 2\]/);
  });
});

describe('lib/onnx/model: modify and save', () => {
  it('replaces and adds initializers, keeping file order; removes them', () => {
    const m = new OnnxModel(tinyModel());
    m.setInitializer({ name: 'W', type: 'float32', dims: [3, 1], data: new Float32Array([1, 1, 1]) });
    assert.deepEqual(m.initializerNames, ['W', 'B']);
    assert.deepEqual(m.getInitializer('W').dims, [3, 1]);
    m.setInitializer(makeTensor('int64', [1], [3n]), 'axes');
    assert.deepEqual(m.initializerNames, ['W', 'B', 'axes']);
    assert.deepEqual(Array.from(m.getInitializer('axes').data as BigInt64Array), [3n]);
    assert.equal(m.parameterCount(), 6);
    assert.equal(m.removeInitializer('axes'), true);
    assert.equal(m.removeInitializer('axes'), false);
    assert.throws(() => m.setInitializer(makeTensor('float32', [1], [1])), /needs a name/);
  });

  it('adds and removes nodes with typed attributes', () => {
    const m = new OnnxModel(tinyModel());
    m.removeNode('relu');
    m.addNode({ opType: 'LeakyRelu', inputs: ['z'], outputs: ['y'], name: 'leaky', attributes: { alpha: 1 } });
    m.addNode({ opType: 'Identity', inputs: ['x'], outputs: ['x2'], name: 'id', attributes: { f: attr.float(2), k: 3, ks: [1, 2], fs: [0.5, 1], s: 'hi', t: makeTensor('int32', [1], [9]) } }, 0);
    const a = onnx.AttributeProto.AttributeType;
    const protoAttrs = m.proto.graph!.node![3].attribute!;
    assert.equal(protoAttrs[0].type, a.FLOAT, 'alpha is FLOAT even when given 1');
    const id = m.proto.graph!.node![0].attribute!;
    assert.deepEqual(id.map((x) => x.type), [a.FLOAT, a.INT, a.INTS, a.FLOATS, a.STRING, a.TENSOR]);
    const info = m.nodes[0];
    assert.deepEqual({ ...info.attributes, t: undefined }, { f: 2, k: 3, ks: [1, 2], fs: [0.5, 1], s: 'hi', t: undefined });
    assert.deepEqual(m.nodes.map((n) => n.name), ['id', 'mm', 'add', 'leaky']);
    assert.deepEqual(m.validate(), []);
    const removed = m.removeNode(0);
    assert.equal(removed.opType, 'Identity');
    assert.equal(m.findNode('xw'), 0, 'findNode by output');
    assert.throws(() => m.removeNode('nothing'), /no node named or producing 'nothing'/);
    assert.throws(() => m.addNode({ opType: '', inputs: [], outputs: [] }), /opType is required/);
  });

  it('sorts nodes topologically and refuses cycles and dangling reads', () => {
    const m = new OnnxModel(tinyModel());
    const g = m.proto.graph!;
    g.node = [g.node![2], g.node![0], g.node![1]] as onnx.NodeProto[]; // Relu, MatMul, Add
    assert.match(m.validate().join(), /node 0 \(Relu 'relu'\) reads 'z'/);
    m.sortNodes();
    assert.deepEqual(m.nodes.map((n) => n.name), ['mm', 'add', 'relu']);
    assert.deepEqual(m.validate(), []);
    const cyc = new OnnxModel(tinyModel());
    cyc.proto.graph!.node![0].input = ['x', 'y'];
    assert.throws(() => cyc.sortNodes(), /sortNodes: the nodes form a cycle/);
    const dangling = new OnnxModel(tinyModel());
    dangling.proto.graph!.node![1].input = ['xw', 'nothing'];
    assert.throws(() => dangling.sortNodes(), /node 1 \(Add\) reads 'nothing', which nothing provides/);
  });

  it('removes nodes no output needs and initializers no node reads', () => {
    const m = new OnnxModel(tinyModel());
    m.addNode({ opType: 'Mul', inputs: ['xw', 'S'], outputs: ['side'], name: 'side' });
    m.setInitializer(makeTensor('float32', [1], [2], 'S'));
    m.setInitializer(makeTensor('float32', [1], [3], 'orphan'));
    assert.deepEqual(m.removeUnused(), { nodes: 1, initializers: 2 });
    assert.deepEqual(m.nodes.map((n) => n.name), ['mm', 'add', 'relu']);
    assert.deepEqual(m.initializerNames, ['W', 'B']);
    assert.deepEqual(m.removeUnused(), { nodes: 0, initializers: 0 });
    // an output removed: its whole branch goes
    m.removeOutput('y');
    m.addOutput('xw', 'float32');
    assert.deepEqual(m.removeUnused(), { nodes: 2, initializers: 1 });
    assert.deepEqual(m.initializerNames, ['W']);
  });

  it('model_version and metadata_props get/set', () => {
    const m = new OnnxModel(tinyModel());
    assert.equal(m.modelVersion, 0);
    m.modelVersion = 42;
    m.metadata = { name: 'turbine', heads: '[]' };
    m.setMetadata('feature_names', '["a"]');
    m.setMetadata('heads', undefined);
    const back = OnnxModel.fromBuffer(m.toBuffer());
    assert.equal(back.modelVersion, 42);
    assert.deepEqual(back.metadata, { name: 'turbine', feature_names: '["a"]' });
    assert.equal(back.getMetadata('name'), 'turbine');
    assert.equal(back.getMetadata('nope'), undefined);
    assert.throws(() => { m.modelVersion = -1; }, /non-negative integer/);
    assert.throws(() => { m.modelVersion = 1.5; }, /non-negative integer/);
  });

  it('adds and removes inputs and outputs; lists intermediate values', () => {
    const m = new OnnxModel(tinyModel());
    assert.deepEqual(m.intermediateNames, ['xw', 'z']);
    m.addOutput('z');
    m.addOutput('z');
    assert.deepEqual(m.outputs.map((o) => o.name), ['y', 'z']);
    assert.equal(m.removeOutput('z'), true);
    m.addInput('extra', 'int64', [1]);
    assert.deepEqual(m.inputs.at(-1), { name: 'extra', type: 'int64', shape: [1] });
    m.renameInput('xw', 'x');
    assert.deepEqual(m.nodes[1].inputs, ['x', 'B']);
  });

  it('saves atomically and reloads an equivalent model; clone is independent', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'sub', 'm.onnx');
    const m = new OnnxModel(tinyModel());
    m.modelVersion = 3;
    m.save(file);
    assert.deepEqual(fs.readdirSync(path.dirname(file)), ['m.onnx'], 'no temporary file left');
    const back = OnnxModel.load(file);
    assert.deepEqual(back.summary(), m.summary());
    assert.ok(back.toBuffer().equals(m.toBuffer()));
    const c = back.clone();
    c.setMetadata('x', 'y');
    c.removeNode('relu');
    assert.equal(back.getMetadata('x'), undefined);
    assert.equal(back.nodes.length, 3);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
