import { goertzelCoefficient, goertzelComplex, goertzelPower } from '../../../../src/media/dsp/goertzel';

describe('Goertzel', () => {
  const n = 205;
  const sine = (f: number, a: number, ph: number) => Float64Array.from({ length: n }, (_, i) => a * Math.cos((2 * Math.PI * f * i) / 8000 + ph));

  it('gives (A·N/2)² for a sine on its bin and ~0 for a distant one', () => {
    const f = (8000 * 18) / n; // exactly bin 18
    expect(goertzelPower(sine(f, 1000, 0.3), 0, n, goertzelCoefficient(f))).toBeCloseTo(((1000 * n) / 2) ** 2, -3);
    const far = goertzelPower(sine(f, 1000, 0.3), 0, n, goertzelCoefficient((8000 * 40) / n));
    expect(far).toBeLessThan(1e-6 * ((1000 * n) / 2) ** 2);
  });

  it('matches the DFT sum in phase and magnitude', () => {
    const x = sine(941, 700, 1.1);
    const out = new Float64Array(2);
    goertzelComplex(x, 0, n, 941, out);
    let re = 0;
    let im = 0;
    for (let i = 0; i < n; i++) {
      re += x[i] * Math.cos((2 * Math.PI * 941 * i) / 8000);
      im -= x[i] * Math.sin((2 * Math.PI * 941 * i) / 8000);
    }
    expect(out[0]).toBeCloseTo(re, 6);
    expect(out[1]).toBeCloseTo(im, 6);
  });
});
