/**
 * Weld-seam inspection model (paper §3.1) trained on simulated weld seams:
 *
 *   features (48) → fc1 512 ReLU → fc2 64 ReLU → fc3 3 → seam_class
 *
 * A seam sample: 8 process statistics (arc current, voltage, wire feed, travel speed: mean and
 * ripple) and a 40-point laser profile of the bead height across the seam. Classes: 0 good,
 * 1 porosity (pits in the profile, current ripple), 2 lack of fusion (low heat input, narrow and
 * tall bead). Trained with plain-JS minibatch SGD (momentum, softmax cross-entropy), seeded.
 * The 512-neuron layer is the one the paper prunes to 128.
 *
 *   npx tsx tools/build-weld-model.ts → models/weld-seam.onnx, resources/weld-seam-validation.json
 *   npx tsx tools/build-weld-model.ts --metadata-only → only (re)writes the metadata of the existing
 *     models/weld-seam.onnx (weights, graph and validation file untouched)
 *
 * The model describes itself for multitask-infer and the cloud's retraining (lib/infer/model-spec.ts):
 * `feature_names` are the 48 physical quantities of a seam record (WELD_FEATURE_NAMES), and
 * `normalization` is the z-score simulateSeam applies to them (WELD_NORMALIZATION), so the node
 * feeds the network exactly the values it was trained on; one classification head `seam_class`
 * (softmax over the logits of output `seam_class`) with the labels WELD_CLASSES.
 */
import * as fs from 'fs';
import * as path from 'path';
import { SeededRandom } from '../lib/util/random';
import { buildMlp } from './build-boiler-model';
import { loadModel } from '../lib/onnx/model';

export const WELD_FEATURES = 48;
export const WELD_CLASSES = ['good', 'porosity', 'lack_of_fusion'];

/**
 * The seam record's fields, in the model's input order, and the z-score that turns them into the
 * network's inputs (x' = (x - mean) / std), as simulateSeam computes them:
 * f0 = (current - 200) / 40, f1 = (ripple - 6) / 5, f2 = (voltage - 23) / 3, f4 = (wire - 8) / 0.5,
 * f6 = (travel - 6) / 1.5, f7 = current · voltage / (travel · 900) - 1 = (heat - 900) / 900 with
 * heat = current · voltage / travel (J/mm); the voltage and wire-feed ripple indices and the bead
 * profile heights (mm) go in as they are (mean 0, std 1).
 */
export const WELD_FEATURE_NAMES: string[] = [
  'current_a', 'current_ripple_a', 'voltage_v', 'voltage_ripple', 'wire_feed_m_min', 'wire_feed_ripple', 'travel_speed_mm_s', 'heat_input_j_mm',
  ...Array.from({ length: 40 }, (_, i) => `profile_${String(i).padStart(2, '0')}_mm`),
];
export const WELD_NORMALIZATION = {
  type: 'zscore' as const,
  mean: [200, 6, 23, 0, 8, 0, 6, 900, ...new Array(40).fill(0)],
  std: [40, 5, 3, 1, 0.5, 1, 1.5, 900, ...new Array(40).fill(1)],
};

/** A seam's feature vector (simulateSeam's normalised values) as the physical record the model's metadata names. */
export function seamRecord(f: Float32Array): Record<string, number> {
  const rec: Record<string, number> = {};
  WELD_FEATURE_NAMES.forEach((n, i) => (rec[n] = f[i] * WELD_NORMALIZATION.std[i] + WELD_NORMALIZATION.mean[i]));
  return rec;
}

/**
 * Write the metadata multitask-infer and retraining read (name, feature names, normalisation, the
 * classification head, model_version) into an ONNX weld-seam model; the graph and weights are kept.
 */
export function withWeldMetadata(bytes: Uint8Array, extra: Record<string, string> = {}, version = 1): Buffer {
  const model = loadModel(bytes);
  model.modelVersion = version;
  model.setMetadata('name', 'weld-seam');
  model.setMetadata('description', 'Weld-seam inspection (paper §3.1): 8 process statistics and a 40-point laser bead profile → good / porosity / lack of fusion. Trained on simulated seams (tools/build-weld-model.ts).');
  model.setMetadata('feature_names', JSON.stringify(WELD_FEATURE_NAMES));
  model.setMetadata('normalization', JSON.stringify(WELD_NORMALIZATION));
  model.setMetadata('heads', JSON.stringify([{ task: 'seam_class', output: 'seam_class', type: 'classification', labels: WELD_CLASSES, activation: 'softmax' }]));
  for (const [k, v] of Object.entries(extra)) model.setMetadata(k, v);
  return model.toBuffer();
}

/** One simulated seam: features (48) and its class. */
export function simulateSeam(rng: SeededRandom, cls: number): Float32Array {
  const f = new Float32Array(WELD_FEATURES);
  const heat = cls === 2 ? rng.uniform(0.55, 0.8) : rng.uniform(0.85, 1.15);
  const current = 220 * heat + rng.normal(0, 6);
  const voltage = 24 * Math.sqrt(heat) + rng.normal(0, 0.6);
  const ripple = cls === 1 ? rng.uniform(8, 18) : rng.uniform(2, 8);
  const wire = 8 + rng.normal(0, 0.4);
  const travel = 6 / heat + rng.normal(0, 0.3);
  // normalised process statistics
  f[0] = (current - 200) / 40;
  f[1] = (ripple - 6) / 5;
  f[2] = (voltage - 23) / 3;
  f[3] = rng.normal(0, 0.3) + (cls === 1 ? 0.6 : 0);
  f[4] = (wire - 8) / 0.5;
  f[5] = rng.normal(0, 0.3);
  f[6] = (travel - 6) / 1.5;
  f[7] = (current * voltage) / (travel * 900) - 1;
  // bead profile: a Gaussian bump; lack of fusion → narrow and tall; porosity → a few pits
  const width = cls === 2 ? rng.uniform(4, 6) : rng.uniform(6.5, 9);
  const height = cls === 2 ? rng.uniform(1.6, 2.2) : rng.uniform(1.0, 1.5);
  const centre = 20 + rng.normal(0, 1.5);
  const pits = cls === 1 ? rng.integer(2, 4) : 0;
  const pitAt = Array.from({ length: pits }, () => centre + rng.uniform(-width / 2, width / 2));
  for (let i = 0; i < 40; i++) {
    let h = height * Math.exp(-((i - centre) ** 2) / (2 * (width / 2.5) ** 2));
    for (const p of pitAt) h -= 0.5 * Math.exp(-((i - p) ** 2) / 0.8);
    f[8 + i] = h + rng.normal(0, 0.05);
  }
  return f;
}

export function weldDataSet(count: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = new SeededRandom(seed);
  const x = new Float32Array(count * WELD_FEATURES);
  const y = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const c = i % 3;
    y[i] = c;
    x.set(simulateSeam(rng, c), i * WELD_FEATURES);
  }
  return { x, y };
}

/** Train the MLP; returns layers in [out, in] layout for buildMlp. */
export function trainWeldModel(sizes: number[], data: { x: Float32Array; y: Int32Array }, epochs: number, seed = 1): { w: Float32Array; b: Float32Array }[] {
  const rng = new SeededRandom(seed);
  const L = sizes.length - 1;
  const W = sizes.slice(0, L).map((n, l) => Float32Array.from({ length: sizes[l + 1] * n }, () => rng.normal(0, Math.sqrt(2 / n))));
  const B = sizes.slice(1).map((n) => new Float32Array(n));
  const VW = W.map((w) => new Float32Array(w.length));
  const VB = B.map((b) => new Float32Array(b.length));
  const n = data.y.length;
  const batch = 32;
  const lr = 0.02;
  const mom = 0.9;
  const order = Array.from({ length: n }, (_, i) => i);
  const acts = sizes.map((s) => new Float32Array(s));
  const grads = sizes.map((s) => new Float32Array(s));
  const GW = W.map((w) => new Float32Array(w.length));
  const GB = B.map((b) => new Float32Array(b.length));
  for (let e = 0; e < epochs; e++) {
    for (let i = n - 1; i > 0; i--) {
      const j = rng.integer(0, i);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (let s0 = 0; s0 < n; s0 += batch) {
      GW.forEach((g) => g.fill(0));
      GB.forEach((g) => g.fill(0));
      const end = Math.min(n, s0 + batch);
      for (let s = s0; s < end; s++) {
        const idx = order[s];
        acts[0].set(data.x.subarray(idx * sizes[0], (idx + 1) * sizes[0]));
        for (let l = 0; l < L; l++) {
          const [inN, outN] = [sizes[l], sizes[l + 1]];
          for (let o = 0; o < outN; o++) {
            let v = B[l][o];
            const wo = o * inN;
            for (let k = 0; k < inN; k++) v += W[l][wo + k] * acts[l][k];
            acts[l + 1][o] = l < L - 1 ? Math.max(0, v) : v;
          }
        }
        // softmax cross-entropy gradient
        const out = acts[L];
        const m = Math.max(...out);
        let z = 0;
        for (let c = 0; c < out.length; c++) z += Math.exp(out[c] - m);
        for (let c = 0; c < out.length; c++) grads[L][c] = Math.exp(out[c] - m) / z - (c === data.y[idx] ? 1 : 0);
        for (let l = L - 1; l >= 0; l--) {
          const [inN, outN] = [sizes[l], sizes[l + 1]];
          grads[l].fill(0);
          for (let o = 0; o < outN; o++) {
            const g = grads[l + 1][o];
            if (g === 0) continue;
            GB[l][o] += g;
            const wo = o * inN;
            for (let k = 0; k < inN; k++) {
              GW[l][wo + k] += g * acts[l][k];
              grads[l][k] += g * W[l][wo + k];
            }
          }
          if (l > 0) for (let k = 0; k < inN; k++) if (acts[l][k] <= 0) grads[l][k] = 0;
        }
      }
      const scale = lr / (end - s0);
      for (let l = 0; l < L; l++) {
        for (let i = 0; i < W[l].length; i++) {
          VW[l][i] = mom * VW[l][i] - scale * (GW[l][i] + 1e-4 * W[l][i]);
          W[l][i] += VW[l][i];
        }
        for (let i = 0; i < B[l].length; i++) {
          VB[l][i] = mom * VB[l][i] - scale * GB[l][i];
          B[l][i] += VB[l][i];
        }
      }
    }
  }
  return W.map((w, l) => ({ w, b: B[l] }));
}

if (require.main === module && process.argv.includes('--metadata-only')) {
  const file = path.join(__dirname, '..', 'models', 'weld-seam.onnx');
  const bytes = withWeldMetadata(fs.readFileSync(file));
  fs.writeFileSync(file, bytes);
  console.log(`models/weld-seam.onnx: metadata written (${bytes.length} bytes)`);
} else if (require.main === module) {
  const root = path.join(__dirname, '..');
  const sizes = [WELD_FEATURES, 512, 64, 3];
  const train = weldDataSet(1800, 11);
  const t0 = Date.now();
  const layers = trainWeldModel(sizes, train, 12, 5);
  const bytes = withWeldMetadata(buildMlp(sizes, { weights: layers, inputName: 'features', outputName: 'seam_class', name: 'weld-seam' }));
  fs.mkdirSync(path.join(root, 'models'), { recursive: true });
  fs.writeFileSync(path.join(root, 'models', 'weld-seam.onnx'), bytes);
  const held = weldDataSet(300, 77);
  const round = (a: Float32Array) => Array.from(a, (v) => Math.round(v * 1e4) / 1e4);
  fs.mkdirSync(path.join(root, 'resources'), { recursive: true });
  fs.writeFileSync(path.join(root, 'resources', 'weld-seam-validation.json'), JSON.stringify({
    inputs: { features: { shape: [300, WELD_FEATURES], data: round(held.x) } },
    expected: { seam_class: { shape: [300], data: Array.from(held.y) } },
  }));
  // held-out accuracy in plain JS
  let correct = 0;
  for (let s = 0; s < 300; s++) {
    let h: Float32Array = held.x.subarray(s * WELD_FEATURES, (s + 1) * WELD_FEATURES);
    for (let l = 0; l < 3; l++) {
      const [inN, outN] = [sizes[l], sizes[l + 1]];
      const o = new Float32Array(outN);
      for (let j = 0; j < outN; j++) {
        let v = layers[l].b[j];
        for (let k = 0; k < inN; k++) v += layers[l].w[j * inN + k] * h[k];
        o[j] = l < 2 ? Math.max(0, v) : v;
      }
      h = o;
    }
    if (h.indexOf(Math.max(...h)) === held.y[s]) correct++;
  }
  console.log(`models/weld-seam.onnx: ${bytes.length} bytes, trained in ${((Date.now() - t0) / 1000).toFixed(1)} s, held-out accuracy ${(100 * correct / 300).toFixed(1)} %`);
}
