/**
 * One signal's sliding window: a ring buffer sized to the window, running sums for the moments and
 * monotonic deques for min/max, so every sample costs O(1) amortised and memory is bounded by the
 * window (and by `maxSamples`).
 *
 * Numerical method (documented in docs/nodes/sensor-window.md):
 * - the window keeps S_p = Σ (x − K)^p for p = 1..4 (only the powers the selected statistics need),
 *   where K is a shift close to the window's mean; every add and every subtract goes through a
 *   Neumaier-compensated sum, so the sums do not drift over billions of add/subtract pairs;
 * - K starts as the first sample; when statistics are read and the shift has become stale (|mean − K|
 *   more than two standard deviations, or half the window turned over since the last re-centring
 *   and K is off by more than 1/8 std), K is set to the current mean and the sums are recomputed
 *   exactly (compensated) from the ring buffer. A rebuild costs O(window) and happens at most once per
 *   half window of new samples: O(1) amortised. Central moments then come from shifted sums with a
 *   small shift, which avoids the catastrophic cancellation of raw power sums (E[x²] − E[x]²);
 * - min and max come from monotonic deques of ring positions (each sample enters and leaves each
 *   deque once).
 */
import { InputError } from '../errors';

export const STATISTICS = ['mean', 'min', 'max', 'std', 'rms', 'ptp', 'kurtosis', 'last'] as const;
export type Statistic = (typeof STATISTICS)[number];

export function isStatistic(s: unknown): s is Statistic {
  return typeof s === 'string' && (STATISTICS as readonly string[]).includes(s);
}

export type LatePolicy = 'accept' | 'drop';

export interface WindowOptions {
  /** 'time': the window is (t − size ms, t]; 'count': the last `size` accepted samples */
  kind: 'time' | 'count';
  size: number;
  stats: readonly Statistic[];
  /** validity range [lo, hi] on the raw value; samples outside are dropped and counted */
  valid?: readonly [number, number] | null;
  /** engineering range [lo, hi] mapped to [-1, 1] (after the validity check; clamped and counted) */
  normalise?: readonly [number, number] | null;
  /** late sample (older than the latest accepted one, within the window): keep it at the latest time, or drop it */
  late?: LatePolicy;
  /** a gap is reported when consecutive accepted samples are more than this many ms apart; 0 = off */
  gapMs?: number;
  /** hard cap on samples kept (time windows at unexpected rates); the oldest are evicted beyond it */
  maxSamples?: number;
}

/** What one window has counted since it was created or reset. */
export interface WindowCounts {
  accepted: number;
  nonFinite: number;
  outOfRange: number;
  late: number;
  clamped: number;
  gaps: number;
  /** samples evicted early because the window hit maxSamples */
  overflow: number;
}

export interface Gap {
  from: number;
  to: number;
  ms: number;
}

/** When a window stops ingesting to let its owner emit (shared by several windows in feature mode). */
export interface Schedule {
  mode: 'input' | 'count' | 'interval';
  /** samples (count) or ms of signal time (interval) */
  every: number;
  /** accepted samples left before the next emission (count mode) */
  countdown: number;
  /** signal time of the next emission (interval mode); NaN until the first accepted sample */
  boundary: number;
}

export function makeSchedule(mode: Schedule['mode'], every: number): Schedule {
  return { mode, every, countdown: every, boundary: NaN };
}

const MAX_PENDING_GAPS = 100;
const DEFAULT_MAX_SAMPLES = 1_000_000;

function nextPow2(n: number): number {
  let c = 16;
  while (c < n) c *= 2;
  return c;
}

export class SignalWindow {
  readonly kind: 'time' | 'count';
  readonly size: number;
  readonly stats: readonly Statistic[];
  private readonly limit: number;
  private readonly lo: number;
  private readonly hi: number;
  private readonly normLo: number;
  private readonly normScale: number;
  private readonly hasNorm: boolean;
  private readonly dropLate: boolean;
  private readonly gapMs: number;
  private readonly order: number;
  private readonly wantMax: boolean;
  private readonly wantMin: boolean;

  private cap = 0;
  private mask = 0;
  private vals = new Float64Array(0);
  private times = new Float64Array(0);
  private head = 0;
  private n = 0;
  private maxQ = new Int32Array(0);
  private maxHead = 0;
  private maxLen = 0;
  private minQ = new Int32Array(0);
  private minHead = 0;
  private minLen = 0;

  private shift = NaN;
  private s1 = 0;
  private c1 = 0;
  private s2 = 0;
  private c2 = 0;
  private s3 = 0;
  private c3 = 0;
  private s4 = 0;
  private c4 = 0;
  private sinceRebuild = 0;

  private tLast = -Infinity;
  private lastValue = NaN;
  /** time of the sample that made ingest() stop at an interval boundary */
  pendingTime = NaN;
  readonly counts: WindowCounts = { accepted: 0, nonFinite: 0, outOfRange: 0, late: 0, clamped: 0, gaps: 0, overflow: 0 };
  pendingGaps: Gap[] = [];

  constructor(options: WindowOptions) {
    if (options.kind !== 'time' && options.kind !== 'count') throw new Error(`window kind must be 'time' or 'count', got ${String(options.kind)}`);
    if (!(options.size > 0) || !Number.isFinite(options.size)) throw new Error(`window size must be > 0, got ${options.size}`);
    this.kind = options.kind;
    this.size = options.kind === 'count' ? Math.floor(options.size) : options.size;
    if (this.size < 1) throw new Error(`a count window needs at least 1 sample, got ${options.size}`);
    this.stats = [...options.stats];
    for (const s of this.stats) if (!isStatistic(s)) throw new Error(`unknown statistic ${JSON.stringify(s)} (known: ${STATISTICS.join(', ')})`);
    const maxSamples = options.maxSamples ?? DEFAULT_MAX_SAMPLES;
    if (!(maxSamples >= 1)) throw new Error(`maxSamples must be >= 1, got ${maxSamples}`);
    this.limit = Math.floor(this.kind === 'count' ? Math.min(this.size, maxSamples) : maxSamples);
    const valid = options.valid;
    // ±MAX_VALUE instead of ±Infinity: one comparison pair then rejects NaN and ±Infinity too
    this.lo = valid ? Math.max(valid[0], -Number.MAX_VALUE) : -Number.MAX_VALUE;
    this.hi = valid ? Math.min(valid[1], Number.MAX_VALUE) : Number.MAX_VALUE;
    if (!(this.lo <= this.hi)) throw new Error(`validity range [${valid?.[0]}, ${valid?.[1]}] is empty`);
    const norm = options.normalise;
    this.hasNorm = !!norm;
    this.normLo = norm ? norm[0] : 0;
    this.normScale = norm ? 2 / (norm[1] - norm[0]) : 1;
    if (norm && !(norm[1] > norm[0] && Number.isFinite(this.normScale))) throw new Error(`normalisation range [${norm[0]}, ${norm[1]}] must have from < to`);
    this.dropLate = (options.late ?? 'accept') === 'drop';
    this.gapMs = options.gapMs ?? 0;
    const st = new Set(this.stats);
    this.order = st.has('kurtosis') ? 4 : st.has('std') || st.has('rms') ? 2 : st.has('mean') ? 1 : 0;
    this.wantMax = st.has('max') || st.has('ptp');
    this.wantMin = st.has('min') || st.has('ptp');
    this.allocate(this.kind === 'count' ? nextPow2(this.limit) : 1024);
  }

  /** samples in the window now */
  get length(): number {
    return this.n;
  }

  /** time of the latest accepted sample (−Infinity before the first) */
  get latestTime(): number {
    return this.tLast;
  }

  /** time of the oldest sample in the window (NaN when empty) */
  get oldestTime(): number {
    return this.n > 0 ? this.times[this.head] : NaN;
  }

  /** bytes held by the buffers (for tests of the memory bound) */
  get bytes(): number {
    return this.vals.byteLength + this.times.byteLength + this.maxQ.byteLength + this.minQ.byteLength;
  }

  /** Forget every sample and count, keep the configuration. */
  reset(): void {
    this.head = 0;
    this.n = 0;
    this.maxHead = this.maxLen = this.minHead = this.minLen = 0;
    this.shift = NaN;
    this.s1 = this.c1 = this.s2 = this.c2 = this.s3 = this.c3 = this.s4 = this.c4 = 0;
    this.sinceRebuild = 0;
    this.tLast = -Infinity;
    this.lastValue = NaN;
    this.pendingTime = NaN;
    for (const k of Object.keys(this.counts) as (keyof WindowCounts)[]) this.counts[k] = 0;
    this.pendingGaps = [];
    if (this.kind === 'time') this.allocate(1024);
  }

  /** Take the gaps seen since the previous call. */
  takeGaps(): Gap[] {
    const g = this.pendingGaps;
    // the empty list handed out is not the one later gaps go into: an earlier output keeps its gaps
    if (g.length === 0) return [];
    this.pendingGaps = [];
    return g;
  }

  /** A copy of the counts (a snapshot that later samples do not change). */
  countsSnapshot(): WindowCounts {
    const c = this.counts;
    return { accepted: c.accepted, nonFinite: c.nonFinite, outOfRange: c.outOfRange, late: c.late, clamped: c.clamped, gaps: c.gaps, overflow: c.overflow };
  }

  /**
   * Throw an InputError (before anything is taken in) if a timestamp in the batch goes back by more
   * than the window: further back than `size` ms before the latest time for a time window, or before
   * the oldest sample still held for a count window.
   */
  checkTimes(start: number, intervalMs: number | null, timestamps: ArrayLike<number> | null, length: number, field: string): void {
    if (length === 0) return;
    const isTime = this.kind === 'time';
    let latest = this.tLast;
    // time window: outside when t <= latest − size; count window: outside when t < the oldest time held
    let floor = latest === -Infinity ? -Infinity : isTime ? latest - this.size : this.n > 0 ? this.times[this.head] : -Infinity;
    if (!timestamps) {
      if (start < latest && (isTime ? start <= floor : start < floor)) this.refuseTime(field, start, floor);
      return;
    }
    for (let i = 0; i < length; i++) {
      const t = timestamps[i];
      if (t < latest && (isTime ? t <= floor : t < floor)) this.refuseTime(`msg.timestamps[${i}]`, t, floor);
      if (t > latest) {
        latest = t;
        if (isTime) floor = t - this.size;
      }
    }
  }

  private refuseTime(at: string, t: number, floor: number): never {
    throw new InputError(at, `a time after ${new Date(floor).toISOString()} (it goes back by more than the window)`, t);
  }

  /**
   * Take in values[from..] (times start + i·intervalMs, or timestamps[i]). Returns the index where it
   * stopped: values.length when done, earlier when `schedule` says to emit (count reached: the
   * sample at the returned index − 1 completed it; interval boundary crossed: the sample at the
   * returned index is not taken yet and its time is in `pendingTime`).
   * Call checkTimes first: this method assumes no timestamp goes back by more than the window.
   */
  ingest(values: ArrayLike<number>, from: number, start: number, intervalMs: number | null, timestamps: ArrayLike<number> | null, schedule: Schedule | null): number {
    const len = values.length;
    if (from >= len) return len;
    this.ensureCapacity(Math.min(this.limit, this.n + (len - from)));
    if (
      schedule === null && timestamps === null && from === 0 && start >= this.tLast && !this.hasNorm && this.shift === this.shift &&
      (this.kind === 'time' ? this.n + len <= this.limit : this.n + len <= this.cap)
    ) {
      return this.ingestInOrder(values, start, intervalMs as number);
    }
    const vals = this.vals;
    const times = this.times;
    const mask = this.mask;
    const maxQ = this.maxQ;
    const minQ = this.minQ;
    const lo = this.lo;
    const hi = this.hi;
    const order = this.order;
    const wantMax = this.wantMax;
    const wantMin = this.wantMin;
    const isTime = this.kind === 'time';
    const W = this.size;
    const limit = this.limit;
    const dt = intervalMs ?? 0;
    const hasNorm = this.hasNorm;
    const normLo = this.normLo;
    const normScale = this.normScale;
    const gapMs = this.gapMs;
    const countMode = schedule !== null && schedule.mode === 'count';
    const intervalMode = schedule !== null && schedule.mode === 'interval';
    let countdown = countMode ? (schedule as Schedule).countdown : 0;
    let boundary = intervalMode ? (schedule as Schedule).boundary : 0;

    let head = this.head;
    let n = this.n;
    let maxHead = this.maxHead;
    let maxLen = this.maxLen;
    let minHead = this.minHead;
    let minLen = this.minLen;
    let K = this.shift;
    let s1 = this.s1, c1 = this.c1, s2 = this.s2, c2 = this.c2, s3 = this.s3, c3 = this.c3, s4 = this.s4, c4 = this.c4;
    let tLast = this.tLast;
    let accepted = 0, nonFinite = 0, outOfRange = 0, late = 0, clamped = 0, overflow = 0;
    let lastValue = this.lastValue;
    let i = from;
    let stopped = false;

    for (; i < len; i++) {
      let x = values[i];
      if (!(x >= lo && x <= hi)) {
        if (x - x !== 0) nonFinite++;
        else outOfRange++;
        continue;
      }
      let t = timestamps !== null ? timestamps[i] : start + i * dt;
      if (t < tLast) {
        late++;
        if (this.dropLate) continue;
        t = tLast;
      } else if (gapMs > 0 && t - tLast > gapMs && tLast > -Infinity) {
        this.recordGap(tLast, t);
      }
      if (intervalMode) {
        if (boundary !== boundary) {
          boundary = Math.ceil(t / schedule!.every) * schedule!.every;
        } else if (t > boundary) {
          this.pendingTime = t;
          stopped = true;
          break;
        }
      }
      if (hasNorm) {
        x = (x - normLo) * normScale - 1;
        if (x > 1) {
          x = 1;
          clamped++;
        } else if (x < -1) {
          x = -1;
          clamped++;
        }
      }
      if (K !== K) K = x;
      // evict: samples at or before t − W (time window), or the oldest when full
      const lim = isTime ? t - W : -Infinity;
      while (n > 0 && (n >= limit || times[head] <= lim)) {
        if (isTime && n >= limit && times[head] > lim) overflow++;
        const p = head;
        if (order > 0) {
          const d = vals[p] - K;
          let y = -d;
          let s = s1 + y;
          c1 += Math.abs(s1) >= Math.abs(y) ? s1 - s + y : y - s + s1;
          s1 = s;
          if (order > 1) {
            const d2 = d * d;
            y = -d2;
            s = s2 + y;
            c2 += Math.abs(s2) >= d2 ? s2 - s + y : y - s + s2;
            s2 = s;
            if (order > 2) {
              y = -d2 * d;
              s = s3 + y;
              c3 += Math.abs(s3) >= Math.abs(y) ? s3 - s + y : y - s + s3;
              s3 = s;
              y = -d2 * d2;
              s = s4 + y;
              c4 += Math.abs(s4) >= -y ? s4 - s + y : y - s + s4;
              s4 = s;
            }
          }
        }
        if (maxLen > 0 && maxQ[maxHead] === p) {
          maxHead = (maxHead + 1) & mask;
          maxLen--;
        }
        if (minLen > 0 && minQ[minHead] === p) {
          minHead = (minHead + 1) & mask;
          minLen--;
        }
        head = (head + 1) & mask;
        n--;
      }
      // push
      const p = (head + n) & mask;
      vals[p] = x;
      times[p] = t;
      n++;
      if (order > 0) {
        const d = x - K;
        let s = s1 + d;
        c1 += Math.abs(s1) >= Math.abs(d) ? s1 - s + d : d - s + s1;
        s1 = s;
        if (order > 1) {
          const d2 = d * d;
          s = s2 + d2;
          c2 += Math.abs(s2) >= d2 ? s2 - s + d2 : d2 - s + s2;
          s2 = s;
          if (order > 2) {
            const d3 = d2 * d;
            s = s3 + d3;
            c3 += Math.abs(s3) >= Math.abs(d3) ? s3 - s + d3 : d3 - s + s3;
            s3 = s;
            const d4 = d2 * d2;
            s = s4 + d4;
            c4 += Math.abs(s4) >= d4 ? s4 - s + d4 : d4 - s + s4;
            s4 = s;
          }
        }
      }
      if (wantMax) {
        while (maxLen > 0 && vals[maxQ[(maxHead + maxLen - 1) & mask]] <= x) maxLen--;
        maxQ[(maxHead + maxLen) & mask] = p;
        maxLen++;
      }
      if (wantMin) {
        while (minLen > 0 && vals[minQ[(minHead + minLen - 1) & mask]] >= x) minLen--;
        minQ[(minHead + minLen) & mask] = p;
        minLen++;
      }
      tLast = t;
      lastValue = x;
      accepted++;
      if (countMode && --countdown === 0) {
        i++;
        stopped = true;
        break;
      }
    }

    this.head = head;
    this.n = n;
    this.maxHead = maxHead;
    this.maxLen = maxLen;
    this.minHead = minHead;
    this.minLen = minLen;
    this.shift = K;
    this.s1 = s1; this.c1 = c1; this.s2 = s2; this.c2 = c2; this.s3 = s3; this.c3 = c3; this.s4 = s4; this.c4 = c4;
    this.tLast = tLast;
    this.lastValue = lastValue;
    this.sinceRebuild += accepted;
    const c = this.counts;
    c.accepted += accepted;
    c.nonFinite += nonFinite;
    c.outOfRange += outOfRange;
    c.late += late;
    c.clamped += clamped;
    c.overflow += overflow;
    if (countMode) (schedule as Schedule).countdown = countdown;
    if (intervalMode) (schedule as Schedule).boundary = boundary;
    return stopped ? i : len;
  }

  /**
   * The common case, split in two tight loops: an evenly spaced batch, in order, no schedule to stop
   * at, room in the ring for all of it. All valid samples go in first, then the samples that fell
   * out of the window leave: the window, sums and deques end exactly as with the per-sample loop
   * (ring positions cannot be reused before the evictions, since the ring holds n + batch).
   */
  private ingestInOrder(values: ArrayLike<number>, start: number, dt: number): number {
    const len = values.length;
    const vals = this.vals;
    const times = this.times;
    const mask = this.mask;
    const lo = this.lo;
    const hi = this.hi;
    const order = this.order;
    const wantMax = this.wantMax;
    const wantMin = this.wantMin;
    const maxQ = this.maxQ;
    const minQ = this.minQ;
    const K = this.shift;
    let head = this.head;
    let n = this.n;
    let maxHead = this.maxHead, maxLen = this.maxLen, minHead = this.minHead, minLen = this.minLen;
    let s1 = this.s1, c1 = this.c1, s2 = this.s2, c2 = this.c2, s3 = this.s3, c3 = this.c3, s4 = this.s4, c4 = this.c4;
    let nonFinite = 0, outOfRange = 0, accepted = 0;
    const gapMs = this.gapMs;
    let prevT = this.tLast, t = NaN, last = NaN;
    if (order === 1 && !wantMax && !wantMin && !(gapMs > 0)) {
      // the commonest configuration (mean only, no gap detection): the same steps as the general
      // loop below, without its per-sample tests for the other statistics
      for (let i = 0; i < len; i++) {
        const x = values[i];
        if (!(x >= lo && x <= hi)) {
          if (x - x !== 0) nonFinite++;
          else outOfRange++;
          continue;
        }
        t = start + i * dt;
        accepted++;
        last = x;
        const p = (head + n) & mask;
        vals[p] = x;
        times[p] = t;
        n++;
        const d = x - K;
        const s = s1 + d;
        c1 += Math.abs(s1) >= Math.abs(d) ? s1 - s + d : d - s + s1;
        s1 = s;
      }
    } else for (let i = 0; i < len; i++) {
      const x = values[i];
      if (!(x >= lo && x <= hi)) {
        if (x - x !== 0) nonFinite++;
        else outOfRange++;
        continue;
      }
      t = start + i * dt;
      // invalid samples in between can make a gap inside an evenly spaced batch
      if (gapMs > 0 && t - prevT > gapMs && prevT > -Infinity) this.recordGap(prevT, t);
      prevT = t;
      accepted++;
      last = x;
      const p = (head + n) & mask;
      vals[p] = x;
      times[p] = t;
      n++;
      if (order > 0) {
        const d = x - K;
        let s = s1 + d;
        c1 += Math.abs(s1) >= Math.abs(d) ? s1 - s + d : d - s + s1;
        s1 = s;
        if (order > 1) {
          const d2 = d * d;
          s = s2 + d2;
          c2 += s2 >= d2 ? s2 - s + d2 : d2 - s + s2;
          s2 = s;
          if (order > 2) {
            const d3 = d2 * d;
            s = s3 + d3;
            c3 += Math.abs(s3) >= Math.abs(d3) ? s3 - s + d3 : d3 - s + s3;
            s3 = s;
            const d4 = d2 * d2;
            s = s4 + d4;
            c4 += s4 >= d4 ? s4 - s + d4 : d4 - s + s4;
            s4 = s;
          }
        }
      }
      if (wantMax) {
        while (maxLen > 0 && vals[maxQ[(maxHead + maxLen - 1) & mask]] <= x) maxLen--;
        maxQ[(maxHead + maxLen) & mask] = p;
        maxLen++;
      }
      if (wantMin) {
        while (minLen > 0 && vals[minQ[(minHead + minLen - 1) & mask]] >= x) minLen--;
        minQ[(minHead + minLen) & mask] = p;
        minLen++;
      }
    }
    if (accepted > 0) {
      // what the per-sample loop evicts by the last sample: times <= t − W, or beyond the count
      // (a time window cannot pass its limit here: the fast path needs n + batch <= limit)
      const lim = this.kind === 'time' ? t - this.size : -Infinity;
      const keep = this.limit;
      if (order === 1 && !wantMax && !wantMin) {
        // mean only: the same eviction steps as the general loop below, without the other statistics
        while (n > 0 && (n > keep || times[head] <= lim)) {
          const y = -(vals[head] - K);
          const s = s1 + y;
          c1 += Math.abs(s1) >= Math.abs(y) ? s1 - s + y : y - s + s1;
          s1 = s;
          head = (head + 1) & mask;
          n--;
        }
      }
      while (n > 0 && (n > keep || times[head] <= lim)) {
        const p = head;
        if (order > 0) {
          const d = vals[p] - K;
          let y = -d;
          let s = s1 + y;
          c1 += Math.abs(s1) >= Math.abs(y) ? s1 - s + y : y - s + s1;
          s1 = s;
          if (order > 1) {
            const d2 = d * d;
            y = -d2;
            s = s2 + y;
            c2 += Math.abs(s2) >= d2 ? s2 - s + y : y - s + s2;
            s2 = s;
            if (order > 2) {
              y = -d2 * d;
              s = s3 + y;
              c3 += Math.abs(s3) >= Math.abs(y) ? s3 - s + y : y - s + s3;
              s3 = s;
              y = -d2 * d2;
              s = s4 + y;
              c4 += Math.abs(s4) >= -y ? s4 - s + y : y - s + s4;
              s4 = s;
            }
          }
        }
        if (maxLen > 0 && maxQ[maxHead] === p) {
          maxHead = (maxHead + 1) & mask;
          maxLen--;
        }
        if (minLen > 0 && minQ[minHead] === p) {
          minHead = (minHead + 1) & mask;
          minLen--;
        }
        head = (head + 1) & mask;
        n--;
      }
      this.tLast = t;
      this.lastValue = last;
    }
    this.head = head;
    this.n = n;
    this.maxHead = maxHead;
    this.maxLen = maxLen;
    this.minHead = minHead;
    this.minLen = minLen;
    this.s1 = s1; this.c1 = c1; this.s2 = s2; this.c2 = c2; this.s3 = s3; this.c3 = c3; this.s4 = s4; this.c4 = c4;
    this.sinceRebuild += accepted;
    const c = this.counts;
    c.accepted += accepted;
    c.nonFinite += nonFinite;
    c.outOfRange += outOfRange;
    return len;
  }

  /** Take in one value at time t (a batch of one). */
  push(value: number, t: number, schedule: Schedule | null = null): number {
    return this.ingest([value], 0, t, 0, null, schedule);
  }

  /** Evict samples at or before t − size (time windows): the window as it stood at time t. */
  advanceTo(t: number): void {
    if (this.kind !== 'time') return;
    const lim = t - this.size;
    while (this.n > 0 && this.times[this.head] <= lim) this.evictOldest();
  }

  /** The selected statistics of the window now (NaN where undefined, e.g. an empty window). */
  statistics(): Partial<Record<Statistic, number>> {
    const out: Partial<Record<Statistic, number>> = {};
    const n = this.n;
    let mean = NaN, m2 = NaN, m4 = NaN, rms = NaN;
    if (n > 0 && this.order > 0) {
      this.maybeRecentre();
      const K = this.shift;
      const a1 = (this.s1 + this.c1) / n;
      mean = K + a1;
      if (this.order > 1) {
        const a2 = (this.s2 + this.c2) / n;
        m2 = a2 - a1 * a1;
        // below rounding level of the shifted second moment: the window is constant
        if (m2 <= 8 * Number.EPSILON * a2) m2 = 0;
        // Σx² = Σ(x−K)² + 2KΣ(x−K) + nK²
        rms = Math.sqrt(Math.max(0, a2 + 2 * K * a1 + K * K));
        if (this.order > 2) {
          const a3 = (this.s3 + this.c3) / n;
          const a4 = (this.s4 + this.c4) / n;
          m4 = a4 - 4 * a1 * a3 + 6 * a1 * a1 * a2 - 3 * a1 * a1 * a1 * a1;
        }
      }
    }
    for (const s of this.stats) {
      switch (s) {
        case 'mean': out.mean = mean; break;
        case 'std': out.std = Math.sqrt(m2); break;
        case 'rms': out.rms = rms; break;
        case 'kurtosis': out.kurtosis = m2 > 0 ? Math.max(m4, 0) / (m2 * m2) : NaN; break;
        case 'min': out.min = this.min(); break;
        case 'max': out.max = this.max(); break;
        case 'ptp': out.ptp = this.max() - this.min(); break;
        case 'last': out.last = n > 0 ? this.lastValue : NaN; break;
      }
    }
    return out;
  }

  /** max of the window (NaN when empty or max/ptp not selected) */
  max(): number {
    return this.maxLen > 0 ? this.vals[this.maxQ[this.maxHead]] : NaN;
  }

  min(): number {
    return this.minLen > 0 ? this.vals[this.minQ[this.minHead]] : NaN;
  }

  /** Copy of the values in the window, oldest first (for tests and diagnostics). */
  values(): Float64Array {
    const out = new Float64Array(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.vals[(this.head + i) & this.mask];
    return out;
  }

  /** Re-centre the shift on the current mean and recompute the sums from the ring buffer. */
  recentre(): void {
    if (this.order === 0 || this.n === 0) return;
    this.shift = this.shift + (this.s1 + this.c1) / this.n;
    this.resum();
  }

  private maybeRecentre(): void {
    if (this.order < 2 || this.n < 2) return;
    const n = this.n;
    const a1 = (this.s1 + this.c1) / n;
    const a2 = (this.s2 + this.c2) / n;
    const m2 = a2 - a1 * a1;
    const d2 = a1 * a1;
    if (d2 > 4 * m2 || (this.sinceRebuild * 2 >= n && d2 * 64 > m2)) this.recentre();
  }

  private resum(): void {
    const K = this.shift;
    let s1 = 0, c1 = 0, s2 = 0, c2 = 0, s3 = 0, c3 = 0, s4 = 0, c4 = 0;
    const order = this.order;
    for (let i = 0; i < this.n; i++) {
      const d = this.vals[(this.head + i) & this.mask] - K;
      let s = s1 + d;
      c1 += Math.abs(s1) >= Math.abs(d) ? s1 - s + d : d - s + s1;
      s1 = s;
      if (order > 1) {
        const d2 = d * d;
        s = s2 + d2;
        c2 += s2 >= d2 ? s2 - s + d2 : d2 - s + s2;
        s2 = s;
        if (order > 2) {
          const d3 = d2 * d;
          s = s3 + d3;
          c3 += Math.abs(s3) >= Math.abs(d3) ? s3 - s + d3 : d3 - s + s3;
          s3 = s;
          const d4 = d2 * d2;
          s = s4 + d4;
          c4 += s4 >= d4 ? s4 - s + d4 : d4 - s + s4;
          s4 = s;
        }
      }
    }
    this.s1 = s1; this.c1 = c1; this.s2 = s2; this.c2 = c2; this.s3 = s3; this.c3 = c3; this.s4 = s4; this.c4 = c4;
    this.sinceRebuild = 0;
  }

  private evictOldest(): void {
    // reuse the batch path's eviction by a zero-length trick would obscure it; do it directly
    const p = this.head;
    if (this.order > 0) {
      const d = this.vals[p] - this.shift;
      this.s1 = this.compensated(1, -d);
      if (this.order > 1) {
        this.s2 = this.compensated(2, -d * d);
        if (this.order > 2) {
          this.s3 = this.compensated(3, -d * d * d);
          this.s4 = this.compensated(4, -d * d * d * d);
        }
      }
    }
    if (this.maxLen > 0 && this.maxQ[this.maxHead] === p) {
      this.maxHead = (this.maxHead + 1) & this.mask;
      this.maxLen--;
    }
    if (this.minLen > 0 && this.minQ[this.minHead] === p) {
      this.minHead = (this.minHead + 1) & this.mask;
      this.minLen--;
    }
    this.head = (this.head + 1) & this.mask;
    this.n--;
  }

  /** Neumaier step on sum p with term y; updates the compensation and returns the new sum. */
  private compensated(p: 1 | 2 | 3 | 4, y: number): number {
    const sum = p === 1 ? this.s1 : p === 2 ? this.s2 : p === 3 ? this.s3 : this.s4;
    const s = sum + y;
    const c = Math.abs(sum) >= Math.abs(y) ? sum - s + y : y - s + sum;
    if (p === 1) this.c1 += c;
    else if (p === 2) this.c2 += c;
    else if (p === 3) this.c3 += c;
    else this.c4 += c;
    return s;
  }

  private recordGap(from: number, to: number): void {
    this.counts.gaps++;
    if (this.pendingGaps.length < MAX_PENDING_GAPS) this.pendingGaps.push({ from, to, ms: to - from });
  }

  private ensureCapacity(needed: number): void {
    if (needed <= this.cap) return;
    this.allocate(nextPow2(needed));
  }

  /** (Re)allocate the ring at capacity `cap`, keeping the samples in order from position 0. */
  private allocate(cap: number): void {
    const oldCap = this.cap;
    const oldMask = this.mask;
    const oldHead = this.head;
    const vals = new Float64Array(cap);
    const times = new Float64Array(cap);
    const maxQ = new Int32Array(this.wantMax ? cap : 0);
    const minQ = new Int32Array(this.wantMin ? cap : 0);
    if (oldCap > 0) {
      for (let i = 0; i < this.n; i++) {
        const q = (oldHead + i) & oldMask;
        vals[i] = this.vals[q];
        times[i] = this.times[q];
      }
      for (let i = 0; i < this.maxLen; i++) maxQ[i] = (this.maxQ[(this.maxHead + i) & oldMask] - oldHead) & oldMask;
      for (let i = 0; i < this.minLen; i++) minQ[i] = (this.minQ[(this.minHead + i) & oldMask] - oldHead) & oldMask;
    }
    this.vals = vals;
    this.times = times;
    this.maxQ = maxQ;
    this.minQ = minQ;
    this.cap = cap;
    this.mask = cap - 1;
    this.head = 0;
    this.maxHead = 0;
    this.minHead = 0;
  }
}
