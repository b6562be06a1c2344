/**
 * IdQueue: entries in ascending id order, each with a value — the forwarder's records waiting for
 * their first delivery (value: the message) and its records in flight (value: when sent).
 * Append at the end, look at or take the front, remove any entry by id.
 *
 * Why not a Map: a Map entry is an allocation of its own and a number value is boxed, so at tens
 * of thousands of messages a second the garbage collector copies them all while they wait for a
 * commit or an acknowledgement. Two arrays hold the same without per-entry objects. A removed
 * entry that is not at the front stays as a tombstone (its id negated) until the front passes it.
 */
export class IdQueue<V> {
  private ids: number[] = [];
  private values: V[] = [];
  private head = 0;
  private tombstones = 0;

  get size(): number {
    return this.ids.length - this.head - this.tombstones;
  }

  /** Append; `id` must be greater than every id already in the queue. */
  push(id: number, value: V): void {
    const last = this.ids.length > this.head ? Math.abs(this.ids[this.ids.length - 1]) : 0;
    if (id <= last) throw new Error(`IdQueue: id ${id} after ${last} (ids must ascend)`);
    this.ids.push(id);
    this.values.push(value);
  }

  /** The front entry's id, or undefined when empty. */
  firstId(): number | undefined {
    this.skipTombstones();
    return this.head < this.ids.length ? this.ids[this.head] : undefined;
  }

  /** The front entry's value (undefined when empty). */
  firstValue(): V | undefined {
    this.skipTombstones();
    return this.head < this.ids.length ? this.values[this.head] : undefined;
  }

  /** Drop the front entry. */
  shift(): void {
    this.skipTombstones();
    if (this.head >= this.ids.length) return;
    this.forget(this.head);
    this.head++;
    this.compact();
  }

  /** Remove the entry with this id; false when there is none. */
  remove(id: number): boolean {
    this.skipTombstones();
    if (this.head < this.ids.length && this.ids[this.head] === id) {
      this.shift();
      return true;
    }
    const i = this.indexOf(id);
    if (i < 0) return false;
    this.ids[i] = -id;
    this.forget(i);
    this.tombstones++;
    return true;
  }

  has(id: number): boolean {
    return this.indexOf(id) >= 0;
  }

  clear(): void {
    this.ids = [];
    this.values = [];
    this.head = 0;
    this.tombstones = 0;
  }

  /** Position of a live entry with this id (binary search over |id|), or -1. */
  private indexOf(id: number): number {
    let lo = this.head;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = Math.abs(this.ids[mid]);
      if (at === id) return this.ids[mid] > 0 ? mid : -1;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /**
   * Let an object value go at once (a message must not wait for the next compaction). Numbers stay:
   * writing undefined into an array of numbers would turn it into an array of boxed numbers.
   */
  private forget(i: number): void {
    if (typeof this.values[i] === 'object') (this.values as unknown[])[i] = undefined;
  }

  private skipTombstones(): void {
    while (this.head < this.ids.length && this.ids[this.head] < 0) {
      this.head++;
      this.tombstones--;
    }
  }

  /** Drop the consumed front of the arrays once it is most of them. */
  private compact(): void {
    if (this.head < 1024 || this.head * 2 < this.ids.length) return;
    this.ids = this.ids.slice(this.head);
    this.values = this.values.slice(this.head);
    this.head = 0;
  }
}
