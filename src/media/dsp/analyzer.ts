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
import { goertzelPower, goertzelPower3 } from './goertzel';
import { SAMPLE_RATE_HZ } from './levels';

export const MAX_WINDOW_SAMPLES = 256;

/**
 * Frequency search: SEARCH_POINTS grid points `step` apart, centred on the hint (±2.5 steps),
 * then a parabola through the log powers around the best. A multiple of 3 (three Goertzels per
 * pass); steps of up to 0.3 Hann bins keep the interpolation error under 1 Hz.
 */
const SEARCH_POINTS = 6;
const GRID = SEARCH_POINTS;
/** refinement: SEARCH_POINTS points of step/REFINE_DIVISOR */
const REFINE_DIVISOR = 3;
const DIAL_LOW_HZ = 350;
const DIAL_HIGH_HZ = 440;
const MAX_FREQS = 4;
const MAX_BASIS = 2 * MAX_FREQS;
const TWO_PI_OVER_FS = (2 * Math.PI) / SAMPLE_RATE_HZ;

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

/**
 * Shared scratch for every ToneAnalyzer (of every stream). Each of these is fully written by an
 * analyze() call before it is read, and is read only by that call and by the queries on the
 * same analyzer that directly follow it (anyPeakAbove, windowedPower, residualTilt); nothing in
 * them carries over from one analyze() to the next. DSP processing is synchronous and
 * single-threaded (one CallerPath.process() runs to completion before any other starts), so
 * one set serves all instances: with hundreds of calls the analysis touches the same few KB,
 * which stay in cache, instead of ~5 KB per analyzer that must be fetched again for every frame.
 * `owner` is the analyzer whose analyze() last filled them; a query on any other one throws.
 */
const X = new Float64Array(MAX_WINDOW_SAMPLES);
const XW = new Float64Array(MAX_WINDOW_SAMPLES);
const GRAM = new Float64Array(MAX_BASIS * MAX_BASIS);
const RHS = new Float64Array(MAX_BASIS);
const THETA = new Float64Array(MAX_BASIS);
const OMEGA = new Float64Array(MAX_FREQS);
const GRID_POWER = new Float64Array(GRID);
const PROBES = new Float64Array(64);
const TRIPLE = new Float64Array(3);
const RC = new Float64Array(MAX_FREQS);
const RS = new Float64Array(MAX_FREQS);
const BC = new Float64Array(MAX_FREQS);
const BS = new Float64Array(MAX_FREQS);
const DIFF = new Float64Array(2);
const SUM = new Float64Array(2);
let owner: ToneAnalyzer | null = null;

/** Hann windows by length, computed once and shared (read-only) */
const HANN: Float64Array[] = [];

function hannWindow(n: number): Float64Array {
  let w = HANN[n];
  if (!w) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * (i + 0.5)) / n);
    HANN[n] = w;
  }
  return w;
}

export class ToneAnalyzer {
  /** grid power at the low / high peak of the last analyze() */
  lowPeakPower = 0;
  highPeakPower = 0;
  private lastPeakPower = 0;
  readonly fit: ToneFit = { lowHz: 0, highHz: 0, lowAmp: 0, highAmp: 0, residualRatio: 1, power: 0 };

  /** The shared scratch holds this analyzer's last analyze() (see X above) */
  private own(): void {
    if (owner !== this) throw new Error('ToneAnalyzer: query after another analyzer ran analyze()');
  }

  /**
   * Analyse ring[(start + i) & mask], i = 0..n-1, looking for a low tone near lowHint and a
   * high tone near highHint (searched ±2.5·stepHz). With `dial`, the 350 + 440 Hz
   * dial tone is fitted too (and so not counted as residual). Fills and returns `fit`.
   */
  analyze(ring: Float32Array, mask: number, start: number, n: number, lowHint: number, highHint: number, stepHz: number, dial = false): ToneFit {
    const x = X;
    const xw = XW;
    const w = hannWindow(n);
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the module's scratch buffers record which analyzer filled them (see `owner`)
    owner = this;
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
    this.lowPeakPower = this.lastPeakPower;
    fit.highHz = this.peak(n, highHint, stepHz);
    this.highPeakPower = this.lastPeakPower;
    const om = OMEGA;
    om[0] = TWO_PI_OVER_FS * fit.lowHz;
    om[1] = TWO_PI_OVER_FS * fit.highHz;
    om[2] = TWO_PI_OVER_FS * DIAL_LOW_HZ;
    om[3] = TWO_PI_OVER_FS * DIAL_HIGH_HZ;
    const nf = dial ? 4 : 2;
    this.leastSquares(n, nf);
    if (fit.highHz - fit.lowHz < (3 * SAMPLE_RATE_HZ) / n) {
      // Tones closer than 1.5 Hann main lobes (988 and 1149 Hz on 10 ms: 161 Hz) pull each
      // other's estimates; one round of re-estimating each tone with the other one's fit
      // subtracted removes the pull.
      this.refine(n, 0, stepHz);
      this.refine(n, 1, stepHz);
      fit.lowHz = om[0] / TWO_PI_OVER_FS;
      fit.highHz = om[1] / TWO_PI_OVER_FS;
      this.leastSquares(n, nf);
    }
    const t = THETA;
    fit.lowAmp = Math.hypot(t[0], t[1]);
    fit.highAmp = Math.hypot(t[2], t[3]);
    let explained = 0;
    for (let i = 0; i < 2 * nf; i++) explained += t[i] * RHS[i];
    const residual = Math.max(e - explained, 0);
    const keyEnergy = ((fit.lowAmp * fit.lowAmp + fit.highAmp * fit.highAmp) * n) / 2;
    fit.residualRatio = residual + keyEnergy > 0 ? residual / (residual + keyEnergy) : 1;
    return fit;
  }

  /**
   * Spectral tilt of what the last analyze() left unexplained: Σ(Δr)² / Σr² of the residual
   * r = x - fit. White noise gives 2; speech, whose other harmonics and formants sit mostly
   * below 1 kHz, gives well under 1. `nf` must not exceed the last analyze()'s (2, or 4 with dial).
   */
  residualTilt(n: number, nf: number): number {
    this.own();
    const om = OMEGA;
    const t = THETA;
    const x = X;
    let e = 0;
    let d = 0;
    let prev = 0;
    for (let k = 0; k < nf; k++) {
      RC[k] = Math.cos(om[k]);
      RS[k] = Math.sin(om[k]);
      BC[k] = 1;
      BS[k] = 0;
    }
    for (let i = 0; i < n; i++) {
      let v = x[i];
      for (let k = 0; k < nf; k++) {
        const c = BC[k];
        const s = BS[k];
        v -= t[2 * k] * c + t[2 * k + 1] * s;
        BC[k] = c * RC[k] - s * RS[k];
        BS[k] = s * RC[k] + c * RS[k];
      }
      e += v * v;
      if (i > 0) d += (v - prev) * (v - prev);
      prev = v;
    }
    return e > 0 ? d / e : 0;
  }

  /**
   * Re-estimate tone `k` (0 low, 1 high) on x minus the fitted other key tone (and dial tone),
   * searching ±2.5·step/REFINE_DIVISOR around the current estimate.
   */
  private refine(n: number, k: number, stepHz: number): void {
    const om = OMEGA;
    const t = THETA;
    const other = 1 - k;
    const w = hannWindow(n);
    const xw = XW;
    const x = X;
    const rc = Math.cos(om[other]);
    const rs = Math.sin(om[other]);
    const a = t[2 * other];
    const b = t[2 * other + 1];
    let c = 1;
    let s = 0;
    for (let i = 0; i < n; i++) {
      xw[i] = (x[i] - a * c - b * s) * w[i];
      const c2 = c * rc - s * rs;
      s = s * rc + c * rs;
      c = c2;
    }
    const f = om[k] / TWO_PI_OVER_FS;
    const g = this.peakAround(n, f, stepHz / REFINE_DIVISOR);
    om[k] = TWO_PI_OVER_FS * g;
  }

  /**
   * Is any of the probe frequencies (first + k·step ≤ last, skipping ±lobe around the fitted
   * tones and everything below `floorHz`) above `ref` in Hann-windowed power? Three probes
   * per pass over the window.
   */
  anyPeakAbove(n: number, first: number, last: number, step: number, lobe: number, floorHz: number, ref: number): boolean {
    this.own();
    const f = this.fit;
    const probes = PROBES;
    let m = 0;
    for (let p = first; p <= last; p += step) {
      if (p < floorHz || Math.abs(p - f.lowHz) < lobe || Math.abs(p - f.highHz) < lobe) continue;
      probes[m++] = p;
    }
    const xw = XW;
    for (let j = 0; j < m; j += 3) {
      const c0 = 2 * Math.cos(TWO_PI_OVER_FS * probes[j]);
      const c1 = j + 1 < m ? 2 * Math.cos(TWO_PI_OVER_FS * probes[j + 1]) : c0;
      const c2 = j + 2 < m ? 2 * Math.cos(TWO_PI_OVER_FS * probes[j + 2]) : c0;
      goertzelPower3(xw, n, c0, c1, c2, TRIPLE, 0);
      if (TRIPLE[0] > ref || TRIPLE[1] > ref || TRIPLE[2] > ref) return true;
    }
    return false;
  }

  /** Hann-windowed power at `freqHz` over the window of the last analyze() (same scale as the grid) */
  windowedPower(freqHz: number, n: number): number {
    this.own();
    return goertzelPower(XW, 0, n, 2 * Math.cos(TWO_PI_OVER_FS * freqHz));
  }

  /** Frequency of the largest Hann-windowed bin on the grid around `hint`, interpolated */
  private peak(n: number, hint: number, step: number): number {
    return this.peakAround(n, hint, step);
  }

  private peakAround(n: number, hint: number, step: number): number {
    const xw = XW;
    const pw = GRID_POWER;
    const grid = GRID;
    const steps = (GRID - 1) / 2;
    // three Goertzels per pass: one alone is latency-bound, three fill the pipeline
    for (let j = 0; j < grid; j += 3) {
      const c0 = 2 * Math.cos(TWO_PI_OVER_FS * (hint + (j - steps) * step));
      const c1 = 2 * Math.cos(TWO_PI_OVER_FS * (hint + (j + 1 - steps) * step));
      const c2 = 2 * Math.cos(TWO_PI_OVER_FS * (hint + (j + 2 - steps) * step));
      goertzelPower3(xw, n, c0, c1, c2, pw, j);
    }
    let best = 0;
    for (let j = 1; j < grid; j++) if (pw[j] > pw[best]) best = j;
    this.lastPeakPower = pw[best];
    let f = hint + (best - steps) * step;
    if (best > 0 && best < grid - 1 && pw[best - 1] > 0 && pw[best + 1] > 0) {
      // parabola through the log powers (a Hann main lobe is close to a Gaussian)
      const a = Math.log(pw[best - 1]);
      const b = Math.log(pw[best]);
      const c = Math.log(pw[best + 1]);
      const den = a - 2 * b + c;
      if (den < 0) f += (0.5 * (a - c) * step) / den;
    }
    return f;
  }

  /**
   * Least squares over x[0, n) with cos/sin bases at the first nf frequencies of `omega`.
   * The right-hand side is one Goertzel per frequency; the Gram matrix is exact in closed form
   * (sums of cosines over a rectangular window are Dirichlet kernels), so the cost is
   * O(n·nf), not O(n·nf²).
   */
  private leastSquares(n: number, nf: number): void {
    const m = 2 * nf;
    const g = GRAM;
    const r = RHS;
    const om = OMEGA;
    const x = X;
    for (let k = 0; k < nf; k++) {
      const w = om[k];
      const cw = Math.cos(w);
      const sw = Math.sin(w);
      const coeff = 2 * cw;
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < n; i++) {
        const s0 = x[i] + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      // y = s1 - e^{-jω}s2 = Σ x_i e^{jω(n-1-i)}; X = y·e^{-jω(n-1)} = Σ x_i e^{-jωi}
      const yr = s1 - cw * s2;
      const yi = sw * s2;
      const ph = w * (n - 1);
      const c = Math.cos(ph);
      const s = Math.sin(ph);
      const xr = yr * c + yi * s;
      const xi = yi * c - yr * s;
      r[2 * k] = xr; // Σ x cos(ωi)
      r[2 * k + 1] = -xi; // Σ x sin(ωi)
      for (let l = 0; l <= k; l++) {
        dirichlet(om[k] - om[l], n, DIFF);
        dirichlet(om[k] + om[l], n, SUM);
        const dr = DIFF[0];
        const di = DIFF[1];
        const sr = SUM[0];
        const si = SUM[1];
        // a = ω_k·i, b = ω_l·i
        const cc = 0.5 * (dr + sr); // Σ cos a cos b
        const ss = 0.5 * (dr - sr); // Σ sin a sin b
        const sc = 0.5 * (si + di); // Σ sin a cos b
        const cs = 0.5 * (si - di); // Σ cos a sin b
        g[2 * k * m + 2 * l] = cc;
        g[2 * k * m + 2 * l + 1] = cs;
        g[(2 * k + 1) * m + 2 * l] = sc;
        g[(2 * k + 1) * m + 2 * l + 1] = ss;
        g[2 * l * m + 2 * k] = cc;
        g[(2 * l + 1) * m + 2 * k] = cs;
        g[2 * l * m + 2 * k + 1] = sc;
        g[(2 * l + 1) * m + 2 * k + 1] = ss;
      }
    }
    // tiny diagonal loading keeps the solve stable when sin(ω·0..n) is nearly degenerate
    for (let a = 0; a < m; a++) g[a * m + a] += 1e-9 * n;
    choleskySolve(g, r, THETA, m);
  }
}

/** Σ_{i<n} cos(θi) and Σ_{i<n} sin(θi) into out[0], out[1] (the three sines and cosines shared) */
function dirichlet(theta: number, n: number, out: Float64Array): void {
  const h = Math.sin(theta / 2);
  if (Math.abs(h) < 1e-12) {
    out[0] = n;
    out[1] = 0;
    return;
  }
  const half = (theta * (n - 1)) / 2;
  const k = Math.sin((n * theta) / 2);
  out[0] = (Math.cos(half) * k) / h;
  out[1] = (Math.sin(half) * k) / h;
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
