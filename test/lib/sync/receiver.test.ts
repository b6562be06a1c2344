import { strict as assert } from 'assert';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { describeModel, generateKeyPair, signManifest, trustedKeys, chunkOf, SignedManifest } from '../../../lib/sync/manifest';
import { ModelReceiver } from '../../../lib/sync/receiver';
import { modelBytes as bytes } from './model-bytes';


describe('lib/sync/receiver', () => {
  const keys = generateKeyPair();
  const stranger = generateKeyPair();
  let dir: string;
  const make = (version: number, data: Buffer, chunkSize = 100, key = keys.privateKey): SignedManifest => signManifest(describeModel(data, { name: 'turbine', version, chunkSize }), key);
  const receiver = () => new ModelReceiver({ dir, trusted: trustedKeys(keys.publicKey) });
  const feedAll = (r: ModelReceiver, s: SignedManifest, data: Buffer, order?: number[]) => {
    const idx = order ?? Array.from({ length: s.manifest.chunkCount }, (_, i) => i);
    return idx.map((i) => r.addChunk('turbine', s.manifest.version, i, chunkOf(data, s.manifest, i)));
  };

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sync-recv-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('assembles chunks (any order) and installs the exact bytes atomically', () => {
    const data = bytes(1050);
    const s = make(1, data);
    const r = receiver();
    const offer = r.offer(s);
    assert.equal(offer.status, 'accepted');
    assert.deepEqual(offer.status === 'accepted' && offer.missing, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const results = feedAll(r, s, data, [10, 3, 0, 1, 2, 9, 8, 7, 6, 5, 4]);
    const last = results[results.length - 1];
    assert.equal(last.status, 'installed');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), data);
    assert.equal(r.installed('turbine')?.version, 1);
    assert.equal(r.installed('turbine')?.sha256, crypto.createHash('sha256').update(data).digest('hex'));
    // no staging files left
    assert.deepEqual(fs.readdirSync(dir).sort(), ['turbine.onnx', 'turbine.state.json']);
    // state survives a new receiver (restart)
    assert.equal(receiver().installed('turbine')?.version, 1);
  });

  it('a duplicate chunk is recognised; chunks for no transfer are ignored', () => {
    const data = bytes(300);
    const s = make(1, data);
    const r = receiver();
    assert.equal(r.addChunk('turbine', 1, 0, chunkOf(data, s.manifest, 0)).status, 'ignored');
    r.offer(s);
    assert.equal(r.addChunk('turbine', 1, 0, chunkOf(data, s.manifest, 0)).status, 'stored');
    assert.equal(r.addChunk('turbine', 1, 0, chunkOf(data, s.manifest, 0)).status, 'duplicate');
    assert.equal(r.addChunk('turbine', 2, 1, chunkOf(data, s.manifest, 1)).status, 'ignored');
    const bad = r.addChunk('turbine', 1, 3, Buffer.alloc(10));
    assert.equal(bad.status === 'rejected' && bad.reason, 'bad-index');
  });

  it('refuses a tampered chunk with a reason, keeps the transfer, and installs when the intact chunk comes', () => {
    const v1 = bytes(250, 3);
    const r = receiver();
    const s1 = make(1, v1);
    r.offer(s1);
    feedAll(r, s1, v1);
    const data = bytes(300, 5);
    const s = make(2, data);
    r.offer(s);
    const tampered = Buffer.from(chunkOf(data, s.manifest, 1));
    tampered[17] ^= 0x01;
    const res = r.addChunk('turbine', 2, 1, tampered);
    assert.equal(res.status === 'rejected' && res.reason, 'tampered-chunk');
    const short = r.addChunk('turbine', 2, 1, chunkOf(data, s.manifest, 1).subarray(0, 50));
    assert.equal(short.status === 'rejected' && short.reason, 'tampered-chunk');
    // the running model is untouched
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), v1);
    assert.deepEqual(r.active('turbine')?.missing, [0, 1, 2]);
    const out = feedAll(r, s, data);
    assert.equal(out[2].status, 'installed');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), data);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.previous.onnx')), v1);
  });

  it('rejects a bad signature, an unknown key and an older or equal version; the running model stays', () => {
    const r = receiver();
    const v2 = bytes(200, 2);
    const s2 = make(2, v2);
    r.offer(s2);
    feedAll(r, s2, v2);
    const reasonOf = (x: unknown) => {
      const o = r.offer(x);
      return o.status === 'rejected' ? o.reason : o.status;
    };
    assert.equal(reasonOf(make(3, bytes(200, 3), 100, stranger.privateKey)), 'unknown-key');
    const forged = make(3, bytes(200, 3));
    forged.manifest.sha256 = crypto.createHash('sha256').update('evil').digest('hex');
    assert.equal(reasonOf(forged), 'bad-signature');
    assert.equal(reasonOf(make(1, bytes(200, 1))), 'older-version');
    assert.equal(reasonOf(make(2, bytes(200, 9))), 'older-version');
    assert.equal(reasonOf(s2), 'older-version');
    assert.equal(reasonOf({ nonsense: true }), 'malformed');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), v2);
    assert.equal(r.installed('turbine')?.version, 2);
    assert.equal(r.active('turbine'), null);
  });

  it('resumes a cut transfer after a restart, needing only the missing chunks', () => {
    const data = bytes(1000, 11);
    const s = make(4, data);
    const r1 = receiver();
    r1.offer(s);
    feedAll(r1, s, data, [0, 1, 2, 5, 6]);
    r1.close(); // the process stops mid-transfer
    const r2 = receiver();
    const offer = r2.offer(JSON.parse(JSON.stringify(s)));
    assert.equal(offer.status, 'accepted');
    if (offer.status !== 'accepted') return;
    assert.equal(offer.resumed, true);
    assert.deepEqual(offer.missing, [3, 4, 7, 8, 9]);
    const res = feedAll(r2, s, data, offer.missing);
    assert.equal(res[res.length - 1].status, 'installed');
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), data);
  });

  it('a resumed transfer whose staging bytes were corrupted on disk fails the whole-file hash and installs nothing', () => {
    const data = bytes(400, 12);
    const s = make(1, data);
    const r1 = receiver();
    r1.offer(s);
    feedAll(r1, s, data, [0, 1]);
    r1.close();
    const staging = path.join(dir, 'turbine.v1.staging');
    const fd = fs.openSync(staging, 'r+');
    fs.writeSync(fd, Buffer.from([0xff, 0xff]), 0, 2, 10);
    fs.closeSync(fd);
    const r2 = receiver();
    r2.offer(s);
    const res = feedAll(r2, s, data, [2, 3]);
    const last = res[1];
    assert.equal(last.status === 'rejected' && last.reason, 'hash-mismatch');
    assert.equal(fs.existsSync(path.join(dir, 'turbine.onnx')), false);
    assert.equal(r2.installed('turbine'), null);
  });

  it('a newer announcement replaces a transfer in progress', () => {
    const r = receiver();
    const a = bytes(300, 1);
    const b = bytes(300, 2);
    const sa = make(1, a);
    const sb = make(2, b);
    r.offer(sa);
    feedAll(r, sa, a, [0]);
    assert.equal(r.offer(sa).status, 'in-progress');
    assert.equal(r.offer(sb).status, 'accepted');
    assert.equal(r.addChunk('turbine', 1, 1, chunkOf(a, sa.manifest, 1)).status, 'ignored');
    const res = feedAll(r, sb, b);
    assert.equal(res[2].status, 'installed');
    assert.ok(!fs.readdirSync(dir).some((f) => f.includes('staging')));
  });

  it('rollback restores the previous model and never installs the refused version again', () => {
    const r = receiver();
    const v1 = bytes(200, 1);
    const v2 = bytes(200, 2);
    const s1 = make(1, v1);
    const s2 = make(2, v2);
    r.offer(s1);
    feedAll(r, s1, v1);
    r.offer(s2);
    feedAll(r, s2, v2);
    const { restored, refused } = r.rollback('turbine');
    assert.equal(restored?.version, 1);
    assert.equal(refused?.version, 2);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), v1);
    const again = r.offer(s2);
    assert.equal(again.status === 'rejected' && again.reason, 'refused-before');
    // nothing left to roll back to
    assert.equal(r.rollback('turbine').restored, null);
    assert.deepEqual(fs.readFileSync(path.join(dir, 'turbine.onnx')), v1);
    // a newer version still installs
    const v3 = bytes(200, 3);
    const s3 = make(3, v3);
    assert.equal(r.offer(s3).status, 'accepted');
    assert.equal(feedAll(r, s3, v3)[1].status, 'installed');
  });
});
