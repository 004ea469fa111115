/**
 * Masker: a look-ahead delay line over μ-law bytes. Every input byte is emitted unchanged,
 * exactly `lookahead` samples later (D1: bytes are never decoded and re-encoded), unless it
 * lies in a masked stretch, where the flat tone replaces it.
 *
 * The look-ahead is what makes "zero unmasked tone samples" possible: a tone is usually
 * recognised 10-15 ms after it starts, but its first sample is still in the delay line, so
 * markTone() can reach back and mask it before it is emitted.
 *
 * Masked stretches are kept as one flag per sample in a ring (written when the detector marks
 * them, or when a sample arrives while a mark reaches into the future); the emitter adds the
 * fades. A fade never lets input through: during fade-in and fade-out the output is the flat
 * tone at reduced level, so replacement always covers at least the marked samples.
 */
import { FADE_SAMPLES, FADE_TABLE } from './flat-tone';
import { MULAW_SILENCE } from './mulaw';

/** Ring size (power of two) ≥ the largest look-ahead (200 ms) + one chunk (20 ms) */
const RING = 2048;
const RING_MASK = RING - 1;
export const MAX_LOOKAHEAD_SAMPLES = 1600;
export const MAX_CHUNK_SAMPLES = 160;

export class Masker {
  private readonly bytes = new Uint8Array(RING);
  private readonly flags = new Uint8Array(RING);
  /** samples written (input position) */
  private written = 0;
  /** samples emitted (output position minus look-ahead) */
  private emitted: number;
  /** marks reaching past `written` */
  private maskUntil = 0;
  private level = 0;
  private replacing = false;
  private blanket = false;

  tonesMasked = 0;
  samplesReplaced = 0;
  /** marks that began before the first unemitted sample: their start could not be masked */
  lateMarks = 0;

  constructor(readonly lookahead: number) {
    if (!(lookahead > 0 && lookahead <= MAX_LOOKAHEAD_SAMPLES)) throw new RangeError('lookahead out of range');
    this.emitted = -lookahead;
  }

  reset(): void {
    this.bytes.fill(MULAW_SILENCE);
    this.flags.fill(0);
    this.written = 0;
    this.emitted = -this.lookahead;
    this.maskUntil = 0;
    this.level = 0;
    this.replacing = false;
    this.blanket = false;
    this.tonesMasked = 0;
    this.samplesReplaced = 0;
    this.lateMarks = 0;
  }

  /** Input position: index of the next sample to arrive */
  get position(): number {
    return this.written;
  }

  setBlanket(on: boolean): void {
    this.blanket = on;
  }

  /** Append input[off, off+n), n ≤ MAX_CHUNK_SAMPLES */
  write(input: Uint8Array, off: number, n: number): void {
    let w = this.written;
    const until = this.maskUntil;
    for (let i = 0; i < n; i++) {
      const j = w & RING_MASK;
      this.bytes[j] = input[off + i];
      this.flags[j] = w < until ? 1 : 0;
      w++;
    }
    this.written = w;
  }

  /** Replace input samples [start, end) (absolute indices; end may lie in the future) */
  mark(start: number, end: number): void {
    if (start < this.emitted) {
      if (end > this.emitted) this.lateMarks++;
      start = this.emitted;
    }
    if (start < 0) start = 0;
    const stop = Math.min(end, this.written);
    for (let i = start; i < stop; i++) this.flags[i & RING_MASK] = 1;
    if (end > this.maskUntil) this.maskUntil = end;
  }

  /**
   * Emit n samples: input [emitted, emitted+n) (silence before the stream began). When
   * `replaced` is given, replaced[outOff+i] = 1 for every sample the flat tone replaced.
   */
  emit(out: Uint8Array, outOff: number, n: number, replaced?: Uint8Array): void {
    let e = this.emitted;
    let level = this.level;
    let replacing = this.replacing;
    const blanket = this.blanket;
    for (let i = 0; i < n; i++, e++) {
      const j = e & RING_MASK;
      const masked = blanket || (e >= 0 && this.flags[j] === 1);
      let r: boolean;
      if (masked) {
        if (level < FADE_SAMPLES) level++;
        r = true;
      } else if (level > 0) {
        level--;
        r = true;
      } else {
        r = false;
      }
      if (r) {
        out[outOff + i] = FADE_TABLE[level * 4 + (e & 3)];
        this.samplesReplaced++;
        if (!replacing) this.tonesMasked++;
      } else {
        out[outOff + i] = e >= 0 ? this.bytes[j] : MULAW_SILENCE;
      }
      replacing = r;
      if (replaced) replaced[outOff + i] = r ? 1 : 0;
    }
    this.emitted = e;
    this.level = level;
    this.replacing = replacing;
  }
}
