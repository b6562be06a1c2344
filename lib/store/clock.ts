/**
 * Time for the store: the queue stamps rows and the forwarder runs its commit, ack-timeout, retry
 * and rate-limit timers through a Clock, so tests can replay a 30-minute outage in milliseconds
 * with ManualClock instead of sleeping.
 */

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

interface ManualTimer {
  due: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A clock that only moves when told to; timers fire in due order as time is advanced. */
export class ManualClock implements Clock {
  private t: number;
  private seq = 0;
  private timers: ManualTimer[] = [];

  constructor(start = 0) {
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer: ManualTimer = { due: this.t + Math.max(0, ms), seq: this.seq++, fn, cancelled: false };
    this.timers.push(timer);
    return timer;
  }

  clearTimeout(handle: unknown): void {
    if (handle) (handle as ManualTimer).cancelled = true;
  }

  /** Number of timers still waiting. */
  get pending(): number {
    return this.timers.filter((x) => !x.cancelled).length;
  }

  /** Move time forward by `ms`, firing every timer that falls due on the way (in due order). */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.timers = this.timers.filter((x) => !x.cancelled);
      let next: ManualTimer | undefined;
      for (const x of this.timers) {
        if (x.due <= end && (!next || x.due < next.due || (x.due === next.due && x.seq < next.seq))) next = x;
      }
      if (!next) break;
      next.cancelled = true;
      this.t = Math.max(this.t, next.due);
      next.fn();
    }
    this.t = end;
  }
}
