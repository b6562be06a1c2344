/**
 * physics-augment: multiplies each real sample into K augmented samples that keep the configured
 * process physics (lib/augment). Output 1 carries the augmented samples (each marked
 * `msg.augmented`), output 2 the real message unchanged and the answers to control messages.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { onInput, asError, type Send } from '../shared/adapter';
import { isBatchPayload, readRecord, readSamples } from '../../lib/contract/samples';
import { InputError } from '../../lib/errors';
import { Augmenter, mixSeed, type Sample } from '../../lib/augment/augmenter';
import { parseAugmentOptions, isSeed, type AugmentOutput } from '../../lib/augment/options';

interface Settings {
  augmenter: Augmenter;
  count: number;
  seed: number;
  output: AugmentOutput;
}

const STATUS_DELAY_MS = 250;

/** Read and check the node's config (lib/augment/options); a blank seed is drawn at random here. */
function readSettings(def: NodeDef & Record<string, unknown>): Settings {
  const o = parseAugmentOptions(def);
  const seed = o.seed ?? Math.floor(Math.random() * 0x100000000);
  return { augmenter: new Augmenter(o.rules, { maxAttempts: o.maxAttempts }), count: o.count, seed, output: o.output };
}

export = function register(RED: NodeAPI): void {
  function PhysicsAugmentNode(this: Node, def: NodeDef & Record<string, unknown>) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the node is used inside callbacks
    const node = this;
    let settings: Settings | null = null;
    let configError: Error | null = null;
    try {
      settings = readSettings(def);
    } catch (err) {
      configError = asError(err);
      node.status({ fill: 'red', shape: 'ring', text: configError.message.slice(0, 80) });
      node.error(configError.message);
    }

    const stats = { received: 0, requested: 0, emitted: 0, notEmitted: 0, errors: 0, notEmittedByRule: {} as Record<string, number> };
    let lastRejectedRule: string | null = null;
    let lastError: string | null = null;

    let statusTimer: NodeJS.Timeout | null = null;
    const showStatus = () => {
      statusTimer = null;
      if (!settings) return;
      if (stats.received === 0 && stats.errors === 0) {
        node.status({ fill: 'grey', shape: 'ring', text: RED._('physics-augment.status.waiting', { count: settings.count }) });
        return;
      }
      const text = RED._('physics-augment.status.summary', { received: stats.received, emitted: stats.emitted, notEmitted: stats.notEmitted });
      if (lastError) node.status({ fill: 'red', shape: 'ring', text: `${text} · ${lastError.slice(0, 50)}` });
      else if (lastRejectedRule) node.status({ fill: 'yellow', shape: 'dot', text: `${text} (${lastRejectedRule})` });
      else node.status({ fill: 'green', shape: 'dot', text });
    };
    const scheduleStatus = () => {
      if (statusTimer === null) statusTimer = setTimeout(showStatus, STATUS_DELAY_MS);
    };
    showStatus();

    onInput(node, (msg, send: Send) => {
      if (!settings) throw configError ?? new Error('physics-augment is not configured');
      if (msg.control !== undefined) {
        if (msg.control === 'stats') {
          msg.payload = { ...stats, notEmittedByRule: { ...stats.notEmittedByRule }, count: settings.count, seed: settings.seed, rules: settings.augmenter.ruleIds.slice() };
          send([null, msg]);
        } else if (msg.control === 'reset') {
          Object.assign(stats, { received: 0, requested: 0, emitted: 0, notEmitted: 0, errors: 0, notEmittedByRule: {} });
          lastRejectedRule = null;
          lastError = null;
          msg.payload = { reset: true };
          send([null, msg]);
        } else {
          throw new InputError('msg.control', "'stats' or 'reset'", msg.control);
        }
        scheduleStatus();
        return;
      }
      try {
        augmentMessage(msg, send, settings);
        lastError = null;
      } catch (err) {
        stats.errors++;
        lastError = err instanceof Error ? err.message : String(err);
        throw err;
      } finally {
        scheduleStatus();
      }
    });

    function augmentMessage(msg: Record<string, any>, send: Send, s: Settings): void {
      // A curve may come as a batch message (the values of msg.topic) or inside a record.
      let real: Sample;
      let curveTopic: string | null = null;
      if (isBatchPayload(msg.payload)) {
        const batch = readSamples(msg);
        curveTopic = batch.topic as string;
        real = { [curveTopic]: Array.from(batch.values) };
      } else {
        readRecord(msg);
        real = msg.payload;
      }
      let messageSeed: number;
      if (msg.seed !== undefined) {
        if (!isSeed(msg.seed)) throw new InputError('msg.seed', 'an integer 0–4294967295', msg.seed);
        messageSeed = msg.seed;
      } else {
        messageSeed = mixSeed(s.seed, stats.received);
      }
      const result = s.augmenter.augment(real, s.count, messageSeed);
      stats.received++;
      stats.requested += s.count;
      stats.emitted += result.samples.length;
      lastRejectedRule = null;
      for (const [rule, n] of Object.entries(result.rejected)) {
        stats.notEmitted += n;
        stats.notEmittedByRule[rule] = (stats.notEmittedByRule[rule] ?? 0) + n;
        lastRejectedRule = rule;
      }

      // Shallow copies: Node-RED's send() deep-clones every message of one call except the first, and
      // the first augmented message is sent before the original (which is then cloned), so no two
      // messages downstream share an object.
      const { payload: _payload, _msgid: _id, seed: _seed, ...rest } = msg;
      const toPayload = (p: Sample) => (curveTopic !== null ? p[curveTopic] : p);
      let augmented: Array<Record<string, unknown>> = [];
      if (s.output === 'each') {
        augmented = result.samples.map((a) => ({
          ...rest,
          _msgid: RED.util.generateId(),
          payload: toPayload(a.payload),
          augmented: { seed: a.seed, rules: s.augmenter.ruleIds.slice(), index: a.index, messageSeed },
        }));
      } else if (result.samples.length > 0) {
        augmented = [{
          ...rest,
          _msgid: RED.util.generateId(),
          payload: result.samples.map((a) => toPayload(a.payload)),
          augmented: {
            seed: messageSeed, rules: s.augmenter.ruleIds.slice(), seeds: result.samples.map((a) => a.seed),
            requested: result.requested, emitted: result.samples.length, notEmitted: result.rejected,
          },
        }];
      }
      send([augmented, msg]);
    }

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
      done();
    });
  }

  RED.nodes.registerType('physics-augment', PhysicsAugmentNode);
};
