/**
 * DurableQueue: a FIFO of opaque byte records in one SQLite file (better-sqlite3 12, WAL).
 *
 * - Every row gets an id from AUTOINCREMENT, so ids only ever grow, also after the queue was
 *   emptied or the process restarted: a receiver can drop duplicates by id.
 * - `commit(appends, acks)` is one transaction: acknowledged rows are deleted, new rows inserted,
 *   the capacity policy enforced and the lifetime counters updated, all or nothing. Callers group
 *   many messages into one commit; that is where the throughput comes from.
 * - `synchronous` is set explicitly on every open and read back (a connection that did not switch
 *   the file to WAL would otherwise default to NORMAL); FULL survives power loss, NORMAL a crash.
 * - The connection holds the file in EXCLUSIVE locking mode: a second queue on the same file fails
 *   with a clear "locked" error instead of two writers interleaving.
 * - A file that is not a database or fails SQLite's quick_check is moved aside
 *   (`<file>.corrupt-<time>`) and a fresh queue started; `recovery` says what happened.
 *
 * Nothing here knows about Node-RED; the edge-cache node and cloud-sync's sample store use it.
 */
import Database = require('better-sqlite3');
import * as fs from 'fs';
import * as path from 'path';
import { unpackEntries, type PackedEntries } from './record-batch';

export type Synchronous = 'FULL' | 'NORMAL';
export type OverflowPolicy = 'drop-oldest' | 'refuse-newest' | 'thin-out';

export const SYNCHRONOUS_LEVELS: Record<Synchronous, number> = { NORMAL: 1, FULL: 2 };
export const OVERFLOW_POLICIES: readonly OverflowPolicy[] = ['drop-oldest', 'refuse-newest', 'thin-out'];

export interface QueueOptions {
  /** database file (created with its folder when missing), or ':memory:' for tests */
  path: string;
  /** default FULL */
  synchronous?: Synchronous;
  /** capacity by time: rows older than this (ms, by enqueue time) are over capacity; 0 = no limit. Default 30 min. */
  maxAgeMs?: number;
  /** capacity by stored bytes (sum of record sizes); 0 = no limit */
  maxBytes?: number;
  /** capacity by number of rows; 0 = no limit */
  maxCount?: number;
  /** what to do when full; default drop-oldest */
  policy?: OverflowPolicy;
  /** thin-out keeps every k-th row (k >= 2); default 2 */
  thinKeepEvery?: number;
  /** clock for row timestamps and age limits; default Date.now */
  now?: () => number;
  /** run PRAGMA quick_check when opening; default true */
  integrityCheck?: boolean;
  /** ms to wait for a lock held by someone else before failing; default 200 */
  busyTimeoutMs?: number;
}

export interface AppendEntry {
  /** the record; a string is stored as its UTF-8 bytes (and read back as a Buffer) */
  body: Buffer | string;
  topic?: string | null;
}

export interface QueueRow {
  id: number;
  ts: number;
  topic: string | null;
  body: Buffer;
}

export interface DropCounts {
  /** removed by drop-oldest because the count or byte limit was reached */
  oldest: number;
  /** removed because they were older than maxAgeMs */
  expired: number;
  /** new records refused (refuse-newest, or a single record larger than maxBytes) */
  refused: number;
  /** removed by thin-out */
  thinned: number;
  /** removed by reset() */
  reset: number;
}

export interface CommitResult {
  /** one per appended entry: its id, or null when it was refused */
  ids: Array<number | null>;
  /** why each refused entry was refused (same index as ids) */
  refusedReasons: Array<string | null>;
  /** rows the acks removed (acks of ids no longer stored count nothing) */
  acked: number;
  /** what this commit dropped */
  dropped: DropCounts;
  /** ids of stored rows this commit dropped (not the refused entries) */
  droppedIds: number[];
}

export interface QueueStats {
  file: string;
  /** read back from the open connection */
  synchronous: Synchronous;
  /** SQLite connections this queue has opened (each had `synchronous` set and verified) */
  connections: number;
  policy: OverflowPolicy;
  count: number;
  bytes: number;
  oldestId: number | null;
  oldestTs: number | null;
  newestId: number | null;
  /** highest id ever handed out (survives emptying the queue) */
  lastId: number;
  limits: { maxAgeMs: number; maxBytes: number; maxCount: number; thinKeepEvery: number };
  /** lifetime counters of this file */
  totals: { appended: number; acked: number; dropped: DropCounts };
}

/** Count, bytes and oldest record: what a status display shows (see lastKnownState). */
export interface QueueState {
  count: number;
  bytes: number;
  head: { id: number; ts: number } | null;
}

export interface Recovery {
  reason: string;
  movedTo: string;
}

/** Thrown for a database that cannot be used (locked by someone else, unreadable folder, ...). */
export class StoreError extends Error {
  constructor(readonly code: 'locked' | 'open-failed' | 'synchronous' | 'schema' | 'closed', message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

class CorruptDatabase extends Error {}

/** rows per multi-row INSERT statement (4 parameters each) */
const INSERT_CHUNK = 64;

const COUNTER_KEYS = ['appended', 'acked', 'dropped_oldest', 'dropped_expired', 'refused', 'thinned', 'reset'] as const;
type CounterKey = (typeof COUNTER_KEYS)[number];

function emptyDrops(): DropCounts {
  return { oldest: 0, expired: 0, refused: 0, thinned: 0, reset: 0 };
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_CORRUPT') || code === 'SQLITE_NOTADB');
}

function isLocked(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'));
}

export class DurableQueue {
  readonly file: string;
  readonly synchronous: Synchronous;
  readonly policy: OverflowPolicy;
  readonly maxAgeMs: number;
  readonly maxBytes: number;
  readonly maxCount: number;
  readonly thinKeepEvery: number;
  /** set when the file was corrupt and has been moved aside on open */
  readonly recovery: Recovery | null = null;
  /** how many SQLite connections this queue opened (each one had `synchronous` set and verified) */
  connectionsOpened = 0;

  private db!: Database.Database;
  private readonly now: () => number;
  private count = 0;
  private bytes = 0;
  private closed = false;
  private st!: {
    insert: Database.Statement;
    insertMany: Database.Statement;
    deleteIds: Database.Statement;
    rangeTotals: Database.Statement;
    deleteRange: Database.Statement;
    head: Database.Statement;
    oldestRows: Database.Statement;
    deleteUpTo: Database.Statement;
    thin: Database.Statement;
    readAfter: Database.Statement;
    bump: Database.Statement;
    counters: Database.Statement;
    tail: Database.Statement;
    seq: Database.Statement;
  };
  private readonly commitTx: (entries: AppendEntry[], acks: number[]) => CommitResult;

  constructor(options: QueueOptions) {
    this.file = options.path;
    this.synchronous = options.synchronous ?? 'FULL';
    if (!(this.synchronous in SYNCHRONOUS_LEVELS)) throw new StoreError('synchronous', `synchronous must be FULL or NORMAL, got ${String(options.synchronous)}`);
    this.policy = options.policy ?? 'drop-oldest';
    if (!OVERFLOW_POLICIES.includes(this.policy)) throw new StoreError('open-failed', `policy must be one of ${OVERFLOW_POLICIES.join(', ')}, got ${String(options.policy)}`);
    this.maxAgeMs = nonNegative(options.maxAgeMs ?? 30 * 60 * 1000, 'maxAgeMs');
    this.maxBytes = nonNegative(options.maxBytes ?? 0, 'maxBytes');
    this.maxCount = nonNegative(options.maxCount ?? 0, 'maxCount');
    this.thinKeepEvery = options.thinKeepEvery ?? 2;
    if (!Number.isInteger(this.thinKeepEvery) || this.thinKeepEvery < 2) throw new StoreError('open-failed', `thinKeepEvery must be an integer >= 2, got ${String(options.thinKeepEvery)}`);
    this.now = options.now ?? Date.now;
    const check = options.integrityCheck ?? true;
    const busy = options.busyTimeoutMs ?? 200;

    if (this.file !== ':memory:') fs.mkdirSync(path.dirname(this.file), { recursive: true });
    try {
      this.openConnection(check, busy);
    } catch (err) {
      if (!(err instanceof CorruptDatabase) && !isCorruption(err)) throw err;
      const movedTo = this.moveAside();
      (this as { recovery: Recovery | null }).recovery = { reason: (err as Error).message, movedTo };
      this.openConnection(false, busy);
    }
    this.commitTx = this.db.transaction((entries: AppendEntry[], acks: number[]) => this.commitBody(entries, acks));
  }

  /** Open one connection: exclusive lock, WAL, synchronous (verified), integrity check, schema. */
  private openConnection(check: boolean, busyTimeoutMs: number): void {
    let db: Database.Database;
    try {
      db = new Database(this.file, { timeout: busyTimeoutMs });
    } catch (err) {
      if (isCorruption(err)) throw err;
      throw new StoreError('open-failed', `cannot open queue file ${this.file}: ${(err as Error).message}`);
    }
    try {
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = this.file === ':memory:' ? 'wal' : String(db.pragma('journal_mode = WAL', { simple: true }));
      if (mode !== 'wal') throw new StoreError('open-failed', `cannot switch ${this.file} to WAL (journal_mode is ${mode})`);
      db.pragma(`synchronous = ${this.synchronous}`);
      const level = Number(db.pragma('synchronous', { simple: true }));
      if (level !== SYNCHRONOUS_LEVELS[this.synchronous]) {
        throw new StoreError('synchronous', `PRAGMA synchronous reads ${level} after setting ${this.synchronous} on ${this.file}`);
      }
      if (check) {
        const rows = db.pragma('quick_check') as Array<{ quick_check: string }>;
        const bad = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
        if (bad.length) throw new CorruptDatabase(`quick_check failed: ${bad.slice(0, 3).join('; ')}`);
      }
      db.exec(`
        CREATE TABLE IF NOT EXISTS queue (
          id INTEGER PRIMARY KEY AUTOINCREMENT,
          ts INTEGER NOT NULL,
          topic TEXT,
          bytes INTEGER NOT NULL,
          body BLOB NOT NULL
        );
        CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      `);
      const cols = (db.pragma('table_info(queue)') as Array<{ name: string }>).map((c) => c.name).join(',');
      if (cols !== 'id,ts,topic,bytes,body') throw new StoreError('schema', `${this.file} holds a table "queue" that is not an edge-cache queue (columns ${cols})`);
      const seed = db.prepare('INSERT OR IGNORE INTO counters (key, value) VALUES (?, 0)');
      db.transaction(() => COUNTER_KEYS.forEach((k) => seed.run(k)))();
      // take the exclusive lock now (held until close), so a second opener fails here, not later
      db.exec('BEGIN EXCLUSIVE; COMMIT;');
    } catch (err) {
      db.close();
      if (isLocked(err)) {
        throw new StoreError('locked', `queue file ${this.file} is locked by another process or node (each edge-cache needs its own file)`);
      }
      throw err;
    }
    this.db = db;
    this.connectionsOpened++;
    this.st = {
      insert: db.prepare('INSERT INTO queue (ts, topic, bytes, body) VALUES (?, ?, ?, ?)'),
      // one statement per commit group instead of one per row (ids are contiguous: AUTOINCREMENT
      // under the exclusive lock numbers the rows of one INSERT in order)
      insertMany: db.prepare(`INSERT INTO queue (ts, topic, bytes, body) VALUES ${Array.from({ length: INSERT_CHUNK }, () => '(?, ?, ?, ?)').join(', ')}`),
      deleteIds: db.prepare('DELETE FROM queue WHERE id IN (SELECT value FROM json_each(?)) RETURNING bytes'),
      rangeTotals: db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM queue WHERE id BETWEEN ? AND ?'),
      deleteRange: db.prepare('DELETE FROM queue WHERE id BETWEEN ? AND ?'),
      head: db.prepare('SELECT id, ts FROM queue ORDER BY id LIMIT 1'),
      tail: db.prepare('SELECT id FROM queue ORDER BY id DESC LIMIT 1'),
      oldestRows: db.prepare('SELECT id, ts, bytes FROM queue ORDER BY id LIMIT ?'),
      deleteUpTo: db.prepare('DELETE FROM queue WHERE id <= ?'),
      thin: db.prepare(
        'DELETE FROM queue WHERE id IN (SELECT id FROM (SELECT id, (ROW_NUMBER() OVER (ORDER BY id) - 1) % ? AS r FROM queue) WHERE r != 0) RETURNING id, bytes',
      ),
      readAfter: db.prepare('SELECT id, ts, topic, body FROM queue WHERE id > ? ORDER BY id LIMIT ?'),
      bump: db.prepare('UPDATE counters SET value = value + ? WHERE key = ?'),
      counters: db.prepare('SELECT key, value FROM counters'),
      seq: db.prepare("SELECT seq FROM sqlite_sequence WHERE name = 'queue'"),
    };
    const agg = db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM queue').get() as { n: number; b: number };
    this.count = agg.n;
    this.bytes = agg.b;
  }

  private moveAside(): string {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const target = `${this.file}.corrupt-${stamp}`;
    fs.renameSync(this.file, target);
    for (const suffix of ['-wal', '-shm']) {
      if (fs.existsSync(this.file + suffix)) fs.renameSync(this.file + suffix, target + suffix);
    }
    return target;
  }

  /** The synchronous level in force on the open connection, read back from SQLite. */
  synchronousInForce(): Synchronous {
    this.assertOpen();
    const level = Number(this.db.pragma('synchronous', { simple: true }));
    const name = (Object.keys(SYNCHRONOUS_LEVELS) as Synchronous[]).find((k) => SYNCHRONOUS_LEVELS[k] === level);
    if (!name) throw new StoreError('synchronous', `PRAGMA synchronous reads ${level}`);
    return name;
  }

  /** The journal mode in force, read back from SQLite ('wal'). */
  journalMode(): string {
    this.assertOpen();
    return String(this.db.pragma('journal_mode', { simple: true }));
  }

  get size(): number {
    return this.count;
  }

  get storedBytes(): number {
    return this.bytes;
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Append and acknowledge in one transaction (see the class comment). */
  commit(entries: AppendEntry[], acks: number[] = []): CommitResult {
    this.assertOpen();
    const countBefore = this.count;
    const bytesBefore = this.bytes;
    try {
      return this.commitTx(entries, acks);
    } catch (err) {
      this.count = countBefore;
      this.bytes = bytesBefore;
      throw err;
    }
  }

  /** commit() of a packed batch (record-batch.ts): what the forwarder and the worker queue commit. */
  commitBatch(batch: PackedEntries, acks: number[] = []): CommitResult {
    return this.commit(unpackEntries(batch), acks);
  }

  /** Append records (one transaction). */
  append(entries: AppendEntry[]): CommitResult {
    return this.commit(entries, []);
  }

  /** Remove acknowledged records (one transaction); returns how many were stored. */
  ack(ids: number[]): number {
    return this.commit([], ids).acked;
  }

  private commitBody(entries: AppendEntry[], acks: number[]): CommitResult {
    const dropped = emptyDrops();
    const droppedIds: number[] = [];
    let acked = 0;
    if (acks.length) acked = this.deleteAcked(acks);
    const now = this.now();
    if (this.maxAgeMs > 0 && this.policy !== 'refuse-newest') this.expire(now, dropped, droppedIds);

    const ids: Array<number | null> = [];
    const refusedReasons: Array<string | null> = [];
    let headTooOld = false;
    if (this.policy === 'refuse-newest' && this.maxAgeMs > 0 && this.count > 0) {
      const head = this.st.head.get() as { id: number; ts: number } | undefined;
      headTooOld = !!head && head.ts < now - this.maxAgeMs;
    }
    let appended = 0;
    // decide refusals first (they depend only on what was accepted before), then insert the
    // accepted rows in order, INSERT_CHUNK rows per statement
    const accepted: number[] = [];
    const bodies = entries.map((e) => (typeof e.body === 'string' ? Buffer.from(e.body) : e.body));
    for (let i = 0; i < entries.length; i++) {
      const size = bodies[i].length;
      let refuse: string | null = null;
      if (this.maxBytes > 0 && size > this.maxBytes) refuse = `record of ${size} bytes is larger than the whole capacity (${this.maxBytes} bytes)`;
      else if (this.policy === 'refuse-newest') {
        if (this.maxCount > 0 && this.count + 1 > this.maxCount) refuse = `queue full: ${this.count} messages (limit ${this.maxCount})`;
        else if (this.maxBytes > 0 && this.bytes + size > this.maxBytes) refuse = `queue full: ${this.bytes} bytes (limit ${this.maxBytes})`;
        else if (headTooOld) refuse = `queue full: oldest message is older than ${this.maxAgeMs} ms`;
      }
      if (refuse) {
        ids.push(null);
        refusedReasons.push(refuse);
        dropped.refused++;
        continue;
      }
      ids.push(0);
      refusedReasons.push(null);
      accepted.push(i);
      appended++;
      this.count++;
      this.bytes += size;
    }
    let k = 0;
    const params: unknown[] = new Array(INSERT_CHUNK * 4);
    for (; k + INSERT_CHUNK <= accepted.length; k += INSERT_CHUNK) {
      for (let j = 0; j < INSERT_CHUNK; j++) {
        const i = accepted[k + j];
        params[4 * j] = now;
        params[4 * j + 1] = entries[i].topic ?? null;
        params[4 * j + 2] = bodies[i].length;
        params[4 * j + 3] = bodies[i];
      }
      const last = Number(this.st.insertMany.run(params).lastInsertRowid);
      for (let j = 0; j < INSERT_CHUNK; j++) ids[accepted[k + j]] = last - INSERT_CHUNK + 1 + j;
    }
    for (; k < accepted.length; k++) {
      const i = accepted[k];
      ids[i] = Number(this.st.insert.run(now, entries[i].topic ?? null, bodies[i].length, bodies[i]).lastInsertRowid);
    }
    if (this.policy === 'drop-oldest') this.dropOldest(dropped, droppedIds);
    else if (this.policy === 'thin-out') this.thinOut(dropped, droppedIds);

    this.bumpCounter('appended', appended);
    this.bumpCounter('acked', acked);
    this.bumpCounter('dropped_oldest', dropped.oldest);
    this.bumpCounter('dropped_expired', dropped.expired);
    this.bumpCounter('refused', dropped.refused);
    this.bumpCounter('thinned', dropped.thinned);
    if (droppedIds.length) {
      const gone = new Set(droppedIds);
      for (let i = 0; i < ids.length; i++) if (ids[i] !== null && gone.has(ids[i] as number)) refusedReasons[i] = 'dropped by the capacity policy in the same commit';
    }
    return { ids, refusedReasons, acked, dropped, droppedIds };
  }

  /**
   * Delete acknowledged rows; returns how many were stored. Acks mostly come as runs of
   * consecutive ids (delivery is in order): each run is one range DELETE (and one range sum for
   * the byte count), with no row objects; scattered ids go through one DELETE … IN (json_each).
   */
  private deleteAcked(acks: number[]): number {
    const ids = [...acks].sort((a, b) => a - b);
    const runs: Array<[number, number]> = [];
    for (const id of ids) {
      const last = runs[runs.length - 1];
      if (last && id <= last[1] + 1) last[1] = Math.max(last[1], id);
      else runs.push([id, id]);
    }
    let acked = 0;
    if (runs.length * 4 > ids.length) {
      for (const row of this.st.deleteIds.all(JSON.stringify(ids)) as Array<{ bytes: number }>) {
        acked++;
        this.count--;
        this.bytes -= row.bytes;
      }
      return acked;
    }
    for (const [first, last] of runs) {
      const t = this.st.rangeTotals.get(first, last) as { n: number; b: number };
      if (t.n === 0) continue;
      this.st.deleteRange.run(first, last);
      acked += t.n;
      this.count -= t.n;
      this.bytes -= t.b;
    }
    return acked;
  }

  private over(): boolean {
    return (this.maxCount > 0 && this.count > this.maxCount) || (this.maxBytes > 0 && this.bytes > this.maxBytes);
  }

  /** Drop rows (oldest first) while `stop(row)` is false; returns ids dropped. */
  private dropHead(stop: (row: { id: number; ts: number; bytes: number }) => boolean): number[] {
    const out: number[] = [];
    // usually only a few rows go per commit: read a few, and more only when they all went
    let batch = 8;
    for (;;) {
      const rows = this.st.oldestRows.all(batch) as Array<{ id: number; ts: number; bytes: number }>;
      if (!rows.length) break;
      let last = -1;
      let halted = false;
      for (const row of rows) {
        if (stop(row)) {
          halted = true;
          break;
        }
        out.push(row.id);
        this.count--;
        this.bytes -= row.bytes;
        last = row.id;
      }
      if (last >= 0) this.st.deleteUpTo.run(last);
      if (halted || rows.length < batch) break;
      batch = Math.min(batch * 4, 4096);
    }
    return out;
  }

  private expire(now: number, dropped: DropCounts, droppedIds: number[]): void {
    const cutoff = now - this.maxAgeMs;
    const head = this.st.head.get() as { id: number; ts: number } | undefined;
    if (!head || head.ts >= cutoff) return;
    const ids = this.dropHead((row) => row.ts >= cutoff);
    dropped.expired += ids.length;
    for (const id of ids) droppedIds.push(id);
  }

  private dropOldest(dropped: DropCounts, droppedIds: number[]): void {
    if (!this.over()) return;
    const ids = this.dropHead(() => !this.over());
    dropped.oldest += ids.length;
    for (const id of ids) droppedIds.push(id);
  }

  private thinOut(dropped: DropCounts, droppedIds: number[]): void {
    while (this.over()) {
      if (this.count <= 1) {
        const ids = this.dropHead(() => !this.over());
        dropped.oldest += ids.length;
        for (const id of ids) droppedIds.push(id);
        return;
      }
      const rows = this.st.thin.all(this.thinKeepEvery) as Array<{ id: number; bytes: number }>;
      for (const row of rows) {
        this.count--;
        this.bytes -= row.bytes;
        droppedIds.push(row.id);
      }
      dropped.thinned += rows.length;
    }
  }

  private bumpCounter(key: CounterKey, delta: number): void {
    if (delta) this.st.bump.run(delta, key);
  }

  /** Up to `limit` rows with id > afterId, oldest first. */
  readAfter(afterId: number, limit: number): QueueRow[] {
    this.assertOpen();
    return this.st.readAfter.all(afterId, limit) as QueueRow[];
  }

  /** Count, bytes and oldest row now (WorkerQueue answers the same as of its worker's last answer). */
  lastKnownState(): QueueState {
    return { count: this.count, bytes: this.bytes, head: this.count > 0 ? this.head() : null };
  }

  /** The oldest stored row's id and enqueue time, or null when empty. */
  head(): { id: number; ts: number } | null {
    this.assertOpen();
    return (this.st.head.get() as { id: number; ts: number } | undefined) ?? null;
  }

  /** Remove every stored row (counted as dropped: reset); returns how many. */
  reset(): number {
    this.assertOpen();
    return this.db.transaction(() => {
      const n = this.count;
      this.db.prepare('DELETE FROM queue').run();
      this.bumpCounter('reset', n);
      this.count = 0;
      this.bytes = 0;
      return n;
    })();
  }

  stats(): QueueStats {
    this.assertOpen();
    const head = this.head();
    const tail = this.st.tail.get() as { id: number } | undefined;
    const seq = this.st.seq.get() as { seq: number } | undefined;
    const c = Object.fromEntries((this.st.counters.all() as Array<{ key: string; value: number }>).map((r) => [r.key, r.value])) as Record<CounterKey, number>;
    return {
      file: this.file,
      synchronous: this.synchronousInForce(),
      connections: this.connectionsOpened,
      policy: this.policy,
      count: this.count,
      bytes: this.bytes,
      oldestId: head?.id ?? null,
      oldestTs: head?.ts ?? null,
      newestId: tail?.id ?? null,
      lastId: seq?.seq ?? 0,
      limits: { maxAgeMs: this.maxAgeMs, maxBytes: this.maxBytes, maxCount: this.maxCount, thinKeepEvery: this.thinKeepEvery },
      totals: {
        appended: c.appended,
        acked: c.acked,
        dropped: { oldest: c.dropped_oldest, expired: c.dropped_expired, refused: c.refused, thinned: c.thinned, reset: c.reset },
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.db.close();
  }

  private assertOpen(): void {
    if (this.closed) throw new StoreError('closed', `queue ${this.file} is closed`);
  }
}

function nonNegative(v: number, name: string): number {
  if (!Number.isFinite(v) || v < 0) throw new StoreError('open-failed', `${name} must be a number >= 0, got ${String(v)}`);
  return v;
}
