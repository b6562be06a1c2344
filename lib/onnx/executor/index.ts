/** The tfjs graph executor for ONNX models: op table, forward, gradients, training, backend choice. */
export { GraphExecutor, unsupportedNodes } from './graph';
export type { ExecutorOptions, Feed } from './graph';
export { Trainer, lossOf, totalLoss, runModel } from './train';
export type { LossKind, LossTerm, Targets, TrainerOptions, StepResult } from './train';
export { OPS, supportedOps, isSupportedOp } from './ops';
export { OnnxExecutorError } from './types';
export { BackendChoice, preferredBackend, availableBackends, initBackend, useBackend, missingKernel, lacksKernels, missingGradientKernels, GRADIENT_KERNELS, backendUnavailableReason } from './backend';
export { runCase, runSuite, compareTensors, exclusionReason, DEFAULT_TESTDATA } from './conformance';
export type { CaseResult } from './conformance';
export type { BackendName } from './backend';
export { toTf, fromTf } from './tensor';
