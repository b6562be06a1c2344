/**
 * dual-fusion: a thin adapter over lib/fusion. Samples of two sources (told apart by msg.topic)
 * are paired by timestamp and fused; output 1 carries fused records, output 2 disagreements,
 * unpaired samples, source stale/recovered events and control answers.
 *
 * Held samples keep their message's done() until they are released (fused, reported unpaired,
 * dropped by a reset, or the node closes), as the core batch node does, so a Complete node fires
 * when a sample has really been dealt with.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { onInput, asError, type Send, type Done } from '../shared/adapter';
import { parseFusionOptions, type DualFusionOptions } from '../../lib/fusion/options';
import { DualFusion, type FusedResult, type FusionEvent, type SourceKey } from '../../lib/fusion/dual-fusion';
import { readSample } from '../../lib/contract/samples';
import { InputError } from '../../lib/errors';

interface Ref {
  msg: Record<string, any>;
  send: Send;
  done: Done;
}

const CONTROLS = ['reset', 'stats'];

export = function register(RED: NodeAPI): void {
  function DualFusionNode(this: Node, config: NodeDef & Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    setup(this, config);
  }

  function setup(node: Node, config: NodeDef & Record<string, unknown>): void {
    let options: DualFusionOptions;
    try {
      options = parseFusionOptions(config);
    } catch (err) {
      const message = asError(err).message;
      node.status({ fill: 'red', shape: 'ring', text: message });
      node.error(message);
      onInput(node, () => {
        throw new Error(`dual-fusion is not configured: ${message}`);
      });
      return;
    }
    const bufferLimit = Number((RED.settings as any).nodeMessageBufferMaxLength) || 0;
    if (bufferLimit > 0 && bufferLimit < options.maxHeld) options = { ...options, maxHeld: bufferLimit };
    const opts = options;
    const topics = opts.sources;
    const engine = new DualFusion<Ref>(opts, Date.now());

    let timer: NodeJS.Timeout | null = null;
    let timerAt = Infinity;
    let lastStatusKey = '';
    let lastStatusAt = 0;
    /** trailing status update, so the last counts show even when messages stop within the throttle */
    let statusTimer: NodeJS.Timeout | null = null;

    const byTopic = <T>(a: T, b: T): Record<string, T> => ({ [topics.a]: a, [topics.b]: b });

    function fusionInfo(event: 'fused' | 'degraded' | 'disagreement', r: FusedResult): Record<string, unknown> {
      const weights: Record<string, number> = byTopic(r.weights.a, r.weights.b);
      if (r.weights.prior !== undefined) weights.prior = r.weights.prior;
      return {
        event,
        mode: r.mode,
        value: r.value,
        uncertainty: r.uncertainty,
        weights,
        sources: byTopic(r.a, r.b),
        difference: r.difference,
        disagreement: r.disagreement,
        degraded: r.degraded ? topics[r.degraded] : null,
        warmup: r.warmup,
        noise: byTopic(r.noise.a, r.noise.b),
      };
    }

    function emit(events: FusionEvent<Ref>[]): void {
      for (const e of events) {
        if (e.type === 'fused' || e.type === 'disagreement') {
          const r = e.result;
          const last = e.refs[e.refs.length - 1];
          const msg = last.msg;
          msg.topic = opts.field;
          msg.timestamp = r.timestamp;
          delete msg.timestamps;
          if (e.type === 'fused') {
            msg.payload = { [opts.field]: r.value };
            msg.fusion = fusionInfo(r.degraded ? 'degraded' : 'fused', r);
            last.send([msg, null]);
          } else {
            msg.payload = { [opts.field]: r.value, [topics.a]: (r.a as { value: number }).value, [topics.b]: (r.b as { value: number }).value };
            msg.fusion = { ...fusionInfo('disagreement', r), tolerance: opts.tolerance };
            last.send([null, msg]);
          }
          for (const ref of e.refs) ref.done();
        } else if (e.type === 'unpaired') {
          e.ref.msg.fusion = { event: 'unpaired', source: topics[e.source], reason: e.reason, value: e.reading.value, timestamp: e.reading.timestamp };
          e.ref.send([null, e.ref.msg]);
          e.ref.done();
        } else {
          const source = topics[e.source];
          const payload = e.type === 'stale' ? { event: 'stale', source, state: e.state, lastSeen: e.lastSeen } : { event: 'recovered', source, state: 'live' };
          node.send([null, { topic: source, payload, fusion: { event: e.type, source } }]);
        }
      }
    }

    function updateStatus(force = false): void {
      const a = engine.state('a');
      const b = engine.state('b');
      const key = `${a}/${b}`;
      const now = Date.now();
      if (!force && key === lastStatusKey && now - lastStatusAt < 1000) {
        if (!statusTimer) {
          statusTimer = setTimeout(() => {
            statusTimer = null;
            updateStatus(true);
          }, 1000 - (now - lastStatusAt));
        }
        return;
      }
      lastStatusKey = key;
      lastStatusAt = now;
      const up = (s: string) => s === 'live';
      const stats = engine.stats();
      const fill = up(a) && up(b) ? 'green' : up(a) || up(b) ? 'yellow' : a === 'waiting' && b === 'waiting' ? 'grey' : 'red';
      const w = stats.lastWeights ? ` · w ${stats.lastWeights.a.toFixed(2)}/${stats.lastWeights.b.toFixed(2)}` : '';
      node.status({ fill, shape: fill === 'green' ? 'dot' : 'ring', text: `${topics.a}: ${a} · ${topics.b}: ${b}${w} · ${stats.counts.fused} fused` });
    }

    function schedule(): void {
      const at = engine.nextDeadline();
      if (at === null) return;
      if (timer && timerAt <= at) return;
      if (timer) clearTimeout(timer);
      timerAt = at;
      timer = setTimeout(onTimer, Math.max(0, at - Date.now()));
    }

    function onTimer(): void {
      timer = null;
      timerAt = Infinity;
      try {
        emit(engine.tick(Date.now()));
      } catch (err) {
        node.error(asError(err));
      }
      updateStatus();
      schedule();
    }

    function answer(msg: Record<string, any>, send: Send): void {
      if (msg.control === 'reset') {
        for (const ref of engine.reset()) ref.done();
        msg.payload = { reset: true };
      } else {
        const s = engine.stats();
        const source = (k: SourceKey) => s.sources[k];
        msg.payload = {
          mode: opts.mode,
          sources: byTopic(source('a'), source('b')),
          counts: s.counts,
          noise: { ...byTopic(s.noise.a, s.noise.b), pairs: s.noise.pairs },
          weights: s.lastWeights ? { ...byTopic(s.lastWeights.a, s.lastWeights.b), ...(s.lastWeights.prior !== undefined ? { prior: s.lastWeights.prior } : {}) } : null,
          kalman: s.kalman ? { value: s.kalman.x, uncertainty: Math.sqrt(s.kalman.p) } : null,
        };
      }
      send([null, msg]);
    }

    onInput(node, (msg, send, done) => {
      if (msg.control !== undefined) {
        if (!CONTROLS.includes(msg.control)) throw new InputError('msg.control', `one of ${CONTROLS.join(', ')}`, msg.control);
        answer(msg, send);
        updateStatus(true);
        return;
      }
      const sample = readSample(msg);
      const source = engine.sourceOf(sample.topic);
      if (!source) throw new InputError('msg.topic', `"${topics.a}" or "${topics.b}" (the configured sources)`, msg.topic);
      if (!Number.isFinite(sample.value)) throw new InputError('msg.payload', 'a finite number', msg.payload);
      emit(engine.push(source, { value: sample.value, timestamp: sample.timestamp }, { msg, send, done }, Date.now()));
      updateStatus();
      schedule();
      return 'held';
    });

    updateStatus(true);
    schedule();

    node.on('close', (done: () => void) => {
      if (timer) clearTimeout(timer);
      timer = null;
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
      for (const ref of engine.drain()) ref.done();
      done();
    });
  }
  RED.nodes.registerType('dual-fusion', DualFusionNode as any);
};
