import { strict as assert } from 'assert';
import {
  conversion, heatTransferCoefficient, kelvin, mixingIndex, mixingTime, prandtl, rateConstant, reynolds, timeToConversion,
} from '../../../lib/augment/physics';
import { DEFAULT_FLUID, DEFAULT_VESSEL } from '../../../lib/augment/rules';

function near(actual: number, expected: number, rel = 1e-6): void {
  assert.ok(Math.abs(actual - expected) <= rel * Math.abs(expected), `${actual} is not within ${rel} (relative) of ${expected}`);
}

describe('augment physics', () => {
  describe('kinetics (defaults A = 5.0e6 1/min, Ea = 60 kJ/mol, standard dose 12 kg)', () => {
    const c = { preExponential: 5.0e6, activationEnergy: 60000 };

    it('Arrhenius rate at 100 °C and the standard dose', () => {
      // T = 373.15 K; Ea/(R·T) = 60000 / (8.314462618 · 373.15) = 19.338982
      // exp(−19.338982) = 3.991964e-9; k = 5.0e6 · 3.991964e-9 = 0.01995982 1/min
      near(kelvin(100), 373.15, 1e-12);
      near(rateConstant(c, 373.15, 12, 12), 0.01995982, 1e-6);
    });

    it('rate proportional to catalyst dose, falling with temperature', () => {
      // at 80 °C: Ea/(R·T) = 20.434210, k = 5.0e6 · exp(−20.434210) = 0.006675831 1/min
      near(rateConstant(c, 353.15, 12, 12), 0.006675831, 1e-6);
      // at 120 °C with +5 % dose (12.6 kg): Ea/(R·T) = 18.355186, k = 5.0e6·exp(−18.355186)·1.05 = 0.05605358
      near(rateConstant(c, 393.15, 12.6, 12), 0.05605358, 1e-6);
    });

    it('first-order conversion and the time to a target conversion', () => {
      // X = 1 − exp(−0.01995982 · 120) = 1 − exp(−2.395178) = 1 − 0.0911564 = 0.9088436
      near(conversion(0.01995982, 120), 0.9088436, 1e-6);
      // t = −ln(1 − 0.95)/k = 2.995732 / 0.01995982 = 150.0881 min
      near(timeToConversion(0.01995982, 0.95), 150.0881, 1e-6);
      assert.equal(conversion(0.02, 0), 0);
      near(conversion(0.02, timeToConversion(0.02, 0.5)), 0.5, 1e-12);
    });
  });

  describe('stirring (water-like fluid, 1 m vessel, 0.4 m paddle)', () => {
    it('Reynolds and Prandtl numbers', () => {
      // Re = ρ·N·d²/μ = 1000 · (150/60) · 0.4² / 0.001 = 400 000
      near(reynolds(DEFAULT_FLUID, DEFAULT_VESSEL, 150), 400000, 1e-12);
      // Pr = cp·μ/k = 4180 · 0.001 / 0.6 = 6.966667
      near(prandtl(DEFAULT_FLUID), 6.966667, 1e-6);
    });

    it('jacket heat-transfer coefficient from Nu = 0.36·Re^(2/3)·Pr^(1/3)', () => {
      // 150 rpm: Re^(2/3) = 400000^(2/3) = 5428.835; Pr^(1/3) = 1.909890
      // Nu = 0.36 · 5428.835 · 1.909890 = 3732.652; h = Nu·k/T = 3732.652 · 0.6 / 1.0 = 2239.591 W/(m²·K)
      near(heatTransferCoefficient(DEFAULT_FLUID, DEFAULT_VESSEL, 150), 2239.591, 1e-6);
      // 300 rpm: Re = 800 000, h scales by 2^(2/3) = 1.587401: 2239.591 · 1.587401 = 3555.129
      near(heatTransferCoefficient(DEFAULT_FLUID, DEFAULT_VESSEL, 300), 3555.129, 1e-6);
      // viscosity ratio μ/μw = 2 multiplies h by 2^0.14 = 1.101905
      near(heatTransferCoefficient({ ...DEFAULT_FLUID, viscosityRatio: 2 }, DEFAULT_VESSEL, 150), 2239.591 * 1.101905, 1e-6);
    });

    it('mixing time and mixing index', () => {
      // N·θ95 = 5.20 · Po^(−1/3) · (T/d)² = 5.20 · 1.7^(−1/3) · 2.5² = 5.20 · 0.8378836 · 6.25 = 27.23122
      // at 150 rpm (2.5 rev/s): θ95 = 10.89249 s
      near(mixingTime(DEFAULT_VESSEL, 150), 10.89249, 1e-6);
      // M = 1 − 0.05^(t_ref/θ95) = 1 − 0.05^(5/10.89249) = 1 − 0.05^0.4590320 = 1 − 0.2528050 = 0.7471950
      near(mixingIndex(DEFAULT_VESSEL, 150), 0.7471950, 1e-6);
      // at 300 rpm θ95 halves to 5.446243 s: M = 1 − 0.05^0.918064 = 0.9360896
      near(mixingIndex(DEFAULT_VESSEL, 300), 0.9360896, 1e-6);
    });
  });
});
