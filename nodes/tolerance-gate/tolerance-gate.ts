/**
 * tolerance-gate: a thin adapter over lib/quality. Every record goes to exactly one of three
 * outputs (pass, review, reject) with msg.quality = { grade, reasons }; control answers
 * (stats, reset) go to a fourth output.
 */
import type { Node, NodeAPI, NodeDef } from 'node-red';
import { onInput, asError, type Send } from '../shared/adapter';
import { parseRules, parseGateOptions, type Grade } from '../../lib/quality/rules';
import { ToleranceGate, asVerdict, combineVerdicts } from '../../lib/quality/gate';
import { readRecord } from '../../lib/contract/samples';
import { InputError } from '../../lib/errors';

const CONTROLS = ['stats', 'reset'];
const OUTPUT: Record<Grade, number> = { pass: 0, review: 1, reject: 2 };
const STATUS_INTERVAL_MS = 500;

export = function register(RED: NodeAPI): void {
  function ToleranceGateNode(this: Node, config: NodeDef & Record<string, unknown>) {
    RED.nodes.createNode(this, config);
    setup(this, config);
  }

  function setup(node: Node, config: NodeDef & Record<string, unknown>): void {
    let gate: ToleranceGate;
    try {
      gate = new ToleranceGate(parseRules(config.rules), parseGateOptions(config));
    } catch (err) {
      const message = asError(err).message;
      node.status({ fill: 'red', shape: 'ring', text: message });
      node.error(message);
      onInput(node, () => {
        throw new Error(`tolerance-gate is not configured: ${message}`);
      });
      return;
    }

    let lastGrade: Grade | null = null;
    let lastStatusAt = 0;
    let statusTimer: NodeJS.Timeout | null = null;

    function showStatus(): void {
      statusTimer = null;
      lastStatusAt = Date.now();
      const stats = gate.stats();
      const s = stats.records;
      if (!s.total) {
        node.status({ fill: 'grey', shape: 'ring', text: `${gate.rules.length} rules · no records yet` });
        return;
      }
      const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
      const fill = lastGrade === 'pass' ? 'green' : lastGrade === 'review' ? 'yellow' : 'red';
      // process capability of the first tolerance band, when known
      const band = Object.entries(stats.fields).find(([, f]) => f.cpk !== undefined && f.cpk !== null);
      const cpk = band ? ` · Cpk ${band[0]} ${(band[1].cpk as number).toFixed(2)}` : '';
      node.status({ fill, shape: 'dot', text: `pass ${pct(s.rates.pass)} · review ${pct(s.rates.review)} · reject ${pct(s.rates.reject)} · n ${s.total}${cpk}` });
    }

    /** At most one status update per interval; the last one always shows. */
    function statusSoon(): void {
      if (statusTimer) return;
      const wait = STATUS_INTERVAL_MS - (Date.now() - lastStatusAt);
      if (wait <= 0) showStatus();
      else statusTimer = setTimeout(showStatus, wait);
    }

    function answer(msg: Record<string, any>, send: Send): void {
      if (msg.control === 'reset') {
        gate.reset();
        lastGrade = null;
        msg.payload = { reset: true };
      } else {
        msg.payload = gate.stats();
      }
      send([null, null, null, msg]);
    }

    onInput(node, (msg, send) => {
      if (msg.control !== undefined) {
        if (!CONTROLS.includes(msg.control)) throw new InputError('msg.control', `one of ${CONTROLS.join(', ')}`, msg.control);
        answer(msg, send);
        statusSoon();
        return;
      }
      const verdict = gate.assess(readRecord(msg));
      const earlier = asVerdict(msg.quality);
      const q = earlier ? combineVerdicts(earlier, verdict) : verdict;
      msg.quality = q;
      lastGrade = q.grade;
      const out: Array<Record<string, any> | null> = [null, null, null, null];
      out[OUTPUT[q.grade]] = msg;
      send(out);
      statusSoon();
    });

    showStatus();

    node.on('close', (done: () => void) => {
      if (statusTimer) clearTimeout(statusTimer);
      statusTimer = null;
      done();
    });
  }

  RED.nodes.registerType('tolerance-gate', ToleranceGateNode as any);
};
