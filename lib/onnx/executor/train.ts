/**
 * Gradients and training on the graph executor: loss functions (MSE, cross-entropy, binary
 * cross-entropy, weighted multi-task sums of them), gradients of a scalar loss with respect to the
 * model's trainable initializers (tf.variableGrads), SGD / Adam steps, a small fit loop, and the
 * backend choice per model with fallback when a gradient kernel is missing (see backend.ts).
 */
import { OnnxModel } from '../model';
import { Tensor as OnnxTensor } from '../tensor';
import { BackendChoice, BackendName, lacksKernels, preferredBackend, tf } from './backend';
import { ExecutorOptions, Feed, GraphExecutor } from './graph';
import { OnnxExecutorError, Tensor } from './types';
import { fromTf, toTf } from './tensor';

export type LossKind = 'mse' | 'cross-entropy' | 'binary-cross-entropy';

/** One term of the loss: a model output compared with a target. */
export interface LossTerm {
  /** Model output name. */
  output: string;
  kind: LossKind;
  /** Weight in the multi-task sum (default 1). */
  weight?: number;
  /**
   * What the output holds, for the entropy losses: 'logits' (default; softmax / sigmoid applied
   * here, numerically stable), 'probabilities', or 'log-probabilities' (cross-entropy only).
   */
  from?: 'logits' | 'probabilities' | 'log-probabilities';
}

/** Targets per output name: float tensors of the output's shape, or (cross-entropy) int class indices [batch]. */
export type Targets = Record<string, Feed>;

const EPS = 1e-7;

function asTensor(f: Feed | undefined, what: string): { t: Tensor; owned: boolean } {
  if (f === undefined) throw new OnnxExecutorError(`${what}: no target given`);
  if (typeof (f as Tensor).dataSync === 'function') return { t: f as Tensor, owned: false };
  return { t: toTf(tf, f as OnnxTensor, what), owned: true };
}

/** Mean loss of one term (a scalar tensor). */
export function lossOf(term: LossTerm, y: Tensor, target: Tensor): Tensor {
  const from = term.from ?? 'logits';
  switch (term.kind) {
    case 'mse': {
      if (y.size !== target.size) throw new OnnxExecutorError(`loss on '${term.output}': target has ${target.size} values, output [${y.shape}] has ${y.size}`);
      return tf.mean(tf.squaredDifference(y, target.reshape(y.shape)));
    }
    case 'cross-entropy': {
      // classes on the last axis; target: class indices (int32, one per row) or a distribution
      const classes = y.shape[y.rank - 1];
      const rows = y.size / classes;
      let dist: Tensor;
      if (target.dtype === 'int32') {
        if (target.size !== rows) throw new OnnxExecutorError(`loss on '${term.output}': ${target.size} class indices for ${rows} rows`);
        dist = tf.oneHot(target.reshape([rows]), classes).cast('float32');
      } else {
        if (target.size !== y.size) throw new OnnxExecutorError(`loss on '${term.output}': target has ${target.size} values, output has ${y.size}`);
        dist = target.reshape([rows, classes]);
      }
      const y2 = y.reshape([rows, classes]);
      const logp = from === 'logits' ? tf.logSoftmax(y2) : from === 'log-probabilities' ? y2 : tf.log(tf.clipByValue(y2, EPS, 1));
      return tf.neg(tf.mean(tf.sum(tf.mul(dist, logp), -1)));
    }
    case 'binary-cross-entropy': {
      if (target.size !== y.size) throw new OnnxExecutorError(`loss on '${term.output}': target has ${target.size} values, output has ${y.size}`);
      const t = target.reshape(y.shape).cast('float32');
      if (from === 'logits') {
        // max(z,0) − z·t + log(1 + e^−|z|)
        return tf.mean(tf.add(tf.sub(tf.relu(y), tf.mul(y, t)), tf.log1p(tf.exp(tf.neg(tf.abs(y))))));
      }
      if (from === 'log-probabilities') throw new OnnxExecutorError(`loss on '${term.output}': binary-cross-entropy takes logits or probabilities`);
      const p = tf.clipByValue(y, EPS, 1 - EPS);
      return tf.neg(tf.mean(tf.add(tf.mul(t, tf.log(p)), tf.mul(tf.sub(1, t), tf.log(tf.sub(1, p))))));
    }
    default:
      throw new OnnxExecutorError(`unknown loss kind ${(term as LossTerm).kind}`);
  }
}

/** Σ weight·loss over the terms, from the executor's outputs (a scalar tensor). */
export function totalLoss(terms: LossTerm[], outputs: Record<string, Tensor>, targets: Record<string, Tensor>): Tensor {
  let total: Tensor | undefined;
  for (const term of terms) {
    const y = outputs[term.output];
    const t = targets[term.output];
    if (!y) throw new OnnxExecutorError(`loss on '${term.output}': no such output`);
    if (!t) throw new OnnxExecutorError(`loss on '${term.output}': no target given`);
    const l = tf.mul(lossOf(term, y, t), term.weight ?? 1);
    total = total ? tf.add(total, l) : l;
  }
  if (!total) throw new OnnxExecutorError('no loss terms');
  return total;
}

export interface TrainerOptions extends ExecutorOptions {
  /** Backend to start on (default: tensorflow if it loads, else wasm, else cpu; env TFJS_BACKEND overrides). */
  backend?: BackendName;
  optimizer?: 'sgd' | 'adam';
  learningRate?: number;
  /**
   * Conv when training: 'auto' (default) uses im2col (patches · weights through MatMul) on wasm,
   * which lacks conv filter-gradient kernels, and on cpu, where it is ~2× faster, and tfjs conv2d
   * on tfjs-node; 'native' always uses conv2d (on wasm the model then falls back to cpu to train);
   * 'im2col' always. Inference (run) uses conv2d until the first gradient.
   */
  conv?: 'auto' | 'native' | 'im2col';
  /** Adam β1, β2, ε (defaults 0.9, 0.999, 1e-8). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

export interface StepResult {
  loss: number;
  /** Each term's unweighted mean loss. */
  terms: Record<string, number>;
}

/**
 * A model prepared for gradients and training. Create with `Trainer.create`; `dispose()` frees
 * its tensors. All methods run on the model's backend (switching the global tfjs backend while they
 * run), falling back to the next backend when the current one lacks a kernel the model needs.
 */
export class Trainer {
  private optimizer: import('@tensorflow/tfjs').Optimizer;
  private gradientsPlanned = false;
  private constructor(readonly exec: GraphExecutor, readonly backend: BackendChoice, private readonly options: TrainerOptions) {
    this.optimizer = this.makeOptimizer();
  }

  static async create(model: OnnxModel, options: TrainerOptions = {}): Promise<Trainer> {
    const start = options.backend ?? (await preferredBackend());
    const choice = new BackendChoice(start);
    const exec = await choice.run(() => new GraphExecutor(tf, model, options));
    if (options.conv === 'im2col') exec.convImpl = 'im2col';
    return new Trainer(exec, choice, options);
  }

  private makeOptimizer(): import('@tensorflow/tfjs').Optimizer {
    const lr = this.options.learningRate ?? (this.options.optimizer === 'sgd' ? 0.01 : 0.001);
    if ((this.options.optimizer ?? 'adam') === 'sgd') return tf.train.sgd(lr);
    return tf.train.adam(lr, this.options.beta1 ?? 0.9, this.options.beta2 ?? 0.999, this.options.epsilon ?? 1e-8);
  }

  /** The backend the model runs on now, and any fallbacks taken (missing kernels). */
  get backendInfo(): { backend: BackendName; fellBack: { from: BackendName; to: BackendName; kernel: string }[]; conv: 'native' | 'im2col' } {
    return { backend: this.backend.current, fellBack: [...this.backend.fellBack], conv: this.exec.convImpl };
  }

  get trainableNames(): string[] {
    return [...this.exec.trainable.keys()];
  }

  /** Forward pass: output tensors as library tensors. */
  async run(feeds: Record<string, Feed>, fetch?: string[]): Promise<Record<string, OnnxTensor>> {
    return this.backend.run(() => this.exec.run(feeds, fetch));
  }

  /** Once: choose a backend that has the backward kernels this model's forward pass needs. */
  private async planGradients(feeds: Record<string, Feed>, terms: LossTerm[]): Promise<void> {
    if (this.gradientsPlanned) return;
    this.gradientsPlanned = true;
    // conv models train as im2col (patches · weights) unless on tfjs-node: wasm lacks the conv
    // filter-gradient kernels, and on cpu im2col steps run ~2× faster than conv2d's backprop
    const conv = this.options.conv ?? 'auto';
    const hasConv = (this.exec.model.proto.graph?.node ?? []).some(n => n.opType === 'Conv');
    const wantIm2col = conv === 'im2col' || (conv === 'auto' && hasConv && (this.backend.current !== 'tensorflow'
      || lacksKernels(this.backend.current, ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter']).length > 0));
    if (wantIm2col) this.exec.convImpl = 'im2col';
    await this.backend.planGradients(() => {
      tf.tidy(() => {
        this.exec.forward(feeds, [...new Set(terms.map(t => t.output))]);
      });
    });
  }

  private compute(feeds: Record<string, Feed>, targets: Targets, terms: LossTerm[], names: string[]) {
    const vars = names.map(n => {
      const v = this.exec.trainable.get(n);
      if (!v) throw new OnnxExecutorError(`'${n}' is not a trainable initializer (trainable: ${this.trainableNames.join(', ')})`);
      return v;
    });
    const owned: Tensor[] = [];
    const tt: Record<string, Tensor> = {};
    try {
      for (const term of terms) {
        const { t, owned: o } = asTensor(targets[term.output], `loss on '${term.output}'`);
        if (o) owned.push(t);
        tt[term.output] = t;
      }
      const termValues: Record<string, Tensor> = {};
      try {
        // inside tidy: when a backward kernel is missing, the forward pass's tensors are freed too
        const { value, grads } = tf.tidy(() => tf.variableGrads(() => {
          const outs = this.exec.forward(feeds, [...new Set(terms.map(t => t.output))]);
          let total: Tensor | undefined;
          for (const term of terms) {
            const l = lossOf(term, outs[term.output], tt[term.output]);
            termValues[term.output] = tf.keep(l);
            const w = tf.mul(l, term.weight ?? 1);
            total = total ? tf.add(total, w) : w;
          }
          if (!total) throw new OnnxExecutorError('no loss terms');
          return total as import('@tensorflow/tfjs').Scalar;
        }, vars) as unknown as import('@tensorflow/tfjs').TensorContainer) as unknown as { value: import('@tensorflow/tfjs').Scalar; grads: Record<string, Tensor> };
        return { value, grads, termValues };
      } catch (e) {
        tf.dispose(Object.values(termValues));
        throw e;
      }
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  /**
   * Loss and its gradient with respect to trainable initializers (`names`, default all), without
   * changing the model.
   */
  async gradients(feeds: Record<string, Feed>, targets: Targets, terms: LossTerm[], names = this.trainableNames): Promise<{ loss: number; grads: Record<string, OnnxTensor> }> {
    await this.planGradients(feeds, terms);
    return this.backend.run(() => {
      const { value, grads, termValues } = this.compute(feeds, targets, terms, names);
      try {
        const out: Record<string, OnnxTensor> = {};
        for (const n of names) {
          const v = this.exec.trainable.get(n)!;
          const g = grads[v.name];
          out[n] = g ? fromTf(g, n) : fromTf(tf.zerosLike(v), n);
        }
        return { loss: value.dataSync()[0], grads: out };
      } finally {
        value.dispose();
        tf.dispose(Object.values(grads));
        tf.dispose(Object.values(termValues));
      }
    });
  }

  /** Loss of the current parameters (no gradient). */
  async loss(feeds: Record<string, Feed>, targets: Targets, terms: LossTerm[]): Promise<StepResult> {
    return this.backend.run(() => {
      const tt: Record<string, Tensor> = {};
      const owned: Tensor[] = [];
      try {
        for (const term of terms) {
          const { t, owned: o } = asTensor(targets[term.output], `loss on '${term.output}'`);
          if (o) owned.push(t);
          tt[term.output] = t;
        }
        const losses = tf.tidy(() => {
          const outs = this.exec.forward(feeds, [...new Set(terms.map(t => t.output))]);
          return terms.map(term => lossOf(term, outs[term.output], tt[term.output]));
        });
        const res: StepResult = { loss: 0, terms: {} };
        terms.forEach((term, i) => {
          const l = losses[i].dataSync()[0];
          res.terms[term.output] = l;
          res.loss += l * (term.weight ?? 1);
        });
        tf.dispose(losses);
        return res;
      } finally {
        for (const t of owned) t.dispose();
      }
    });
  }

  /** One optimisation step on a batch; returns the loss before the step. */
  async step(feeds: Record<string, Feed>, targets: Targets, terms: LossTerm[], names = this.trainableNames): Promise<StepResult> {
    await this.planGradients(feeds, terms);
    return this.backend.run(() => {
      // gradients first (may throw a missing-kernel error before anything changed), then the update
      const { value, grads, termValues } = this.compute(feeds, targets, terms, names);
      try {
        this.optimizer.applyGradients(grads as Record<string, Tensor>);
        const res: StepResult = { loss: value.dataSync()[0], terms: {} };
        for (const [k, v] of Object.entries(termValues)) res.terms[k] = v.dataSync()[0];
        return res;
      } finally {
        value.dispose();
        tf.dispose(Object.values(grads));
        tf.dispose(Object.values(termValues));
      }
    });
  }

  /**
   * Train for `epochs` over `batches` (each: feeds and targets); returns the mean loss per epoch.
   * `onEpoch` may return false to stop early.
   */
  async fit(
    batches: { feeds: Record<string, Feed>; targets: Targets }[], terms: LossTerm[],
    options: { epochs?: number; names?: string[]; onEpoch?: (epoch: number, loss: number) => boolean | void } = {},
  ): Promise<number[]> {
    const epochs = options.epochs ?? 1;
    const history: number[] = [];
    for (let e = 0; e < epochs; e++) {
      let sum = 0;
      for (const b of batches) sum += (await this.step(b.feeds, b.targets, terms, options.names)).loss;
      const mean = sum / Math.max(batches.length, 1);
      history.push(mean);
      if (options.onEpoch && options.onEpoch(e, mean) === false) break;
    }
    return history;
  }

  /** Write the trained weights into `model` (default: the model the trainer was made from). */
  writeBack(model?: OnnxModel): string[] {
    return this.exec.writeBack(model);
  }

  dispose(): void {
    this.exec.dispose();
    this.optimizer.dispose();
  }
}

/** Run a model once on the preferred backend (convenience for inference through the executor). */
export async function runModel(model: OnnxModel, feeds: Record<string, Feed>, backend?: BackendName): Promise<Record<string, OnnxTensor>> {
  const t = await Trainer.create(model, { trainable: [], backend });
  try {
    return await t.run(feeds);
  } finally {
    t.dispose();
  }
}
