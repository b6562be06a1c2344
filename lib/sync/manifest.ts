/**
 * Model update manifests: what a cloud signs and a gateway verifies before it installs a model.
 *
 * A manifest names the model (name, version = the ONNX `model_version`, a monotonically increasing
 * integer), its size and SHA-256, how it is cut into chunks (count, size, and the SHA-256 of every
 * chunk, so a tampered chunk is refused the moment it arrives), when it was made, its metrics, and
 * the id of the key that signed it (SHA-256 of the public key's DER/SPKI bytes, hex).
 *
 * The signature is ed25519 (node:crypto, PEM keys) over the manifest's canonical JSON (keys sorted),
 * carried next to it in a signed envelope `{ manifest, signature }` (signature base64).
 */
import * as crypto from 'crypto';
import * as fs from 'fs';

/** Default chunk size: 96 KiB, below the 128 KB message limits some brokers are configured with. */
export const DEFAULT_CHUNK_SIZE = 96 * 1024;

export interface ModelManifest {
  name: string;
  version: number;
  size: number;
  sha256: string;
  chunkSize: number;
  chunkCount: number;
  /** SHA-256 (hex) of each chunk, in order */
  chunks: string[];
  /** ISO 8601 */
  created: string;
  metrics?: Record<string, number>;
  /** SHA-256 (hex) of the signer's public key (SPKI DER) */
  keyId: string;
}

export interface SignedManifest {
  manifest: ModelManifest;
  /** ed25519 signature of canonicalJson(manifest), base64 */
  signature: string;
}

export interface TrustedKey {
  keyId: string;
  key: crypto.KeyObject;
}

export class ManifestError extends Error {
  constructor(readonly reason: 'bad-signature' | 'unknown-key' | 'malformed' | 'bad-key', message: string) {
    super(message);
    this.name = 'ManifestError';
  }
}

export function sha256Hex(data: Uint8Array): string {
  return crypto.createHash('sha256').update(data).digest('hex');
}

/** JSON with object keys sorted at every level: the bytes that are signed. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return '[' + value.map((v) => canonicalJson(v === undefined ? null : v)).join(',') + ']';
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).filter((k) => obj[k] !== undefined).sort();
  return '{' + keys.map((k) => JSON.stringify(k) + ':' + canonicalJson(obj[k])).join(',') + '}';
}

/** A fresh ed25519 key pair as PEM strings (PKCS#8 private, SPKI public). */
export function generateKeyPair(): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = crypto.generateKeyPairSync('ed25519');
  return {
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKey: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  };
}

function publicKeyObject(pem: string | crypto.KeyObject): crypto.KeyObject {
  let key: crypto.KeyObject;
  try {
    key = typeof pem === 'string' ? crypto.createPublicKey(pem) : pem.type === 'private' ? crypto.createPublicKey(pem) : pem;
  } catch (err) {
    throw new ManifestError('bad-key', `not a PEM public key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ManifestError('bad-key', `expected an ed25519 key, got ${String(key.asymmetricKeyType)}`);
  return key;
}

/** Key id: SHA-256 (hex) of the public key's SPKI DER bytes. Accepts a public or private key. */
export function keyIdOf(pem: string | crypto.KeyObject): string {
  let key: crypto.KeyObject;
  if (typeof pem === 'string' && pem.includes('PRIVATE KEY')) key = crypto.createPublicKey(crypto.createPrivateKey(pem));
  else key = publicKeyObject(pem);
  return sha256Hex(key.export({ type: 'spki', format: 'der' }));
}

/** Parse a list of PEM public keys (one string may hold several PEM blocks). */
export function trustedKeys(pems: string | string[]): TrustedKey[] {
  const text = Array.isArray(pems) ? pems.join('\n') : pems;
  const blocks = text.match(/-----BEGIN PUBLIC KEY-----[\s\S]*?-----END PUBLIC KEY-----/g) ?? [];
  return blocks.map((b) => {
    const key = publicKeyObject(b);
    return { keyId: keyIdOf(key), key };
  });
}

export interface ManifestInput {
  name: string;
  version: number;
  chunkSize?: number;
  created?: Date | string;
  metrics?: Record<string, number>;
}

/** Describe `bytes` (a whole model file) as a manifest, unsigned (keyId filled in by signManifest). */
export function describeModel(bytes: Uint8Array, input: ManifestInput): ModelManifest {
  const chunkSize = input.chunkSize ?? DEFAULT_CHUNK_SIZE;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) throw new ManifestError('malformed', `chunkSize must be a positive integer, got ${String(input.chunkSize)}`);
  if (typeof input.name !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(input.name)) throw new ManifestError('malformed', `name must be 1-100 characters of A-Z a-z 0-9 . _ -, got ${JSON.stringify(input.name)}`);
  if (!Number.isSafeInteger(input.version) || input.version < 1) throw new ManifestError('malformed', `version must be a positive integer (the ONNX model_version), got ${String(input.version)}`);
  if (bytes.length === 0) throw new ManifestError('malformed', 'the model file is empty');
  const chunks: string[] = [];
  for (let off = 0; off < bytes.length; off += chunkSize) chunks.push(sha256Hex(bytes.subarray(off, Math.min(off + chunkSize, bytes.length))));
  const created = input.created instanceof Date ? input.created.toISOString() : input.created ?? new Date().toISOString();
  return {
    name: input.name,
    version: input.version,
    size: bytes.length,
    sha256: sha256Hex(bytes),
    chunkSize,
    chunkCount: chunks.length,
    chunks,
    created,
    ...(input.metrics ? { metrics: input.metrics } : {}),
    keyId: '',
  };
}

/** Sign a manifest with an ed25519 private key (PEM); sets keyId from the key. */
export function signManifest(manifest: ModelManifest, privateKeyPem: string | crypto.KeyObject): SignedManifest {
  let key: crypto.KeyObject;
  try {
    key = typeof privateKeyPem === 'string' ? crypto.createPrivateKey(privateKeyPem) : privateKeyPem;
  } catch (err) {
    throw new ManifestError('bad-key', `not a PEM private key: ${(err as Error).message}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ManifestError('bad-key', `expected an ed25519 private key, got ${String(key.asymmetricKeyType)}`);
  const signed: ModelManifest = { ...manifest, keyId: keyIdOf(key) };
  const signature = crypto.sign(null, Buffer.from(canonicalJson(signed)), key).toString('base64');
  return { manifest: signed, signature };
}

/** Check a manifest's shape; throws ManifestError('malformed') naming the first bad field. */
export function checkManifestShape(m: unknown): ModelManifest {
  const bad = (field: string, expected: string): never => {
    throw new ManifestError('malformed', `manifest.${field}: expected ${expected}`);
  };
  if (!m || typeof m !== 'object') bad('', 'an object');
  const x = m as Record<string, unknown>;
  if (typeof x.name !== 'string' || !/^[A-Za-z0-9._-]{1,100}$/.test(x.name)) bad('name', 'a model name');
  if (!Number.isSafeInteger(x.version) || (x.version as number) < 1) bad('version', 'a positive integer');
  if (!Number.isSafeInteger(x.size) || (x.size as number) < 1) bad('size', 'a positive byte count');
  if (typeof x.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(x.sha256)) bad('sha256', '64 hex digits');
  if (!Number.isSafeInteger(x.chunkSize) || (x.chunkSize as number) < 1) bad('chunkSize', 'a positive integer');
  const count = Math.ceil((x.size as number) / (x.chunkSize as number));
  if (x.chunkCount !== count) bad('chunkCount', `${count} (size / chunkSize)`);
  if (!Array.isArray(x.chunks) || x.chunks.length !== count || !x.chunks.every((h) => typeof h === 'string' && /^[0-9a-f]{64}$/.test(h))) bad('chunks', `${count} SHA-256 hex digests`);
  if (typeof x.created !== 'string') bad('created', 'an ISO date string');
  if (typeof x.keyId !== 'string' || !/^[0-9a-f]{64}$/.test(x.keyId)) bad('keyId', '64 hex digits');
  return x as unknown as ModelManifest;
}

/**
 * Verify a signed envelope against the trusted keys. Throws ManifestError with reason
 * 'malformed', 'unknown-key' (the key id is in no trusted key) or 'bad-signature'.
 */
export function verifyManifest(envelope: unknown, trusted: TrustedKey[]): ModelManifest {
  if (!envelope || typeof envelope !== 'object') throw new ManifestError('malformed', 'signed manifest: expected an object { manifest, signature }');
  const e = envelope as Record<string, unknown>;
  const manifest = checkManifestShape(e.manifest);
  if (typeof e.signature !== 'string') throw new ManifestError('malformed', 'signature: expected a base64 string');
  const key = trusted.find((k) => k.keyId === manifest.keyId);
  if (!key) throw new ManifestError('unknown-key', `manifest signed by key ${manifest.keyId.slice(0, 16)}…, which is not in the trusted key list`);
  const ok = crypto.verify(null, Buffer.from(canonicalJson(manifest)), key.key, Buffer.from(e.signature, 'base64'));
  if (!ok) throw new ManifestError('bad-signature', `signature of ${manifest.name} v${manifest.version} does not verify with key ${manifest.keyId.slice(0, 16)}…`);
  return manifest;
}

/** Chunk `index` of `bytes` under `manifest`. */
export function chunkOf(bytes: Uint8Array, manifest: Pick<ModelManifest, 'chunkSize' | 'size'>, index: number): Uint8Array {
  const start = index * manifest.chunkSize;
  return bytes.subarray(start, Math.min(start + manifest.chunkSize, manifest.size));
}

/** SHA-256 of a file, streamed. */
export function hashFile(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = crypto.createHash('sha256');
    fs.createReadStream(file)
      .on('data', (d) => h.update(d))
      .on('error', reject)
      .on('end', () => resolve(h.digest('hex')));
  });
}

/** A PEM typed into a one-line credential field loses its line breaks: put them back. */
export function normalisePem(text: string): string {
  const m = /-----BEGIN ([A-Z ]+)-----([\s\S]*?)-----END \1-----/.exec(text.trim());
  if (!m) return text;
  const body = m[2].replace(/\s+/g, '');
  return `-----BEGIN ${m[1]}-----\n${body.match(/.{1,64}/g)?.join('\n') ?? ''}\n-----END ${m[1]}-----\n`;
}

