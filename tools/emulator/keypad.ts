/**
 * The emulated caller's keypad: in-band DTMF as a phone sends it (ITU-T Q.23 frequency pairs),
 * 8 kHz μ-law. Used by the demo and the tests to key digits into a media stream.
 */
import { encodeMulaw } from '../../src/media/dsp/mulaw';

const SAMPLE_RATE_HZ = 8000;
const KEYS = '123A456B789C*0#D';
const LOW_HZ = [697, 770, 852, 941];
const HIGH_HZ = [1209, 1336, 1477, 1633];
/** full-scale sine on the 16-bit μ-law scale is +3.14 dBm0 */
const FULL_SCALE = 32124;
const FULL_SCALE_DBM0 = 3.14;

export interface KeypadOptions {
  /** tone length; phones send 50-100 ms */
  toneMs?: number;
  /** silence after each tone */
  gapMs?: number;
  /** level of each of the two tones, dBm0 */
  levelDbm0?: number;
}

export function keyTone(key: string, toneMs = 80, levelDbm0 = -10): Uint8Array {
  const i = KEYS.indexOf(key.toUpperCase());
  if (i < 0) throw new Error(`no such key: ${key}`);
  const lo = LOW_HZ[Math.floor(i / 4)];
  const hi = HIGH_HZ[i % 4];
  const peak = FULL_SCALE * Math.pow(10, (levelDbm0 - FULL_SCALE_DBM0) / 20);
  const n = Math.round((toneMs * SAMPLE_RATE_HZ) / 1000);
  const out = new Uint8Array(n);
  for (let t = 0; t < n; t++) {
    out[t] = encodeMulaw(peak * (Math.sin((2 * Math.PI * lo * t) / SAMPLE_RATE_HZ) + Math.sin((2 * Math.PI * hi * t) / SAMPLE_RATE_HZ)));
  }
  return out;
}

/** the keys as tones with silence between them (μ-law 0xFF is silence) */
export function keyTones(keys: string, opts: KeypadOptions = {}): Uint8Array {
  const gap = Math.round(((opts.gapMs ?? 80) * SAMPLE_RATE_HZ) / 1000);
  const parts = [...keys].map((k) => keyTone(k, opts.toneMs ?? 80, opts.levelDbm0 ?? -10));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length + gap, 0)).fill(0xff);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length + gap;
  }
  return out;
}
