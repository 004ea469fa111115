/**
 * DTMF detection for the caller→agent path: decides, block by block, (a) whether a tone is
 * present that the masker must remove (the wide "masking net", net.ts) and (b) which key, if
 * any, the caller pressed by the strict ITU-T Q.24 rules (the reporting detector, here).
 *
 * Why hand-written: no npm library offers a streaming DTMF detector that can drive a
 * look-ahead masker and report by Q.24. The known detectors (spandsp, Asterisk's dsp.c and
 * their ports) decide on 102-sample blocks and mute only after detection, so the first 14-36 ms
 * of every tone leak to the far end, and a strict receiver lets whole off-nominal tones through.
 * Here the net is deliberately wider than the reporter (DESIGN.md "Media and DSP"), the masker
 * holds a look-ahead so a tone found late is still removed from its first sample, and
 * everything is synchronous, allocation-free per frame, and free of clocks and I/O.
 *
 * Two stages: screen.ts (15 Goertzel bins per 2.5 ms sub-block, cheap) gates analyzer.ts
 * (frequency estimate + least-squares fit of the tone pair, exact), which runs only when the
 * screen sees something tone-like (about 5 times per second of speech).
 */
import { MAX_WINDOW_SAMPLES, ToneAnalyzer, type ToneFit } from './analyzer';
import { dbm0ToPeak } from './levels';
import { MaskingNet, NET_RECORDS_PER_SUB_BLOCK, type NetOutput } from './net';
import { FRAME_SUBS, HIGH_BINS_HZ, LOW_BINS_HZ, SCREEN_BLOCK_SAMPLES, SUB_BLOCK_SAMPLES, ToneScreen } from './screen';

/** Frequency grid of the net's first look (±75 Hz): screen bins are ≤ 47 Hz from any tone in band */
const NET_STEP_HZ = 30;

export const ROW_HZ = [697, 770, 852, 941] as const;
export const COL_HZ = [1209, 1336, 1477, 1633] as const;
/** Keypad order: key index = row·4 + column */
export const KEYS = '123A456B789C*0#D';
export const NO_KEY = -1;

export function keyIndex(digit: string): number {
  return KEYS.indexOf(digit.toUpperCase());
}

// ---- the reporting detector (Q.24 / AT&T) ----
/** Analysis window of the reporter: 20 ms, evaluated every REPORT_HOP_SAMPLES */
export const REPORT_WINDOW_SAMPLES = 160;
export const REPORT_HOP_SAMPLES = 40;
/**
 * Accept ±1.5% (+2 Hz) and reject ±3.5%: the boundary is put half-way, at 2.5% + 1 Hz
 * (697 Hz: 18.4 Hz, where must-accept is 12.5 Hz and must-reject 24.4 Hz).
 */
const REPORT_FREQ_TOLERANCE = 0.025;
const REPORT_FREQ_TOLERANCE_HZ = 1;
/** Q.24 operate level -36 dBm0 per tone, with 2 dB for μ-law and estimate error */
const REPORT_MIN_DBM0 = -38;
/** Twist (low group minus high group): normal ≤ 8 dB and reverse ≤ 4 dB must operate; +1 dB margin */
const REPORT_MAX_NORMAL_TWIST_DB = 9;
const REPORT_MAX_REVERSE_TWIST_DB = 5;
/**
 * Unexplained share of the 20 ms window. S/N 15 dB leaves ~0.03; a tone must fill ≥ 90% of the
 * window, so a 20 ms tone passes at most once and a 23 ms tone at most twice (tracker.ts
 * confirms on the third pass).
 */
const REPORT_MAX_RESIDUAL = 0.1;
/** ±45 Hz around the nominal frequency: covers the 2.5% + 1 Hz acceptance (1633 Hz: 42 Hz) */
const REPORT_STEP_HZ = 18;

// Local copies of imported constants and tables used per sample or per sub-block: a bundler's
// CommonJS interop (tsx, esbuild) turns imported bindings into getter calls.
const SUB = SUB_BLOCK_SAMPLES;
const BLOCK = SCREEN_BLOCK_SAMPLES;
const SUBS_PER_REPORT_HOP = REPORT_HOP_SAMPLES / SUB_BLOCK_SAMPLES;
const REPORT_GATE_SAMPLES = REPORT_WINDOW_SAMPLES - SCREEN_BLOCK_SAMPLES / 2;

/**
 * Size of the analysis history (power of two), read as ring[i & RING_MASK]. A decoded frame is
 * copied in whole at its position and may run past the end into RING_OVERHANG, which is then
 * copied to the start (two native copies instead of a loop).
 */
const RING_SAMPLES = 2048;
const RING_MASK = RING_SAMPLES - 1;
const RING_OVERHANG = FRAME_SUBS * SUB_BLOCK_SAMPLES;

/**
 * The longest input one feed() takes: 8 frames of 20 ms (CallerPath feeds at most one, 160
 * samples). It bounds what one feed() can find, so the result queues are sized to hold it all.
 */
export const MAX_FEED_SAMPLES = 160 * 8;
/**
 * Whole sub-blocks one feed() can complete: the ≤ SUB - 1 bytes waiting in `pending` plus the n
 * new ones, floor((n + SUB - 1) / SUB) = 64 for n = MAX_FEED_SAMPLES.
 */
const MAX_FEED_SUBS = Math.floor((MAX_FEED_SAMPLES + SUB_BLOCK_SAMPLES - 1) / SUB_BLOCK_SAMPLES);
/**
 * Marks and trims of one feed(): NET_RECORDS_PER_SUB_BLOCK (2, net.ts) per sub-block, 128. An
 * overflow would drop a mark and let tone audio through unmasked, so record() throws instead
 * (unreachable while this holds); masking-net.test.ts drives the bound.
 */
export const NET_QUEUE = NET_RECORDS_PER_SUB_BLOCK * MAX_FEED_SUBS;
/** Reporter decisions of one feed(): one every REPORT_HOP_SAMPLES, ceil(64 / 2) = 32 */
const DECISION_QUEUE = Math.ceil(MAX_FEED_SUBS / (REPORT_HOP_SAMPLES / SUB_BLOCK_SAMPLES));

/** One detector for one stream: feed it μ-law, read what it found after each call. */
export class DtmfDetector implements NetOutput {
  readonly ring = new Float32Array(RING_SAMPLES + RING_OVERHANG);
  /** sub-blocks since the last reporter decision */
  private hopPhase = 0;
  /** the μ-law bytes of a sub-block that a feed() left unfinished */
  private readonly pending = new Uint8Array(SUB_BLOCK_SAMPLES);
  private pendingCount = 0;
  private readonly screen = new ToneScreen();
  private readonly analyzer = new ToneAnalyzer();
  private readonly longAnalyzer = new ToneAnalyzer();
  /** the last screen pass saw a dial tone: the exact stage fits it too */
  private dial = false;
  private readonly reportMinAmp = dbm0ToPeak(REPORT_MIN_DBM0);
  /** samples analysed (those of whole sub-blocks; the rest of a feed() waits in pending) */
  position = 0;

  /**
   * What the net found in the last feed(), in the order found (net.ts NetOutput): marks,
   * [start, end) of audio to replace, and trims, a tone's end seen, cutting the stretch marked
   * before it back to `end`. In silence a mark starts at the tone's first sample (minus a
   * guard) and is trimmed to its last one, so the masked stretch depends on the timing alone,
   * never on the key (C3). Applied in this order: a trim must never cut a later mark.
   */
  readonly netKinds = new Uint8Array(NET_QUEUE);
  readonly netStarts = new Float64Array(NET_QUEUE);
  readonly netEnds = new Float64Array(NET_QUEUE);
  netCount = 0;
  /** Reporter decisions made during the last feed(): key index or NO_KEY, and the window end */
  readonly decisions = new Int8Array(DECISION_QUEUE);
  readonly decisionEnds = new Float64Array(DECISION_QUEUE);
  decisionCount = 0;

  /** Counters for the bench: how often each stage ran */
  screenPasses = 0;
  private reports = 0;
  private readonly net = new MaskingNet(this.ring, RING_MASK, this.analyzer, this.longAnalyzer, this);

  get analyses(): number {
    return this.screenPasses + this.net.analyses + this.reports;
  }

  reset(): void {
    this.ring.fill(0);
    this.pendingCount = 0;
    this.screen.reset();
    this.net.reset();
    this.position = 0;
    this.netCount = 0;
    this.decisionCount = 0;
    this.dial = false;
    this.hopPhase = 0;
    this.screenPasses = 0;
    this.reports = 0;
  }

  /**
   * Analyse input[off, off+n), n ≤ MAX_FEED_SAMPLES (so the result queues hold all it finds).
   * Whole sub-blocks go to the bank a frame at a time; the bytes of a sub-block that the input
   * leaves unfinished wait here until the next feed() completes it, so the result does not
   * depend on how the stream is cut into frames.
   */
  feed(input: Uint8Array, off: number, n: number): void {
    if (n > MAX_FEED_SAMPLES) throw new RangeError('DtmfDetector.feed: more than MAX_FEED_SAMPLES');
    this.netCount = 0;
    this.decisionCount = 0;
    const end = off + n;
    let i = off;
    if (this.pendingCount > 0) {
      const take = Math.min(SUB - this.pendingCount, n);
      for (let k = 0; k < take; k++) this.pending[this.pendingCount++] = input[i++];
      if (this.pendingCount < SUB) return;
      this.pendingCount = 0;
      this.feedFrame(this.pending, 0, SUB);
    }
    while (end - i >= SUB) {
      const m = Math.min(FRAME_SUBS * SUB, end - i - ((end - i) % SUB));
      this.feedFrame(input, i, m);
      i += m;
    }
    while (i < end) this.pending[this.pendingCount++] = input[i++];
  }

  /** Whole sub-blocks input[off, off+n): decoded in one call, copied into the ring natively */
  private feedFrame(input: Uint8Array, off: number, n: number): void {
    const screen = this.screen;
    const ring = this.ring;
    screen.decodeFrame(input, off, n);
    const pos = this.position;
    const p = pos & RING_MASK;
    ring.set(screen.decodedFrame(n), p);
    if (p + n > RING_SAMPLES) ring.copyWithin(0, RING_SAMPLES, p + n);
    const subs = n / SUB;
    for (let k = 0; k < subs; k++) {
      this.position = pos + (k + 1) * SUB;
      this.subBlock(screen.frameEnergy(k), k * SUB);
    }
  }

  private subBlock(energy: number, at: number): void {
    const end = this.position;
    const s = this.screen.commit(energy, at);
    if (s.pass) {
      this.screenPasses++;
      const fit = this.analyzer.analyze(this.ring, RING_MASK, end - BLOCK, BLOCK, LOW_BINS_HZ[s.lowBin], HIGH_BINS_HZ[s.highBin], NET_STEP_HZ, s.dial);
      this.dial = s.dial;
      this.net.verdict(fit, end, s.dial);
    } else {
      this.net.miss();
    }
    if (this.net.tailOpen) this.net.watch(end, end);
    else if (this.net.holdOpen) this.net.hold(end);
    if (++this.hopPhase === SUBS_PER_REPORT_HOP) this.hopPhase = 0;
    if (this.hopPhase === 0 && end >= REPORT_WINDOW_SAMPLES) {
      // the strict detector looks only where the net has just seen a tone
      const key = end - this.net.lastEnd <= REPORT_GATE_SAMPLES ? this.report(end) : NO_KEY;
      if (key !== NO_KEY) this.net.keyWindow();
      // DECISION_QUEUE holds every decision of the longest feed()
      if (this.decisionCount >= this.decisions.length) throw new Error('DtmfDetector: more decisions in one feed() than the queue holds');
      this.decisions[this.decisionCount] = key;
      this.decisionEnds[this.decisionCount++] = end;
    }
  }

  /** The strict decision on the window ending at `end` */
  private report(end: number): number {
    // hints: the nominal row/column nearest to what the net last saw
    const row = nearest(ROW_HZ, this.net.lowHz);
    const col = nearest(COL_HZ, this.net.highHz);
    this.reports++;
    const f = this.longAnalyzer.analyze(
      this.ring,
      RING_MASK,
      end - REPORT_WINDOW_SAMPLES,
      REPORT_WINDOW_SAMPLES,
      ROW_HZ[row],
      COL_HZ[col],
      REPORT_STEP_HZ,
      this.dial,
    );
    return this.strictKey(f);
  }

  /** Q.24 acceptance of a fitted window: key index or NO_KEY */
  strictKey(f: ToneFit): number {
    const row = nearest(ROW_HZ, f.lowHz);
    const col = nearest(COL_HZ, f.highHz);
    const rowHz = ROW_HZ[row];
    const colHz = COL_HZ[col];
    if (Math.abs(f.lowHz - rowHz) > rowHz * REPORT_FREQ_TOLERANCE + REPORT_FREQ_TOLERANCE_HZ) return NO_KEY;
    if (Math.abs(f.highHz - colHz) > colHz * REPORT_FREQ_TOLERANCE + REPORT_FREQ_TOLERANCE_HZ) return NO_KEY;
    if (f.lowAmp < this.reportMinAmp || f.highAmp < this.reportMinAmp) return NO_KEY;
    const twist = 20 * Math.log10(f.lowAmp / f.highAmp);
    if (twist > REPORT_MAX_NORMAL_TWIST_DB || -twist > REPORT_MAX_REVERSE_TWIST_DB) return NO_KEY;
    if (f.residualRatio > REPORT_MAX_RESIDUAL) return NO_KEY;
    return row * 4 + col;
  }
}

function nearest(list: readonly number[], f: number): number {
  let best = 0;
  for (let i = 1; i < list.length; i++) if (Math.abs(list[i] - f) < Math.abs(list[best] - f)) best = i;
  return best;
}

export { MAX_WINDOW_SAMPLES };
