/**
 * `industrial-ai optimize in.onnx -o out.onnx [options]` — the prune-quantize chain from a shell.
 * Progress goes to stderr (a bar on a terminal, one line per stage otherwise); the report summary
 * to stdout; the input file is never overwritten (the output is written to a temp file and renamed).
 */
import * as fs from 'fs';
import * as path from 'path';
import { InputError } from '../errors';
import { parseDataSet } from './data';
import { optimize, type OptimizeReport } from './optimize';
import { chainOptions, type ChainSpec } from './options';

export const USAGE = `Usage: industrial-ai optimize <in.onnx> -o <out.onnx> [options]

Optimise an ONNX model for edge gateways: prune, factorise, quantise; report size, latency, accuracy.

Transformations (any combination, applied in this order):
  --prune-conv-keep N      conv channel pruning: keep N channels per Conv (mean activation over --calib)
  --prune-conv-ratio R     conv channel pruning: keep the fraction R (0 < R <= 1)
  --prune-l1 T             L1 neuron pruning of dense layers: drop neurons scoring < T x the layer's best (0 <= T < 1; paper 0.3)
  --prune-keep N           L1 neuron pruning: keep the N best neurons per layer (512 -> 128)
  --prune-ratio R          L1 neuron pruning: keep the fraction R per layer
  --prune-layers a,b       only these layers (node, weight or output names)
  --lowrank R              low-rank factorisation of MatMul weights at rank R (4096x4096 -> rank 64)
  --lowrank-energy E       smallest rank keeping the fraction E of the weight energy (0 < E < 1)
  --finetune-epochs N      fine-tune the pruned / factorised model for N epochs (Adam) on --train
                           before quantisation; loss: MSE for a 1-wide output, cross-entropy for class labels
  --lr L                   fine-tuning learning rate (default 0.001)
  --batch-size B           fine-tuning samples per step (default 32)
  --int8 dynamic|static    int8: dynamic (DynamicQuantizeLinear -> MatMulInteger / ConvInteger)
                           or static QDQ (QLinearMatMul / QLinearConv; needs --calib or --act-range)
  --per-channel            one weight scale per output channel
  --weight-scale S         fixed weight scale, Q = round(W / S) (paper eq. 3: 0.125)
  --act-range fixed|lo,hi  static: fixed activation range instead of calibration ('fixed' = [-8, 7.875])
  --codebook               codebook (non-uniform) weights: uint8 indices + codebook (paper eq. 4)
  --codebook-fine D        fine step where values are dense (default 0.01)
  --codebook-coarse D      coarse step where values are sparse (default 0.1)
  --codebook-threshold P   density threshold (default: uniform density over the range)

Data and report:
  --calib data.json        calibration data {"inputs": {"<input>": {"shape": [...], "data": [...]}}}
  --validate data.json     validation data, optionally with "expected": {"<output>": {"shape", "data"}}
  --train data.json        training data for --finetune-epochs: the same JSON with "expected" outputs or labels
  --report report.json     write the full report as JSON
  --no-latency             skip the latency measurements
  --repeats N              runs per latency figure (default 20)
  -q, --quiet              no progress output
  -h, --help               this text
`;

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
}

const defaultIo: CliIo = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s), isTTY: !!process.stderr.isTTY };

class UsageError extends Error {}

interface Parsed {
  input: string;
  output: string;
  spec: ChainSpec;
  calib?: string;
  validate?: string;
  train?: string;
  report?: string;
  quiet: boolean;
}

function parseArgs(argv: string[]): Parsed | 'help' {
  const args = [...argv];
  if (args.length === 0 || args.includes('-h') || args.includes('--help')) return 'help';
  const cmd = args.shift();
  if (cmd !== 'optimize') throw new UsageError(`unknown command '${cmd}' (the command is 'optimize')`);
  const spec: ChainSpec = {};
  const p: Partial<Parsed> = { quiet: false };
  const positional: string[] = [];
  const value = (flag: string) => {
    const v = args.shift();
    if (v === undefined || (v.startsWith('-') && !/^-?\d/.test(v))) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const number = (flag: string) => {
    const v = value(flag);
    const n = Number(v);
    if (!Number.isFinite(n)) throw new UsageError(`${flag}: expected a number, got '${v}'`);
    return n;
  };
  while (args.length) {
    const a = args.shift()!;
    switch (a) {
      case '-o': case '--output': p.output = value(a); break;
      case '--prune-l1': spec.pruneL1 = number(a); break;
      case '--prune-keep': spec.pruneKeep = number(a); break;
      case '--prune-ratio': spec.pruneRatio = number(a); break;
      case '--prune-conv-keep': spec.pruneConvKeep = number(a); break;
      case '--prune-conv-ratio': spec.pruneConvRatio = number(a); break;
      case '--prune-layers': spec.pruneLayers = value(a).split(',').map((s) => s.trim()).filter(Boolean); break;
      case '--lowrank': spec.lowRank = number(a); break;
      case '--lowrank-energy': spec.lowRankEnergy = number(a); break;
      case '--finetune-epochs': spec.finetuneEpochs = number(a); break;
      case '--lr': spec.learningRate = number(a); break;
      case '--batch-size': spec.batchSize = number(a); break;
      case '--train': p.train = value(a); break;
      case '--int8': {
        const m = value(a);
        if (m !== 'dynamic' && m !== 'static') throw new UsageError(`--int8: expected 'dynamic' or 'static', got '${m}'`);
        spec.int8 = m;
        break;
      }
      case '--per-channel': spec.perChannel = true; break;
      case '--weight-scale': spec.weightScale = number(a); break;
      case '--act-range': {
        const v = value(a);
        if (v === 'fixed' || v === 'calibrate') spec.activations = v;
        else {
          const r = v.split(',').map(Number);
          if (r.length !== 2 || !r.every(Number.isFinite)) throw new UsageError(`--act-range: expected 'fixed' or 'low,high', got '${v}'`);
          spec.activations = [r[0], r[1]];
        }
        break;
      }
      case '--codebook': spec.codebook = true; break;
      case '--codebook-fine': spec.codebookFine = number(a); break;
      case '--codebook-coarse': spec.codebookCoarse = number(a); break;
      case '--codebook-threshold': spec.codebookThreshold = number(a); break;
      case '--calib': p.calib = value(a); break;
      case '--validate': p.validate = value(a); break;
      case '--report': p.report = value(a); break;
      case '--no-latency': spec.latency = false; break;
      case '--repeats': spec.repeats = number(a); break;
      case '-q': case '--quiet': p.quiet = true; break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
        positional.push(a);
    }
  }
  if (positional.length !== 1) throw new UsageError(positional.length === 0 ? 'no input model given' : `one input model expected, got ${positional.join(' ')}`);
  if (!p.output) throw new UsageError('no output given (-o out.onnx)');
  const ft = spec.finetuneEpochs !== undefined && spec.finetuneEpochs !== 0;
  if (p.train && !ft) throw new UsageError('--train is for fine-tuning: give --finetune-epochs N too');
  if (ft && !p.train) throw new UsageError('--finetune-epochs needs training data (--train data.json)');
  if (!ft && (spec.learningRate !== undefined || spec.batchSize !== undefined)) throw new UsageError('--lr and --batch-size are fine-tuning options: give --finetune-epochs N and --train too');
  return { input: positional[0], output: p.output, spec, calib: p.calib, validate: p.validate, train: p.train, report: p.report, quiet: !!p.quiet };
}

function sameFile(a: string, b: string): boolean {
  const ra = path.resolve(a);
  const rb = path.resolve(b);
  if (ra === rb) return true;
  try {
    const sa = fs.statSync(ra);
    const sb = fs.statSync(rb);
    return sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

function readJson(file: string, field: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(field, 'a readable JSON file', file, (e as Error).message);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InputError(field, 'a JSON file', file, (e as Error).message);
  }
}

function bar(fraction: number, stage: string): string {
  const width = 30;
  const filled = Math.round(fraction * width);
  return `\r[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${String(Math.round(fraction * 100)).padStart(3)}% ${stage.padEnd(40).slice(0, 40)}`;
}

export function summary(r: OptimizeReport): string {
  const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;
  const lines = [
    `parameters: ${r.original.parameters} -> ${r.optimized.parameters} (${(r.ratios.parameters * 100).toFixed(1)} %)`,
    `file size:  ${mb(r.original.bytes)} -> ${mb(r.optimized.bytes)} (${(r.ratios.bytes * 100).toFixed(1)} %)`,
  ];
  if (r.original.latencyMs && r.optimized.latencyMs) {
    lines.push(`latency batch 1:  ${r.original.latencyMs.batch1.toFixed(3)} ms -> ${r.optimized.latencyMs.batch1.toFixed(3)} ms (x${r.ratios.speedupBatch1!.toFixed(2)})`);
    lines.push(`latency batch 32: ${r.original.latencyMs.batch32.toFixed(3)} ms -> ${r.optimized.latencyMs.batch32.toFixed(3)} ms (x${r.ratios.speedupBatch32!.toFixed(2)})`);
  }
  const ft = r.steps.finetune;
  if (ft) {
    lines.push(`fine-tuning: ${ft.epochs} epochs on ${ft.samples} samples (lr ${ft.learningRate}, batch ${ft.batchSize}, ${ft.backend}, ${(ft.ms / 1000).toFixed(1)} s): loss ${ft.lossBefore.toPrecision(4)} -> ${ft.lossAfter.toPrecision(4)}`);
    for (const [name, m] of Object.entries(ft.validationAfter?.outputs ?? {})) {
      lines.push(`  ${name} ${m.metric} before -> after fine-tuning: ${ft.validationBefore?.outputs[name]?.value.toFixed(4)} -> ${m.value.toFixed(4)}`);
    }
  }
  for (const [name, m] of Object.entries(r.optimized.validation?.outputs ?? {})) {
    const before = r.original.validation?.outputs[name]?.value;
    lines.push(`${name} ${m.metric}: ${before?.toFixed(4)} -> ${m.value.toFixed(4)}`);
  }
  for (const [name, d] of Object.entries(r.maxAbsDiff)) lines.push(`${name} max |optimised - original|: ${d.toExponential(3)}`);
  for (const n of r.notes) lines.push(`note: ${n}`);
  return lines.join('\n') + '\n';
}

/** Run the CLI; returns the exit code (0 ok, 1 failure, 2 usage). */
export async function main(argv: string[], io: CliIo = defaultIo): Promise<number> {
  let parsed: Parsed | 'help';
  try {
    parsed = parseArgs(argv);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`industrial-ai: ${e.message}\n\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (parsed === 'help') {
    io.out(USAGE);
    return 0;
  }
  const { input, output } = parsed;
  try {
    if (sameFile(input, output)) throw new InputError('-o', 'an output path other than the input model (the input is never overwritten)', output);
    const bytes = fs.readFileSync(input);
    const options = chainOptions(parsed.spec);
    if (parsed.calib) options.calibration = parseDataSet(readJson(parsed.calib, '--calib'), 'calibration');
    if (parsed.validate) options.validation = parseDataSet(readJson(parsed.validate, '--validate'), 'validation');
    if (parsed.train) options.training = parseDataSet(readJson(parsed.train, '--train'), 'training');
    let last = '';
    if (!parsed.quiet) {
      options.onProgress = (f, stage) => {
        if (io.isTTY) io.err(bar(f, stage));
        else if (stage !== last) io.err(`${Math.round(f * 100)}% ${stage}\n`);
        last = stage;
      };
    }
    const { model, report } = await optimize(bytes, options);
    if (!parsed.quiet && io.isTTY) io.err('\n');
    const tmp = `${output}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, model);
    fs.renameSync(tmp, output);
    if (parsed.report) fs.writeFileSync(parsed.report, JSON.stringify({ input: path.resolve(input), output: path.resolve(output), ...report }, null, 2));
    io.out(`wrote ${output}\n${summary(report)}`);
    return 0;
  } catch (e) {
    if (!parsed.quiet && io.isTTY) io.err('\n');
    io.err(`industrial-ai: ${(e as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => { process.exitCode = code; });
}
