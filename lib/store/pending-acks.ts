/**
 * PendingAcks: ids acknowledged and not yet deleted by a commit.
 *
 * Why not a Set: acks arrive at the rate messages do, and a Set's table is reallocated as it grows
 * and again after every clear(); at tens of thousands of acks a second those tables outlive a
 * minor garbage collection and get copied. An array of small integers costs no allocation per id.
 * Acks normally come in delivery order, so the array is already sorted; when one comes out of
 * order it is sorted (and duplicates dropped) the next time it is searched or taken.
 */
export class PendingAcks {
  private ids: number[] = [];
  /** ascending without duplicates */
  private sorted = true;

  get empty(): boolean {
    return this.ids.length === 0;
  }

  add(id: number): void {
    const n = this.ids.length;
    if (n > 0 && id <= this.ids[n - 1]) this.sorted = false;
    this.ids.push(id);
  }

  addAll(ids: readonly number[]): void {
    for (let i = 0; i < ids.length; i++) this.add(ids[i]);
  }

  has(id: number): boolean {
    this.normalise();
    let lo = 0;
    let hi = this.ids.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const at = this.ids[mid];
      if (at === id) return true;
      if (at < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }

  /** All of them, ascending and without duplicates; the list starts empty again. */
  take(): number[] {
    this.normalise();
    const ids = this.ids;
    this.ids = [];
    return ids;
  }

  private normalise(): void {
    if (this.sorted) return;
    this.ids.sort((a, b) => a - b);
    let kept = 0;
    for (let i = 0; i < this.ids.length; i++) {
      if (kept === 0 || this.ids[i] !== this.ids[kept - 1]) this.ids[kept++] = this.ids[i];
    }
    this.ids.length = kept;
    this.sorted = true;
  }
}
