/**
 * Apply codebook quantisation (codebook.ts, paper eq. 4) to the float weights of MatMul, Conv
 * and Gemm nodes: each weight W becomes a uint8 index initializer plus a float codebook, and the
 * graph gets `W = Gather(codebook, Cast(indices, int32))` at its start. Both inputs are
 * initializers, so ONNX Runtime folds the expansion when it loads the model: the file shrinks about
 * 4× and plain ONNX Runtime runs it at fp32 speed.
 */
import { GraphEditor, makeNode } from './graph';
import { codebookQuantize, type CodebookOptions } from './codebook';

export interface CodebookPassOptions extends CodebookOptions {
  /** skip weights with fewer elements (default 1024) */
  minSize?: number;
}

export interface CodebookLayer {
  weight: string;
  elements: number;
  levels: number;
  maxError: number;
  denseFraction: number;
}

const WEIGHT_INPUT: Record<string, number> = { MatMul: 1, Conv: 1, Gemm: 1 };

export function applyCodebook(g: GraphEditor, opts: CodebookPassOptions = {}): CodebookLayer[] {
  const minSize = opts.minSize ?? 1024;
  const done = new Set<string>();
  const out: CodebookLayer[] = [];
  const expansions = [];
  for (const n of g.nodes) {
    const slot = WEIGHT_INPUT[n.opType ?? ''];
    if (slot === undefined) continue;
    const name = n.input![slot];
    if (done.has(name)) continue;
    const w = g.floatInit(name);
    if (!w || w.data.length < minSize) continue;
    done.add(name);
    const cb = codebookQuantize(w.data, opts);
    const idx = g.fresh(`${name}_codebook_indices`);
    const levels = g.fresh(`${name}_codebook`);
    const idx32 = g.fresh(`${name}_codebook_indices_int32`);
    g.setInit(idx, 'uint8', w.dims, cb.indices);
    g.setFloat(levels, [cb.levels.length], cb.levels);
    expansions.push(
      makeNode('Cast', [idx], [idx32], g.fresh(`${name}_codebook_Cast`), { to: { i: 6 } }),
      makeNode('Gather', [levels, idx32], [name], g.fresh(`${name}_codebook_Gather`), { axis: { i: 0 } }),
    );
    out.push({ weight: name, elements: w.data.length, levels: cb.levels.length, maxError: cb.maxError, denseFraction: cb.denseCount / w.data.length });
  }
  // the float weights go; their names are now produced by the Gather nodes
  for (const name of done) g.removeInit(name);
  g.nodes.unshift(...expansions);
  g.clearValueInfo();
  return out;
}
