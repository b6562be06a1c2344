/**
 * sensor-window: per-signal sliding windows over sample and batch messages (lib/stream). This file
 * only reads the config, maps messages onto lib calls and results onto messages, and keeps the status.
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import { onInput, type Send } from '../shared/adapter';
import { InputError } from '../../lib/errors';
import { parseConfig, type RawSensorWindowConfig } from '../../lib/stream/config';
import { SensorWindows, type WindowOutput } from '../../lib/stream/sensor-windows';
import { readSamples } from '../../lib/contract/samples';

type SensorWindowDef = NodeDef & RawSensorWindowConfig;

const STATUS_DELAY_MS = 250;

export = function register(RED: NodeAPI): void {
  function SensorWindowNode(this: Node, def: SensorWindowDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the node, used in closures
    const node = this;
    let windows: SensorWindows | null = null;
    let configError: Error | null = null;
    try {
      windows = new SensorWindows(parseConfig(def));
    } catch (err) {
      configError = err instanceof Error ? err : new Error(String(err));
      node.status({ fill: 'red', shape: 'ring', text: configError.message.slice(0, 60) });
      node.error(configError.message);
    }

    let statusTimer: NodeJS.Timeout | null = null;
    const showStatus = () => {
      statusTimer = null;
      if (!windows) return;
      const s = windows.summary();
      if (s.signals === 0) {
        node.status({ fill: 'grey', shape: 'ring', text: RED._('sensor-window.status.waiting') });
        return;
      }
      const trouble = s.dropped > 0 || s.gaps > 0 || s.late > 0 || s.clamped > 0;
      const text = RED._('sensor-window.status.summary', { signals: s.signals, samples: s.samples, dropped: s.dropped, gaps: s.gaps, late: s.late });
      node.status({ fill: trouble ? 'yellow' : 'green', shape: 'dot', text });
    };
    const scheduleStatus = () => {
      if (statusTimer === null) statusTimer = setTimeout(showStatus, STATUS_DELAY_MS);
    };
    if (windows) showStatus();

    /** read once at deploy, not per message */
    const readOptions = { requireTopic: windows?.config.defaultTopic === null };
    const inputRate = windows?.config.rate.mode === 'input';

    /**
     * Fill `m` from an output: a new message, or, when the input gets exactly one answer, a shallow
     * copy of the input message (its other properties carried on, as core nodes do). A copy rather
     * than the input itself: adding properties to a message built with object spread
     * (`{ ...msg, x }`, common in Function nodes and in test harnesses) costs V8 microseconds per
     * property, while Object.assign into a fresh object stays fast for every message shape; and
     * done() then reports the input message as it arrived.
     */
    const toMessage = (o: WindowOutput, m: Record<string, unknown> = {}): Record<string, unknown> => {
      m.topic = o.topic;
      m.payload = o.payload;
      m.timestamp = o.timestamp;
      m.counts = o.counts;
      m.gaps = o.gaps;
      if (o.window) m.window = o.window;
      // a batch's sampleRate / timestamps no longer describe the payload (set to undefined, not
      // deleted: delete would turn the message into a slow dictionary-mode object downstream)
      if (m.sampleRate !== undefined) m.sampleRate = undefined;
      if (o.timestamps) m.timestamps = o.timestamps;
      else if (m.timestamps !== undefined) m.timestamps = undefined;
      return m;
    };

    onInput(node, (msg, send: Send) => {
      if (!windows) throw configError ?? new Error('sensor-window is not configured');
      if (msg.control !== undefined) {
        const topic = typeof msg.topic === 'string' && msg.topic !== '' ? msg.topic : undefined;
        if (msg.control === 'reset') {
          const cleared = windows.reset(topic);
          send({ control: 'reset', topic: msg.topic, payload: { reset: cleared } });
        } else if (msg.control === 'stats') {
          send({ control: 'stats', topic: msg.topic, payload: windows.snapshot() });
        } else {
          throw new InputError('msg.control', "'reset' or 'stats'", msg.control);
        }
        scheduleStatus();
        return;
      }
      const batch = readSamples(msg, readOptions);
      try {
        const outputs = windows.ingest(batch);
        // on every input: a copy of the input message carries its answer on (its other properties
        // kept, as core nodes do); other schedules send new messages, several per input or none
        if (outputs.length === 1 && inputRate) send(toMessage(outputs[0], Object.assign({}, msg)));
        else if (outputs.length === 1) send(toMessage(outputs[0]));
        else if (outputs.length > 1) send([outputs.map((o) => toMessage(o))]);
      } finally {
        scheduleStatus();
      }
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer !== null) clearTimeout(statusTimer);
      statusTimer = null;
      windows?.close();
      windows = null;
      done();
    });
  }
  RED.nodes.registerType('sensor-window', SensorWindowNode);
};
