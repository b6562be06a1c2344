/**
 * edge-cache: durable store-and-forward (lib/store). Messages are committed to a SQLite queue
 * (done() after the commit), forwarded on output 1 with `msg._cacheId`, and removed when an
 * acknowledgement (`msg.ack`) comes back. Output 2 carries control answers and events (link
 * changes, dropped messages, recovery of a corrupt file).
 */
import type { NodeAPI, Node, NodeDef } from 'node-red';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { onInputPassingDone, configNumber, asError } from '../shared/adapter';
import { InputError } from '../../lib/errors';
import { resolveUserPath } from '../../lib/paths';
// straight from the modules, not the lib/store index: its re-exports are getters, read per message
import { DurableQueue, OVERFLOW_POLICIES, type DropCounts, type OverflowPolicy, type Synchronous } from '../../lib/store/queue';
import { WorkerQueue } from '../../lib/store/worker-queue';
import { StoreForwarder, type ForwarderEvent } from '../../lib/store/forwarder';
import { decodeMessage, encodeBody } from '../../lib/store/codec';

interface EdgeCacheDef extends NodeDef {
  file?: string;
  synchronous?: string;
  /** where the SQLite connection lives: 'worker' (default) or 'main' (Node-RED's thread) */
  storeThread?: string;
  maxAge?: string | number;
  maxSize?: string | number;
  maxCount?: string | number;
  policy?: string;
  thinEvery?: string | number;
  ackTimeout?: string | number;
  retryInterval?: string | number;
  maxInFlight?: string | number;
  rate?: string | number;
  commitInterval?: string | number;
  commitCount?: string | number;
}

type Msg = Record<string, any>;

const STATUS_INTERVAL_MS = 1000;
const WARN_INTERVAL_MS = 60_000;
const CONTROLS = ['online', 'offline', 'stats', 'flush', 'reset'];

function positiveInt(value: unknown, property: string, fallback: number, min = 0): number {
  const n = configNumber(value, property, fallback);
  if (!Number.isInteger(n) || n < min) throw new Error(`config ${property}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

function nonNegative(value: unknown, property: string, fallback: number): number {
  const n = configNumber(value, property, fallback);
  if (n < 0) throw new Error(`config ${property}: expected a number >= 0, got ${JSON.stringify(value)}`);
  return n;
}

/** Read msg.ack: one id or an array of ids (positive integers, numeric strings accepted). */
function readAckIds(ack: unknown): number[] {
  const list = Array.isArray(ack) ? ack : [ack];
  return list.map((v, i) => {
    const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
      throw new InputError(Array.isArray(ack) ? `msg.ack[${i}]` : 'msg.ack', 'a cache id (positive integer, from msg._cacheId) or an array of them', v);
    }
    return n;
  });
}

let catalogue: Record<string, any> | null = null;

/** English text from this node's catalogue, for runtimes whose RED._ gives back the bare key. */
function fallbackText(key: string, subs?: Record<string, unknown>): string {
  if (!catalogue) {
    try {
      catalogue = JSON.parse(fs.readFileSync(path.join(__dirname, 'locales', 'en-US', 'edge-cache.json'), 'utf8'));
    } catch {
      catalogue = {};
    }
  }
  let text: unknown = catalogue;
  for (const part of key.split('.')) text = (text as Record<string, unknown> | undefined)?.[part];
  if (typeof text !== 'string') return key;
  return text.replace(/__(\w+)__/g, (m, name: string) => (subs && name in subs ? String(subs[name]) : m));
}

function formatAge(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3_600_000).toFixed(1)} h`;
}

export = function register(RED: NodeAPI): void {
  function EdgeCacheNode(this: Node, def: EdgeCacheDef) {
    RED.nodes.createNode(this, def);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the node is used inside callbacks
    const node = this;
    const t = (key: string, subs?: Record<string, unknown>): string => {
      const full = `edge-cache.${key}`;
      const text = RED._(full, subs as Record<string, string>);
      return text && text !== full ? text : fallbackText(full, subs);
    };
    // by default the SQLite connection lives in a worker thread: commits do not take Node-RED's thread
    let queue: WorkerQueue | DurableQueue | null = null;
    let forwarder: StoreForwarder<Msg> | null = null;
    let setupError: Error | null = null;
    const droppedSinceReport: DropCounts = { oldest: 0, expired: 0, refused: 0, thinned: 0, reset: 0 };
    let droppedTotal = 0;
    let lastWarn = 0;
    let lastStatus = '';
    let statusTimer: NodeJS.Timeout | null = null;
    let startTimer: NodeJS.Timeout | null = null;

    const send2 = (control: string, payload: unknown) => node.send([null, { control, payload }]);

    const onEvent = (e: ForwarderEvent) => {
      if (e.type === 'link') {
        send2('link', { state: e.state, reason: e.reason });
        updateStatus();
      } else if (e.type === 'dropped') {
        for (const k of Object.keys(droppedSinceReport) as Array<keyof DropCounts>) droppedSinceReport[k] += e.dropped[k];
        // refusals are reported per message through done(err); the rest are reported here
        droppedTotal += e.count;
      } else {
        node.error(`edge-cache ${e.context}: ${e.error.message}`);
        updateStatus(e.error.message);
      }
    };

    try {
      const sync = String(def.synchronous || 'FULL').toUpperCase();
      if (sync !== 'FULL' && sync !== 'NORMAL') throw new Error(`config synchronous: expected FULL or NORMAL, got ${JSON.stringify(def.synchronous)}`);
      const storeThread = String(def.storeThread || 'worker');
      if (storeThread !== 'worker' && storeThread !== 'main') throw new Error(`config storeThread: expected worker or main, got ${JSON.stringify(def.storeThread)}`);
      const policy = String(def.policy || 'drop-oldest');
      if (!OVERFLOW_POLICIES.includes(policy as OverflowPolicy)) throw new Error(`config policy: expected one of ${OVERFLOW_POLICIES.join(', ')}, got ${JSON.stringify(def.policy)}`);
      const userDir = (RED.settings as unknown as { userDir?: string }).userDir || path.join(os.homedir(), '.node-red');
      const fileSetting = typeof def.file === 'string' && def.file.trim() !== '' ? def.file.trim() : path.join('edge-cache', `${node.id.replace(/[^\w.-]/g, '_')}.sqlite`);
      const file = resolveUserPath(fileSetting, userDir);
      const maxAgeMin = nonNegative(def.maxAge, 'maxAge', 30);
      const maxSizeMB = nonNegative(def.maxSize, 'maxSize', 100);
      const maxCount = positiveInt(def.maxCount, 'maxCount', 0);
      const thinEvery = positiveInt(def.thinEvery, 'thinEvery', 2, 2);
      const ackTimeoutS = nonNegative(def.ackTimeout, 'ackTimeout', 10);
      const retryS = nonNegative(def.retryInterval, 'retryInterval', 5);
      const maxInFlight = positiveInt(def.maxInFlight, 'maxInFlight', 100, 1);
      const rate = nonNegative(def.rate, 'rate', 200);
      const commitInterval = nonNegative(def.commitInterval, 'commitInterval', 10);
      const commitCount = positiveInt(def.commitCount, 'commitCount', 1000, 1);
      queue = new (storeThread === 'main' ? DurableQueue : WorkerQueue)({
        path: file,
        synchronous: sync as Synchronous,
        maxAgeMs: maxAgeMin * 60_000,
        maxBytes: Math.round(maxSizeMB * 1024 * 1024),
        maxCount,
        policy: policy as OverflowPolicy,
        thinKeepEvery: thinEvery,
      });
      forwarder = new StoreForwarder<Msg>({
        queue,
        decode: (row) => decodeMessage(row.body),
        deliver: (d) => {
          d.value._cacheId = d.id;
          node.send(d.value); // output 1 (a bare message goes to the first output, without an array per message)
        },
        commitIntervalMs: commitInterval,
        commitMaxCount: commitCount,
        ackTimeoutMs: ackTimeoutS * 1000,
        retryIntervalMs: (retryS || ackTimeoutS || 5) * 1000,
        maxInFlight,
        ratePerSec: rate,
        onEvent,
      });
      const recovery = queue.recovery;
      if (recovery) {
        node.error(t('errors.recovered', { reason: recovery.reason, movedTo: recovery.movedTo }));
        startTimer = setTimeout(() => {
          startTimer = null;
          send2('recovered', recovery);
        }, 0);
      }
    } catch (err) {
      setupError = asError(err);
      try {
        forwarder?.close();
        queue?.close();
      } catch {
        // already failing
      }
      forwarder = null;
      queue = null;
      node.status({ fill: 'red', shape: 'ring', text: setupError.message.slice(0, 80) });
      node.error(setupError.message);
    }

    function updateStatus(problem?: string): void {
      if (!forwarder || !queue?.isOpen) return;
      let text: string;
      let fill: 'green' | 'yellow' | 'grey' | 'red';
      try {
        const link = forwarder.link;
        // as of the worker's last answer: the status never waits behind a commit in flight
        const { count: backlog, head } = queue.lastKnownState();
        const age = head ? formatAge(Math.max(0, Date.now() - head.ts)) : '';
        text = t(`status.${link}`) + ' · ' + (head ? t('status.backlogAge', { count: backlog, age }) : t('status.backlog', { count: backlog }));
        if (droppedTotal > 0) text += ' · ' + t('status.dropped', { count: droppedTotal });
        fill = link === 'online' ? 'green' : link === 'down' ? 'yellow' : 'grey';
        if (problem) {
          text = problem.slice(0, 60);
          fill = 'red';
        }
      } catch (err) {
        text = asError(err).message.slice(0, 60);
        fill = 'red';
      }
      const key = fill + text;
      if (key === lastStatus) return;
      lastStatus = key;
      node.status({ fill, shape: fill === 'green' ? 'dot' : 'ring', text });
    }

    function reportDrops(): void {
      const d = { ...droppedSinceReport };
      const n = d.oldest + d.expired + d.thinned + d.reset;
      if (n === 0) return;
      for (const k of Object.keys(droppedSinceReport) as Array<keyof DropCounts>) droppedSinceReport[k] = 0;
      send2('dropped', { ...d, total: droppedTotal, policy: queue?.policy });
      const now = Date.now();
      if (now - lastWarn >= WARN_INTERVAL_MS) {
        lastWarn = now;
        node.warn(t('errors.dropped', { count: n, total: droppedTotal, policy: queue?.policy ?? '' }));
      }
    }

    if (forwarder) {
      updateStatus();
      statusTimer = setInterval(() => {
        try {
          forwarder?.maintain();
        } catch (err) {
          node.error(`edge-cache maintenance: ${asError(err).message}`);
        }
        reportDrops();
        updateStatus();
      }, STATUS_INTERVAL_MS);
    }

    // done() is handed to the store as the commit callback, which calls it exactly once
    onInputPassingDone(node, (msg, done) => {
      if (!forwarder || !queue) throw setupError ?? new Error('edge-cache is not configured');
      const fwd = forwarder;
      if (msg.ack !== undefined) {
        fwd.ack(readAckIds(msg.ack));
        done();
        return;
      }
      if (msg.control !== undefined) {
        if (typeof msg.control !== 'string' || !CONTROLS.includes(msg.control)) throw new InputError('msg.control', CONTROLS.map((c) => `'${c}'`).join(', '), msg.control);
        let extra: Record<string, unknown> = {};
        if (msg.control === 'online') fwd.setOnline(true);
        else if (msg.control === 'offline') fwd.setOnline(false);
        else if (msg.control === 'flush') fwd.flush();
        else if (msg.control === 'reset') {
          const removed = fwd.reset();
          droppedTotal += removed;
          extra = { removed };
        }
        updateStatus();
        send2(msg.control, { ...extra, ...fwd.stats(), droppedReported: droppedTotal });
        done();
        return;
      }
      const body = encodeBody(msg);
      // called once the message is committed (or refused)
      fwd.enqueue({ body, topic: typeof msg.topic === 'string' ? msg.topic : null }, msg, done);
    });

    node.on('close', (_removed: boolean, done: () => void) => {
      if (statusTimer) clearInterval(statusTimer);
      if (startTimer) clearTimeout(startTimer);
      statusTimer = null;
      try {
        forwarder?.close();
        reportDrops();
      } finally {
        queue?.close();
        forwarder = null;
        queue = null;
        done();
      }
    });
  }

  RED.nodes.registerType('edge-cache', EdgeCacheNode);
};
