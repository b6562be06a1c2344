import { parseConfig } from '../../lib/stream/config';
import { SensorWindows } from '../../lib/stream/sensor-windows';
import { SignalWindow } from '../../lib/stream/window';
import { readWindowInput } from '../../lib/stream/input';
const payloads = Array.from({ length: 3000 }, (_, k) => Float64Array.from({ length: 1000 }, (_, i) => 550 + 100 * Math.sin(i + k)));
for (let rep = 0; rep < 4; rep++) {
  const sw = new SensorWindows(parseConfig({ window: '5', windowUnit: 'min', stats: 'mean', rate: 'input', gap: '0', signals: '{"pressure":{"valid":[300,800]}}' }));
  let t0 = process.hrtime.bigint();
  for (let k = 0; k < 3000; k++) sw.ingest(readWindowInput({ topic: 'pressure', payload: payloads[k], sampleRate: 1000, timestamp: k * 1000 }));
  const a = Number(process.hrtime.bigint() - t0) / 3000 / 1e3;
  const w = new SignalWindow({ kind: 'time', size: 300000, stats: ['mean'], valid: [300, 800] });
  t0 = process.hrtime.bigint();
  for (let k = 0; k < 3000; k++) w.ingest(payloads[k], 0, k * 1000, 1, null, null);
  const b = Number(process.hrtime.bigint() - t0) / 3000 / 1e3;
  console.log('SensorWindows us/batch', a.toFixed(1), ' SignalWindow us/batch', b.toFixed(1));
}
