/**
 * ModelReceiver: the gateway side of a model update.
 *
 * - `offer(envelope)` verifies the signed manifest (trusted key, signature), refuses a version that is
 *   not newer than the installed one (or that was refused before), and opens a staging file
 *   `<dir>/<name>.v<version>.staging`. If that staging file already exists for the same manifest
 *   (a transfer that was cut, also across a restart), the transfer resumes: the chunks it holds are
 *   listed in `<staging>.have` and are not needed again.
 * - `addChunk(name, version, index, bytes)` checks the chunk's SHA-256 against the signed manifest
 *   (a tampered chunk is refused with a reason and may arrive again intact), writes it at its
 *   offset, and feeds the whole-file hash as the contiguous prefix grows (hashing as data streams
 *   in, not once more at the end).
 * - When the last chunk is in and the whole-file SHA-256 and size match, the model is installed
 *   atomically: fsync, the running `<name>.onnx` is renamed to `<name>.previous.onnx`, the staging
 *   file renamed to `<name>.onnx`, and the state file (`<name>.state.json`, written to a temporary
 *   file and renamed) records installed + previous.
 * - `rollback(name, reason)` puts the previous model back (after multitask-infer refused the new
 *   one) and remembers the refused version so it is not installed again.
 *
 * Anything refused leaves the running model untouched.
 */
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { ManifestError, ModelManifest, TrustedKey, verifyManifest } from './manifest';

export interface ModelIdentity {
  name: string;
  version: number;
  sha256: string;
}

export interface InstalledModel extends ModelIdentity {
  size: number;
  path: string;
  installedAt: string;
  metrics?: Record<string, number>;
}

export type RejectReason = 'bad-signature' | 'unknown-key' | 'malformed' | 'bad-key' | 'older-version' | 'refused-before' | 'tampered-chunk' | 'bad-index' | 'hash-mismatch' | 'io-error';

export type OfferResult =
  | { status: 'accepted'; manifest: ModelManifest; missing: number[]; resumed: boolean }
  | { status: 'in-progress'; manifest: ModelManifest; missing: number[] }
  | { status: 'rejected'; reason: RejectReason; message: string; manifest?: ModelManifest };

export type ChunkResult =
  | { status: 'stored'; received: number; total: number }
  | { status: 'duplicate' }
  | { status: 'ignored'; message: string }
  | { status: 'rejected'; reason: RejectReason; message: string }
  | { status: 'installed'; model: InstalledModel; previous: InstalledModel | null };

interface State {
  installed: InstalledModel | null;
  previous: InstalledModel | null;
  refused: number[];
}

interface Transfer {
  manifest: ModelManifest;
  staging: string;
  fd: number;
  have: Uint8Array;
  received: number;
  hasher: crypto.Hash;
  hashedChunks: number;
}

export interface ReceiverOptions {
  /** folder holding installed models, previous versions, staging files and state */
  dir: string;
  trusted: TrustedKey[];
}

export class ModelReceiver {
  readonly dir: string;
  private trusted: TrustedKey[];
  private transfers = new Map<string, Transfer>();
  private states = new Map<string, State>();

  constructor(options: ReceiverOptions) {
    this.dir = options.dir;
    this.trusted = options.trusted;
    fs.mkdirSync(this.dir, { recursive: true });
  }

  setTrusted(trusted: TrustedKey[]): void {
    this.trusted = trusted;
  }

  modelPath(name: string): string {
    return path.join(this.dir, `${name}.onnx`);
  }

  private statePath(name: string): string {
    return path.join(this.dir, `${name}.state.json`);
  }

  state(name: string): State {
    let s = this.states.get(name);
    if (!s) {
      try {
        s = JSON.parse(fs.readFileSync(this.statePath(name), 'utf8')) as State;
      } catch {
        s = { installed: null, previous: null, refused: [] };
      }
      this.states.set(name, s);
    }
    return s;
  }

  /** The installed model of that name, or null. */
  installed(name: string): InstalledModel | null {
    return this.state(name).installed;
  }

  /** Every model name that has a state file in the folder. */
  names(): string[] {
    return fs.readdirSync(this.dir).filter((f) => f.endsWith('.state.json')).map((f) => f.slice(0, -'.state.json'.length));
  }

  private writeState(name: string, s: State): void {
    const tmp = this.statePath(name) + '.tmp';
    fs.writeFileSync(tmp, JSON.stringify(s, null, 1));
    const fd = fs.openSync(tmp, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fs.renameSync(tmp, this.statePath(name));
    this.states.set(name, s);
  }

  /** The transfer in progress for `name`, if any. */
  active(name: string): { manifest: ModelManifest; missing: number[] } | null {
    const t = this.transfers.get(name);
    return t ? { manifest: t.manifest, missing: missingOf(t) } : null;
  }

  offer(envelope: unknown): OfferResult {
    let manifest: ModelManifest;
    try {
      manifest = verifyManifest(envelope, this.trusted);
    } catch (err) {
      if (err instanceof ManifestError) return { status: 'rejected', reason: err.reason, message: err.message };
      throw err;
    }
    const s = this.state(manifest.name);
    if (s.installed && manifest.version <= s.installed.version) {
      if (manifest.version === s.installed.version && manifest.sha256 === s.installed.sha256) {
        return { status: 'rejected', reason: 'older-version', message: `${manifest.name} v${manifest.version} is already installed`, manifest };
      }
      return { status: 'rejected', reason: 'older-version', message: `${manifest.name} v${manifest.version} is not newer than the installed v${s.installed.version}`, manifest };
    }
    if (s.refused.includes(manifest.version)) {
      return { status: 'rejected', reason: 'refused-before', message: `${manifest.name} v${manifest.version} was refused by the model consumer before`, manifest };
    }
    const current = this.transfers.get(manifest.name);
    if (current) {
      if (current.manifest.sha256 === manifest.sha256 && current.manifest.version === manifest.version) {
        return { status: 'in-progress', manifest: current.manifest, missing: missingOf(current) };
      }
      if (current.manifest.version > manifest.version) {
        return { status: 'rejected', reason: 'older-version', message: `${manifest.name} v${manifest.version} is older than the transfer in progress (v${current.manifest.version})`, manifest };
      }
      this.abandon(manifest.name);
    }
    const staging = path.join(this.dir, `${manifest.name}.v${manifest.version}.staging`);
    const metaFile = staging + '.json';
    const haveFile = staging + '.have';
    let resumed = false;
    const have = new Uint8Array(manifest.chunkCount);
    let received = 0;
    try {
      let previousMeta: { sha256?: string; chunkSize?: number } | null = null;
      try {
        previousMeta = JSON.parse(fs.readFileSync(metaFile, 'utf8')).manifest;
      } catch {
        previousMeta = null;
      }
      if (previousMeta && previousMeta.sha256 === manifest.sha256 && previousMeta.chunkSize === manifest.chunkSize && fs.existsSync(staging) && fs.existsSync(haveFile)) {
        const log = fs.readFileSync(haveFile);
        for (let off = 0; off + 4 <= log.length; off += 4) {
          const i = log.readUInt32LE(off);
          if (i < have.length && !have[i]) {
            have[i] = 1;
            received++;
          }
        }
        resumed = received > 0;
      } else {
        // another manifest under this name (or none): start the staging files afresh
        this.removeStaging(manifest.name);
        fs.writeFileSync(metaFile, JSON.stringify(envelope));
        fs.writeFileSync(haveFile, Buffer.alloc(0));
        fs.writeFileSync(staging, Buffer.alloc(0));
        fs.truncateSync(staging, manifest.size);
      }
      const fd = fs.openSync(staging, 'r+');
      const t: Transfer = { manifest, staging, fd, have, received, hasher: crypto.createHash('sha256'), hashedChunks: 0 };
      this.transfers.set(manifest.name, t);
      this.advanceHash(t, null);
      return { status: 'accepted', manifest, missing: missingOf(t), resumed };
    } catch (err) {
      return { status: 'rejected', reason: 'io-error', message: `cannot stage ${manifest.name} v${manifest.version}: ${(err as Error).message}`, manifest };
    }
  }

  /** Store chunk `index` of the transfer of `name` v`version`; installs when it was the last one. */
  addChunk(name: string, version: number, index: number, data: Uint8Array): ChunkResult {
    const t = this.transfers.get(name);
    if (!t || t.manifest.version !== version) return { status: 'ignored', message: `no transfer of ${name} v${version} in progress` };
    const m = t.manifest;
    if (!Number.isInteger(index) || index < 0 || index >= m.chunkCount) return { status: 'rejected', reason: 'bad-index', message: `chunk ${index} of ${name} v${version}: index outside 0..${m.chunkCount - 1}` };
    if (t.have[index]) return { status: 'duplicate' };
    const expectedLen = Math.min(m.chunkSize, m.size - index * m.chunkSize);
    const digest = crypto.createHash('sha256').update(data).digest('hex');
    if (data.length !== expectedLen || digest !== m.chunks[index]) {
      return { status: 'rejected', reason: 'tampered-chunk', message: `chunk ${index} of ${name} v${version} does not match its signed SHA-256 (${data.length} bytes, expected ${expectedLen})` };
    }
    try {
      fs.writeSync(t.fd, data, 0, data.length, index * m.chunkSize);
      const rec = Buffer.alloc(4);
      rec.writeUInt32LE(index);
      fs.appendFileSync(t.staging + '.have', rec);
    } catch (err) {
      return { status: 'rejected', reason: 'io-error', message: `cannot write chunk ${index} of ${name}: ${(err as Error).message}` };
    }
    t.have[index] = 1;
    t.received++;
    this.advanceHash(t, { index, data });
    if (t.received < m.chunkCount) return { status: 'stored', received: t.received, total: m.chunkCount };
    return this.finish(t);
  }

  /** Feed the whole-file hash with every chunk of the contiguous prefix not hashed yet. */
  private advanceHash(t: Transfer, fresh: { index: number; data: Uint8Array } | null): void {
    const m = t.manifest;
    while (t.hashedChunks < m.chunkCount && t.have[t.hashedChunks]) {
      const i = t.hashedChunks;
      if (fresh && fresh.index === i) t.hasher.update(fresh.data);
      else {
        const len = Math.min(m.chunkSize, m.size - i * m.chunkSize);
        const buf = Buffer.alloc(len);
        fs.readSync(t.fd, buf, 0, len, i * m.chunkSize);
        t.hasher.update(buf);
      }
      t.hashedChunks++;
    }
  }

  private finish(t: Transfer): ChunkResult {
    const m = t.manifest;
    const digest = t.hasher.digest('hex');
    const size = fs.fstatSync(t.fd).size;
    if (digest !== m.sha256 || size !== m.size) {
      this.abandon(m.name);
      return { status: 'rejected', reason: 'hash-mismatch', message: `${m.name} v${m.version}: assembled file SHA-256 ${digest.slice(0, 16)}… / ${size} bytes does not match the manifest` };
    }
    fs.fsyncSync(t.fd);
    fs.closeSync(t.fd);
    this.transfers.delete(m.name);
    const target = this.modelPath(m.name);
    const prevPath = path.join(this.dir, `${m.name}.previous.onnx`);
    const s = this.state(m.name);
    let previous: InstalledModel | null = null;
    if (s.installed && fs.existsSync(target)) {
      fs.renameSync(target, prevPath);
      previous = { ...s.installed, path: prevPath };
    }
    fs.renameSync(t.staging, target);
    fsyncDir(this.dir);
    const model: InstalledModel = { name: m.name, version: m.version, sha256: m.sha256, size: m.size, path: target, installedAt: new Date().toISOString(), ...(m.metrics ? { metrics: m.metrics } : {}) };
    this.writeState(m.name, { installed: model, previous, refused: s.refused });
    for (const f of [t.staging + '.json', t.staging + '.have']) fs.rmSync(f, { force: true });
    return { status: 'installed', model, previous };
  }

  /**
   * Restore the previous model of `name` (the installed one was refused by its consumer): the
   * refused version is remembered and never installed again. Returns the restored model, or null
   * when there is no previous version (the refused file then stays, marked refused).
   */
  rollback(name: string): { restored: InstalledModel | null; refused: InstalledModel | null } {
    const s = this.state(name);
    const refused = s.installed;
    const refusedList = refused && !s.refused.includes(refused.version) ? [...s.refused, refused.version] : s.refused;
    if (!s.previous || !fs.existsSync(s.previous.path)) {
      this.writeState(name, { installed: s.installed, previous: s.previous, refused: refusedList });
      return { restored: null, refused };
    }
    const target = this.modelPath(name);
    fs.renameSync(s.previous.path, target);
    fsyncDir(this.dir);
    const restored: InstalledModel = { ...s.previous, path: target };
    this.writeState(name, { installed: restored, previous: null, refused: refusedList });
    return { restored, refused };
  }

  /** Drop the transfer of `name` and its staging files. */
  abandon(name: string): void {
    const t = this.transfers.get(name);
    if (t) {
      try {
        fs.closeSync(t.fd);
      } catch {
        // already closed
      }
      this.transfers.delete(name);
    }
    this.removeStaging(name);
  }

  private removeStaging(name: string): void {
    for (const f of fs.readdirSync(this.dir)) {
      if (f.startsWith(`${name}.v`) && /\.staging(\.json|\.have)?$/.test(f)) fs.rmSync(path.join(this.dir, f), { force: true });
    }
  }

  /** Close open staging files (the transfer can resume after a restart). */
  close(): void {
    for (const t of this.transfers.values()) {
      try {
        fs.closeSync(t.fd);
      } catch {
        // already closed
      }
    }
    this.transfers.clear();
  }
}

function missingOf(t: Transfer): number[] {
  const out: number[] = [];
  for (let i = 0; i < t.have.length; i++) if (!t.have[i]) out.push(i);
  return out;
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
    fs.closeSync(fd);
  } catch {
    // not supported on every platform
  }
}
