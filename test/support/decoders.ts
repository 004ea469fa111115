/**
 * The test decoder: judges any audio for keys independently of the service's own detector (it
 * shares no code with src/media/dsp).
 */
import { MULAW_DECODE } from '../../src/media/dsp/mulaw';

const LOW_HZ = [697, 770, 852, 941];
const HIGH_HZ = [1209, 1336, 1477, 1633];
/** row-major keypad: row = low tone, column = high tone */
const ALL_KEYS = '123A456B789C*0#D';

/**
 * An independent, deliberately wide DTMF decoder in the spandsp/Asterisk style (102-sample
 * blocks, 8 Goertzels, twist 12/12 dB, threshold -50 dBm0, a key when two consecutive blocks
 * agree): C1's "spandsp with twist 12/12 dB, threshold -50 dBm0". Shares no code with the
 * detector under test.
 */
export function wideDecoder(x: Float64Array): string {
  const N = 102;
  const freqs = [...LOW_HZ, ...HIGH_HZ];
  const out: string[] = [];
  let last = '';
  let prev = '';
  const minAmp = 32124 * Math.pow(10, (-50 - 3.14) / 20);
  for (let b = 0; b + N <= x.length; b += N) {
    const p = freqs.map((f) => {
      let s1 = 0,
        s2 = 0;
      const c = 2 * Math.cos((2 * Math.PI * f) / 8000);
      for (let i = b; i < b + N; i++) {
        const s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
      }
      return Math.sqrt(Math.max(s1 * s1 + s2 * s2 - c * s1 * s2, 0)) * (2 / N);
    });
    const r = p.slice(0, 4);
    const c = p.slice(4);
    const ri = r.indexOf(Math.max(...r));
    const ci = c.indexOf(Math.max(...c));
    let key = '';
    if (r[ri] >= minAmp && c[ci] >= minAmp && Math.abs(20 * Math.log10(r[ri] / c[ci])) <= 12) {
      let e = 0;
      for (let i = b; i < b + N; i++) e += x[i] * x[i];
      const tonePower = (r[ri] * r[ri] + c[ci] * c[ci]) / 2;
      if (tonePower >= 0.5 * (e / N)) key = ALL_KEYS[ri * 4 + ci];
    }
    if (key && key === prev && key !== last) out.push(key);
    last = key && key === prev ? key : key ? last : '';
    prev = key;
  }
  return out.join('');
}

/** the keys the wide decoder hears in 8 kHz μ-law */
export function wideDecode(mulaw: Uint8Array): string {
  const x = new Float64Array(mulaw.length);
  for (let i = 0; i < mulaw.length; i++) x[i] = MULAW_DECODE[mulaw[i]];
  return wideDecoder(x);
}
