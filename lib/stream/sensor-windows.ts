/**
 * sensor-window's core without Node-RED: one SignalWindow per signal (msg.topic), the output
 * schedule (every input, every N samples, every T ms of signal time), per-signal outputs or one
 * feature vector across signals, and the control commands.
 */
import { InputError } from '../errors';
import type { Batch } from '../contract/samples';
import type { SensorWindowConfig } from './config';
import { makeSchedule, SignalWindow, type Gap, type Schedule, type Statistic, type WindowCounts } from './window';

/** One output message's content (the node copies these onto a new msg). */
export interface WindowOutput {
  topic: string;
  /** per signal: `{ stat: value }`; feature vector: `{ "<signal>_<stat>": value }` */
  payload: Record<string, number>;
  /** end of the window: the latest sample's time, or the interval boundary in interval mode */
  timestamp: number;
  /** per signal: samples in the window and the times of its oldest and newest sample */
  window?: { n: number; from: number; to: number };
  /** feature vector: each field's signal time (the record contract's msg.timestamps) */
  timestamps?: Record<string, number>;
  /** cumulative counts since the last reset (per signal; a map by signal for feature vectors) */
  counts: WindowCounts | Record<string, WindowCounts>;
  /** gaps seen since the previous output (feature vectors: each with its signal) */
  gaps: Array<Gap & { topic?: string }>;
}

export interface Summary {
  signals: number;
  samples: number;
  accepted: number;
  dropped: number;
  late: number;
  gaps: number;
  clamped: number;
  /** feature vectors skipped because a signal had no samples in its window */
  incomplete: number;
}

export class SensorWindows {
  private readonly windows = new Map<string, SignalWindow>();
  private readonly schedules = new Map<string, Schedule>();
  private shared: Schedule;
  private incomplete = 0;

  constructor(readonly config: SensorWindowConfig) {
    this.shared = makeSchedule(config.rate.mode, config.rate.every);
    // listed signals exist from the start, so feature vectors keep the configured order
    for (const name of config.signals.keys()) this.window(name);
  }

  get signalNames(): string[] {
    return [...this.windows.keys()];
  }

  getWindow(topic: string): SignalWindow | undefined {
    return this.windows.get(topic);
  }

  /** Take in one sample or batch; returns the outputs it triggers, in order. */
  ingest(batch: Batch): WindowOutput[] {
    const topic = batch.topic ?? this.config.defaultTopic;
    if (topic === null || topic === undefined) throw new InputError('msg.topic', 'a signal name (this node has no default signal name)', batch.topic);
    const win = this.window(topic);
    const { values, start, intervalMs, timestamps } = batch;
    const len = values.length;
    win.checkTimes(start, intervalMs, timestamps, len, 'msg.timestamp');
    const features = this.config.output === 'features';
    const sched = features ? this.shared : this.schedule(topic);
    if (sched.mode === 'input') {
      win.ingest(values, 0, start, intervalMs, timestamps, null);
      if (len === 0) return [];
      const out = this.output(features, topic, win, win.latestTime);
      return out ? [out] : [];
    }
    const outputs: WindowOutput[] = [];
    let i = 0;
    while (i < len) {
      i = win.ingest(values, i, start, intervalMs, timestamps, sched);
      let out: WindowOutput | null;
      if (sched.mode === 'count' && sched.countdown === 0) {
        sched.countdown = sched.every;
        out = this.output(features, topic, win, win.latestTime);
      } else if (sched.mode === 'interval' && !Number.isNaN(win.pendingTime)) {
        const b = sched.boundary;
        if (features) for (const w of this.windows.values()) w.advanceTo(b);
        else win.advanceTo(b);
        out = this.output(features, topic, win, b);
        sched.boundary = Math.ceil(win.pendingTime / sched.every) * sched.every;
        win.pendingTime = NaN;
      } else {
        continue;
      }
      if (out) outputs.push(out);
    }
    return outputs;
  }

  private output(features: boolean, topic: string, win: SignalWindow, at: number): WindowOutput | null {
    return features ? this.featureVector(at) : this.signalOutput(topic, win, at);
  }

  /** Current statistics of every signal (the 'stats' control answer). */
  snapshot(): Record<string, { statistics: Record<string, number>; n: number; from: number; to: number; counts: WindowCounts }> {
    const out: Record<string, { statistics: Record<string, number>; n: number; from: number; to: number; counts: WindowCounts }> = {};
    for (const [name, w] of this.windows) {
      out[name] = { statistics: w.statistics() as Record<string, number>, n: w.length, from: w.oldestTime, to: w.latestTime, counts: w.countsSnapshot() };
    }
    return out;
  }

  /** Clear one signal (or all): samples, counts and its schedule. Returns the signals cleared. */
  reset(topic?: string): string[] {
    if (topic !== undefined) {
      const w = this.windows.get(topic);
      if (!w) return [];
      w.reset();
      this.schedules.delete(topic);
      if (!this.config.signals.has(topic)) this.windows.delete(topic);
      return [topic];
    }
    const names = [...this.windows.keys()];
    this.windows.clear();
    this.schedules.clear();
    this.shared = makeSchedule(this.config.rate.mode, this.config.rate.every);
    this.incomplete = 0;
    for (const name of this.config.signals.keys()) this.window(name);
    return names;
  }

  summary(): Summary {
    const s: Summary = { signals: 0, samples: 0, accepted: 0, dropped: 0, late: 0, gaps: 0, clamped: 0, incomplete: this.incomplete };
    for (const w of this.windows.values()) {
      if (w.counts.accepted === 0 && w.counts.nonFinite === 0 && w.counts.outOfRange === 0) continue;
      s.signals++;
      s.samples += w.length;
      s.accepted += w.counts.accepted;
      s.dropped += w.counts.nonFinite + w.counts.outOfRange;
      s.late += w.counts.late;
      s.gaps += w.counts.gaps;
      s.clamped += w.counts.clamped;
    }
    return s;
  }

  /** Release every window's memory. */
  close(): void {
    this.windows.clear();
    this.schedules.clear();
  }

  private window(topic: string): SignalWindow {
    let w = this.windows.get(topic);
    if (w) return w;
    if (this.windows.size >= this.config.maxSignals) {
      throw new InputError('msg.topic', `one of the ${this.config.maxSignals} signals already held (maxSignals reached)`, topic);
    }
    const rule = this.config.signals.get(topic);
    w = new SignalWindow({
      kind: this.config.window.kind,
      size: this.config.window.size,
      stats: rule?.stats ?? this.config.stats,
      valid: rule?.valid ?? null,
      normalise: rule?.normalise ?? null,
      late: this.config.late,
      gapMs: this.config.gapMs,
      maxSamples: this.config.maxSamples,
    });
    this.windows.set(topic, w);
    return w;
  }

  private schedule(topic: string): Schedule {
    let s = this.schedules.get(topic);
    if (!s) {
      s = makeSchedule(this.config.rate.mode, this.config.rate.every);
      this.schedules.set(topic, s);
    }
    return s;
  }

  private signalOutput(topic: string, win: SignalWindow, at: number): WindowOutput | null {
    if (win.length === 0) return null;
    return {
      topic,
      payload: win.statistics() as Record<string, number>,
      timestamp: at,
      window: { n: win.length, from: win.oldestTime, to: win.latestTime },
      counts: win.countsSnapshot(),
      gaps: win.takeGaps(),
    };
  }

  /** Latest statistics of every signal as one record; null (and counted) while a signal's window is empty. */
  private featureVector(at: number): WindowOutput | null {
    const payload: Record<string, number> = {};
    const timestamps: Record<string, number> = {};
    const counts: Record<string, WindowCounts> = {};
    for (const w of this.windows.values()) {
      if (w.length === 0) {
        this.incomplete++;
        return null;
      }
    }
    const gaps: Array<Gap & { topic: string }> = [];
    for (const [name, w] of this.windows) {
      const stats = w.statistics();
      for (const stat of Object.keys(stats) as Statistic[]) {
        const key = `${name}_${stat}`;
        payload[key] = stats[stat] as number;
        timestamps[key] = w.latestTime;
      }
      counts[name] = w.countsSnapshot();
      for (const g of w.takeGaps()) gaps.push({ topic: name, ...g });
    }
    return { topic: this.config.featureTopic, payload, timestamp: at, timestamps, counts, gaps };
  }
}
