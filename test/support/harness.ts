/**
 * Node test harness on node-red-node-test-helper, in the core nodes' "messaging API" style:
 * every flow gets a Catch node and a Complete node scoped to the node under test, so tests can
 * prove that `done()` is called once per message (Complete sees each successful done(), Catch
 * each done(err)) and that errors reach Catch.
 */
import helper = require('node-red-node-test-helper');

helper.init(require.resolve('node-red'));

export { helper };

export interface Harness {
  /** messages that reached the helper node wired to output `i` */
  outputs: any[][];
  /** messages a Catch node saw (each has msg.error) */
  caught: any[];
  /** messages a Complete node saw: one per successful done(); done(err) goes to Catch instead */
  completed: any[];
  node: any;
  /** send into the node under test */
  send(msg: Record<string, unknown>): void;
  /** resolve when `predicate()` is true, polling; rejects after `timeoutMs` */
  until(predicate: () => boolean, timeoutMs?: number): Promise<void>;
}

let started = false;
/** ids of every node in the flow loadNode loaded last */
let loadedFlowIds: string[] = [];

/**
 * For benchmarks: undo node-red-node-test-helper's instrumentation of the loaded flow, so a figure
 * measures Node-RED and the node, not the helper. The helper wraps Node.prototype's
 * log/status/warn/error/debug/trace/send in sinon spies (behind a Proxy) that record every call
 * and emit an event for it on the next tick; `_sandbox.restore()` puts the prototype back, but
 * Node-RED has already copied `send` onto each wired node of the flow, so those are reset too.
 */
export function removeTestSpies(flowIds: string[] = loadedFlowIds): void {
  const proto = (helper as any)._NodePrototype as Record<string, unknown>;
  const spied = new Set(['log', 'status', 'warn', 'error', 'debug', 'trace', 'send'].map((m) => proto[m]));
  (helper as any)._sandbox?.restore();
  for (const id of flowIds) {
    const node = helper.getNode(id) as any;
    if (node && Object.prototype.hasOwnProperty.call(node, 'send') && spied.has(node.send)) node.send = proto.send;
  }
  const left = flowIds.filter((id) => spied.has((helper.getNode(id) as any)?.send));
  if (spied.has(proto.send) || left.length) throw new Error(`test-helper spies still in place (${left.join(', ') || 'prototype'})`);
}

export async function startServer(): Promise<void> {
  if (!started) {
    await new Promise<void>((resolve) => helper.startServer(() => resolve()));
    started = true;
  }
}

export async function stopServer(): Promise<void> {
  await helper.unload();
  if (started) {
    await new Promise<void>((resolve) => helper.stopServer(() => resolve()));
    started = false;
  }
}

/**
 * Load `nodeModules` with a flow holding `config` (the node under test, id 'n1'), `outputCount`
 * helper nodes on its outputs, and a Catch + Complete node scoped to it. `extraNodes` (config
 * nodes and the like) are added as they are. `record: false` (for benchmarks) leaves the
 * `outputs`, `caught` and `completed` lists empty: a flow does not keep every message it passed
 * on, and a heap growing by each one makes every later garbage collection dearer.
 */
export async function loadNode(nodeModules: unknown | unknown[], config: Record<string, unknown>, outputCount = 1, extraNodes: Record<string, unknown>[] = [], credentials: Record<string, unknown> = {}, options: { record?: boolean } = {}): Promise<Harness> {
  const outputs: any[][] = Array.from({ length: outputCount }, () => []);
  const caught: any[] = [];
  const completed: any[] = [];
  const flow: Record<string, unknown>[] = [
    { id: 'f1', type: 'tab', label: 'test' },
    { ...config, id: 'n1', z: 'f1', wires: outputs.map((_, i) => [`out${i}`]) },
    ...outputs.map((_, i) => ({ id: `out${i}`, type: 'helper', z: 'f1' })),
    { id: 'catch1', type: 'catch', z: 'f1', scope: ['n1'], uncaught: false, wires: [['caught']] },
    { id: 'caught', type: 'helper', z: 'f1' },
    { id: 'complete1', type: 'complete', z: 'f1', scope: ['n1'], uncaught: false, wires: [['completed']] },
    { id: 'completed', type: 'helper', z: 'f1' },
    ...extraNodes.map((n) => ({ z: 'f1', ...n })),
  ];
  const catchNode = require('@node-red/nodes/core/common/25-catch.js');
  const completeNode = require('@node-red/nodes/core/common/24-complete.js');
  const modules = [...(Array.isArray(nodeModules) ? nodeModules : [nodeModules]), catchNode, completeNode];
  await helper.load(modules, flow, credentials);
  loadedFlowIds = flow.map((n) => String(n.id));
  const node = helper.getNode('n1');
  if (!node) throw new Error('node under test was not created (its constructor threw?)');
  if (options.record !== false) {
    outputs.forEach((list, i) => helper.getNode(`out${i}`).on('input', (m: any) => list.push(m)));
    helper.getNode('caught').on('input', (m: any) => caught.push(m));
    helper.getNode('completed').on('input', (m: any) => completed.push(m));
  }
  return {
    outputs,
    caught,
    completed,
    node,
    send: (msg) => node.receive(msg),
    until: (predicate, timeoutMs = 5000) => waitFor(predicate, timeoutMs),
  };
}

export function waitFor(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (predicate()) return resolve();
      if (Date.now() - start > timeoutMs) return reject(new Error(`condition not met within ${timeoutMs} ms`));
      setTimeout(tick, 5);
    };
    tick();
  });
}
