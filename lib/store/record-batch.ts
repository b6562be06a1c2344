/**
 * RecordBatch: the records of one grouped commit, packed end to end in one buffer as they arrive.
 *
 * Why: a message waits up to one commit interval before it is committed. Keeping its encoded body
 * as a string (or a small Buffer) for that long makes the garbage collector copy it at least once;
 * writing its bytes into the batch at once lets it die young. The packed batch is also what crosses
 * to the worker thread that owns the SQLite connection: one transferred buffer instead of a
 * structured clone of every body (each a few microseconds on its own).
 */
import type { AppendEntry } from './queue';

/** A packed batch; `bytes` and the typed arrays' buffers can be transferred to a worker. */
export interface PackedEntries {
  bytes: ArrayBuffer;
  /** end offset of each record in `bytes` (record i spans ends[i-1]..ends[i]) */
  ends: Uint32Array;
  /** index into `topics` per record; -1 = no topic */
  topicIndex: Int32Array;
  topics: string[];
}

const INITIAL_BYTES = 64 * 1024;
const INITIAL_RECORDS = 1024;

export class RecordBatch {
  private bytes = Buffer.allocUnsafeSlow(INITIAL_BYTES);
  private offset = 0;
  private ends = new Uint32Array(INITIAL_RECORDS);
  private topicIndex = new Int32Array(INITIAL_RECORDS);
  private topics: string[] = [];
  private lastTopic: string | null | undefined = undefined;
  private lastTopicIndex = -1;
  private n = 0;

  get count(): number {
    return this.n;
  }

  /** Add one record: a string is stored as its UTF-8 bytes. */
  append(body: string | Uint8Array, topic?: string | null): void {
    // a string of n UTF-16 units needs at most 3n UTF-8 bytes
    const room = typeof body === 'string' ? 3 * body.length : body.byteLength;
    if (this.offset + room > this.bytes.length) this.growBytes(this.offset + room);
    if (this.n === this.ends.length) this.growRecords();
    if (typeof body === 'string') {
      this.offset += this.bytes.write(body, this.offset);
    } else {
      this.bytes.set(body, this.offset);
      this.offset += body.byteLength;
    }
    this.ends[this.n] = this.offset;
    this.topicIndex[this.n] = this.indexOfTopic(topic ?? null);
    this.n++;
  }

  /** The records so far, packed; the batch starts empty again (with fresh buffers). */
  take(): PackedEntries {
    const packed: PackedEntries = {
      // handed over whole, not copied: a worker gets it by transfer
      bytes: this.bytes.buffer as ArrayBuffer,
      ends: this.ends.slice(0, this.n),
      topicIndex: this.topicIndex.slice(0, this.n),
      topics: this.topics,
    };
    // the next batch's buffer: sized for what this one used (at least the initial size)
    let size = INITIAL_BYTES;
    while (size < 2 * this.offset && size < this.bytes.length) size *= 2;
    this.bytes = Buffer.allocUnsafeSlow(size);
    this.offset = 0;
    this.n = 0;
    this.topics = [];
    this.lastTopic = undefined;
    this.lastTopicIndex = -1;
    return packed;
  }

  private indexOfTopic(topic: string | null): number {
    if (topic === this.lastTopic) return this.lastTopicIndex;
    let index = -1;
    if (topic !== null) {
      index = this.topics.indexOf(topic);
      if (index < 0) index = this.topics.push(topic) - 1;
    }
    this.lastTopic = topic;
    this.lastTopicIndex = index;
    return index;
  }

  private growBytes(needed: number): void {
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const bigger = Buffer.allocUnsafeSlow(size);
    this.bytes.copy(bigger, 0, 0, this.offset);
    this.bytes = bigger;
  }

  private growRecords(): void {
    const ends = new Uint32Array(this.ends.length * 2);
    ends.set(this.ends);
    this.ends = ends;
    const topicIndex = new Int32Array(this.topicIndex.length * 2);
    topicIndex.set(this.topicIndex);
    this.topicIndex = topicIndex;
  }
}

/** Pack entries in one go (a synchronous commit of AppendEntry[]). */
export function packEntries(entries: AppendEntry[]): PackedEntries {
  const batch = new RecordBatch();
  for (const e of entries) batch.append(e.body, e.topic);
  return batch.take();
}

/** The entries of a packed batch; bodies are views into its buffer (no copy). */
export function unpackEntries(packed: PackedEntries): AppendEntry[] {
  const bytes = Buffer.from(packed.bytes);
  const entries = new Array<AppendEntry>(packed.ends.length);
  let start = 0;
  for (let i = 0; i < packed.ends.length; i++) {
    const t = packed.topicIndex[i];
    entries[i] = { body: bytes.subarray(start, packed.ends[i]), topic: t < 0 ? null : packed.topics[t] };
    start = packed.ends[i];
  }
  return entries;
}
