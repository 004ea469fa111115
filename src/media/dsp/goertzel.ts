/**
 * A pure Goertzel: one DFT bin of a block, in one multiply and two adds per sample.
 * Used directly by the tone analyser; the streaming screen (screen.ts) runs the same recurrence
 * unrolled over its bins.
 */
import { SAMPLE_RATE_HZ } from './levels';

/** The recurrence coefficient 2·cos(ω) for a bin at `freqHz` */
export function goertzelCoefficient(freqHz: number, sampleRate = SAMPLE_RATE_HZ): number {
  return 2 * Math.cos((2 * Math.PI * freqHz) / sampleRate);
}

/** |X(f)|² of x[start, start+n) where coeff = goertzelCoefficient(f) */
export function goertzelPower(x: ArrayLike<number>, start: number, n: number, coeff: number): number {
  let s1 = 0;
  let s2 = 0;
  const end = start + n;
  for (let i = start; i < end; i++) {
    const s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

/**
 * X(f) = Σ x[start+m]·e^{-jωm}, m = 0..n-1, phase referenced to the first sample.
 * Writes re, im to out[0], out[1].
 */
export function goertzelComplex(
  x: ArrayLike<number>,
  start: number,
  n: number,
  freqHz: number,
  out: Float64Array,
  sampleRate = SAMPLE_RATE_HZ,
): void {
  const w = (2 * Math.PI * freqHz) / sampleRate;
  const cw = Math.cos(w);
  const sw = Math.sin(w);
  const coeff = 2 * cw;
  let s1 = 0;
  let s2 = 0;
  const end = start + n;
  for (let i = start; i < end; i++) {
    const s0 = x[i] + coeff * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  // y = s1 - e^{-jω}·s2 = X·e^{jω(n-1)}
  const yr = s1 - cw * s2;
  const yi = sw * s2;
  const ph = -w * (n - 1);
  const c = Math.cos(ph);
  const s = Math.sin(ph);
  out[0] = yr * c - yi * s;
  out[1] = yr * s + yi * c;
}
