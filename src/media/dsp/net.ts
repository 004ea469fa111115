/**
 * The masking net: decides, every 2.5 ms, whether the last 10 ms hold a tone the masker must
 * remove, and which stretch of audio to replace. Deliberately much wider than the reporting
 * detector (DESIGN.md B1-B6: ±5% off frequency, ±12 dB twist, -50 dBm0, S/N 6 dB, fragments
 * from 10 ms, tones straight after speech), yet it must leave speech alone (D2 ≤ 0.1%).
 *
 * A 10 ms window that the exact fit (analyzer.ts) explains almost entirely is a hit on its own
 * (STRONG), as are two consecutive mostly-explained ones (a 10 ms fragment straddling two
 * windows). Windows that only half fit (WEAK: noise at S/N 6 dB, or a voice) need the same
 * frequencies at the next hop and a 20 ms window that is mostly the pair with no other
 * spectral peak and no neighbouring harmonics of a voice.
 *
 * Where to mask: in silence, from the tone's first sample and to its last one (found as the
 * quiet runs around it), each plus a 2 ms guard, so the stretch depends on timing alone, not on
 * the key (C3). Otherwise conservatively from MASK_BACK_SAMPLES before the first hit to
 * MASK_FORWARD_SAMPLES after the last. After a key, and before a tone, what the tone leaves
 * around itself (a fragment, a tail) is masked too (HOLD_WINDOW_SAMPLES below).
 */
import type { ToneAnalyzer, ToneFit } from './analyzer';
import { dbm0ToPeak, SAMPLE_RATE_HZ } from './levels';
import { SCREEN_BLOCK_SAMPLES, SUB_BLOCK_SAMPLES } from './screen';

/**
 * 697 Hz - 5% = 662, 941 + 5% = 988; 1209 Hz - 5% = 1149, 1633 + 5% = 1715. The margins
 * cover the estimate's error on 10 ms windows when the pair is only 161 Hz apart (988/1149).
 */
const NET_LOW_MIN_HZ = 630;
const NET_LOW_MAX_HZ = 1030;
const NET_HIGH_MIN_HZ = 1100;
const NET_HIGH_MAX_HZ = 1780;
/**
 * Weaker tone's level floor: B3's -50 dBm0 per tone minus 3 dB for a fragment that fills 3/4 of
 * the block (-53) was too tight for a -50 dBm0 key with 6 dB twist, whose weaker tone (-53) the
 * μ-law round trip and a 10 ms estimate put at -53.6 to -53.7: whole fragments up to 20 ms went
 * through unmasked. 3 dB lower catches it. Measured on the 60-minute bench corpus: -56 leaves
 * speech and music replaced as they were (0.0501%, 0.1208%), -57 and lower start masking
 * quiet speech (0.0513%). A key whose weaker tone is at -56 (stronger -50) is still missed in
 * part: it needs -59, which costs that speech.
 */
const NET_MIN_DBM0 = -56;
/** ±12 dB twist plus margin for the estimate on a 10 ms window */
const NET_MAX_TWIST_DB = 15;
/**
 * Unexplained share of a 10 ms window (analyzer.ts residualRatio). A clean tone leaves ~0.01;
 * a window that a tone fills to a fraction f leaves ≈ 1 - f. Measured on the espeak-ng corpus:
 * single speech windows reach 0.10-0.15, so STRONG alone needs ≤ 0.085 (f ≥ 0.92); a 10 ms
 * fragment straddling two windows leaves ≈ r/80 + (20 - r)/80 plus fit error (≤ 0.47 seen
 * for 988 + 1149 Hz, the closest pair).
 */
const NET_STRONG_RESIDUAL = 0.085;
const NET_STRONG_PAIR_RESIDUAL = 0.3;
const NET_STRONG_PAIR_SUM = 0.5;
/** S/N 6 dB leaves 0.2-0.35 */
const NET_WEAK_RESIDUAL = 0.42;
/** consecutive windows of one tone agree within a few Hz; speech harmonics move 10-40 Hz per 2.5 ms */
const NET_MAX_DRIFT_HZ = 15;
const NET_WEAK_RUN = 2;
/** S/N 6 dB over 20 ms leaves ≤ 0.25 (a 10 ms fragment is never WEAK-only in silence) */
const NET_WEAK_LONG_RESIDUAL = 0.3;
/** Another peak within 9 dB of the weaker tone: a voice, not a tone in noise (noise peaks ≈ -13 dB) */
const NET_OTHER_PEAK_SHARE = 0.125;
const PROBE_FIRST_HZ = 250;
const PROBE_LAST_HZ = 3350;
const PROBE_STEP_HZ = 100;
/** with a dial tone present, probes below this would only find the dial tone */
const DIAL_PROBE_MIN_HZ = 560;
/** Energy at a neighbouring harmonic within 12 dB of the weaker tone: a voice */
const NET_HARMONIC_SHARE = 0.063;
const MAX_HARMONIC = 8;
const HARMONIC_RATIO_TOLERANCE = 0.012;
const VOICE_F0_MIN_HZ = 70;
const VOICE_F0_MAX_HZ = 450;
/** Length of the WEAK confirmation window: 20 ms resolves a voice's neighbouring harmonics */
const LONG_WINDOW_SAMPLES = 160;
/** ±30 Hz around the short window's estimate */
const LONG_STEP_HZ = 12;

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

/**
 * What a tone leaves around itself: a fragment after a lost frame or a break, a codec's or a
 * room's decaying tail, a codec's pre-echo, a bounce. Each is the key's own sound, and whoever
 * fits the eight DTMF frequencies over a few ms of the agent's audio names the key from it
 * (bench/dsp-attack.ts: a 5 ms fragment 20 ms after the tone, 99%; a tail decaying with
 * τ = 10 ms into digital silence, 100%; though every sample of the tone itself was replaced).
 *
 * So after a tone in which the reporting detector found a key (in one window at least), its
 * remains are masked too: every window from the tone's end on whose energy is mostly at the
 * tone's own two frequencies (HOLD_TONAL_SHARE) is replaced, until HOLD_GAP_SAMPLES pass without
 * one (or at most HOLD_MAX_SAMPLES after the end). A tail that μ-law has cut to a few ±1-step
 * codes is still the tone's frequencies, so it is found too. Only after a key: a voice the net
 * took for a tone for 60-80 ms (twice in the 60-minute bench corpus) held its harmonics for
 * 25-30 ms more, and a hold after every tone the net saw replaced 0.09% of that speech instead
 * of 0.049%. Before a tone whose onset is seen in silence, PRE_WINDOW_SAMPLES are looked at the
 * same way and the mask reaches back over them, as far as the look-ahead allows (a mark never
 * starts before the first sample not yet sent).
 *
 * A tone that starts and ends cleanly in silence leaves neither, so its masked stretch is as
 * before and still depends on its timing alone (C3).
 */
const HOLD_WINDOW_SAMPLES = 160;
/** Shortest window looked at: a 2-bin share of white noise is 4/n on average, 5% at 80 samples */
const HOLD_MIN_WINDOW_SAMPLES = 80;
/**
 * Share of the window's energy at the tone's two frequencies (1 = nothing else): a fragment or
 * tail filling a window to a fraction f scores ≈ f; white noise 4/n (0.025 at 160 samples),
 * above 0.2 with probability ~3e-3 at 80 samples and ~2e-6 at 160.
 */
const HOLD_TONAL_SHARE = 0.2;
/** 60 ms: a fragment after two lost frames (40 ms) is still found */
const HOLD_GAP_SAMPLES = 480;
/** 500 ms: a room's tail (RT60 400 ms) fades into silence before it */
const HOLD_MAX_SAMPLES = 4000;
const PRE_WINDOW_SAMPLES = 200;

/** A mark: replace [start, end) */
export const NET_MARK = 0;
/** A trim: the tone behind the latest mark ended; cut its stretch back to `end` (start unused) */
export const NET_TRIM = 1;
/** A tone's remains after its end (a tail, a fragment): replace [start, end), never trimmed */
export const NET_HOLD = 2;
/**
 * The most records (marks, trims, holds) the net makes per sub-block: the detector calls
 * verdict() and then one of watch() or hold() at most once each per sub-block; verdict() records
 * at most one mark (its strong branch returns after hit(), the weak path ends in a single hit()),
 * watch() at most one trim (it returns right after recording it) and hold() at most one hold.
 * Nothing else calls record(). Reached by a tone chopped by 1 ms breaks every ~3 ms
 * (masking-net.test.ts), so the bound is tight.
 */
export const NET_RECORDS_PER_SUB_BLOCK = 2;

/**
 * Where the net found tones: filled by verdict()/watch(), emptied by the detector per feed().
 * Marks and trims share one queue, in the order found: a trim ends the tone marked before it,
 * never a tone marked after it (the next fragment may follow within the same frame).
 */
export interface NetOutput {
  netKinds: Uint8Array;
  netStarts: Float64Array;
  netEnds: Float64Array;
  netCount: number;
}

export class MaskingNet {
  private readonly netMinAmp = dbm0ToPeak(NET_MIN_DBM0);
  /** last frequency estimates (also the reporter's hints) */
  lowHz = 697;
  highHz = 1209;
  /** end of the last 10 ms block that held a tone; -Infinity if none */
  lastEnd = -Infinity;
  /** exact-stage analyses run by the net (for the bench) */
  analyses = 0;
  private weakRun = 0;
  private weakStart = 0;
  private weakConfirmed = false;
  private pairCandidate = false;
  private pairResidual = 0;
  /** watching for the end of a tone (watch() has work to do) */
  tailOpen = false;
  private tailScan = 0;
  private tailQuiet = 0;
  /** end of the last tone whose end was seen (first quiet sample), -Infinity if none */
  private toneEnd = -Infinity;
  /** windows of the tone being watched in which the reporting detector found a key */
  private keyWindows = 0;
  /** looking for the remains of a tone that ended (hold() has work to do) */
  holdOpen = false;
  /** where the tone ended, the end of the last window that held its remains, and its frequencies */
  private holdFrom = 0;
  private holdLast = 0;
  private holdLow = 0;
  private holdHigh = 0;

  constructor(
    private readonly ring: Float32Array,
    private readonly ringMask: number,
    private readonly short: ToneAnalyzer,
    private readonly long: ToneAnalyzer,
    private readonly out: NetOutput,
  ) {}

  reset(): void {
    this.lowHz = 697;
    this.highHz = 1209;
    this.lastEnd = -Infinity;
    this.analyses = 0;
    this.weakRun = 0;
    this.weakConfirmed = false;
    this.pairCandidate = false;
    this.tailOpen = false;
    this.toneEnd = -Infinity;
    this.holdOpen = false;
  }

  /** The screen did not pass the block ending now: no run continues across it */
  miss(): void {
    this.weakRun = 0;
    this.pairCandidate = false;
  }

  /** Verdict on the 10 ms block ending at `end`, fitted by the short analyser into `f` */
  verdict(f: ToneFit, end: number, dial: boolean): void {
    const start = end - SCREEN_BLOCK_SAMPLES;
    if (!this.shape(f)) {
      this.miss();
      return;
    }
    const consistent = Math.abs(f.lowHz - this.lowHz) <= NET_MAX_DRIFT_HZ && Math.abs(f.highHz - this.highHz) <= NET_MAX_DRIFT_HZ;
    if (f.residualRatio <= NET_STRONG_PAIR_RESIDUAL && !this.otherPeak(this.short, SCREEN_BLOCK_SAMPLES, dial)) {
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
    this.lowHz = f.lowHz;
    this.highHz = f.highHz;
    if (this.weakRun < NET_WEAK_RUN) return;
    if (!this.weakConfirmed) {
      const n = LONG_WINDOW_SAMPLES;
      if (end - n < 0) return;
      this.analyses++;
      const g = this.long.analyze(this.ring, this.ringMask, end - n, n, f.lowHz, f.highHz, LONG_STEP_HZ, dial);
      if (g.residualRatio > NET_WEAK_LONG_RESIDUAL) return;
      if (this.otherPeak(this.long, n, dial) || this.harmonicVoice(this.long, n, dial)) return;
      this.weakConfirmed = true;
      // the long window is mostly tone: the tone may have begun anywhere in it
      if (end - n < this.weakStart) this.weakStart = end - n;
    }
    this.hit(this.weakStart, end, f);
  }

  /** After a hit: the first quiet run after the tone is its end; the mask is cut back to it */
  watch(end: number, position: number): void {
    const ring = this.ring;
    const mask = this.ringMask;
    let run = this.tailQuiet;
    for (let i = this.tailScan; i < end; i++) {
      const v = ring[i & mask];
      if (v <= QUIET_AMPLITUDE && v >= -QUIET_AMPLITUDE) {
        if (++run === QUIET_RUN_SAMPLES) {
          this.toneEnd = i + 1 - QUIET_RUN_SAMPLES;
          this.tailOpen = false;
          this.record(NET_TRIM, this.toneEnd, this.toneEnd + EDGE_GUARD_SAMPLES);
          // the guard is masked anyway, and its quiet run may hold the tone's own last samples
          this.openHold(this.toneEnd + EDGE_GUARD_SAMPLES);
          return;
        }
      } else {
        run = 0;
      }
    }
    this.tailScan = end;
    this.tailQuiet = run;
    // past the conservative end: nothing left to trim
    if (position > this.lastEnd + MASK_FORWARD_SAMPLES) {
      this.tailOpen = false;
      this.openHold(this.lastEnd);
    }
  }

  /** The reporting detector found a key in a window of the tone being watched */
  keyWindow(): void {
    this.keyWindows++;
  }

  /** A tone ended at `from`: look for its remains from there on, if it was a key */
  private openHold(from: number): void {
    if (this.keyWindows === 0) return;
    this.holdOpen = true;
    this.holdFrom = from;
    this.holdLast = from;
    this.holdLow = this.lowHz;
    this.holdHigh = this.highHz;
  }

  /**
   * After a tone's end: is the window ending at `end` (from the tone's end on) its remains?
   * Replaces it if so; ends the hold after HOLD_GAP_SAMPLES without any.
   */
  hold(end: number): void {
    const from = Math.max(end - HOLD_WINDOW_SAMPLES, this.holdFrom);
    if (end - from < HOLD_MIN_WINDOW_SAMPLES) return;
    if (this.tonal(from, end, this.holdLow, this.holdHigh)) {
      this.holdLast = end;
      this.record(NET_HOLD, from, end + EDGE_GUARD_SAMPLES);
    }
    if (end - this.holdLast > HOLD_GAP_SAMPLES || end - this.holdFrom > HOLD_MAX_SAMPLES) this.holdOpen = false;
  }

  /** Does ring[from, end) hold sound, HOLD_TONAL_SHARE of whose energy is at lowHz and highHz? */
  private tonal(from: number, end: number, lowHz: number, highHz: number): boolean {
    const ring = this.ring;
    const mask = this.ringMask;
    let e = 0;
    const cl = 2 * Math.cos((2 * Math.PI * lowHz) / SAMPLE_RATE_HZ);
    const ch = 2 * Math.cos((2 * Math.PI * highHz) / SAMPLE_RATE_HZ);
    let l1 = 0;
    let l2 = 0;
    let h1 = 0;
    let h2 = 0;
    let first = -1;
    let last = -1;
    for (let i = from; i < end; i++) {
      const v = ring[i & mask];
      if (v !== 0) {
        if (first < 0) first = i;
        last = i;
      }
      e += v * v;
      const l0 = v + cl * l1 - l2;
      l2 = l1;
      l1 = l0;
      const h0 = v + ch * h1 - h2;
      h2 = h1;
      h1 = h0;
    }
    if (e === 0) return false;
    const tones = l1 * l1 + l2 * l2 - cl * l1 * l2 + (h1 * h1 + h2 * h2 - ch * h1 * h2);
    // |X|² of a sine over n samples is n·(its energy)/2, so the share is 2·Σ|X|²/(n·e), with n
    // the stretch that holds sound (digital silence around a fragment does not dilute it)
    return (2 * tones) / ((last - first + 1) * e) >= HOLD_TONAL_SHARE;
  }

  private shape(f: ToneFit): boolean {
    if (f.lowHz < NET_LOW_MIN_HZ || f.lowHz > NET_LOW_MAX_HZ) return false;
    if (f.highHz < NET_HIGH_MIN_HZ || f.highHz > NET_HIGH_MAX_HZ) return false;
    if (f.lowAmp < this.netMinAmp || f.highAmp < this.netMinAmp) return false;
    if (Math.abs(20 * Math.log10(f.lowAmp / f.highAmp)) > NET_MAX_TWIST_DB) return false;
    return f.residualRatio <= NET_WEAK_RESIDUAL;
  }

  /**
   * Is there another spectral peak in the last analysis by `a`, outside the pair's main lobes,
   * within 9 dB of the weaker tone? A tone pair in white noise at S/N 6 dB has only noise there
   * (≈ -18 dB, the largest of ~25 probes ≈ -13 dB); a voice that happens to have two strong
   * harmonics in the DTMF bands has more harmonics and formants.
   */
  private otherPeak(a: ToneAnalyzer, n: number, dial: boolean): boolean {
    const ref = Math.min(a.lowPeakPower, a.highPeakPower) * NET_OTHER_PEAK_SHARE;
    const lobe = (2 * SAMPLE_RATE_HZ) / n + 10;
    return a.anyPeakAbove(n, PROBE_FIRST_HZ, PROBE_LAST_HZ, PROBE_STEP_HZ, lobe, dial ? DIAL_PROBE_MIN_HZ : 0, ref);
  }

  /**
   * A voice whose harmonics h·F0 and m·F0 fall in the two bands looks like a tone pair but
   * has energy at the neighbouring harmonics too. If f2/f1 is close to m/h (small integers,
   * F0 in the voice range), look there; a tone pair in noise has only noise (≈ -20 dB).
   */
  private harmonicVoice(a: ToneAnalyzer, n: number, dial: boolean): boolean {
    const f = a.fit;
    const ref = Math.min(a.lowPeakPower, a.highPeakPower) * NET_HARMONIC_SHARE;
    const ratio = f.highHz / f.lowHz;
    for (let h = 1; h <= MAX_HARMONIC; h++) {
      const m = Math.round(ratio * h);
      if (m <= h || Math.abs(ratio - m / h) > HARMONIC_RATIO_TOLERANCE * ratio) continue;
      const f0 = f.lowHz / h;
      if (f0 < VOICE_F0_MIN_HZ) break;
      if (f0 > VOICE_F0_MAX_HZ) continue;
      for (let j = 0; j < 4; j++) {
        const k = j === 0 ? h - 1 : j === 1 ? h + 1 : j === 2 ? m - 1 : m + 1;
        const p = k * f0;
        if (k < 1 || k === h || k === m || p < PROBE_FIRST_HZ || p > PROBE_LAST_HZ) continue;
        if (dial && p < DIAL_PROBE_MIN_HZ) continue;
        if (a.windowedPower(p, n) > ref) return true;
      }
      return false;
    }
    return false;
  }

  private hit(start: number, end: number, f: ToneFit): void {
    this.lastEnd = end;
    this.lowHz = f.lowHz;
    this.highHz = f.highHz;
    let markStart = start - MASK_BACK_SAMPLES;
    let markEnd = end + MASK_FORWARD_SAMPLES;
    const onset = this.quietBefore(end, markStart - QUIET_RUN_SAMPLES);
    if (onset >= 0) {
      markStart = Math.max(markStart, onset - EDGE_GUARD_SAMPLES);
      // a fragment, a bounce or a codec's pre-echo before the onset is the tone's too (the
      // guard before the onset is masked anyway, and may hold the tone's own first samples)
      const to = onset - EDGE_GUARD_SAMPLES;
      const from = Math.max(to - PRE_WINDOW_SAMPLES, 0);
      if (to - from >= HOLD_MIN_WINDOW_SAMPLES && this.tonal(from, to, f.lowHz, f.highHz)) {
        markStart = Math.min(markStart, this.firstSound(from, to) - EDGE_GUARD_SAMPLES);
      }
    }
    // a quiet run after the seen end: this window holds the next tone (a fragment after a short
    // break), not a late window of the one that ended, so its mark must not end there
    if (onset > this.toneEnd) this.toneEnd = -Infinity;
    if (start < this.toneEnd) {
      // a late window of a tone whose end has been seen
      markEnd = this.toneEnd + EDGE_GUARD_SAMPLES;
    } else {
      if (!this.tailOpen) {
        // a new tone, unless it is what remains of the last one
        if (!this.holdOpen) this.keyWindows = 0;
        this.tailOpen = true;
        this.tailScan = end - SCREEN_BLOCK_SAMPLES / 2;
        this.tailQuiet = 0;
      }
      this.holdOpen = false;
    }
    this.record(NET_MARK, markStart, markEnd);
  }

  /** The first non-zero sample of ring[from, end) (end if none) */
  private firstSound(from: number, end: number): number {
    for (let i = from; i < end; i++) if (this.ring[i & this.ringMask] !== 0) return i;
    return end;
  }

  private record(kind: number, start: number, end: number): void {
    const o = this.out;
    const i = o.netCount;
    // cannot happen: the queue holds NET_RECORDS_PER_SUB_BLOCK per sub-block of the longest
    // feed() (detector.ts NET_QUEUE); a record dropped here would be tone audio sent unmasked
    if (i >= o.netStarts.length) throw new Error('MaskingNet: more marks in one feed() than the queue holds');
    o.netKinds[i] = kind;
    o.netStarts[i] = start;
    o.netEnds[i] = end;
    o.netCount = i + 1;
  }

  /**
   * The first sample after the latest run of QUIET_RUN_SAMPLES quiet samples in [from, end)
   * that precedes the tone, or -1. A tone pair never stays that quiet for 1 ms, so in silence
   * this is the onset.
   */
  private quietBefore(end: number, from: number): number {
    const ring = this.ring;
    const mask = this.ringMask;
    const lo = Math.max(from, end - mask, 0);
    let run = 0;
    let tone = false; // quiet samples after the tone (a fragment ending inside the block) do not count
    for (let i = end - 1; i >= lo; i--) {
      const v = ring[i & mask];
      if (v <= QUIET_AMPLITUDE && v >= -QUIET_AMPLITUDE) {
        if (tone && ++run === QUIET_RUN_SAMPLES) return i + QUIET_RUN_SAMPLES;
      } else {
        tone = true;
        run = 0;
      }
    }
    return -1;
  }
}
