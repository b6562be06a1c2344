/**
 * onnx-model: config node holding one ONNX model (from a file path or a `pkg:` path, or installed
 * later by a model message) that several multitask-infer nodes share: one ONNX Runtime session,
 * hot-swapped for all of them at once. Users register on start and deregister on close; the session
 * is released when the last one goes (and when this node closes), and loaded again from the model's
 * bytes when a user registers again (ModelHolder.attach / detach).
 *
 * Admin endpoints (editor): GET onnx-model/signature?path=… describes a file;
 * GET onnx-model/:id/signature describes the model a deployed config node is running.
 */
import * as fs from 'fs';
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { resolveUserPath } from '../../lib/paths';
import { ModelHolder, type LoadedModel } from '../../lib/infer/model-holder';
import { signatureOf } from '../../lib/infer/describe';
import { configNumber } from '../shared/adapter';

interface OnnxModelDef extends NodeDef {
  path?: string;
  runIn?: 'auto' | 'main' | 'worker';
  maxQueue?: string | number;
  threads?: string | number;
}

interface OnnxModelNode extends Node {
  holder: ModelHolder;
  /** resolves when the configured file is loaded (undefined when none is configured); rejects with its error */
  ready: Promise<LoadedModel | undefined>;
  loadError?: Error;
  users: Set<Node>;
  /** Count `user` (once); resolves when the model is loaded for it again if its session had been released. */
  register(user: Node): Promise<void>;
  /** Uncount `user`; the last user releases the session. */
  deregister(user: Node): void;
}

/** How long a session without users waits for the deploy's 'flows:started' before it is released anyway. */
const RELEASE_WAIT_MS = 5000;

export = function register(RED: NodeAPI): void {
  const userDir = (): string => (RED.settings as any).userDir || process.cwd();

  /** Resolves when Node-RED has started the flows again (the end of a deploy), or after RELEASE_WAIT_MS. */
  function deployDone(): Promise<void> {
    return new Promise((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        RED.events.removeListener('flows:started', finish);
        resolve();
      };
      const timer = setTimeout(finish, RELEASE_WAIT_MS);
      timer.unref();
      RED.events.on('flows:started', finish);
    });
  }

  function OnnxModelConfig(this: OnnxModelNode, config: OnnxModelDef) {
    RED.nodes.createNode(this, config);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- Node-RED node constructors keep `this` for callbacks
    const node = this;
    node.users = new Set();
    try {
      const runIn = config.runIn || 'auto';
      if (!['auto', 'main', 'worker'].includes(runIn)) throw new Error(`config runIn: expected auto, main or worker, got ${JSON.stringify(runIn)}`);
      const maxQueue = configNumber(config.maxQueue, 'maxQueue', 64);
      const threads = configNumber(config.threads, 'threads', 1);
      if (!Number.isInteger(maxQueue) || maxQueue < 1) throw new Error('config maxQueue: expected an integer ≥ 1');
      if (!Number.isInteger(threads) || threads < 1) throw new Error('config threads: expected an integer ≥ 1');
      node.holder = new ModelHolder({ runIn, maxQueue, intraOpNumThreads: threads });
    } catch (err) {
      node.loadError = err as Error;
      node.holder = new ModelHolder();
      node.error((err as Error).message);
    }
    const path = (config.path || '').trim();
    if (node.loadError) {
      node.ready = Promise.reject(node.loadError);
    } else if (!path) {
      node.ready = Promise.resolve(undefined);
    } else {
      node.ready = (async () => {
        const file = resolveUserPath(path, userDir());
        const bytes = await fs.promises.readFile(file);
        return node.holder.open(new Uint8Array(bytes), path);
      })();
      node.ready.then(
        // loaded and checked at deploy even when unused, but no session held for nobody
        () => node.holder.releaseIfUnused(),
        (err: Error) => {
          node.loadError = new Error(`model ${path}: ${err.message}`);
          node.error(node.loadError.message);
        },
      );
    }
    node.ready.catch(() => undefined);

    node.register = (user: Node) => {
      if (node.users.has(user)) return Promise.resolve();
      node.users.add(user);
      return node.holder.attach();
    };
    node.deregister = (user: Node) => {
      // the last user: release once the deploy that stopped it has started the flows again (a
      // restarted user attaches first and keeps the session), or after a while without one
      if (node.users.delete(user)) void node.holder.detach(deployDone());
    };

    node.on('close', (done: () => void) => {
      node.holder.close().then(done, done);
    });
  }

  RED.nodes.registerType('onnx-model', OnnxModelConfig as any);

  const needsRead = RED.auth.needsPermission('onnx-model.read');
  RED.httpAdmin.get('/onnx-model/signature', needsRead, async (req: any, res: any) => {
    const p = String(req.query.path || '').trim();
    if (!p) return res.status(400).json({ error: 'path is required' });
    try {
      const bytes = await fs.promises.readFile(resolveUserPath(p, userDir()));
      res.json(signatureOf(new Uint8Array(bytes), p));
    } catch (err) {
      res.status(400).json({ error: (err as Error).message });
    }
  });
  RED.httpAdmin.get('/onnx-model/:id/signature', needsRead, (req: any, res: any) => {
    const n = RED.nodes.getNode(req.params.id) as OnnxModelNode | null;
    if (!n || !n.holder) return res.status(404).json({ error: 'no deployed onnx-model node with that id' });
    const m = n.holder.current ?? n.holder.idle;
    if (!m) return res.status(404).json({ error: n.loadError ? n.loadError.message : 'no model loaded yet' });
    const session = n.holder.current ? 'open' : 'released';
    res.json({ ...signatureOf(m.bytes, m.source), runIn: m.runner.kind, session, users: n.users.size, restorable: n.holder.restorable });
  });
};
