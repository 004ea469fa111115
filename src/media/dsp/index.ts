/**
 * The caller→agent DSP path used by the media bridge: DTMF detection, key tracking, and
 * look-ahead masking with a flat tone. One CallerPath per caller stream; pure and synchronous,
 * no allocation per frame.
 */
import { DtmfDetector, keyIndex } from './detector';
import { Masker, MAX_CHUNK_SAMPLES, MAX_LOOKAHEAD_SAMPLES } from './masker';
import { SAMPLE_RATE_HZ } from './levels';
import { NET_HOLD, NET_TRIM } from './net';
import { KeyTracker, type KeyPress } from './tracker';

export { FLAT_TONE_DBM0, FLAT_TONE_HZ } from './flat-tone';
export type { KeyPress, KeySource } from './tracker';
export { encodeMulaw, MULAW_DECODE, MULAW_SILENCE } from './mulaw';

export interface CallerPathOptions {
  /** 0 < lookaheadMs ≤ 200, a multiple of 5 ms (MASK_LOOKAHEAD_MS) */
  lookaheadMs: number;
}

/** An event without an in-band tone: a 100 ms flat-tone burst (CONTRACT §4) */
export const EVENT_BURST_SAMPLES = 800;

export interface CallerPathStats {
  tonesMasked: number;
  /** stretches the masking net marked (Masker.stretchesMarked): a tone's, or an event's burst, as soon as it is found, under a blanket too */
  tonesMarked: number;
  samplesReplaced: number;
  samplesProcessed: number;
  keysReported: number;
}

export class CallerPath {
  private readonly detector = new DtmfDetector();
  private readonly tracker = new KeyTracker();
  private readonly masker: Masker;
  /** the look-ahead (= added delay) in samples */
  readonly lookaheadSamples: number;
  private processed = 0;

  constructor(opts: CallerPathOptions) {
    const ms = opts.lookaheadMs;
    if (!(Number.isFinite(ms) && ms > 0 && ms <= 200 && ms % 5 === 0)) {
      throw new RangeError('lookaheadMs must be a multiple of 5 in (0, 200]');
    }
    this.lookaheadSamples = (ms * SAMPLE_RATE_HZ) / 1000;
    if (this.lookaheadSamples > MAX_LOOKAHEAD_SAMPLES) throw new RangeError('lookaheadMs too large');
    this.masker = new Masker(this.lookaheadSamples);
  }

  /**
   * One frame of caller audio: input.length μ-law bytes in (160 = 20 ms from Twilio; any n > 0
   * works), the same number of bytes written to `out`: the audio for the agent, delayed by the
   * look-ahead, with tones replaced. `replaced` (optional, for tests and diagnostics) receives
   * 1 for each output byte the flat tone replaced. Returns the number of key presses waiting.
   */
  process(input: Uint8Array, out: Uint8Array, replaced?: Uint8Array): number {
    const n = input.length;
    if (out.length < n) throw new RangeError('out is shorter than input');
    for (let off = 0; off < n; off += MAX_CHUNK_SAMPLES) {
      const c = Math.min(MAX_CHUNK_SAMPLES, n - off);
      this.chunk(input, off, c, out, replaced);
    }
    this.updateStats();
    return this.tracker.pending;
  }

  private chunk(input: Uint8Array, off: number, n: number, out: Uint8Array, replaced?: Uint8Array): void {
    const det = this.detector;
    const masker = this.masker;
    masker.write(input, off, n);
    det.feed(input, off, n);
    // in the order the net found them: a tone's end may be seen just before the next tone's mark
    for (let i = 0; i < det.netCount; i++) {
      if (det.netKinds[i] === NET_TRIM) masker.trimEnd(det.netEnds[i]);
      else masker.mark(det.netStarts[i], det.netEnds[i], det.netKinds[i] !== NET_HOLD);
    }
    for (let i = 0; i < det.decisionCount; i++) this.tracker.decide(det.decisions[i], det.decisionEnds[i]);
    masker.emit(out, off, n, replaced);
    this.processed += n;
  }

  /** A Twilio `dtmf` event (out-of-band), positioned at the current input position */
  dtmfEvent(digit: string): void {
    const key = keyIndex(digit);
    if (key < 0 || digit.length !== 1) return;
    const pos = this.masker.position;
    if (this.tracker.event(key, pos) && !this.tracker.isSounding(key)) {
      this.masker.mark(pos, pos + EVENT_BURST_SAMPLES, false);
    }
    this.updateStats();
  }

  /** Key presses confirmed since the last call (array and objects reused by the next call) */
  takeKeys(): readonly KeyPress[] {
    return this.tracker.take();
  }

  /** Blanket masking: the flat tone replaces all audio while on */
  setBlanket(on: boolean): void {
    this.masker.setBlanket(on);
  }

  /** Counters for metrics (one object, updated in place by every call) */
  readonly stats: CallerPathStats = { tonesMasked: 0, tonesMarked: 0, samplesReplaced: 0, samplesProcessed: 0, keysReported: 0 };

  private updateStats(): void {
    const s = this.stats;
    s.tonesMasked = this.masker.tonesMasked;
    s.tonesMarked = this.masker.stretchesMarked;
    s.samplesReplaced = this.masker.samplesReplaced;
    s.samplesProcessed = this.processed;
    s.keysReported = this.tracker.reported;
  }

  /** Diagnostics: how often the exact analysis ran, and marks that came too late to mask a start */
  get diagnostics(): { screenPasses: number; analyses: number; lateMarks: number } {
    return { screenPasses: this.detector.screenPasses, analyses: this.detector.analyses, lateMarks: this.masker.lateMarks };
  }

  reset(): void {
    this.detector.reset();
    this.tracker.reset();
    this.masker.reset();
    this.processed = 0;
    this.updateStats();
  }
}
