/**
 * The flat tone that replaces every masked stretch: 2000 Hz at -10 dBm0 (DESIGN.md), far from
 * every DTMF and network tone.
 *
 * At 8 kHz, 2000 Hz is exactly a quarter of the sample rate, so with phase π/4 the tone is the
 * 4-sample pattern (+a, +a, -a, -a), a = peak/√2. Its phase is a function of the stream's
 * sample index alone (index mod 4): the same timing gives the same bytes for every key (C3),
 * and the steady pattern, being exactly periodic and odd-symmetric, has no energy at DC, at
 * 4000 Hz or anywhere but 2000 Hz even after μ-law quantisation (C4).
 */
import { dbm0ToPeak } from './levels';
import { encodeMulaw } from './mulaw';

export const FLAT_TONE_HZ = 2000;
export const FLAT_TONE_DBM0 = -10;
/**
 * Raised-cosine fade in/out (8 ms): long enough that the fade's spectrum stays > 60 dB down at
 * 1633 Hz, the nearest DTMF frequency (C4), short enough to sound like a clean tone edge.
 */
export const FADE_SAMPLES = 64;

const PHASES = 4;

/** FADE_TABLE[k·4 + (n mod 4)]: μ-law byte at fade level k (0..FADE_SAMPLES) */
export const FADE_TABLE: Uint8Array = (() => {
  const a = dbm0ToPeak(FLAT_TONE_DBM0) / Math.SQRT2;
  const pattern = [a, a, -a, -a];
  const t = new Uint8Array((FADE_SAMPLES + 1) * PHASES);
  for (let k = 0; k <= FADE_SAMPLES; k++) {
    const g = 0.5 - 0.5 * Math.cos((Math.PI * k) / FADE_SAMPLES);
    for (let p = 0; p < PHASES; p++) t[k * PHASES + p] = encodeMulaw(pattern[p] * g);
  }
  return t;
})();

/** The steady tone's byte at stream sample index n */
export function flatToneByte(n: number): number {
  return FADE_TABLE[FADE_SAMPLES * PHASES + (n & 3)];
}
