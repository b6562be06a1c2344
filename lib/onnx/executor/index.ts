/** The tfjs graph executor for ONNX models: op table, forward, gradients, training, backend choice. */
export { GraphExecutor, unsupportedNodes } from './graph';
export type { ExecutorOptions, Feed } from './graph';
export { Trainer, lossOf, totalLoss, runModel } from './train';
export type { LossKind, LossTerm, Targets, TrainerOptions, StepResult } from './train';
export { OPS, supportedOps, isSupportedOp } from './ops';
export { OnnxExecutorError } from './types';
export { BackendChoice, preferredBackend, availableBackends, useBackend, missingKernel, lacksKernels, backendUnavailableReason } from './backend';
export type { BackendName } from './backend';
export { toTf, fromTf } from './tensor';
