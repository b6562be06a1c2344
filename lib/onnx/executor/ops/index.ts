/** The op table: ONNX op type (default domain) → function on tfjs tensors. Adding an op is adding an entry. */
import { OpFn } from '../types';
import { elementwiseOps } from './elementwise';
import { activationOps } from './activation';
import { matmulOps } from './matmul';
import { convOps } from './conv';
import { poolOps } from './pool';
import { normOps } from './norm';
import { shapeOps } from './shape';
import { reduceOps } from './reduce';
import { rnnOps } from './rnn';

export const OPS: Readonly<Record<string, OpFn>> = Object.freeze({
  ...elementwiseOps,
  ...activationOps,
  ...matmulOps,
  ...convOps,
  ...poolOps,
  ...normOps,
  ...shapeOps,
  ...reduceOps,
  ...rnnOps,
});

/** Op types the executor evaluates, sorted. */
export function supportedOps(): string[] {
  return Object.keys(OPS).sort();
}

export function isSupportedOp(opType: string, domain = ''): boolean {
  return (domain === '' || domain === 'ai.onnx') && Object.prototype.hasOwnProperty.call(OPS, opType);
}
