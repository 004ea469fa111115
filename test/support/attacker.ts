/**
 * The eavesdropping agent's decoder: given the exact μ-law audio the agent's stream carried,
 * guess which key (or row, or column) a masked tone was. It shares no code with src/media/dsp
 * beyond the G.711 table, and it is deliberately more sensitive than any DTMF receiver: no
 * level, twist or duration rule, only least-squares fits of sinusoids at the eight DTMF
 * frequencies (and a grid of offsets around each) over whatever samples the flat tone did not
 * replace, so an amplified whisper of a tone, a 1 ms onset or a reverberant tail all count.
 *
 * The agent can tell replaced samples from passed ones (the flat tone is a known 4-sample
 * pattern at one of 65 fade levels), so the decoder takes the masker's `replaced` flags as given:
 * replaced samples carry no key information by design (C3) and are left out of every fit.
 */
import { MULAW_DECODE } from '../../src/media/dsp/mulaw';

export const ROWS_HZ = [697, 770, 852, 941];
export const COLS_HZ = [1209, 1336, 1477, 1633];
const KEYPAD = '123A456B789C*0#D';
const FS = 8000;
/** relative offsets searched around each nominal frequency (a phone up to ±5% off, and past it) */
const GRID = [-0.06, -0.045, -0.03, -0.02, -0.01, 0, 0.01, 0.02, 0.03, 0.045, 0.06];

export interface Guess {
  row: number;
  col: number;
  /** row·4 + col */
  key: number;
  /** passed samples the guess was made from (0: nothing to go on, the guess is a coin toss) */
  samples: number;
}

/**
 * Energy a sinusoid at `hz` explains in x over the sample indices idx[0, m): the exact
 * least-squares fit of a·cos + b·sin on that subset (gaps in it are the replaced samples).
 */
export function fitEnergy(x: Float64Array, idx: Int32Array, m: number, hz: number): number {
  const w = (2 * Math.PI * hz) / FS;
  let cc = 0;
  let ss = 0;
  let cs = 0;
  let xc = 0;
  let xs = 0;
  for (let j = 0; j < m; j++) {
    const i = idx[j];
    const c = Math.cos(w * i);
    const s = Math.sin(w * i);
    cc += c * c;
    ss += s * s;
    cs += c * s;
    xc += x[i] * c;
    xs += x[i] * s;
  }
  const det = cc * ss - cs * cs;
  if (det <= 1e-9 * (cc + ss) * (cc + ss) + 1e-12) {
    // one sample, or samples all at one phase: a single basis
    const d = cc + ss;
    return d > 0 ? (xc * xc + xs * xs) / d : 0;
  }
  // θ = G⁻¹ r; explained = rᵀ θ
  const a = (ss * xc - cs * xs) / det;
  const b = (cc * xs - cs * xc) / det;
  return a * xc + b * xs;
}

/** The best-fitting frequency of one group (index into `group`), searching GRID around each */
function bestOf(group: number[], x: Float64Array, idx: Int32Array, m: number, grid: readonly number[]): number {
  let best = 0;
  let bestE = -1;
  for (let g = 0; g < group.length; g++) {
    for (const o of grid) {
      const e = fitEnergy(x, idx, m, group[g] * (1 + o));
      if (e > bestE) {
        bestE = e;
        best = g;
      }
    }
  }
  return best;
}

/**
 * A guess from the passed samples of x in [from, to): row and column each by the best
 * single-sinusoid fit. `x` is the agent's audio (linear), `replaced` the flat tone's flags.
 */
export function guessWindow(x: Float64Array, replaced: Uint8Array, from: number, to: number, r: () => number, grid: readonly number[] = GRID): Guess {
  const lo = Math.max(from, 0);
  const hi = Math.min(to, x.length);
  const idx = new Int32Array(Math.max(hi - lo, 0));
  let m = 0;
  for (let i = lo; i < hi; i++) if (!replaced[i]) idx[m++] = i;
  // nothing passed, or only silence: a coin toss (never "row 0" by default)
  let energy = 0;
  for (let j = 0; j < m; j++) energy += x[idx[j]] * x[idx[j]];
  if (m === 0 || energy === 0) {
    const row = Math.floor(r() * 4);
    const col = Math.floor(r() * 4);
    return { row, col, key: row * 4 + col, samples: m };
  }
  const row = bestOf(ROWS_HZ, x, idx, m, grid);
  const col = bestOf(COLS_HZ, x, idx, m, grid);
  return { row, col, key: row * 4 + col, samples: m };
}

/**
 * 16-way joint least squares (the DESIGN's "names the key from 8 samples"): for each key the
 * energy both of its tones explain together over the passed samples of [from, to); the best key.
 */
export function guessJoint(x: Float64Array, replaced: Uint8Array, from: number, to: number, r: () => number): Guess {
  const lo = Math.max(from, 0);
  const hi = Math.min(to, x.length);
  const idx: number[] = [];
  for (let i = lo; i < hi; i++) if (!replaced[i]) idx.push(i);
  let energy = 0;
  for (const i of idx) energy += x[i] * x[i];
  if (idx.length < 4 || energy === 0) {
    const key = Math.floor(r() * 16);
    return { row: key >> 2, col: key & 3, key, samples: idx.length };
  }
  let best = 0;
  let bestE = -1;
  for (let k = 0; k < 16; k++) {
    const e = pairEnergy(x, idx, ROWS_HZ[k >> 2], COLS_HZ[k & 3]);
    if (e > bestE) {
      bestE = e;
      best = k;
    }
  }
  return { row: best >> 2, col: best & 3, key: best, samples: idx.length };
}

/** Energy explained by cos/sin at two frequencies jointly (4×4 normal equations) over idx */
function pairEnergy(x: Float64Array, idx: number[], f1: number, f2: number): number {
  const w1 = (2 * Math.PI * f1) / FS;
  const w2 = (2 * Math.PI * f2) / FS;
  const g = new Float64Array(16);
  const rhs = new Float64Array(4);
  const b = new Float64Array(4);
  for (const i of idx) {
    b[0] = Math.cos(w1 * i);
    b[1] = Math.sin(w1 * i);
    b[2] = Math.cos(w2 * i);
    b[3] = Math.sin(w2 * i);
    for (let p = 0; p < 4; p++) {
      rhs[p] += x[i] * b[p];
      for (let q = 0; q < 4; q++) g[p * 4 + q] += b[p] * b[q];
    }
  }
  for (let p = 0; p < 4; p++) g[p * 4 + p] += 1e-6;
  const theta = solve4(g, rhs);
  let e = 0;
  for (let p = 0; p < 4; p++) e += theta[p] * rhs[p];
  return e;
}

/** Gaussian elimination with partial pivoting on a 4×4 system */
function solve4(g: Float64Array, rhs: Float64Array): Float64Array {
  const a = Float64Array.from(g);
  const y = Float64Array.from(rhs);
  for (let c = 0; c < 4; c++) {
    let p = c;
    for (let r = c + 1; r < 4; r++) if (Math.abs(a[r * 4 + c]) > Math.abs(a[p * 4 + c])) p = r;
    if (p !== c) {
      for (let k = 0; k < 4; k++) [a[c * 4 + k], a[p * 4 + k]] = [a[p * 4 + k], a[c * 4 + k]];
      [y[c], y[p]] = [y[p], y[c]];
    }
    const d = a[c * 4 + c];
    if (Math.abs(d) < 1e-12) continue;
    for (let r = c + 1; r < 4; r++) {
      const f = a[r * 4 + c] / d;
      for (let k = c; k < 4; k++) a[r * 4 + k] -= f * a[c * 4 + k];
      y[r] -= f * y[c];
    }
  }
  const t = new Float64Array(4);
  for (let c = 3; c >= 0; c--) {
    let s = y[c];
    for (let k = c + 1; k < 4; k++) s -= a[c * 4 + k] * t[k];
    t[c] = Math.abs(a[c * 4 + c]) < 1e-12 ? 0 : s / a[c * 4 + c];
  }
  return t;
}

export function keyName(key: number): string {
  return KEYPAD[key];
}

/** μ-law bytes to linear (the agent decodes exactly what it was sent) */
export function agentAudio(mulaw: Uint8Array): Float64Array {
  const x = new Float64Array(mulaw.length);
  for (let i = 0; i < mulaw.length; i++) x[i] = MULAW_DECODE[mulaw[i]];
  return x;
}

/** One-sided binomial tail P(X ≥ k) for X ~ Bin(n, p): how unlikely `k` right guesses are by chance */
export function binomialTail(k: number, n: number, p: number): number {
  // log-space sum, exact enough for n in the thousands
  const lg = (v: number): number => {
    let s = 0;
    for (let i = 2; i <= v; i++) s += Math.log(i);
    return s;
  };
  const lnN = lg(n);
  let tail = 0;
  for (let i = k; i <= n; i++) tail += Math.exp(lnN - lg(i) - lg(n - i) + i * Math.log(p) + (n - i) * Math.log(1 - p));
  return Math.min(tail, 1);
}
