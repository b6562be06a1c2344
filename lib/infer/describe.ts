/**
 * The few facts multitask-infer needs from an ONNX file before ONNX Runtime sees it: metadata_props,
 * model_version, graph name and the real inputs/outputs with their shapes (symbolic or unknown
 * dimensions as -1), plus the file's SHA-256 and parameter count.
 */
import { createHash } from 'crypto';
import { OnnxModel, type ValueInfo } from '../onnx/model';
import { parseModelSpec, type ModelDescription, type TensorSignature } from './model-spec';

export interface DescribedModel extends ModelDescription {
  sha256: string;
  /** number of initializer elements (weights) */
  parameters: number;
  bytes: number;
}

export function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Decode and validate the model (lib/onnx/model.ts); throws an Error saying why a buffer is not a usable ONNX model. */
export function describeModel(bytes: Uint8Array, source?: string): DescribedModel {
  const model = OnnxModel.fromBuffer(bytes, source ? { source } : {});
  const sig = (v: ValueInfo): TensorSignature => ({ name: v.name, dims: (v.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : -1)) });
  return {
    metadata: model.metadata,
    modelVersion: model.modelVersion,
    graphName: model.graphName || undefined,
    inputs: model.inputs.map(sig),
    outputs: model.outputs.map(sig),
    sha256: sha256(bytes),
    parameters: model.parameterCount(),
    bytes: bytes.length,
  };
}

/** What the editor shows of a model: identity, inputs, outputs and heads. */
export function signatureOf(bytes: Uint8Array, source?: string): Record<string, unknown> {
  const info = describeModel(bytes, source);
  const base = { version: info.modelVersion, sha256: info.sha256, parameters: info.parameters, bytes: info.bytes, inputs: info.inputs, outputs: info.outputs };
  try {
    const spec = parseModelSpec(info);
    return { ...base, name: spec.name, features: spec.featureNames, sequenceLength: spec.sequenceLength, normalization: spec.normalization?.raw, heads: spec.heads };
  } catch (err) {
    return { ...base, name: info.metadata.name || info.graphName || '', problem: (err as Error).message };
  }
}
