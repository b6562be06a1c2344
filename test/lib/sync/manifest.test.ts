import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import {
  canonicalJson, describeModel, generateKeyPair, keyIdOf, signManifest, trustedKeys, verifyManifest, ManifestError, chunkOf, hashFile, checkManifestShape,
} from '../../../lib/sync/manifest';
import { modelBytes as bytes } from './model-bytes';


describe('lib/sync/manifest', () => {
  const keys = generateKeyPair();
  const other = generateKeyPair();

  it('canonical JSON sorts keys at every level and drops undefined', () => {
    assert.equal(canonicalJson({ b: 1, a: { d: [1, { z: 1, y: 2 }], c: 'x' }, u: undefined }), '{"a":{"c":"x","d":[1,{"y":2,"z":1}]},"b":1}');
  });

  it('key id is the SHA-256 of the public key SPKI DER, same from the private key', () => {
    const der = crypto.createPublicKey(keys.publicKey).export({ type: 'spki', format: 'der' });
    const expected = crypto.createHash('sha256').update(der).digest('hex');
    assert.equal(keyIdOf(keys.publicKey), expected);
    assert.equal(keyIdOf(keys.privateKey), expected);
    assert.notEqual(keyIdOf(other.publicKey), expected);
  });

  it('describes a model: size, sha256, chunk count and per-chunk hashes', () => {
    const data = bytes(1000);
    const m = describeModel(data, { name: 'turbine', version: 3, chunkSize: 300, created: '2026-01-01T00:00:00.000Z', metrics: { mae: 0.1 } });
    assert.equal(m.size, 1000);
    assert.equal(m.chunkCount, 4);
    assert.equal(m.sha256, crypto.createHash('sha256').update(data).digest('hex'));
    assert.equal(m.chunks[3], crypto.createHash('sha256').update(data.subarray(900)).digest('hex'));
    assert.equal(m.chunks[0], crypto.createHash('sha256').update(data.subarray(0, 300)).digest('hex'));
    assert.deepEqual(Buffer.from(chunkOf(data, m, 3)), data.subarray(900));
    assert.equal(m.created, '2026-01-01T00:00:00.000Z');
  });

  it('refuses bad names, versions, chunk sizes and empty files', () => {
    assert.throws(() => describeModel(bytes(10), { name: 'a/b', version: 1 }), /name/);
    assert.throws(() => describeModel(bytes(10), { name: 'a', version: 0 }), /version/);
    assert.throws(() => describeModel(bytes(10), { name: 'a', version: 1.5 }), /version/);
    assert.throws(() => describeModel(bytes(10), { name: 'a', version: 1, chunkSize: 0 }), /chunkSize/);
    assert.throws(() => describeModel(Buffer.alloc(0), { name: 'a', version: 1 }), /empty/);
  });

  it('signs and verifies with a trusted key; the signature checks with plain node:crypto', () => {
    const signed = signManifest(describeModel(bytes(500), { name: 'm', version: 2, chunkSize: 128 }), keys.privateKey);
    assert.equal(signed.manifest.keyId, keyIdOf(keys.publicKey));
    const ok = crypto.verify(null, Buffer.from(canonicalJson(signed.manifest)), crypto.createPublicKey(keys.publicKey), Buffer.from(signed.signature, 'base64'));
    assert.equal(ok, true);
    const m = verifyManifest(JSON.parse(JSON.stringify(signed)), trustedKeys([other.publicKey, keys.publicKey]));
    assert.equal(m.version, 2);
  });

  it('trustedKeys reads several PEM blocks from one string', () => {
    const list = trustedKeys(`${keys.publicKey}\n${other.publicKey}`);
    assert.deepEqual(list.map((k) => k.keyId), [keyIdOf(keys.publicKey), keyIdOf(other.publicKey)]);
    assert.throws(() => trustedKeys(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString()), /ed25519/);
  });

  it('rejects an unknown key, a changed field, a forged signature, and malformed envelopes', () => {
    const signed = signManifest(describeModel(bytes(500), { name: 'm', version: 2, chunkSize: 128 }), keys.privateKey);
    const reason = (f: () => unknown) => {
      try {
        f();
      } catch (err) {
        assert.ok(err instanceof ManifestError);
        return err.reason;
      }
      return 'accepted';
    };
    assert.equal(reason(() => verifyManifest(signed, trustedKeys(other.publicKey))), 'unknown-key');
    const bumped = { ...signed, manifest: { ...signed.manifest, version: 99 } };
    assert.equal(reason(() => verifyManifest(bumped, trustedKeys(keys.publicKey))), 'bad-signature');
    // signed by another key but claiming the trusted key's id
    const forged = signManifest(signed.manifest, other.privateKey);
    forged.manifest.keyId = signed.manifest.keyId;
    assert.equal(reason(() => verifyManifest(forged, trustedKeys(keys.publicKey))), 'bad-signature');
    assert.equal(reason(() => verifyManifest(null, trustedKeys(keys.publicKey))), 'malformed');
    assert.equal(reason(() => verifyManifest({ manifest: { ...signed.manifest, chunkCount: 7 }, signature: signed.signature }, trustedKeys(keys.publicKey))), 'malformed');
    assert.equal(reason(() => verifyManifest({ manifest: signed.manifest }, trustedKeys(keys.publicKey))), 'malformed');
    assert.throws(() => checkManifestShape({ ...signed.manifest, sha256: 'xyz' }), /sha256/);
  });

  it('hashFile streams a file to its SHA-256', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-hash-'));
    const data = bytes(200_000, 7);
    fs.writeFileSync(path.join(dir, 'f'), data);
    assert.equal(await hashFile(path.join(dir, 'f')), crypto.createHash('sha256').update(data).digest('hex'));
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
