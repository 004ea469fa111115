/**
 * Signals and the independent decoder for media tests: in-band keys from the emulator's keypad,
 * the committed speech corpus, Goertzel power for spectral checks, and multimon-ng, which must be
 * installed (.ci/run installs it): a missing decoder fails the test, never skips it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { multimonKeys } from '../../tools/cli/audio-files';
import { keyTone as padTone } from '../../tools/emulator/keypad';
import { MULAW_DECODE } from '../../src/media/dsp/mulaw';

export const FS = 8000;
export const LOW_HZ = [697, 770, 852, 941];
export const HIGH_HZ = [1209, 1336, 1477, 1633];
export const DTMF_FREQUENCIES = [...LOW_HZ, ...HIGH_HZ];

/** one key at -10 dBm0 per tone, `samples` long */
export const keyTone = (key: string, samples: number): Uint8Array => padTone(key, (samples * 1000) / FS, -10);

export const silence = (samples: number) => new Uint8Array(samples).fill(0xff);

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** `seconds` of the committed espeak-ng corpus (test/fixtures/speech, made by scripts/make-speech-corpus.sh) */
export function speech(seconds: number, offsetSeconds = 5): Uint8Array {
  const fixture = path.join(__dirname, '../fixtures/speech/corpus-2min.ulaw');
  return new Uint8Array(fs.readFileSync(fixture).subarray(FS * offsetSeconds, FS * (offsetSeconds + seconds)));
}

/** Goertzel power of x[start, start+n) at f Hz, normalised by n² */
export function power(x: Uint8Array, start: number, n: number, f: number): number {
  const c = 2 * Math.cos((2 * Math.PI * f) / FS);
  let s1 = 0;
  let s2 = 0;
  for (let i = start; i < start + n; i++) {
    const s0 = MULAW_DECODE[x[i]] + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (n * n);
}

/** the keys multimon-ng hears in 8 kHz μ-law */
export function multimon(mulaw: Uint8Array): string {
  const keys = multimonKeys(mulaw);
  if (keys === null) throw new Error('multimon-ng and sox must be installed: apt-get install multimon-ng sox (.ci/run installs both)');
  return keys;
}
