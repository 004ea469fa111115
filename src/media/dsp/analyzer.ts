/**
 * Stage 2 of detection: an exact look at one window of samples, run only when the screen
 * passes. It estimates the frequency of the strongest low-group and high-group component
 * (Hann-windowed Goertzel on a fine grid plus parabolic interpolation), then fits both tones
 * and the 350+440 Hz dial tone by least squares over the rectangular window.
 *
 * What the fit leaves unexplained (the residual) is the speech-rejection measure: voiced
 * speech has more harmonics than two (second harmonics, neighbouring bins, formant spread),
 * noise stays in the residual, and a tone that fills only part of the window leaves (1 - f)
 * of its energy unexplained, which is what makes the duration rules of the tracker sharp.
 */
import { goertzelPower } from './goertzel';
import { SAMPLE_RATE_HZ } from './levels';

export const MAX_WINDOW_SAMPLES = 256;

/** Frequency search: ±SEARCH_STEPS·step around the hint */
const SEARCH_STEPS = 4;
const DIAL_LOW_HZ = 350;
const DIAL_HIGH_HZ = 440;
const NBASIS = 8;

export interface ToneFit {
  lowHz: number;
  highHz: number;
  /** peak amplitudes, 16-bit linear scale */
  lowAmp: number;
  highAmp: number;
  /** residual / (residual + energy explained by the two key tones): 0 = a clean pair */
  residualRatio: number;
  /** mean power of the window */
  power: number;
}

export class ToneAnalyzer {
  private readonly x = new Float64Array(MAX_WINDOW_SAMPLES);
  private readonly xw = new Float64Array(MAX_WINDOW_SAMPLES);
  private readonly hann = new Map<number, Float64Array>();
  private readonly gram = new Float64Array(NBASIS * NBASIS);
  private readonly rhs = new Float64Array(NBASIS);
  private readonly theta = new Float64Array(NBASIS);
  private readonly basisCos = new Float64Array(4);
  private readonly basisSin = new Float64Array(4);
  private readonly rotCos = new Float64Array(4);
  private readonly rotSin = new Float64Array(4);
  private readonly phi = new Float64Array(NBASIS);
  readonly fit: ToneFit = { lowHz: 0, highHz: 0, lowAmp: 0, highAmp: 0, residualRatio: 1, power: 0 };

  private window(n: number): Float64Array {
    let w = this.hann.get(n);
    if (!w) {
      w = new Float64Array(n);
      for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
      this.hann.set(n, w);
    }
    return w;
  }

  /**
   * Analyse ring[(start + i) & mask], i = 0..n-1, looking for a low tone near lowHint and a
   * high tone near highHint (searched ±SEARCH_STEPS·stepHz). Fills and returns `fit`.
   */
  analyze(
    ring: Float32Array,
    mask: number,
    start: number,
    n: number,
    lowHint: number,
    highHint: number,
    stepHz: number,
  ): ToneFit {
    const x = this.x;
    const xw = this.xw;
    const w = this.window(n);
    let e = 0;
    for (let i = 0; i < n; i++) {
      const v = ring[(start + i) & mask];
      x[i] = v;
      xw[i] = v * w[i];
      e += v * v;
    }
    const fit = this.fit;
    fit.power = e / n;
    fit.lowHz = this.peak(n, lowHint, stepHz);
    fit.highHz = this.peak(n, highHint, stepHz);
    this.leastSquares(n, fit.lowHz, fit.highHz);
    const t = this.theta;
    fit.lowAmp = Math.hypot(t[0], t[1]);
    fit.highAmp = Math.hypot(t[2], t[3]);
    let explained = 0;
    for (let i = 0; i < NBASIS; i++) explained += t[i] * this.rhs[i];
    const residual = Math.max(e - explained, 0);
    const keyEnergy = ((fit.lowAmp * fit.lowAmp + fit.highAmp * fit.highAmp) * n) / 2;
    fit.residualRatio = residual + keyEnergy > 0 ? residual / (residual + keyEnergy) : 1;
    return fit;
  }

  /** Frequency of the largest Hann-windowed bin on the grid around `hint`, interpolated */
  private peak(n: number, hint: number, step: number): number {
    let best = -1;
    let bestP = -1;
    let pPrev = 0;
    let pNext = 0;
    let prev = 0;
    const twoPiOverFs = (2 * Math.PI) / SAMPLE_RATE_HZ;
    for (let j = -SEARCH_STEPS; j <= SEARCH_STEPS; j++) {
      const p = goertzelPower(this.xw, 0, n, 2 * Math.cos(twoPiOverFs * (hint + j * step)));
      if (p > bestP) {
        bestP = p;
        best = j;
        pPrev = prev;
        pNext = -1;
      } else if (j === best + 1) {
        pNext = p;
      }
      prev = p;
    }
    let f = hint + best * step;
    if (best > -SEARCH_STEPS && best < SEARCH_STEPS && pNext >= 0 && pPrev > 0 && pNext > 0) {
      // parabola through the log powers (a Hann main lobe is close to a Gaussian)
      const a = Math.log(pPrev);
      const b = Math.log(bestP);
      const c = Math.log(pNext);
      const den = a - 2 * b + c;
      if (den < 0) f += (0.5 * (a - c) * step) / den;
    }
    return f;
  }

  /** Least squares over x[0, n) with cos/sin at lowHz, highHz, 350, 440 Hz */
  private leastSquares(n: number, lowHz: number, highHz: number): void {
    const g = this.gram;
    const r = this.rhs;
    g.fill(0);
    r.fill(0);
    const freqs0 = lowHz;
    const twoPiOverFs = (2 * Math.PI) / SAMPLE_RATE_HZ;
    const bc = this.basisCos;
    const bs = this.basisSin;
    const rc = this.rotCos;
    const rs = this.rotSin;
    for (let k = 0; k < 4; k++) {
      const f = k === 0 ? freqs0 : k === 1 ? highHz : k === 2 ? DIAL_LOW_HZ : DIAL_HIGH_HZ;
      rc[k] = Math.cos(twoPiOverFs * f);
      rs[k] = Math.sin(twoPiOverFs * f);
      bc[k] = 1;
      bs[k] = 0;
    }
    const phi = this.phi;
    const x = this.x;
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < 4; k++) {
        phi[2 * k] = bc[k];
        phi[2 * k + 1] = bs[k];
        const c = bc[k] * rc[k] - bs[k] * rs[k];
        bs[k] = bs[k] * rc[k] + bc[k] * rs[k];
        bc[k] = c;
      }
      const v = x[i];
      for (let a = 0; a < NBASIS; a++) {
        const pa = phi[a];
        r[a] += pa * v;
        const row = a * NBASIS;
        for (let b = a; b < NBASIS; b++) g[row + b] += pa * phi[b];
      }
    }
    // tiny diagonal loading keeps the solve stable when sin(ω·0..n) is nearly degenerate
    for (let a = 0; a < NBASIS; a++) {
      for (let b = 0; b < a; b++) g[a * NBASIS + b] = g[b * NBASIS + a];
      g[a * NBASIS + a] += 1e-9 * n;
    }
    choleskySolve(g, r, this.theta, NBASIS);
  }
}

/** Solve G·θ = r for symmetric positive definite G (overwritten with its factor) */
function choleskySolve(g: Float64Array, r: Float64Array, out: Float64Array, m: number): void {
  for (let j = 0; j < m; j++) {
    let d = g[j * m + j];
    for (let k = 0; k < j; k++) d -= g[j * m + k] * g[j * m + k];
    d = d > 1e-12 ? Math.sqrt(d) : 1e-6;
    g[j * m + j] = d;
    for (let i = j + 1; i < m; i++) {
      let s = g[i * m + j];
      for (let k = 0; k < j; k++) s -= g[i * m + k] * g[j * m + k];
      g[i * m + j] = s / d;
    }
  }
  for (let i = 0; i < m; i++) {
    let s = r[i];
    for (let k = 0; k < i; k++) s -= g[i * m + k] * out[k];
    out[i] = s / g[i * m + i];
  }
  for (let i = m - 1; i >= 0; i--) {
    let s = out[i];
    for (let k = i + 1; k < m; k++) s -= g[k * m + i] * out[k];
    out[i] = s / g[i * m + i];
  }
}
