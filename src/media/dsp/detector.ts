/**
 * DTMF detection for the caller→agent path: decides, block by block, (a) whether a tone is
 * present that the masker must remove (the wide "masking net") and (b) which key, if any, the
 * caller pressed by the strict ITU-T Q.24 rules (the "reporting detector").
 *
 * Why hand-written: no npm library offers a streaming DTMF detector that can drive a
 * look-ahead masker and report by Q.24. The known detectors (spandsp, Asterisk's dsp.c and
 * their ports) decide on 102-sample blocks and mute only after detection, so the first 14-36 ms
 * of every tone leak to the far end, and a strict receiver lets whole off-nominal tones through.
 * Here the net is deliberately wider than the reporter (DESIGN.md "Media and DSP"), the masker
 * holds a look-ahead so a tone found late is still removed from its first sample, and
 * everything is synchronous, allocation-free per frame, and free of clocks and I/O.
 *
 * Two stages: screen.ts (15 Goertzel bins on every 2.5 ms sub-block, cheap) gates
 * analyzer.ts (frequency estimate + least-squares fit of the tone pair, exact), which runs
 * only when the screen sees something tone-like.
 */
import { MAX_WINDOW_SAMPLES, ToneAnalyzer, type ToneFit } from './analyzer';
import { dbm0ToPeak, SAMPLE_RATE_HZ } from './levels';
import { MULAW_DECODE_F32 } from './mulaw';
import { HIGH_BINS_HZ, LOW_BINS_HZ, SCREEN_BLOCK_SAMPLES, SUB_BLOCK_SAMPLES, ToneScreen } from './screen';

export const ROW_HZ = [697, 770, 852, 941] as const;
export const COL_HZ = [1209, 1336, 1477, 1633] as const;
/** Keypad order: key index = row·4 + column */
export const KEYS = '123A456B789C*0#D';
export const NO_KEY = -1;

export function keyIndex(digit: string): number {
  return KEYS.indexOf(digit.toUpperCase());
}

// ---- the masking net (DESIGN.md B1-B6: ±5%, ±12 dB twist, -50 dBm0, S/N 6 dB, 10 ms) ----
/**
 * 697 Hz - 5% = 662, 941 + 5% = 988; 1209 Hz - 5% = 1149, 1633 + 5% = 1715. The margins
 * cover the estimate's error on 10 ms windows when the pair is only 161 Hz apart (988/1149).
 */
const NET_LOW_MIN_HZ = 630;
const NET_LOW_MAX_HZ = 1030;
const NET_HIGH_MIN_HZ = 1100;
const NET_HIGH_MAX_HZ = 1780;
/** -50 dBm0 per tone, minus 3 dB for a fragment that fills 3/4 of the block */
const NET_MIN_DBM0 = -53;
/** ±12 dB twist plus margin for the estimate on a 10 ms window */
const NET_MAX_TWIST_DB = 15;
/**
 * Unexplained share of the 10 ms window. A clean tone leaves ~0; a 10 ms fragment, which fills
 * ≥ 7/8 of one of the windows at 2.5 ms hops, ≤ 0.13: one window this clean is enough
 * (STRONG). S/N 6 dB leaves 0.2-0.3, as does a tone straight after speech; so does some
 * speech (espeak-ng corpus: minimum 0.21, a few hundred windows per two minutes below 0.4).
 * A WEAK window therefore needs a second one at the next hop with the same frequencies
 * (speech harmonics move by 10-40 Hz per 2.5 ms, a tone's estimate by a few Hz) and a 20 ms
 * window that is also mostly the tone pair.
 */
const NET_STRONG_RESIDUAL = 0.085;
const NET_STRONG_PAIR_RESIDUAL = 0.3;
/** a fragment covering (80 - r) and (60 + r) samples of two windows leaves ≈ r/80 + (20 - r)/80 */
const NET_STRONG_PAIR_SUM = 0.5;
const NET_WEAK_RESIDUAL = 0.42;
const NET_WEAK_MAX_DRIFT_HZ = 15;
const NET_WEAK_RUN = 2;
const NET_WEAK_LONG_RESIDUAL = 0.3;
/** Another peak this close to the weaker tone (-6 dB) makes a WEAK run a voice, not a tone in noise */
const NET_OTHER_PEAK_SHARE = 0.125;
/** Energy at a neighbouring harmonic this close to the weaker tone (-12 dB) makes it a voice */
const NET_HARMONIC_SHARE = 0.063;
const MAX_HARMONIC = 8;
const HARMONIC_RATIO_TOLERANCE = 0.012;
const VOICE_F0_MIN_HZ = 70;
const VOICE_F0_MAX_HZ = 450;
const PROBE_FIRST_HZ = 250;
const PROBE_LAST_HZ = 3350;
const PROBE_STEP_HZ = 100;
/** with a dial tone present, probes below this would only find the dial tone */
const DIAL_PROBE_MIN_HZ = 560;
/** Frequency grid of the net's search (±60 Hz): hints are screen bins ≤ 47 Hz from any tone in band */
const NET_STEP_HZ = 15;

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
const REPORT_STEP_HZ = 10;

// ---- where a masked stretch starts and ends ----
/**
 * How far before a 10 ms block that holds a tone the mask starts when the onset cannot be
 * seen: the block hop (2.5 ms) covers a clean onset; the rest covers blocks that a weak or
 * noisy tone straight after speech may fail (B3, B4, B6), plus a 2 ms guard.
 */
export const MASK_BACK_SAMPLES = SCREEN_BLOCK_SAMPLES + 16;
/** How far past the end of the last block that holds a tone the mask runs when the end cannot be seen */
export const MASK_FORWARD_SAMPLES = SCREEN_BLOCK_SAMPLES / 2 + 16;
/** "Quiet": |x| ≤ 24 on the 16-bit scale (-65 dBm0 peak) for 1 ms; digital silence is 0 */
const QUIET_AMPLITUDE = 24;
const QUIET_RUN_SAMPLES = 8;
/** Guard around a tone whose onset or end is seen: 2 ms */
const EDGE_GUARD_SAMPLES = 16;

/** Size of the analysis history (power of two) */
const RING_SAMPLES = 1024;
const RING_MASK = RING_SAMPLES - 1;

/** One detector for one stream: feed it μ-law, read what it found after each call. */
export class DtmfDetector {
  readonly ring = new Float32Array(RING_SAMPLES);
  private readonly sub = new Float32Array(SUB_BLOCK_SAMPLES);
  private subFill = 0;
  private readonly screen = new ToneScreen();
  private readonly analyzer = new ToneAnalyzer();
  private readonly longAnalyzer = new ToneAnalyzer();
  /** the net's last frequency estimates: hints for the reporter */
  private netLowHz: number = ROW_HZ[0];
  private netHighHz: number = COL_HZ[0];
  /** run of consecutive WEAK windows with consistent frequencies */
  private weakRun = 0;
  private weakStart = 0;
  private weakConfirmed = false;
  /** the previous window was a STRONG candidate (for the two-window rule) */
  private pairCandidate = false;
  private pairResidual = 0;
  /** tail watch: after a hit, look for the quiet run that ends the tone */
  private tailOpen = false;
  private tailScan = 0;
  private tailQuiet = 0;
  /** end of the last tone whose end was seen (first quiet sample), -Infinity if none */
  private toneEnd = -Infinity;
  /** the last screen pass saw a dial tone: the exact stage fits it too */
  private dial = false;
  private readonly netMinAmp = dbm0ToPeak(NET_MIN_DBM0);
  private readonly reportMinAmp = dbm0ToPeak(REPORT_MIN_DBM0);
  /** samples consumed */
  position = 0;
  /** end (absolute sample index) of the last net block that held a tone; -Infinity if none */
  lastNetEnd = -Infinity;

  /**
   * Net hits found by the last feed(): [start, end) of audio to replace. In silence the start
   * is the tone's first sample (minus a guard) and the end is trimmed to its last one (see
   * trims), so the masked stretch depends on the timing alone, never on the key (C3).
   */
  readonly netStarts = new Float64Array(64);
  readonly netEnds = new Float64Array(64);
  netCount = 0;
  /** Tone ends seen in the last feed(): cut the current masked stretch back to these */
  readonly trims = new Float64Array(64);
  trimCount = 0;
  /** Reporter decisions made during the last feed(): key index or NO_KEY, and the window end */
  readonly decisions = new Int8Array(64);
  readonly decisionEnds = new Float64Array(64);
  decisionCount = 0;

  /** Counters for the bench: how often each stage ran */
  screenPasses = 0;
  analyses = 0;

  reset(): void {
    this.ring.fill(0);
    this.subFill = 0;
    this.screen.reset();
    this.position = 0;
    this.lastNetEnd = -Infinity;
    this.netCount = 0;
    this.decisionCount = 0;
    this.weakRun = 0;
    this.weakConfirmed = false;
    this.pairCandidate = false;
    this.tailOpen = false;
    this.toneEnd = -Infinity;
    this.trimCount = 0;
    this.dial = false;
    this.screenPasses = 0;
    this.analyses = 0;
  }

  /** Decode and analyse input[off, off+n). n ≤ 160·8 keeps the result queues from overflowing. */
  feed(input: Uint8Array, off: number, n: number): void {
    this.netCount = 0;
    this.trimCount = 0;
    this.decisionCount = 0;
    const ring = this.ring;
    const sub = this.sub;
    let pos = this.position;
    let fill = this.subFill;
    for (let i = off; i < off + n; i++) {
      const v = MULAW_DECODE_F32[input[i]];
      ring[pos & RING_MASK] = v;
      sub[fill++] = v;
      pos++;
      if (fill === SUB_BLOCK_SAMPLES) {
        fill = 0;
        this.position = pos;
        this.subBlock();
      }
    }
    this.position = pos;
    this.subFill = fill;
  }

  private subBlock(): void {
    const end = this.position;
    const s = this.screen.push(this.sub, 0);
    if (s.pass) {
      this.screenPasses++;
      this.analyses++;
      const fit = this.analyzer.analyze(
        this.ring,
        RING_MASK,
        end - SCREEN_BLOCK_SAMPLES,
        SCREEN_BLOCK_SAMPLES,
        LOW_BINS_HZ[s.lowBin],
        HIGH_BINS_HZ[s.highBin],
        NET_STEP_HZ,
        s.dial,
      );
      this.dial = s.dial;
      this.net(fit, end);
    } else {
      this.weakRun = 0;
      this.pairCandidate = false;
    }
    if (this.tailOpen) this.watchTail(end);
    if (end % REPORT_HOP_SAMPLES === 0 && end >= REPORT_WINDOW_SAMPLES) {
      const key = end - this.lastNetEnd <= REPORT_WINDOW_SAMPLES - SCREEN_BLOCK_SAMPLES / 2 ? this.report(end) : NO_KEY;
      if (this.decisionCount < this.decisions.length) {
        this.decisions[this.decisionCount] = key;
        this.decisionEnds[this.decisionCount++] = end;
      }
    }
  }

  /** The masking net's verdict on the 10 ms block ending at `end` */
  private net(f: ToneFit, end: number): void {
    const start = end - SCREEN_BLOCK_SAMPLES;
    if (!this.netShape(f)) {
      this.weakRun = 0;
      this.pairCandidate = false;
      return;
    }
    const consistent =
      Math.abs(f.lowHz - this.netLowHz) <= NET_WEAK_MAX_DRIFT_HZ &&
      Math.abs(f.highHz - this.netHighHz) <= NET_WEAK_MAX_DRIFT_HZ;
    // STRONG: one window nearly all tone pair, or two consecutive ones mostly (a 10 ms fragment
    // that straddles two windows)
    if (f.residualRatio <= NET_STRONG_PAIR_RESIDUAL && !this.otherPeak(this.analyzer, SCREEN_BLOCK_SAMPLES)) {
      const single = f.residualRatio <= NET_STRONG_RESIDUAL;
      const pair = this.pairCandidate && consistent && this.pairResidual + f.residualRatio <= NET_STRONG_PAIR_SUM;
      this.pairCandidate = true;
      this.pairResidual = f.residualRatio;
      if (single || pair) {
        this.weakRun = 0;
        this.hit(pair ? start - SUB_BLOCK_SAMPLES : start, end, f);
        return;
      }
    } else {
      this.pairCandidate = false;
    }
    if (this.weakRun > 0 && consistent) {
      this.weakRun++;
    } else {
      this.weakRun = 1;
      this.weakStart = start;
      this.weakConfirmed = false;
    }
    this.netLowHz = f.lowHz;
    this.netHighHz = f.highHz;
    if (this.weakRun < NET_WEAK_RUN) return;
    if (!this.weakConfirmed) {
      // a full 20 ms window: long enough to resolve a voice's neighbouring harmonics
      const n = REPORT_WINDOW_SAMPLES;
      if (end - n < 0) return;
      this.analyses++;
      const g = this.longAnalyzer.analyze(this.ring, RING_MASK, end - n, n, f.lowHz, f.highHz, REPORT_STEP_HZ, this.dial);
      if (g.residualRatio > NET_WEAK_LONG_RESIDUAL) return;
      if (this.otherPeak(this.longAnalyzer, n) || this.harmonicVoice(this.longAnalyzer, n)) return;
      this.weakConfirmed = true;
      // the long window is mostly tone: the tone may have begun anywhere in it
      if (end - n < this.weakStart) this.weakStart = end - n;
    }
    this.hit(this.weakStart, end, f);
  }

  /**
   * A voice whose harmonics h·F0 and m·F0 fall in the two bands looks like a tone pair, but
   * has energy at the neighbouring harmonics too. If f2/f1 is close to m/h (small integers,
   * F0 in the voice range), look there; a tone pair in noise has only noise (≈ -20 dB).
   */
  private harmonicVoice(a: ToneAnalyzer, n: number): boolean {
    const f = a.fit;
    const ref = Math.min(a.lowPeakPower, a.highPeakPower) * NET_HARMONIC_SHARE;
    const ratio = f.highHz / f.lowHz;
    for (let h = 1; h <= MAX_HARMONIC; h++) {
      const m = Math.round(ratio * h);
      if (m <= h || Math.abs(ratio - m / h) > HARMONIC_RATIO_TOLERANCE * ratio) continue;
      const f0 = f.lowHz / h;
      if (f0 < VOICE_F0_MIN_HZ) break;
      if (f0 > VOICE_F0_MAX_HZ) continue;
      for (const k of [h - 1, h + 1, m - 1, m + 1]) {
        const p = k * f0;
        if (k < 1 || k === h || k === m || p < PROBE_FIRST_HZ || p > PROBE_LAST_HZ) continue;
        if (this.dial && p < DIAL_PROBE_MIN_HZ) continue;
        if (a.windowedPower(p, n) > ref) return true;
      }
      return false;
    }
    return false;
  }

  /**
   * Is there another spectral peak in the last analysis by `a`, outside the pair's main lobes,
   * within NET_OTHER_PEAK_DB of the weaker tone? A tone pair in white noise at S/N 6 dB has
   * only noise there (≈ -18 dB at n = 100, the largest of ~25 probes ≈ -13 dB); a voice that
   * happens to have two strong harmonics in the DTMF bands has more harmonics and formants.
   */
  private otherPeak(a: ToneAnalyzer, n: number): boolean {
    const ref = Math.min(a.lowPeakPower, a.highPeakPower) * NET_OTHER_PEAK_SHARE;
    const lobe = (2 * SAMPLE_RATE_HZ) / n + 10;
    const floor = this.dial ? DIAL_PROBE_MIN_HZ : 0;
    return a.anyPeakAbove(n, PROBE_FIRST_HZ, PROBE_LAST_HZ, PROBE_STEP_HZ, lobe, floor, ref);
  }


  private hit(start: number, end: number, f: ToneFit): void {
    this.lastNetEnd = end;
    this.netLowHz = f.lowHz;
    this.netHighHz = f.highHz;
    let markStart = start - MASK_BACK_SAMPLES;
    let markEnd = end + MASK_FORWARD_SAMPLES;
    const onset = this.quietBefore(end, markStart - QUIET_RUN_SAMPLES);
    if (onset >= 0) markStart = Math.max(markStart, onset - EDGE_GUARD_SAMPLES);
    if (start < this.toneEnd) {
      // a late window of a tone whose end has been seen
      markEnd = this.toneEnd + EDGE_GUARD_SAMPLES;
    } else if (!this.tailOpen) {
      this.tailOpen = true;
      this.tailScan = end - SCREEN_BLOCK_SAMPLES / 2;
      this.tailQuiet = 0;
    }
    if (this.netCount < this.netStarts.length) {
      this.netStarts[this.netCount] = markStart;
      this.netEnds[this.netCount++] = markEnd;
    }
  }

  /**
   * The first sample after the latest run of QUIET_RUN_SAMPLES quiet samples in [from, end),
   * or -1. A tone pair never stays that quiet for 1 ms, so in silence this is the onset.
   */
  private quietBefore(end: number, from: number): number {
    const ring = this.ring;
    const lo = Math.max(from, this.position - RING_SAMPLES + 1, 0);
    let run = 0;
    let tone = false; // quiet samples after the tone (a fragment ending inside the block) do not count
    for (let i = end - 1; i >= lo; i--) {
      const v = ring[i & RING_MASK];
      if (v <= QUIET_AMPLITUDE && v >= -QUIET_AMPLITUDE) {
        if (tone && ++run === QUIET_RUN_SAMPLES) return i + QUIET_RUN_SAMPLES;
      } else {
        tone = true;
        run = 0;
      }
    }
    return -1;
  }

  /** After a hit: the first quiet run after the tone is its end; the mask is cut back to it */
  private watchTail(end: number): void {
    const ring = this.ring;
    let run = this.tailQuiet;
    for (let i = this.tailScan; i < end; i++) {
      const v = ring[i & RING_MASK];
      if (v <= QUIET_AMPLITUDE && v >= -QUIET_AMPLITUDE) {
        if (++run === QUIET_RUN_SAMPLES) {
          this.toneEnd = i + 1 - QUIET_RUN_SAMPLES;
          this.tailOpen = false;
          if (this.trimCount < this.trims.length) this.trims[this.trimCount++] = this.toneEnd + EDGE_GUARD_SAMPLES;
          return;
        }
      } else {
        run = 0;
      }
    }
    this.tailScan = end;
    this.tailQuiet = run;
    // past the conservative end: nothing left to trim
    if (end > this.lastNetEnd + MASK_FORWARD_SAMPLES) this.tailOpen = false;
  }

  private netShape(f: ToneFit): boolean {
    if (f.lowHz < NET_LOW_MIN_HZ || f.lowHz > NET_LOW_MAX_HZ) return false;
    if (f.highHz < NET_HIGH_MIN_HZ || f.highHz > NET_HIGH_MAX_HZ) return false;
    if (f.lowAmp < this.netMinAmp || f.highAmp < this.netMinAmp) return false;
    if (Math.abs(20 * Math.log10(f.lowAmp / f.highAmp)) > NET_MAX_TWIST_DB) return false;
    return f.residualRatio <= NET_WEAK_RESIDUAL;
  }

  /** The strict decision on the window ending at `end` */
  private report(end: number): number {
    // hints: the nominal row/column nearest to what the net last saw
    const row = nearest(ROW_HZ, this.netLowHz);
    const col = nearest(COL_HZ, this.netHighHz);
    this.analyses++;
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
