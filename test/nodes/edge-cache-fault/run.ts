/**
 * The edge-cache fault test: start the child (child.ts), let it write at full speed, SIGKILL it at
 * a random point, restart it, `kills` times; then a last run drains the queue. The delivered
 * sequence must hold every accepted message, in order, and a message delivered more than once must
 * carry the same id each time. Used by test/nodes/edge-cache-fault.test.ts (5 kills) and
 * bench/edge-cache.ts (50 kills).
 */
import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { SeededRandom } from '../../../lib/util/random';

export interface FaultResult {
  kills: number;
  mode: 'node' | 'lib';
  /** maxInFlight of the cache under test */
  window: number;
  /** messages whose done() was seen before the kill */
  accepted: number;
  /** distinct messages the uplink received */
  delivered: number;
  /** receptions of a message already received (same id each time) */
  duplicates: number;
  /** messages received that were committed but whose done() the kill cut off */
  committedNotReported: number;
  /** problems found (empty = pass) */
  problems: string[];
  ms: number;
}

const CHILD = path.join(__dirname, 'child.ts');
const SEQ_STRIDE = 100_000_000;

function runChild(env: Record<string, string>, killAfterMs: number | null, lines: string[], timeoutMs = 60_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), CHILD], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let rest = '';
    let stderr = '';
    let killTimer: NodeJS.Timeout | null = null;
    const guard = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`fault child did not finish within ${timeoutMs} ms; stderr: ${stderr.slice(-500)}`));
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      const text = rest + chunk.toString();
      const parts = text.split('\n');
      rest = parts.pop() as string; // a line cut by the kill is incomplete: ignored
      for (const line of parts) {
        lines.push(line);
        if (line.startsWith('A ') && killAfterMs !== null && !killTimer) {
          killTimer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        }
      }
    });
    child.stderr.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    child.on('exit', (code, signal) => {
      clearTimeout(guard);
      if (killTimer) clearTimeout(killTimer);
      if (killAfterMs !== null && signal !== 'SIGKILL') reject(new Error(`fault child exited early (${code ?? signal}): ${stderr.slice(-800)}`));
      else if (killAfterMs === null && code !== 0) reject(new Error(`fault drain run failed (${code ?? signal}): ${stderr.slice(-800)}`));
      else resolve();
    });
  });
}

export async function runFaultTest(options: { kills: number; mode: 'node' | 'lib'; store?: 'main' | 'worker'; window?: number; seed?: number; synchronous?: 'FULL' | 'NORMAL'; minMs?: number; maxMs?: number }): Promise<FaultResult> {
  const started = Date.now();
  const rnd = new SeededRandom(options.seed ?? 8);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'edge-cache-fault-'));
  const file = path.join(dir, 'queue.sqlite');
  const lines: string[] = [];
  try {
    for (let k = 0; k < options.kills; k++) {
      const killAfter = Math.round(rnd.uniform(options.minMs ?? 150, options.maxMs ?? 900));
      await runChild({ FAULT_FILE: file, FAULT_SEQ: String(k * SEQ_STRIDE), FAULT_PRODUCE: '1', FAULT_SEED: String(k + 1), FAULT_MODE: options.mode, FAULT_WINDOW: String(options.window ?? 1), FAULT_SYNC: options.synchronous ?? 'NORMAL', FAULT_STORE: options.store ?? 'worker' }, killAfter, lines);
    }
    await runChild({ FAULT_FILE: file, FAULT_SEQ: '0', FAULT_PRODUCE: '0', FAULT_SEED: '0', FAULT_MODE: options.mode, FAULT_WINDOW: String(options.window ?? 1), FAULT_SYNC: options.synchronous ?? 'NORMAL', FAULT_STORE: options.store ?? 'worker' }, null, lines);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { ...check(lines, options.kills, (options.window ?? 1) === 1), mode: options.mode, window: options.window ?? 1, ms: Date.now() - started };
}

/**
 * Check the log (see child.ts for the line format). Exported for its own test.
 * Always: every accepted message received; one id per message; ids grow with the order messages
 * were produced in; within one child run the received messages are a gap-free prefix of what it
 * produced. With `strictOrder` (maxInFlight 1) also: first receptions strictly in order. With a
 * larger window a message lost on the link while later ones got through is received after them
 * (go-back to the oldest unacknowledged one), so first receptions are not checked for order then.
 */
export function check(lines: string[], kills: number, strictOrder = true): Omit<FaultResult, 'ms' | 'mode' | 'window'> {
  const problems: string[] = [];
  const accepted = new Set<number>();
  const idOf = new Map<number, number>();
  const firstOrder: number[] = [];
  let duplicates = 0;
  let empty = false;
  for (const line of lines) {
    const [kind, a, b] = line.split(' ');
    if (kind === 'A') accepted.add(Number(a));
    else if (kind === 'D') {
      const seq = Number(a);
      const id = Number(b);
      const known = idOf.get(seq);
      if (known === undefined) {
        idOf.set(seq, id);
        firstOrder.push(seq);
      } else {
        duplicates++;
        if (known !== id && problems.length < 10) problems.push(`seq ${seq} delivered with id ${known} and again with id ${id}`);
      }
    } else if (kind === 'EMPTY') empty = true;
  }
  if (!empty) problems.push('the drain run never reported an empty queue');
  if (strictOrder) {
    for (let i = 1; i < firstOrder.length; i++) {
      if (firstOrder[i] <= firstOrder[i - 1] && problems.length < 10) problems.push(`out of order: seq ${firstOrder[i - 1]} before ${firstOrder[i]}`);
    }
  }
  const bySeq = [...firstOrder].sort((a, b) => a - b);
  for (let i = 1; i < bySeq.length; i++) {
    if (idOf.get(bySeq[i])! <= idOf.get(bySeq[i - 1])! && problems.length < 10) problems.push(`ids not increasing at seq ${bySeq[i]}`);
  }
  let lost = 0;
  for (const s of accepted) {
    if (!idOf.has(s)) {
      lost++;
      if (problems.length < 10) problems.push(`accepted seq ${s} was never delivered`);
    }
  }
  if (lost) problems.push(`${lost} accepted messages lost`);
  // within one run seqs are produced in order: a gap in the first deliveries of a run is a loss
  const byRun = new Map<number, number[]>();
  for (const s of bySeq) {
    const run = Math.floor(s / SEQ_STRIDE);
    if (!byRun.has(run)) byRun.set(run, []);
    byRun.get(run)!.push(s);
  }
  for (const [run, seqs] of byRun) {
    if (seqs[0] !== run * SEQ_STRIDE && problems.length < 10) problems.push(`run ${run}: first delivered seq is ${seqs[0]}, not the first produced`);
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i] !== seqs[i - 1] + 1 && problems.length < 10) problems.push(`run ${run}: gap between seq ${seqs[i - 1]} and ${seqs[i]}`);
    }
  }
  const committedNotReported = firstOrder.filter((s) => !accepted.has(s)).length;
  return { kills, accepted: accepted.size, delivered: firstOrder.length, duplicates, committedNotReported, problems };
}
