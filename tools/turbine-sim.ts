/**
 * Simulated industrial gas turbine (paper §3.3 case) for training and demonstrating the multi-task
 * model. Each sample is a window of L records (e.g. one per 5-minute feature vector) with:
 * - inputs: pressure ratio, gas-generator speed, vibration RMS and kurtosis, fuel flow, inlet air
 *   temperature;
 * - labels: health state (normal / sub-healthy / warning / fault), performance at the last record
 *   (thermal efficiency %, power MW, exhaust temperature °C) and faults (bearing fault, blade crack,
 *   nozzle blockage; any combination).
 * The physics is a simple, documented caricature (trends with load, ambient temperature and
 * degradation, plus noise), not a thermodynamic cycle model: it gives the three tasks something
 * learnable and shared.
 */
import { SeededRandom } from '../lib/util/random';

export const FEATURES = ['pressure_ratio', 'speed', 'vibration_rms', 'vibration_kurtosis', 'fuel_flow', 'inlet_temp'] as const;
export const FEATURE_UNITS = ['', 'rpm', 'mm/s', '', 'kg/s', '°C'];
export const STATES = ['normal', 'sub-healthy', 'warning', 'fault'] as const;
export const PERFORMANCE = ['thermal_efficiency', 'power', 'exhaust_temperature'] as const;
export const PERFORMANCE_UNITS = ['%', 'MW', '°C'];
export const FAULTS = ['bearing_fault', 'blade_crack', 'nozzle_blockage'] as const;

/**
 * Sensor adjacency for the graph-convolution fault head (order of FEATURES): physically coupled
 * measurements are neighbours (compressor: pressure ratio–speed–inlet temperature; combustion:
 * fuel flow–pressure ratio–speed; mechanical: speed–vibration RMS–kurtosis).
 */
export const SENSOR_ADJACENCY: number[][] = [
  [0, 1, 0, 0, 1, 1],
  [1, 0, 1, 0, 1, 0],
  [0, 1, 0, 1, 0, 0],
  [0, 0, 1, 0, 0, 0],
  [1, 1, 0, 0, 0, 0],
  [1, 0, 0, 0, 0, 0],
];

export type TurbineRecord = Record<(typeof FEATURES)[number], number>;

export interface TurbineSample {
  /** L records, oldest first */
  records: TurbineRecord[];
  state: number;
  /** thermal efficiency %, power MW, exhaust temperature °C at the last record */
  performance: [number, number, number];
  /** 0/1 per FAULTS entry */
  faults: [number, number, number];
}

const DEGRADATION = [0.05, 0.35, 0.65, 0.9];

/** One record of a turbine at load u (0..1), ambient temperature amb °C, degradation d (0..1) and faults. */
export function turbineRecord(rng: SeededRandom, u: number, amb: number, d: number, faults: readonly number[], t: number): { record: TurbineRecord; performance: [number, number, number] } {
  const [bearing, blade, nozzle] = faults;
  const eff = 38 * (0.75 + 0.25 * u) - 4 * d - 1.5 * blade - 0.8 * nozzle - 0.05 * (amb - 15) + rng.normal(0, 0.15);
  const power = 25 * u * (1 - 0.004 * (amb - 15)) * (1 - 0.05 * d) + rng.normal(0, 0.1);
  const exhaust = 450 + 120 * u + 25 * d + 30 * nozzle + 0.8 * (amb - 15) + rng.normal(0, 2);
  const record: TurbineRecord = {
    pressure_ratio: 8 + 10 * u - 1.5 * d - 0.3 * nozzle + 0.01 * (15 - amb) + rng.normal(0, 0.08),
    speed: 7000 + 3000 * u - 150 * d + blade * 15 * (t % 2 === 0 ? 1 : -1) + rng.normal(0, 10),
    vibration_rms: Math.abs(2 + 1.5 * u + 3 * d + 1.0 * bearing + 0.5 * blade + rng.normal(0, 0.3)),
    vibration_kurtosis: 3 + 0.9 * bearing + 0.3 * blade + rng.normal(0, 0.35),
    fuel_flow: power / ((eff / 100) * 50) + rng.normal(0, 0.01),
    inlet_temp: amb + rng.normal(0, 0.3),
  };
  return { record, performance: [eff, power, exhaust] };
}

/** One labelled window of `L` records. */
export function turbineSample(rng: SeededRandom, L: number): TurbineSample {
  const r = rng.next();
  const state = r < 0.4 ? 0 : r < 0.65 ? 1 : r < 0.85 ? 2 : 3;
  const d = Math.min(1, Math.max(0, DEGRADATION[state] + rng.uniform(-0.12, 0.12)));
  const faults: [number, number, number] = [rng.next() < 0.2 ? 1 : 0, rng.next() < 0.15 ? 1 : 0, rng.next() < 0.15 ? 1 : 0];
  if (state === 3 && faults[0] + faults[1] + faults[2] === 0) faults[rng.integer(0, 2)] = 1;
  let u = rng.uniform(0.45, 1);
  const amb = rng.uniform(0, 35);
  const records: TurbineRecord[] = [];
  let performance: [number, number, number] = [0, 0, 0];
  for (let t = 0; t < L; t++) {
    u = Math.min(1, Math.max(0.4, u + rng.normal(0, 0.02)));
    const step = turbineRecord(rng, u, amb, d, faults, t);
    records.push(step.record);
    performance = step.performance;
  }
  return { records, state, performance, faults };
}

export function turbineDataset(seed: number, count: number, L: number): TurbineSample[] {
  const rng = new SeededRandom(seed);
  return Array.from({ length: count }, () => turbineSample(rng, L));
}
