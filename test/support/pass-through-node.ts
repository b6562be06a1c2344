/**
 * A node that forwards every message unchanged: Node-RED's own per-message cost in a harness.
 * Benchmarks run it beside a real node on the same messages. Registered only in tests and benches.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';

export = function register(RED: NodeAPI): void {
  function PassThroughNode(this: Node, config: NodeDef) {
    RED.nodes.createNode(this, config);
    this.on('input', (msg: any, send: (m: any) => void, done: () => void) => {
      send(msg);
      done();
    });
  }
  RED.nodes.registerType('pass-through', PassThroughNode);
};
