/**
 * The hold sound the caller hears until the agent's leg is up: a quiet, slow three-note chime
 * (C5, E5, G5, each with a soft attack and decay, then a rest), made once in code and kept as
 * base64 frames, so sending it costs nothing per frame. The notes are far from the DTMF pairs and
 * never sound together, so nothing on the caller's side can be mistaken for a key.
 */
import { encodeMulaw } from './dsp/mulaw';
import { dbm0ToPeak, SAMPLE_RATE_HZ } from './dsp/levels';
import { FRAME_BYTES } from './messages';

/** quiet: comfortably below speech (-10 to -20 dBm0) */
const HOLD_LEVEL_DBM0 = -24;
const NOTE_HZ = [523.25, 659.25, 783.99] as const;
/** each note, then a rest: one cycle of the loop is 4 × 400 ms = 1.6 s (80 frames) */
const NOTE_MS = 400;
const CYCLE_SLOTS = NOTE_HZ.length + 1;

function synthesize(): Uint8Array {
  const noteSamples = (NOTE_MS * SAMPLE_RATE_HZ) / 1000;
  const out = new Uint8Array(noteSamples * CYCLE_SLOTS);
  const peak = dbm0ToPeak(HOLD_LEVEL_DBM0);
  for (let slot = 0; slot < CYCLE_SLOTS; slot++) {
    const hz = NOTE_HZ[slot];
    for (let i = 0; i < noteSamples; i++) {
      let v = 0;
      if (hz !== undefined) {
        // 20 ms linear attack, exponential decay: a chime rather than a beep
        const attack = Math.min(1, i / 160);
        const decay = Math.exp(-i / (noteSamples / 3));
        v = peak * attack * decay * Math.sin((2 * Math.PI * hz * i) / SAMPLE_RATE_HZ);
      }
      out[slot * noteSamples + i] = encodeMulaw(v);
    }
  }
  return out;
}

/** the hold loop's frames as base64 payloads, ready to send */
export const HOLD_FRAMES_BASE64: readonly string[] = (() => {
  const audio = synthesize();
  const frames: string[] = [];
  for (let off = 0; off < audio.length; off += FRAME_BYTES) frames.push(Buffer.from(audio.subarray(off, off + FRAME_BYTES)).toString('base64'));
  return frames;
})();

/** a position in the hold loop */
export class HoldPlayer {
  private next = 0;
  frame(): string {
    const f = HOLD_FRAMES_BASE64[this.next]!;
    this.next = (this.next + 1) % HOLD_FRAMES_BASE64.length;
    return f;
  }
}
