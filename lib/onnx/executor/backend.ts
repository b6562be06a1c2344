/**
 * tfjs backend selection. Order of preference: 'tensorflow' (@tensorflow/tfjs-node, an optional
 * dependency: used when it installed and loads), then 'wasm' (@tensorflow/tfjs-backend-wasm, its
 * .wasm ships in the npm package), then 'cpu' (pure JS, always there). The wasm backend lacks some
 * kernels, notably gradient kernels (Conv2DBackpropFilter, DepthwiseConv2dNativeBackprop*,
 * UnsortedSegmentSum for Gather's gradient): a model that needs one runs on the next backend that
 * has it — detected when tfjs reports the missing kernel, per model (see `withFallback`).
 */
import * as tf from '@tensorflow/tfjs';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

const available = new Map<BackendName, boolean>();
const reasons = new Map<BackendName, string>();
let tfNodeTried = false;

function tryTfNode(): boolean {
  if (tfNodeTried) return available.get('tensorflow') ?? false;
  tfNodeTried = true;
  try {
    // optional dependency; registers the 'tensorflow' backend on the shared tfjs-core when it loads
    require('@tensorflow/tfjs-node');
    const ok = tf.findBackendFactory('tensorflow') !== null;
    available.set('tensorflow', ok);
    if (!ok) reasons.set('tensorflow', '@tensorflow/tfjs-node loaded but registered no backend (different tfjs-core copy?)');
    return ok;
  } catch (e) {
    available.set('tensorflow', false);
    reasons.set('tensorflow', `@tensorflow/tfjs-node not available: ${String((e as Error).message).split('\n')[0]}`);
    return false;
  }
}

let wasmRegistered = false;
function registerWasm(): boolean {
  if (wasmRegistered) return true;
  try {
    require('@tensorflow/tfjs-backend-wasm');
    wasmRegistered = true;
    return true;
  } catch (e) {
    reasons.set('wasm', `@tensorflow/tfjs-backend-wasm not available: ${(e as Error).message}`);
    return false;
  }
}

/** Initialise a backend (once); false when it cannot run here. */
export async function initBackend(name: BackendName): Promise<boolean> {
  if (available.has(name) && name !== 'tensorflow') return available.get(name)!;
  if (name === 'tensorflow' && !tryTfNode()) return false;
  if (name === 'wasm' && !registerWasm()) {
    available.set('wasm', false);
    return false;
  }
  const prev = tf.getBackend();
  try {
    const ok = await tf.setBackend(name);
    available.set(name, ok);
    if (!ok) reasons.set(name, `tf.setBackend('${name}') failed`);
    return ok;
  } catch (e) {
    available.set(name, false);
    reasons.set(name, (e as Error).message);
    return false;
  } finally {
    if (prev && prev !== name && available.get(prev as BackendName) !== false) await tf.setBackend(prev);
  }
}

/** The backends that run here, best first. */
export async function availableBackends(): Promise<BackendName[]> {
  const out: BackendName[] = [];
  for (const b of BACKEND_ORDER) if (await initBackend(b)) out.push(b);
  return out;
}

/** Why a backend is not available (undefined when it is, or was not tried). */
export function backendUnavailableReason(name: BackendName): string | undefined {
  return reasons.get(name);
}

/**
 * The preferred backend: env TFJS_BACKEND (tensorflow / wasm / cpu) if set and available, else the
 * first available of tensorflow, wasm, cpu.
 */
export async function preferredBackend(): Promise<BackendName> {
  const forced = process.env.TFJS_BACKEND as BackendName | undefined;
  if (forced && BACKEND_ORDER.includes(forced) && (await initBackend(forced))) return forced;
  for (const b of BACKEND_ORDER) if (await initBackend(b)) return b;
  return 'cpu';
}

/** Make `name` the active tfjs backend (initialising it on first use). */
export async function useBackend(name: BackendName): Promise<void> {
  if (tf.getBackend() === name) return;
  if (!(await initBackend(name))) throw new Error(`tfjs backend '${name}' is not available: ${reasons.get(name) ?? 'unknown reason'}`);
  await tf.setBackend(name);
}

/** The kernel a "Kernel 'X' not registered for backend 'Y'" error names, if it is one. */
export function missingKernel(err: unknown): { kernel: string; backend: string } | undefined {
  const m = /Kernel '([^']+)' not registered for backend '([^']+)'/.exec(String((err as Error)?.message ?? err));
  return m ? { kernel: m[1], backend: m[2] } : undefined;
}

/** Kernels (of `names`) that backend `name` lacks. */
export function lacksKernels(name: BackendName, names: string[]): string[] {
  const have = new Set(tf.getKernelsForBackend(name).map(k => k.kernelName));
  return names.filter(n => !have.has(n));
}

/**
 * Backward kernels each forward kernel's gradient calls (tfjs-core src/gradients/*_grad.ts), for
 * the kernels whose gradients some backends lack. Used to pick the backend before a gradient is
 * attempted: a gradient that fails half-way through the tape leaks the tensors it saved.
 */
export const GRADIENT_KERNELS: Readonly<Record<string, string[]>> = {
  Conv2D: ['Conv2DBackpropInput', 'Conv2DBackpropFilter'],
  DepthwiseConv2dNative: ['DepthwiseConv2dNativeBackpropInput', 'DepthwiseConv2dNativeBackpropFilter'],
  Conv3D: ['Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'],
  GatherV2: ['UnsortedSegmentSum'],
  MaxPool: ['MaxPoolGrad'],
  AvgPool: ['AvgPoolGrad'],
  MaxPool3D: ['MaxPool3DGrad'],
  AvgPool3D: ['AvgPool3DGrad'],
  MirrorPad: ['Slice'],
  Cumsum: ['Cumsum'],
};

/** Backward kernels (of GRADIENT_KERNELS) that `backend` lacks for a forward pass that ran `forwardKernels`. */
export function missingGradientKernels(backend: BackendName, forwardKernels: Iterable<string>): string[] {
  const need = new Set<string>();
  for (const k of forwardKernels) for (const g of GRADIENT_KERNELS[k] ?? []) need.add(g);
  return lacksKernels(backend, [...need]);
}

/** A per-model backend choice with fallback when a kernel is missing. */
export class BackendChoice {
  /** Kernels found missing, with the backend that lacked them. */
  readonly fellBack: { from: BackendName; to: BackendName; kernel: string }[] = [];

  constructor(public current: BackendName) {}

  /**
   * Before the first gradient: profile one forward pass, and move to the first backend that has
   * every backward kernel it needs (recorded in `fellBack`).
   */
  async planGradients(forward: () => void): Promise<void> {
    await useBackend(this.current);
    const info = await tf.profile(() => {
      forward();
      return [];
    });
    const kernels = info.kernels.map(k => k.name);
    for (;;) {
      const missing = missingGradientKernels(this.current, kernels);
      if (!missing.length) return;
      const next = await nextBackend(this.current);
      if (!next) return;
      this.fellBack.push({ from: this.current, to: next, kernel: missing[0] });
      this.current = next;
    }
  }

  /**
   * Run `fn` (synchronous tfjs work) on the chosen backend; when tfjs reports a missing kernel,
   * switch this model to the next available backend and run it again. `fn` must not have side
   * effects before its first tfjs kernel call fails (gradient computation before applying updates).
   */
  async run<T>(fn: () => T): Promise<T> {
    for (;;) {
      await useBackend(this.current);
      try {
        return fn();
      } catch (e) {
        const miss = missingKernel(e);
        if (!miss) throw e;
        const next = await nextBackend(this.current);
        if (!next) throw e;
        this.fellBack.push({ from: this.current, to: next, kernel: miss.kernel });
        this.current = next;
      }
    }
  }
}

async function nextBackend(after: BackendName): Promise<BackendName | undefined> {
  const i = BACKEND_ORDER.indexOf(after);
  for (const b of BACKEND_ORDER.slice(i + 1)) if (await initBackend(b)) return b;
  return undefined;
}

export { tf };
