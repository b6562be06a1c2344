/**
 * The package's core library, usable without Node-RED. Each area is a namespace; modules that pull
 * in TensorFlow.js (the ONNX executor, retraining) or worker threads are imported by path instead,
 * so requiring this file stays light:
 *   require('@industrial-ai/node-red/dist/lib/onnx/executor')   // GraphExecutor, Trainer
 *   require('@industrial-ai/node-red/dist/lib/optimize/optimize') // prune / low-rank / int8 chain
 */
export * as errors from './errors';
export * as contract from './contract/samples';
export * as paths from './paths';
export { SeededRandom } from './util/random';
export * as stream from './stream/sensor-windows';
export * as fusion from './fusion/dual-fusion';
export * as quality from './quality/gate';
export * as augment from './augment';
export * as store from './store';
export * as sync from './sync';
export * as onnxModel from './onnx/model';
export * as onnxTensor from './onnx/tensor';
export * as onnxBuilder from './onnx/builder';
export * as session from './infer/session';
