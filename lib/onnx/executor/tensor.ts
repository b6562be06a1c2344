/**
 * Conversion between the library's plain tensors (lib/onnx/tensor.ts) and tfjs tensors. tfjs has
 * float32, int32 and bool: ONNX float, int32 and bool map directly; int64 maps to int32 when every
 * value fits (shapes, indices, axes, counts); every other element type (float64, float16, uint8,
 * int8, …) is refused with an error naming it, because tfjs cannot compute in it.
 */
import { onnx } from 'onnx-proto';
import { Tensor as OnnxTensor, TensorType, tensorFromProto as decodeProto, makeTensor } from '../tensor';
import { OnnxExecutorError, TF, Tensor } from './types';

export type TfDtype = 'float32' | 'int32' | 'bool';

/** The tfjs dtype an ONNX element type is computed in, or undefined when tfjs cannot hold it. */
export function tfDtypeOf(type: TensorType): TfDtype | undefined {
  switch (type) {
    case 'float32': return 'float32';
    case 'int32': case 'int64': return 'int32';
    case 'bool': return 'bool';
    default: return undefined;
  }
}

const CODE_TO_TYPE: Record<number, TensorType> = {
  1: 'float32', 2: 'uint8', 3: 'int8', 4: 'uint16', 5: 'int16', 6: 'int32', 7: 'int64', 8: 'string',
  9: 'bool', 10: 'float16', 11: 'float64', 12: 'uint32', 13: 'uint64', 14: 'complex64', 15: 'complex128', 16: 'bfloat16',
};

export function typeOfCode(code: number): TensorType | undefined {
  return CODE_TO_TYPE[code];
}

/** A library tensor as a tfjs tensor (int64 narrowed to int32 with a range check). */
export function toTf(tf: TF, t: OnnxTensor, what = t.name || 'tensor'): Tensor {
  const dtype = tfDtypeOf(t.type);
  if (!dtype) throw new OnnxExecutorError(`${what}: element type ${t.type} is not supported by the tfjs executor (float32, int32, int64 within int32 range, bool)`);
  let data: Float32Array | Int32Array | Uint8Array;
  if (t.type === 'int64') {
    const big = t.data as BigInt64Array;
    data = new Int32Array(big.length);
    for (let i = 0; i < big.length; i++) {
      const v = big[i];
      if (v > 2147483647n || v < -2147483648n) throw new OnnxExecutorError(`${what}: int64 value ${v} does not fit the int32 the tfjs executor computes in`);
      data[i] = Number(v);
    }
  } else data = t.data as Float32Array | Int32Array | Uint8Array;
  return tf.tensor(data, t.dims, dtype);
}

/** A TensorProto (initializer, Constant attribute) as a tfjs tensor. */
export function protoToTf(tf: TF, p: onnx.ITensorProto, what?: string): Tensor {
  return toTf(tf, decodeProto(p), what ?? (p.name || 'tensor'));
}

/** A tfjs tensor read back as a library tensor (float32 / int32 / bool; int32 widened to int64 when asked). */
export function fromTf(t: Tensor, name?: string, as?: TensorType): OnnxTensor {
  const data = t.dataSync();
  if (t.dtype === 'float32') return makeTensor('float32', t.shape, data as Float32Array, name);
  if (t.dtype === 'bool') return makeTensor('bool', t.shape, Uint8Array.from(data as ArrayLike<number>), name);
  if (as === 'int64') return makeTensor('int64', t.shape, BigInt64Array.from(Array.from(data as Int32Array, v => BigInt(v))), name);
  return makeTensor('int32', t.shape, Int32Array.from(data as ArrayLike<number>), name);
}
