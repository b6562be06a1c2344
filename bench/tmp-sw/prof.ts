import { startServer, stopServer, helper } from '../../test/support/harness';
import sensorWindow = require('../../nodes/sensor-window/sensor-window');
import passThrough = require('../../test/support/pass-through-node');
import { SensorWindows } from '../../lib/stream/sensor-windows';
let ingestNs = 0n;
const orig = SensorWindows.prototype.ingest;
SensorWindows.prototype.ingest = function (b) { const t = process.hrtime.bigint(); const r = orig.call(this, b); ingestNs += process.hrtime.bigint() - t; return r; };
async function run(type: string, cfg: any, payloads: Float64Array[]) {
  const flow = [{ id: 'f1', type: 'tab' }, { id: 'n1', z: 'f1', type, ...cfg, wires: [['o']] }, { id: 'o', z: 'f1', type: 'helper' }];
  await helper.load([sensorWindow, passThrough], flow);
  const n = helper.getNode('n1'); let got = 0; helper.getNode('o').on('input', () => got++);
  const N = payloads.length;
  let sent = 0; ingestNs = 0n;
  const t0 = process.hrtime.bigint();
  await new Promise<void>((resolve) => { const tick = () => { while (sent < N && sent - got < 200) { n.receive({ topic: 'pressure', payload: payloads[sent], sampleRate: 1000, timestamp: sent * 1000 }); sent++; } if (got >= N) return resolve(); setImmediate(tick); }; tick(); });
  const total = Number(process.hrtime.bigint() - t0) / 1e3 / N;
  console.log(type, 'us/msg', total.toFixed(1), 'ingest us/msg', (Number(ingestNs) / 1e3 / N).toFixed(1));
  await helper.unload();
}
async function main() {
  await startServer();
  const payloads = Array.from({ length: 3000 }, (_, k) => Float64Array.from({ length: 1000 }, (_, i) => 550 + 100 * Math.sin(i + k)));
  const cfg = { window: '5', windowUnit: 'min', stats: 'mean', rate: 'input', gap: '0', signals: '{"pressure":{"valid":[300,800]}}' };
  for (let r = 0; r < 3; r++) { await run('pass-through', {}, payloads); await run('sensor-window', cfg, payloads); }
  await stopServer();
}
main().then(() => process.exit(0));
