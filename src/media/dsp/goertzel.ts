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
export function goertzelComplex(x: ArrayLike<number>, start: number, n: number, freqHz: number, out: Float64Array, sampleRate = SAMPLE_RATE_HZ): void {
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

/**
 * Three Goertzel powers of x[0, n) in one pass, written to out[o], out[o+1], out[o+2]: one
 * Goertzel alone is bound by its dependency chain, three interleaved fill the pipeline.
 */
export function goertzelPower3(x: Float64Array, n: number, c0: number, c1: number, c2: number, out: Float64Array, o: number): void {
  let a1 = 0,
    a2 = 0,
    b1 = 0,
    b2 = 0,
    d1 = 0,
    d2 = 0;
  for (let i = 0; i < n; i++) {
    const v = x[i];
    const a0 = v + c0 * a1 - a2;
    a2 = a1;
    a1 = a0;
    const b0 = v + c1 * b1 - b2;
    b2 = b1;
    b1 = b0;
    const d0 = v + c2 * d1 - d2;
    d2 = d1;
    d1 = d0;
  }
  out[o] = a1 * a1 + a2 * a2 - c0 * a1 * a2;
  out[o + 1] = b1 * b1 + b2 * b2 - c1 * b1 * b2;
  out[o + 2] = d1 * d1 + d2 * d2 - c2 * d1 * d2;
}
