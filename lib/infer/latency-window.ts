/** Recent run times (ms) for a node's status and its 'stats' answer. */

/** Latency ring for the status and msg.control = 'stats' (fixed size: nothing allocated per message). */
export class LatencyWindow {
  private readonly values: Float64Array;
  private next = 0;
  private count = 0;
  constructor(size = 200) {
    this.values = new Float64Array(size);
  }
  add(ms: number): void {
    this.values[this.next] = ms;
    this.next = (this.next + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
  }
  quantile(q: number): number | undefined {
    if (this.count === 0) return undefined;
    const s = this.values.slice(0, this.count).sort();
    return s[Math.min(s.length - 1, Math.floor(q * s.length))];
  }
}
