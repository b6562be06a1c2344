/**
 * dual-fusion's engine: pairs samples of two sources by timestamp, fuses each pair, flags
 * disagreement, and falls back to one source when the other goes stale.
 *
 * It never reads a clock: every call takes `now` (ms), so the node passes Date.now() and tests pass
 * what they like. Two clocks are involved:
 * - sample time (msg.timestamp): two samples pair when their timestamps differ by ≤ skewMs;
 * - arrival time (`now`): an unpaired sample is held for at most skewMs after it arrived, and a
 *   source is stale when nothing arrived from it for timeoutMs.
 * Each sample carries an opaque `ref` (the node keeps the message and its done() there); every
 * sample pushed comes back exactly once, in a 'fused', 'disagreement' or 'unpaired' event, or from
 * `drain()`.
 */
import { combineFixed, combineInverseVariance, kalmanStep, type Combined, type KalmanState } from './combine';
import { PairNoiseEstimator, WindowVariance, type NoiseEstimate } from './noise-estimator';
import type { DualFusionOptions, FusionMode } from './options';

export type SourceKey = 'a' | 'b';
export type SourceState = 'waiting' | 'live' | 'stale' | 'missing';

export interface SourceReading {
  value: number;
  timestamp: number;
}

export interface FusedResult {
  mode: FusionMode;
  value: number;
  /** standard deviation of the fused value's error; null while the noise is unknown */
  uncertainty: number | null;
  /** weights used: a + b (+ prior for Kalman) = 1 */
  weights: { a: number; b: number; prior?: number };
  /** the readings fused (null for the source that was stale) */
  a: SourceReading | null;
  b: SourceReading | null;
  /** a − b, for a pair */
  difference: number | null;
  /** time of the fused value: mean of the pair's timestamps, or the single reading's */
  timestamp: number;
  /** |a − b| > tolerance: not used to update the weights or the filter */
  disagreement: boolean;
  /** the source that was stale or missing, when the value comes from the other one alone */
  degraded: SourceKey | null;
  /** noise estimate not ready yet (adaptive/Kalman use equal weights or the configured noise) */
  warmup: boolean;
  /** noise standard deviations used (estimated or configured) */
  noise: { a: number | null; b: number | null };
}

export type UnpairedReason = 'expired' | 'no-partner' | 'overflow';

export type FusionEvent<R> =
  | { type: 'fused'; result: FusedResult; refs: R[] }
  | { type: 'disagreement'; result: FusedResult; refs: R[] }
  | { type: 'unpaired'; source: SourceKey; reading: SourceReading; ref: R; reason: UnpairedReason }
  | { type: 'stale'; source: SourceKey; state: 'stale' | 'missing'; lastSeen: number | null }
  | { type: 'recovered'; source: SourceKey };

interface Held<R> {
  reading: SourceReading;
  ref: R;
  expires: number;
}

interface Source<R> {
  state: SourceState;
  /** arrival time of the last sample (or the start, while waiting) */
  lastArrival: number;
  seen: boolean;
  held: Held<R>[];
}

export interface FusionStats {
  sources: Record<SourceKey, { topic: string; state: SourceState; held: number; lastSeen: number | null }>;
  counts: { fused: number; disagreements: number; degraded: number; unpaired: number; staleEvents: number };
  noise: { a: number | null; b: number | null; pairs: number };
  lastWeights: { a: number; b: number; prior?: number } | null;
  kalman: { x: number; p: number } | null;
}

const OTHER: Record<SourceKey, SourceKey> = { a: 'b', b: 'a' };

export class DualFusion<R = unknown> {
  private readonly src: Record<SourceKey, Source<R>>;
  private readonly estimator: PairNoiseEstimator;
  private readonly pairInterval: WindowVariance;
  private lastPairTime: number | null = null;
  private kalman: KalmanState | null = null;
  private lastWeights: FusedResult['weights'] | null = null;
  private lastSeenAt: Record<SourceKey, number | null> = { a: null, b: null };
  private counts = { fused: 0, disagreements: 0, degraded: 0, unpaired: 0, staleEvents: 0 };

  constructor(readonly options: DualFusionOptions, now: number) {
    this.estimator = new PairNoiseEstimator(options.window);
    this.pairInterval = new WindowVariance(Math.max(2, options.window));
    this.src = { a: this.newSource(now), b: this.newSource(now) };
  }

  private newSource(now: number): Source<R> {
    return { state: 'waiting', lastArrival: now, seen: false, held: [] };
  }

  /** Which source a topic names, or undefined. */
  sourceOf(topic: string | undefined): SourceKey | undefined {
    if (topic === this.options.sources.a) return 'a';
    if (topic === this.options.sources.b) return 'b';
    return undefined;
  }

  state(source: SourceKey): SourceState {
    return this.src[source].state;
  }

  /** Take one sample of `source`; returns what it caused, in order. */
  push(source: SourceKey, reading: SourceReading, ref: R, now: number): FusionEvent<R>[] {
    // A held sample whose skew ends exactly now may still pair with this one (with a skew of 0,
    // two samples arriving in the same millisecond pair), so only samples already past it expire.
    const events = this.advance(now, false);
    const me = this.src[source];
    const otherKey = OTHER[source];
    const other = this.src[otherKey];
    if (me.state === 'stale' || me.state === 'missing') events.push({ type: 'recovered', source });
    me.state = 'live';
    me.seen = true;
    me.lastArrival = now;
    this.lastSeenAt[source] = now;

    if (other.state === 'stale' || other.state === 'missing') {
      events.push(this.single(source, reading, [ref]));
      return events;
    }
    // Held samples of the other source that are older than this one by more than the skew can
    // no longer pair (each source's samples arrive in time order).
    const skew = this.options.skewMs;
    let best = -1;
    for (let i = 0; i < other.held.length; i++) {
      const d = Math.abs(other.held[i].reading.timestamp - reading.timestamp);
      if (d <= skew && (best < 0 || d < Math.abs(other.held[best].reading.timestamp - reading.timestamp))) best = i;
    }
    const partner = best >= 0 ? other.held.splice(best, 1)[0] : null;
    const keep: Held<R>[] = [];
    for (const h of other.held) {
      if (h.reading.timestamp < reading.timestamp - skew) events.push(this.unpaired(otherKey, h, 'no-partner'));
      else keep.push(h);
    }
    other.held = keep;
    if (partner) {
      const pa = source === 'a' ? reading : partner.reading;
      const pb = source === 'a' ? partner.reading : reading;
      events.push(this.pair(pa, pb, [partner.ref, ref]));
    } else {
      me.held.push({ reading, ref, expires: now + skew });
      if (me.held.length > this.options.maxHeld) events.push(this.unpaired(source, me.held.shift() as Held<R>, 'overflow'));
    }
    return events;
  }

  /** Let time pass: expire held samples, mark silent sources stale. Call at nextDeadline(). */
  tick(now: number): FusionEvent<R>[] {
    return this.advance(now, true);
  }

  /** tick(); `expireDue`: also expire held samples whose skew ends exactly at `now`. */
  private advance(now: number, expireDue: boolean): FusionEvent<R>[] {
    const events: FusionEvent<R>[] = [];
    for (;;) {
      // the earliest due deadline first, so events come out in time order
      let due: { at: number; kind: 'expire' | 'stale'; source: SourceKey } | null = null;
      for (const key of ['a', 'b'] as SourceKey[]) {
        const s = this.src[key];
        const expires = s.held.length ? s.held[0].expires : Infinity;
        if ((expires < now || (expireDue && expires === now)) && (!due || expires < due.at)) due = { at: expires, kind: 'expire', source: key };
        const staleAt = s.lastArrival + this.options.timeoutMs;
        if ((s.state === 'live' || s.state === 'waiting') && staleAt <= now && (!due || staleAt < due.at)) due = { at: staleAt, kind: 'stale', source: key };
      }
      if (!due) return events;
      const s = this.src[due.source];
      if (due.kind === 'expire') {
        events.push(this.unpaired(due.source, s.held.shift() as Held<R>, 'expired'));
      } else {
        const state = s.seen ? 'stale' : 'missing';
        s.state = state;
        this.counts.staleEvents++;
        events.push({ type: 'stale', source: due.source, state, lastSeen: this.lastSeenAt[due.source] });
        // samples of the other source waiting for this one go out alone now
        const otherKey = OTHER[due.source];
        const other = this.src[otherKey];
        const waiting = other.held;
        other.held = [];
        for (const h of waiting) events.push(this.single(otherKey, h.reading, [h.ref]));
      }
    }
  }

  /** When tick() next has something to do (ms), or null. */
  nextDeadline(): number | null {
    let at: number | null = null;
    for (const key of ['a', 'b'] as SourceKey[]) {
      const s = this.src[key];
      if (s.held.length) at = at === null ? s.held[0].expires : Math.min(at, s.held[0].expires);
      // held samples are in arrival order, so the first expires first
      if (s.state === 'live' || s.state === 'waiting') {
        const staleAt = s.lastArrival + this.options.timeoutMs;
        at = at === null ? staleAt : Math.min(at, staleAt);
      }
    }
    return at;
  }

  /** Remove and return every held sample's ref (on close or reset). */
  drain(): R[] {
    const refs = [...this.src.a.held, ...this.src.b.held].map((h) => h.ref);
    this.src.a.held = [];
    this.src.b.held = [];
    return refs;
  }

  /** Forget the noise estimate, the filter and the counts; held samples are returned (see drain). */
  reset(): R[] {
    const refs = this.drain();
    this.estimator.clear();
    this.pairInterval.clear();
    this.lastPairTime = null;
    this.kalman = null;
    this.lastWeights = null;
    this.counts = { fused: 0, disagreements: 0, degraded: 0, unpaired: 0, staleEvents: 0 };
    return refs;
  }

  stats(): FusionStats {
    const est = this.currentNoise();
    const source = (key: SourceKey) => ({ topic: this.options.sources[key], state: this.src[key].state, held: this.src[key].held.length, lastSeen: this.lastSeenAt[key] });
    return {
      sources: { a: source('a'), b: source('b') },
      counts: { ...this.counts },
      noise: { a: est.a === null ? null : Math.sqrt(est.a), b: est.b === null ? null : Math.sqrt(est.b), pairs: this.estimator.pairs },
      lastWeights: this.lastWeights ? { ...this.lastWeights } : null,
      kalman: this.kalman ? { x: this.kalman.x, p: this.kalman.p } : null,
    };
  }

  /** Noise variances to use: the estimate when ready, else the configured ones (null: unknown). */
  private currentNoise(): { a: number | null; b: number | null; estimate: NoiseEstimate | null } {
    const estimate = this.estimator.estimate();
    if (estimate) return { a: estimate.varA, b: estimate.varB, estimate };
    const { a, b } = this.options.noise;
    return { a: a === null ? null : a * a, b: b === null ? null : b * b, estimate: null };
  }

  /** Kalman process noise: variance growth per second. */
  private processVariancePerSecond(noise: { a: number | null; b: number | null; estimate: NoiseEstimate | null }): number {
    if (this.options.processNoise !== null) return this.options.processNoise * this.options.processNoise;
    const meanDtMs = this.pairInterval.mean();
    if (!noise.estimate || meanDtMs === null || !(meanDtMs > 0)) return 0;
    // at least a small fraction of the better gauge's noise per step, so the filter keeps following
    const floor = 1e-3 * Math.min(noise.estimate.varA, noise.estimate.varB);
    return Math.max(noise.estimate.truthStepVar, floor) / (meanDtMs / 1000);
  }

  private pair(a: SourceReading, b: SourceReading, refs: R[]): FusionEvent<R> {
    const o = this.options;
    const difference = a.value - b.value;
    const disagreement = o.tolerance !== null && Math.abs(difference) > o.tolerance;
    const timestamp = (a.timestamp + b.timestamp) / 2;
    const noise = this.currentNoise();
    const known = noise.a !== null && noise.b !== null;
    let combined: Combined;
    let warmup = false;
    if (o.mode === 'fixed') {
      combined = combineFixed(a.value, b.value, o.weights.a, o.weights.b, noise.a, noise.b);
    } else if (!known) {
      warmup = true;
      combined = combineFixed(a.value, b.value, 0.5, 0.5, null, null);
    } else if (o.mode === 'adaptive') {
      warmup = noise.estimate === null;
      combined = combineInverseVariance(a.value, b.value, noise.a as number, noise.b as number);
    } else {
      warmup = noise.estimate === null;
      const step = kalmanStep(this.kalman, timestamp, this.processVariancePerSecond(noise), { z: a.value, r: noise.a as number }, { z: b.value, r: noise.b as number });
      combined = step.combined;
      if (!disagreement) this.kalman = step.state;
    }
    if (!disagreement) {
      this.estimator.push(a.value, b.value);
      if (this.lastPairTime !== null && timestamp > this.lastPairTime) this.pairInterval.push(timestamp - this.lastPairTime);
      this.lastPairTime = timestamp;
    }
    const weights: FusedResult['weights'] = { a: combined.wa, b: combined.wb };
    if (combined.wPrior !== undefined) weights.prior = combined.wPrior;
    const result: FusedResult = {
      mode: o.mode,
      value: combined.value,
      uncertainty: combined.uncertainty,
      weights,
      a,
      b,
      difference,
      timestamp,
      disagreement,
      degraded: null,
      warmup,
      noise: { a: noise.a === null ? null : Math.sqrt(noise.a), b: noise.b === null ? null : Math.sqrt(noise.b) },
    };
    if (disagreement) {
      this.counts.disagreements++;
      return { type: 'disagreement', result, refs };
    }
    this.counts.fused++;
    this.lastWeights = weights;
    return { type: 'fused', result, refs };
  }

  /** A value from one source alone, because the other is stale or missing. */
  private single(source: SourceKey, reading: SourceReading, refs: R[]): FusionEvent<R> {
    const o = this.options;
    const noise = this.currentNoise();
    const variance = noise[source];
    this.estimator.breakChain();
    this.lastPairTime = null;
    let combined: Combined;
    if (o.mode === 'kalman' && variance !== null) {
      const m = { z: reading.value, r: variance };
      const step = kalmanStep(this.kalman, reading.timestamp, this.processVariancePerSecond(noise), source === 'a' ? m : null, source === 'b' ? m : null);
      this.kalman = step.state;
      combined = step.combined;
    } else {
      combined = { value: reading.value, uncertainty: variance === null ? null : Math.sqrt(variance), wa: source === 'a' ? 1 : 0, wb: source === 'b' ? 1 : 0 };
    }
    const weights: FusedResult['weights'] = { a: combined.wa, b: combined.wb };
    if (combined.wPrior !== undefined) weights.prior = combined.wPrior;
    this.counts.degraded++;
    this.counts.fused++;
    return {
      type: 'fused',
      refs,
      result: {
        mode: o.mode,
        value: combined.value,
        uncertainty: combined.uncertainty,
        weights,
        a: source === 'a' ? reading : null,
        b: source === 'b' ? reading : null,
        difference: null,
        timestamp: reading.timestamp,
        disagreement: false,
        degraded: OTHER[source],
        warmup: noise.estimate === null && o.mode !== 'fixed',
        noise: { a: noise.a === null ? null : Math.sqrt(noise.a), b: noise.b === null ? null : Math.sqrt(noise.b) },
      },
    };
  }

  private unpaired(source: SourceKey, h: Held<R>, reason: UnpairedReason): FusionEvent<R> {
    this.counts.unpaired++;
    return { type: 'unpaired', source, reading: h.reading, ref: h.ref, reason };
  }
}
