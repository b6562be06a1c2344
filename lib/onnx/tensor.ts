/**
 * ONNX tensors as plain typed arrays, and TensorProto decode/encode.
 *
 * One in-memory form for every tensor the library hands out (initializers, conformance .pb files,
 * ONNX Runtime results): `{ name?, type, dims, data }` with `data` a typed array of the element type
 * (int64 as BigInt64Array, so values are exact). Decoding handles both storage forms of a
 * TensorProto: `raw_data` (little-endian bytes, copied because the view into the file is usually
 * unaligned) and the typed fields (`float_data`, `int32_data`, `int64_data` with Long values, ...).
 * Encoding always writes `raw_data` for numeric types (as onnx.numpy_helper does) and
 * `string_data` for strings.
 */
import { onnx } from 'onnx-proto';

/**
 * A model or tensor that cannot be read or is not valid ONNX: the message says what is wrong
 * (truncated, not ONNX at all, unsupported opset, dangling input, ...) and where it came from.
 */
export class OnnxFormatError extends Error {
  constructor(message: string, readonly source?: string) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'OnnxFormatError';
  }
}

/** Element type names (the same strings ONNX Runtime's JS API uses, plus the ones it lacks). */
export type TensorType =
  | 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32'
  | 'int64' | 'uint64' | 'bool' | 'string' | 'float16' | 'bfloat16' | 'complex64' | 'complex128';

/** Typed array per element type. float16/bfloat16 keep their raw bits; complex is interleaved re,im. */
export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array
  | Uint32Array | BigInt64Array | BigUint64Array | string[];

export interface Tensor {
  /** Name (initializer name, or the name stored in a .pb file); may be empty. */
  name?: string;
  type: TensorType;
  /** Shape; [] for a scalar. */
  dims: number[];
  /** Row-major elements; length = product of dims (×2 for complex). */
  data: TensorData;
}

/** ONNX TensorProto.DataType codes. */
export const DataType = onnx.TensorProto.DataType;

const TYPE_OF_CODE: Record<number, TensorType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128',
  16: 'bfloat16',
};
const CODE_OF_TYPE: Record<TensorType, number> = Object.fromEntries(
  Object.entries(TYPE_OF_CODE).map(([k, v]) => [v, Number(k)]),
) as Record<TensorType, number>;

/** Bytes per stored element (complex counts its two parts as two elements). */
const ELEMENT_BYTES: Record<TensorType, number> = {
  float32: 4, float64: 8, int8: 1, uint8: 1, int16: 2, uint16: 2, int32: 4, uint32: 4, int64: 8, uint64: 8,
  bool: 1, string: 0, float16: 2, bfloat16: 2, complex64: 4, complex128: 8,
};

type TypedCtor = { new (n: number): Exclude<TensorData, string[]>; new (b: ArrayBuffer, o?: number, n?: number): Exclude<TensorData, string[]> };
const CTOR: Record<Exclude<TensorType, 'string'>, TypedCtor> = {
  float32: Float32Array, float64: Float64Array, int8: Int8Array, uint8: Uint8Array, int16: Int16Array,
  uint16: Uint16Array, int32: Int32Array, uint32: Uint32Array, int64: BigInt64Array, uint64: BigUint64Array,
  bool: Uint8Array, float16: Uint16Array, bfloat16: Uint16Array, complex64: Float32Array, complex128: Float64Array,
};

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('lib/onnx/tensor: big-endian hosts are not supported (raw_data is little-endian)');
}

/** The TensorType for an ONNX DataType code; throws for an unknown code. */
export function typeFromCode(code: number): TensorType {
  const t = TYPE_OF_CODE[code];
  if (!t) throw new OnnxFormatError(`unknown tensor data type code ${code}`);
  return t;
}

/** The ONNX DataType code for a TensorType. */
export function codeFromType(type: TensorType): number {
  const c = CODE_OF_TYPE[type];
  if (c === undefined) throw new OnnxFormatError(`unknown tensor type '${type}'`);
  return c;
}

/** A protobufjs int64 (number or Long) as a JS number (exact up to 2^53). */
export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number; unsigned?: boolean; toNumber?: () => number };
    if (typeof l.toNumber === 'function') return l.toNumber();
    return (l.unsigned ? l.high >>> 0 : l.high) * 4294967296 + (l.low >>> 0);
  }
  if (v === undefined || v === null) return 0;
  return Number(v);
}

/** A protobufjs int64 (number or Long) as an exact BigInt. */
export function toBigInt(v: unknown, unsigned = false): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number') b = BigInt(Math.trunc(v));
  else if (v && typeof v === 'object' && 'low' in v && 'high' in v) {
    const l = v as { low: number; high: number };
    b = (BigInt(l.high >>> 0) << 32n) | BigInt(l.low >>> 0);
  } else b = 0n;
  return unsigned ? BigInt.asUintN(64, b) : BigInt.asIntN(64, b);
}

/** Number of elements of a shape (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** Make a tensor, checking that data length fits the shape. Plain number arrays are converted. */
export function makeTensor(type: TensorType, dims: readonly number[], data: TensorData | ArrayLike<number> | ArrayLike<bigint> | readonly string[], name?: string): Tensor {
  const n = elementCount(dims) * (type === 'complex64' || type === 'complex128' ? 2 : 1);
  for (const d of dims) {
    if (!Number.isInteger(d) || d < 0) throw new OnnxFormatError(`tensor${name ? ` '${name}'` : ''}: dims must be non-negative integers, got [${dims.join(', ')}]`);
  }
  let arr: TensorData;
  if (type === 'string') {
    arr = Array.from(data as ArrayLike<string>, String);
  } else {
    const C = CTOR[type];
    if (data instanceof C && !(type === 'bool' && !(data instanceof Uint8Array))) arr = data as TensorData;
    else {
      const out = new C(data.length);
      if (type === 'int64' || type === 'uint64') {
        const big = out as BigInt64Array | BigUint64Array;
        for (let i = 0; i < data.length; i++) {
          const v = (data as ArrayLike<number | bigint>)[i];
          big[i] = typeof v === 'bigint' ? v : BigInt(Math.trunc(v as number));
        }
      } else {
        const num = out as Float32Array;
        for (let i = 0; i < data.length; i++) num[i] = Number((data as ArrayLike<number | bigint>)[i]);
      }
      arr = out;
    }
  }
  if (arr.length !== n) {
    throw new OnnxFormatError(`tensor${name ? ` '${name}'` : ''}: ${arr.length} values do not fit shape [${dims.join(', ')}] (${n} needed)`);
  }
  return name === undefined ? { type, dims: [...dims], data: arr } : { name, type, dims: [...dims], data: arr };
}

/** Convert a decoded TensorProto (or any ITensorProto) into a Tensor (data copied, aligned). */
export function tensorFromProto(p: onnx.ITensorProto): Tensor {
  const code = p.dataType ?? 0;
  const name = p.name ?? '';
  const where = name ? `tensor '${name}'` : 'tensor';
  if (code === 0) throw new OnnxFormatError(`${where}: data type is UNDEFINED (0)`);
  const type = TYPE_OF_CODE[code];
  if (!type) throw new OnnxFormatError(`${where}: unknown data type code ${code}`);
  if (p.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL || (p.externalData && p.externalData.length > 0)) {
    throw new OnnxFormatError(`${where}: data stored in an external file is not supported (save the model with all tensors inside)`);
  }
  const dims = (p.dims ?? []).map(toNumber);
  const count = elementCount(dims) * (type === 'complex64' || type === 'complex128' ? 2 : 1);
  const raw = p.rawData;
  if (type === 'string') {
    const strs = (p.stringData ?? []).map((b) => Buffer.from(b).toString('utf8'));
    if (strs.length !== count) throw new OnnxFormatError(`${where}: ${strs.length} strings for shape [${dims.join(', ')}]`);
    return { name, type, dims, data: strs };
  }
  const C = CTOR[type];
  if (raw && raw.length > 0) {
    const bytes = ELEMENT_BYTES[type];
    if (raw.length !== count * bytes) {
      throw new OnnxFormatError(`${where}: raw_data has ${raw.length} bytes, shape [${dims.join(', ')}] of ${type} needs ${count * bytes} (truncated or corrupt)`);
    }
    // Copy: raw_data is a view into the file buffer at an arbitrary (unaligned) offset.
    const buf = new ArrayBuffer(raw.length);
    new Uint8Array(buf).set(raw);
    return { name, type, dims, data: new C(buf) };
  }
  let src: ArrayLike<unknown>;
  switch (type) {
    case 'float32': case 'complex64': src = p.floatData ?? []; break;
    case 'float64': case 'complex128': src = p.doubleData ?? []; break;
    case 'int64': src = p.int64Data ?? []; break;
    case 'uint32': case 'uint64': src = p.uint64Data ?? []; break;
    default: src = p.int32Data ?? []; break; // int8/16/32, uint8/16, bool, float16, bfloat16
  }
  if (src.length !== count) {
    throw new OnnxFormatError(`${where}: ${src.length} stored values for shape [${dims.join(', ')}] (${count} needed; truncated or corrupt)`);
  }
  const out = new C(count);
  if (type === 'int64' || type === 'uint64') {
    const big = out as BigInt64Array | BigUint64Array;
    for (let i = 0; i < count; i++) big[i] = toBigInt(src[i], type === 'uint64');
  } else {
    const num = out as Float32Array;
    for (let i = 0; i < count; i++) num[i] = toNumber(src[i]);
  }
  return { name, type, dims, data: out };
}

/** Decode a serialized TensorProto (e.g. a conformance test's input_0.pb / output_0.pb). */
export function decodeTensor(bytes: Uint8Array): Tensor {
  let p: onnx.TensorProto;
  try {
    p = onnx.TensorProto.decode(bytes);
  } catch (e) {
    throw new OnnxFormatError(`not a valid TensorProto (${bytes.length} bytes, truncated or corrupt): ${(e as Error).message}`);
  }
  return tensorFromProto(p);
}

/** Build a TensorProto message for a tensor (raw_data for numbers, string_data for strings). */
export function tensorToProto(t: Tensor, name = t.name ?? ''): onnx.TensorProto {
  const checked = makeTensor(t.type, t.dims, t.data, name);
  const p = new onnx.TensorProto({ name, dataType: codeFromType(t.type), dims: checked.dims });
  if (t.type === 'string') {
    p.stringData = (checked.data as string[]).map((s) => Buffer.from(s, 'utf8'));
  } else {
    const d = checked.data as Exclude<TensorData, string[]>;
    p.rawData = new Uint8Array(d.buffer.slice(d.byteOffset, d.byteOffset + d.byteLength));
  }
  return p;
}

/** Serialize a tensor as a TensorProto (the .pb format of ONNX's test data). */
export function encodeTensor(t: Tensor, name?: string): Uint8Array {
  return onnx.TensorProto.encode(tensorToProto(t, name)).finish();
}

/** Tensor data as plain numbers (int64 converted with Number; float16 not decoded). */
export function toNumbers(t: Tensor): number[] {
  if (t.type === 'string') throw new OnnxFormatError(`tensor '${t.name ?? ''}' holds strings, not numbers`);
  return Array.from(t.data as ArrayLike<number | bigint>, Number);
}
