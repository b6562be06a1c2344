/**
 * At most one "yes" per interval: multitask-infer refreshes its status on a message only when one
 * is due, because a `node.status` per message (an event to every editor, a status-node check)
 * costs more than the node's own work at batch 1.
 */
export class Throttle {
  private last = -Infinity;

  /** `clock` in ms (Date.now by default; tests pass their own). */
  constructor(
    readonly intervalMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** True when at least `intervalMs` passed since the last true (the first call is always due). */
  due(): boolean {
    const now = this.clock();
    if (now - this.last < this.intervalMs) return false;
    this.last = now;
    return true;
  }
}
