/**
 * Masker: a look-ahead delay line over μ-law bytes. Every input byte is emitted unchanged,
 * exactly `lookahead` samples later (D1: bytes are never decoded and re-encoded), unless it
 * lies in a masked stretch, where the flat tone replaces it.
 *
 * The look-ahead is what makes "zero unmasked tone samples" possible: a tone is usually
 * recognised 10-15 ms after it starts, but its first sample is still in the delay line, so
 * mark() can reach back and mask it before it is emitted.
 *
 * Masked stretches are a short queue of [start, end) intervals in input sample indices (marks
 * arrive in time order, overlapping ones merge); the emitter adds the fades. A fade never lets
 * input through: during fade-in and fade-out the output is the flat tone at reduced level, so
 * the replaced stretch always covers at least the marked samples.
 */
import { FADE_SAMPLES, FADE_TABLE } from './flat-tone';
import { MULAW_SILENCE } from './mulaw';

const FADE = FADE_TABLE; // local: bundlers turn imported bindings into getters
const FADE_LEN = FADE_SAMPLES;
const SILENCE = MULAW_SILENCE;

export const MAX_LOOKAHEAD_SAMPLES = 1600;
export const MAX_CHUNK_SAMPLES = 160;
/** Pending mask intervals (power of two); marks closer than the look-ahead merge, so few are ever pending */
const QUEUE = 64;
const QUEUE_MASK = QUEUE - 1;

export class Masker {
  /**
   * The delay line: line[i] is input sample emitted + i, for i < fill (= written - emitted).
   * emit() always reads from line[0] and then shifts the rest down, so the common frame moves
   * by three native copies (set, set, copyWithin) instead of two loops of byte stores.
   */
  private readonly line = new Uint8Array(MAX_LOOKAHEAD_SAMPLES + MAX_CHUNK_SAMPLES);
  /** line[0, MAX_CHUNK_SAMPLES): made once, so the fast path copies a whole frame without allocating */
  private readonly head = this.line.subarray(0, MAX_CHUNK_SAMPLES);
  private fill = 0;
  private readonly qStart = new Float64Array(QUEUE);
  private readonly qEnd = new Float64Array(QUEUE);
  /** 1 when every mark merged into the interval was a tone's (so a seen tone end may cut it) */
  private readonly qTrim = new Uint8Array(QUEUE);
  private qHead = 0;
  private qTail = 0;
  /** samples written (input position) */
  private written = 0;
  /** samples emitted (output position minus look-ahead) */
  private emitted: number;
  private level = 0;
  private replacing = false;
  private blanket = false;

  tonesMasked = 0;
  /** stretches marked for masking (a mark that merged into the one before is not a new one), counted as they are marked, blanket or not */
  stretchesMarked = 0;
  samplesReplaced = 0;
  /** marks that began before the first unemitted sample: their start could not be masked */
  lateMarks = 0;

  constructor(readonly lookahead: number) {
    if (!(lookahead > 0 && lookahead <= MAX_LOOKAHEAD_SAMPLES)) throw new RangeError('lookahead out of range');
    this.emitted = -lookahead;
    this.line.fill(SILENCE, 0, lookahead);
    this.fill = lookahead;
  }

  reset(): void {
    this.line.fill(SILENCE, 0, this.lookahead);
    this.fill = this.lookahead;
    this.qHead = this.qTail = 0;
    this.written = 0;
    this.emitted = -this.lookahead;
    this.level = 0;
    this.replacing = false;
    this.blanket = false;
    this.tonesMasked = 0;
    this.stretchesMarked = 0;
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

  /** Append input[off, off+n), n ≤ MAX_CHUNK_SAMPLES; each write is followed by emit() of n */
  write(input: Uint8Array, off: number, n: number): void {
    const line = this.line;
    const fill = this.fill;
    if (fill + n > line.length) throw new RangeError('Masker.write: more than one chunk ahead of emit()');
    if (off === 0 && n === input.length) {
      line.set(input, fill);
    } else {
      for (let i = 0; i < n; i++) line[fill + i] = input[off + i];
    }
    this.fill = fill + n;
    this.written += n;
  }

  /**
   * Replace input samples [start, end) (absolute indices; end may lie in the future).
   * `trimmable`: a tone's conservative mark that trimEnd() may cut back once the tone's end is
   * seen; event bursts are not.
   */
  mark(start: number, end: number, trimmable: boolean): void {
    if (start < this.emitted) {
      if (end > this.emitted) this.lateMarks++;
      start = this.emitted;
    }
    if (end <= start) return;
    if (this.qTail !== this.qHead) {
      const last = (this.qTail - 1) & QUEUE_MASK;
      if (start <= this.qEnd[last]) {
        if (end > this.qEnd[last]) this.qEnd[last] = end;
        if (start < this.qStart[last]) this.qStart[last] = start;
        if (!trimmable) this.qTrim[last] = 0;
        return;
      }
      if (((this.qTail + 1) & QUEUE_MASK) === this.qHead) {
        // full (cannot happen with marks in time order): widen the last one rather than drop a mark
        this.qEnd[last] = Math.max(this.qEnd[last], end);
        this.qTrim[last] = 0;
        return;
      }
    }
    this.qStart[this.qTail] = start;
    this.qEnd[this.qTail] = end;
    this.qTrim[this.qTail] = trimmable ? 1 : 0;
    this.qTail = (this.qTail + 1) & QUEUE_MASK;
    this.stretchesMarked++;
  }

  /** The tone behind the latest mark ended: replace only up to `end` (never un-mask emitted or event audio) */
  trimEnd(end: number): void {
    if (this.qTail === this.qHead) return;
    const last = (this.qTail - 1) & QUEUE_MASK;
    if (this.qTrim[last] !== 1 || end >= this.qEnd[last]) return;
    this.qEnd[last] = Math.max(end, this.qStart[last], this.emitted);
  }

  /**
   * Emit n samples: input [emitted, emitted+n) (silence before the stream began). When
   * `replaced` is given, replaced[outOff+i] = 1 for every sample the flat tone replaced.
   */
  emit(out: Uint8Array, outOff: number, n: number, replaced?: Uint8Array): void {
    let e = this.emitted;
    const stop = e + n;
    // fast path: nothing masked or fading anywhere in this stretch
    if (!this.blanket && this.level === 0 && (this.qHead === this.qTail || this.qStart[this.qHead] >= stop)) {
      if (n === MAX_CHUNK_SAMPLES) {
        out.set(this.head, outOff);
      } else {
        const line = this.line;
        for (let i = 0; i < n; i++) out[outOff + i] = line[i];
      }
      if (replaced) replaced.fill(0, outOff, outOff + n);
      this.emitted = stop;
      this.replacing = false;
      this.shift(n);
      return;
    }
    let level = this.level;
    let replacing = this.replacing;
    const blanket = this.blanket;
    for (let i = 0; i < n; i++, e++) {
      while (this.qHead !== this.qTail && this.qEnd[this.qHead] <= e) this.qHead = (this.qHead + 1) & QUEUE_MASK;
      const masked = blanket || (this.qHead !== this.qTail && e >= this.qStart[this.qHead]);
      let r: boolean;
      if (masked) {
        if (level < FADE_LEN) level++;
        r = true;
      } else if (level > 0) {
        level--;
        r = true;
      } else {
        r = false;
      }
      if (r) {
        out[outOff + i] = FADE[level * 4 + (e & 3)];
        this.samplesReplaced++;
        if (!replacing) this.tonesMasked++;
      } else {
        out[outOff + i] = this.line[i];
      }
      replacing = r;
      if (replaced) replaced[outOff + i] = r ? 1 : 0;
    }
    this.emitted = e;
    this.level = level;
    this.replacing = replacing;
    this.shift(n);
  }

  /** Drop the n emitted samples from the front of the line */
  private shift(n: number): void {
    this.line.copyWithin(0, n, this.fill);
    this.fill -= n;
  }
}
