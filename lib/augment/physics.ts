/**
 * Process physics the augmentation rules recompute (paper §2.2, chemical-reactor case).
 * Pure functions with SI or plant units named in each signature; no state, no randomness.
 */

/** Universal gas constant, J/(mol·K). */
export const GAS_CONSTANT = 8.314462618;

/** °C → K. */
export function kelvin(celsius: number): number {
  return celsius + 273.15;
}

export interface KineticConstants {
  /** pre-exponential factor A, 1/min (at the standard catalyst dose) */
  preExponential: number;
  /** activation energy Ea, J/mol */
  activationEnergy: number;
}

/**
 * First-order rate constant, 1/min: k = A·exp(−Ea/(R·T))·(dose/standardDose).
 * The rate is taken proportional to the catalyst dose (first order in catalyst).
 */
export function rateConstant(c: KineticConstants, temperatureK: number, dose: number, standardDose: number): number {
  return c.preExponential * Math.exp(-c.activationEnergy / (GAS_CONSTANT * temperatureK)) * (dose / standardDose);
}

/** First-order conversion after `minutes`: X = 1 − exp(−k·t), in [0, 1). */
export function conversion(k: number, minutes: number): number {
  return -Math.expm1(-k * minutes);
}

/** Reaction time (min) a first-order reaction needs to reach conversion X: t = −ln(1 − X)/k. */
export function timeToConversion(k: number, target: number): number {
  return -Math.log1p(-target) / k;
}

/** Fluid properties for the heat-transfer correlation (defaults: water-like liquid, SI units). */
export interface FluidProperties {
  /** density ρ, kg/m³ */
  density: number;
  /** dynamic viscosity μ at bulk temperature, Pa·s */
  viscosity: number;
  /** specific heat capacity cp, J/(kg·K) */
  heatCapacity: number;
  /** thermal conductivity k, W/(m·K) */
  conductivity: number;
  /** viscosity ratio μ/μw (bulk over wall), dimensionless; 1 when unknown */
  viscosityRatio: number;
}

/** Vessel, impeller and correlation constants. */
export interface VesselProperties {
  /** vessel inner diameter T, m (the length scale of the jacket Nusselt number) */
  vesselDiameter: number;
  /** impeller diameter d, m */
  impellerDiameter: number;
  /** impeller power number Po (turbulent), dimensionless; used by the mixing-time correlation */
  powerNumber: number;
  /** Nu = C·Re^a·Pr^b·(μ/μw)^0.14 */
  C: number;
  a: number;
  b: number;
  /** reference time for the mixing index, s */
  mixingReferenceTime: number;
}

/** Impeller Reynolds number Re = ρ·N·d²/μ, N in rev/s. */
export function reynolds(fluid: FluidProperties, vessel: VesselProperties, rpm: number): number {
  return (fluid.density * (rpm / 60) * vessel.impellerDiameter ** 2) / fluid.viscosity;
}

/** Prandtl number Pr = cp·μ/k. */
export function prandtl(fluid: FluidProperties): number {
  return (fluid.heatCapacity * fluid.viscosity) / fluid.conductivity;
}

/**
 * Jacket-side film coefficient on the process side of an agitated vessel, W/(m²·K):
 * Nu = h·T/k = C·Re^a·Pr^b·(μ/μw)^0.14 (Chilton, Drew & Jebens 1944 form; C = 0.36, a = 2/3,
 * b = 1/3 for a paddle in a jacketed vessel).
 */
export function heatTransferCoefficient(fluid: FluidProperties, vessel: VesselProperties, rpm: number): number {
  const nu = vessel.C * reynolds(fluid, vessel, rpm) ** vessel.a * prandtl(fluid) ** vessel.b * fluid.viscosityRatio ** 0.14;
  return (nu * fluid.conductivity) / vessel.vesselDiameter;
}

/**
 * 95 % mixing time, s, for a turbulent stirred vessel (Grenville 1992, liquid height = T):
 * N·θ95 = 5.20·Po^(−1/3)·(T/d)², N in rev/s.
 */
export function mixingTime(vessel: VesselProperties, rpm: number): number {
  const n = rpm / 60;
  return (5.2 * vessel.powerNumber ** (-1 / 3) * (vessel.vesselDiameter / vessel.impellerDiameter) ** 2) / n;
}

/**
 * Mixing index, dimensionless in [0, 1): the share of the initial concentration non-uniformity
 * removed after the reference time t_ref, with the non-uniformity decaying exponentially so that
 * 5 % remains at θ95: M = 1 − 0.05^(t_ref/θ95). Higher is better mixed; it rises with speed.
 */
export function mixingIndex(vessel: VesselProperties, rpm: number): number {
  return -Math.expm1((vessel.mixingReferenceTime / mixingTime(vessel, rpm)) * Math.log(0.05));
}
