/**
 * G.711 μ-law, 16-bit linear convention: codes decode to -32124..+32124 (the 14-bit
 * values of G.711 shifted left by 2). Every level in media/dsp is on this scale.
 *
 * The encoder is the reference (Sun / ITU G.191) algorithm, so decode→encode is the identity on
 * every code except 0x7F ("negative zero"), which decodes to 0 and re-encodes as 0xFF.
 */

/** Largest magnitude a μ-law code decodes to on the 16-bit scale */
export const MULAW_FULL_SCALE = 32124;
/** The μ-law code for linear 0 (positive zero): what "silence" is on the wire */
export const MULAW_SILENCE = 0xff;

const BIAS = 0x84;
/** G.711 clips the biased magnitude here (16-bit scale) */
const CLIP = 32635;

function decodeOne(code: number): number {
  const u = ~code & 0xff;
  let t = ((u & 0x0f) << 3) + BIAS;
  t <<= (u & 0x70) >> 4;
  return u & 0x80 ? BIAS - t : t - BIAS;
}

/** code → 16-bit linear */
export const MULAW_DECODE: Int16Array = (() => {
  const table = new Int16Array(256);
  for (let c = 0; c < 256; c++) table[c] = decodeOne(c);
  return table;
})();

/** 16-bit linear (any number; rounded and clipped) → μ-law code */
export function encodeMulaw(linear: number): number {
  let v = Math.round(linear);
  let mask: number;
  if (v < 0) {
    v = -v;
    mask = 0x7f;
  } else {
    mask = 0xff;
  }
  if (v > CLIP) v = CLIP;
  v += BIAS;
  let seg = 0;
  for (let x = v >> 8; x > 0 && seg < 7; x >>= 1) seg++;
  const code = (seg << 4) | ((v >> (seg + 3)) & 0x0f);
  return code ^ mask;
}
