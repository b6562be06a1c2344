/**
 * Shared types of the ONNX graph executor: the op-function signature, node attributes read per the
 * ONNX spec, and the error every op throws for input it cannot handle.
 */
import type * as tfTypes from '@tensorflow/tfjs';
import { onnx } from 'onnx-proto';

export type Tensor = tfTypes.Tensor;
export type TF = typeof tfTypes;

/** A value flowing along a graph edge: a tensor, or absent (an optional input left empty). */
export type Value = Tensor | undefined;

/** What an op function sees besides its inputs. */
export interface OpContext {
  tf: TF;
  /** Version of the default ('' / 'ai.onnx') opset the model imports. */
  opset: number;
  /** Node name (or op type and index) for error messages. */
  nodeName: string;
  opType: string;
  /** Number of outputs the node declares (Split, Dropout's mask, LSTM's states). */
  outputCount: number;
  /**
   * How Conv computes 1-D/2-D convolutions: 'native' (tfjs conv2d / depthwiseConv2d) or 'im2col'
   * (strided patches · weights through MatMul: differentiable with the kernels every backend has).
   */
  convImpl?: 'native' | 'im2col';
}

/** One ONNX op: inputs in declared order (undefined for an empty optional input), outputs in order. */
export type OpFn = (inputs: Value[], attrs: Attributes, ctx: OpContext) => Value[];

/** An op the executor cannot evaluate, or input it cannot take; names the node and op. */
export class OnnxExecutorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExecutorError';
  }
}

export function toNumber(v: unknown): number {
  if (typeof v === 'number') return v;
  if (v && typeof (v as { toNumber?: () => number }).toNumber === 'function') return (v as { toNumber(): number }).toNumber();
  if (typeof v === 'bigint') return Number(v);
  return Number(v);
}

/** Read-only view of a node's attributes with ONNX defaults applied by the caller. */
export class Attributes {
  private readonly map = new Map<string, onnx.IAttributeProto>();

  constructor(attrs: onnx.IAttributeProto[] | null | undefined, private readonly where = 'node') {
    for (const a of attrs ?? []) if (a.name) this.map.set(a.name, a);
  }

  has(name: string): boolean {
    return this.map.has(name);
  }

  names(): string[] {
    return [...this.map.keys()];
  }

  int(name: string, dflt: number): number;
  int(name: string): number | undefined;
  int(name: string, dflt?: number): number | undefined {
    const a = this.map.get(name);
    if (!a) return dflt;
    if (a.i === undefined || a.i === null) throw new OnnxExecutorError(`${this.where}: attribute ${name} is not an int`);
    return toNumber(a.i);
  }

  float(name: string, dflt: number): number;
  float(name: string): number | undefined;
  float(name: string, dflt?: number): number | undefined {
    const a = this.map.get(name);
    if (!a) return dflt;
    return typeof a.f === 'number' ? a.f : dflt;
  }

  ints(name: string, dflt: number[]): number[];
  ints(name: string): number[] | undefined;
  ints(name: string, dflt?: number[]): number[] | undefined {
    const a = this.map.get(name);
    if (!a) return dflt;
    return (a.ints ?? []).map(toNumber);
  }

  floats(name: string, dflt: number[]): number[];
  floats(name: string): number[] | undefined;
  floats(name: string, dflt?: number[]): number[] | undefined {
    const a = this.map.get(name);
    if (!a) return dflt;
    return [...(a.floats ?? [])];
  }

  string(name: string, dflt: string): string;
  string(name: string): string | undefined;
  string(name: string, dflt?: string): string | undefined {
    const a = this.map.get(name);
    if (!a || !a.s) return dflt;
    return Buffer.from(a.s).toString('utf8');
  }

  strings(name: string): string[] | undefined {
    const a = this.map.get(name);
    if (!a) return undefined;
    return (a.strings ?? []).map(s => Buffer.from(s).toString('utf8'));
  }

  tensor(name: string): onnx.ITensorProto | undefined {
    const a = this.map.get(name);
    return a?.t ?? undefined;
  }

  raw(name: string): onnx.IAttributeProto | undefined {
    return this.map.get(name);
  }
}

/** Throw unless `cond`. */
export function check(cond: unknown, ctx: OpContext, message: string): asserts cond {
  if (!cond) throw new OnnxExecutorError(`${ctx.opType} node "${ctx.nodeName}": ${message}`);
}

/** Required input i. */
export function need(inputs: Value[], i: number, ctx: OpContext): Tensor {
  const t = inputs[i];
  if (!t) throw new OnnxExecutorError(`${ctx.opType} node "${ctx.nodeName}": input ${i} is required`);
  return t;
}

/** Normalise a possibly negative axis against rank r. */
export function normAxis(axis: number, rank: number, ctx: OpContext): number {
  const a = axis < 0 ? axis + rank : axis;
  check(a >= 0 && a < Math.max(rank, 1), ctx, `axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Read a small integer tensor (shape, axes, indices given as inputs) as plain numbers. */
export function intValues(t: Tensor): number[] {
  return Array.from(t.dataSync() as ArrayLike<number>, Number);
}
