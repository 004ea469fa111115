/**
 * Stage 1 of detection: a cheap, streaming screen over every sample.
 *
 * Per SUB_BLOCK_SAMPLES (2.5 ms) sub-block it runs one Goertzel per screen bin and keeps the
 * complex value referenced to the sub-block's last sample; a screen block's DFT is the sum of its
 * SCREEN_BLOCK_SUBS (10 ms) sub-blocks' values, each turned by the fixed phase step between
 * them (Horner, three complex multiplies per bin). Blocks are evaluated at 2.5 ms hops, so the
 * overlap costs those multiplies, not another Goertzel.
 *
 * The screen only decides whether the exact analysis (analyzer.ts) is worth running; its
 * thresholds are loose on purpose (it must never miss what the masking net must catch). Where
 * it cannot pass it saves work: sub-blocks in silence are never transformed (energy gate) and
 * hops far from passing are skipped, in speech up to the next block that does not overlap the
 * one just evaluated. The transform itself is the Goertzel bank of bank.ts (WebAssembly SIMD,
 * single precision).
 */
import { BANK_MAX_ENERGIES, BANK_SLOTS, FilterBank } from './bank';
import { dbm0ToPower } from './levels';

/** 2.5 ms: the hop of the masking net; 160-sample frames hold exactly 8 */
export const SUB_BLOCK_SAMPLES = 20;
/** 10 ms screen blocks: the shortest fragment the masking net must catch (B5) */
export const SCREEN_BLOCK_SUBS = 4;
export const SCREEN_BLOCK_SAMPLES = SUB_BLOCK_SAMPLES * SCREEN_BLOCK_SUBS;
/** The most sub-blocks decodeFrame() takes at once: a 20 ms frame */
export const FRAME_SUBS = BANK_MAX_ENERGIES;

/**
 * Screen bins (Hz). Low group: the four DTMF rows; the
 * 10 ms rectangular window (100 Hz bins) loses ≤ 3.2 dB anywhere from 697-5% to 941+5%.
 * High group: the four columns plus in-between and edge bins, because the columns are up to
 * 156 Hz apart and a tone 5% off (1715 Hz) would otherwise lose 13.6 dB.
 * Dial tone bins (350, 440) let the energy ratio ignore a dial tone under a key (A13).
 */
export const LOW_BINS_HZ = [697, 770, 852, 941] as const;
export const HIGH_BINS_HZ = [1149, 1209, 1272, 1336, 1406, 1477, 1555, 1633, 1715] as const;
export const DIAL_BINS_HZ = [350, 440] as const;
const ALL_BINS = [...LOW_BINS_HZ, ...HIGH_BINS_HZ, ...DIAL_BINS_HZ];
const N_LOW = LOW_BINS_HZ.length;
const N_HIGH = HIGH_BINS_HZ.length;
const DIAL0 = N_LOW + N_HIGH;

/**
 * Thresholds of the screen, all in dB and deliberately below the masking net's limits
 * (-50 dBm0 per tone, ±12 dB twist, 10 ms fragments, S/N 6 dB) so that the exact stage decides.
 */
/** Sub-blocks quieter than this (mean power) skip the Goertzels: a -50 dBm0 tone pair is -47 dBm0 */
const GATE_DBM0 = -62;
/** Mean power of a screen block below which nothing is looked at */
const BLOCK_MIN_DBM0 = -57;
/** Per-tone power at the best bin: -50 dBm0, minus bin loss (3.2 dB), minus a 10 ms fragment covering 3/4 of the block (2.5 dB), minus margin */
const TONE_MIN_DBM0 = -60;
/** |low - high| at the best bins: the net's 12 dB plus bin loss and margin */
const MAX_TWIST_DB = 18;
/**
 * (best low + best high) / (block power - dial tone power). Keys with S/N 6 dB, 5% off or 10 ms
 * long score ≥ 0.74 in their best window; espeak-ng speech passes on ~0.5% of hops at 0.6.
 */
const MIN_TONE_RATIO = 0.6;
/**
 * Below this ratio the next hop is not evaluated: in silence a window's ratio grows by at most
 * ~0.25 per 2.5 ms hop, so nothing that could pass is skipped; after speech a pass may come one
 * hop later, which the mask's back extension covers (but see FALL_FACTOR).
 */
const SKIP_BELOW = 0.25;
/**
 * Below this (at speech levels), the next LONG_SKIP_HOPS evaluations are skipped: in such
 * speech the screen evaluates abutting blocks, 3 of every 4 hops unevaluated. A tone starting
 * after the block is first evaluated ≤ 10 ms later, and of two abutting blocks one holds at
 * least half of a 10 ms fragment (B5), enough to score above this after speech (measured:
 * masking.test.ts); the mask's back extension (net.ts) still reaches its onset.
 */
const LONG_SKIP_BELOW = 0.03;
/**
 * ... and only at speech levels: quiet noise (a -50 dBm0 key in it must be seen at once) never
 * long-skips. Both the block and its last sub-block must be that loud: a block whose power is
 * a tone's abrupt end followed by silence scores below LONG_SKIP_BELOW too, and a fragment
 * that starts after a short break must be seen at once (B5).
 */
const LONG_SKIP_MIN_DBM0 = -40;
/**
 * 3: the next block evaluated starts where this one ended. A longer skip (it was 6, 17.5 ms,
 * leaving 3 of every 7 sub-blocks untransformed, ~5% of the speech cost) stepped over a
 * 10-15 ms fragment that began as the speech stopped: no block evaluated held enough of it.
 */
const LONG_SKIP_HOPS = 3;
if (LONG_SKIP_HOPS >= SCREEN_BLOCK_SUBS) throw new Error('a skip must not pass a whole block: every sub-block is transformed');
/**
 * No skip at all where the energy falls across the block: its newest sub-block holds less than
 * 1/FALL_FACTOR of its oldest one or of its mean sub-block. Both skips assume the next blocks
 * score like this one, which fails when loud speech is leaving the window: a quiet 10 ms
 * fragment starting as it stops scores below SKIP_BELOW while speech holds one sub-block of
 * the block (-40 dBm0 after -20 dBm0 speech: 0.07-0.17; -20 after speech 5 dB louder: 0.22),
 * and below LONG_SKIP_BELOW while speech holds three (its first sub-block alone is above
 * LONG_SKIP_MIN_DBM0), yet the block it fills alone, one hop later, scores ~1 (B3, B5, B6).
 * Measured: 4 still let the -20 dBm0 case through; 3 masks every 10 ms fragment after speech
 * down to -45 dBm0, for ~2% more exact analyses in speech (5.11 -> 5.21 per second).
 */
const FALL_FACTOR = 3;
/** Share of the block above which the exact stage fits the dial tone too */
const DIAL_SHARE = 0.03;

/**
 * Ring of sub-block results (power of two). A block is the last SCREEN_BLOCK_SUBS sub-blocks
 * and commit() overwrites the slot of the one just before them, so SCREEN_BLOCK_SUBS slots hold
 * all that evaluate() ever reads.
 */
const HISTORY_SUBS = SCREEN_BLOCK_SUBS;
if (HISTORY_SUBS !== BANK_SLOTS) throw new Error('a screen block must be the bank region’s BANK_SLOTS sub-blocks');

/**
 * The filter bank: each screen's last HISTORY_SUBS sub-blocks' bins live in a region of its
 * memory, and a decoded frame waits in its input. Processing is synchronous and
 * single-threaded, so one bank serves every ToneScreen: a frame is decoded and its sub-blocks
 * committed before any other screen runs (bytes of an unfinished sub-block wait in the
 * detector, never in the bank).
 */
const BANK = new FilterBank(ALL_BINS, SUB_BLOCK_SAMPLES);
/** A screen's region goes back to the bank when the screen is collected */
const REGIONS = new FinalizationRegistry<number>((region) => BANK.release(region));

/** What the screen says about the block that ended with the last sub-block */
export interface ScreenResult {
  pass: boolean;
  /** index into LOW_BINS_HZ / HIGH_BINS_HZ of the strongest bin */
  lowBin: number;
  highBin: number;
  /** tone power estimates at those bins (amplitude²/2) */
  lowPower: number;
  highPower: number;
  /** mean power of the block */
  blockPower: number;
  /** (low + high) / (block power - dial tone power) */
  ratio: number;
  /** a dial tone carries a noticeable share of the block (set when `pass`) */
  dial: boolean;
}

export class ToneScreen {
  /** this screen's history region in the bank, and the byte offset of each of its slots */
  private readonly region = BANK.alloc();
  private readonly slots = Int32Array.from({ length: HISTORY_SUBS }, (_, h) => BANK.slot(this.region, h));
  private readonly energy = new Float64Array(HISTORY_SUBS);
  private readonly gateEnergy = dbm0ToPower(GATE_DBM0) * SUB_BLOCK_SAMPLES;
  private readonly blockMin = dbm0ToPower(BLOCK_MIN_DBM0);
  private readonly longSkipMin = dbm0ToPower(LONG_SKIP_MIN_DBM0);
  private readonly longSkipMinSub = dbm0ToPower(LONG_SKIP_MIN_DBM0) * SUB_BLOCK_SAMPLES;
  private readonly toneMin = dbm0ToPower(TONE_MIN_DBM0);
  private readonly maxTwist = Math.pow(10, MAX_TWIST_DB / 10);
  private readonly norm = 2 / (SCREEN_BLOCK_SAMPLES * SCREEN_BLOCK_SAMPLES);
  private subCount = 0;
  /** evaluations still to skip */
  private skip = 0;
  readonly result: ScreenResult = { pass: false, lowBin: 0, highBin: 0, lowPower: 0, highPower: 0, blockPower: 0, ratio: 0, dial: false };

  constructor() {
    REGIONS.register(this, this.region);
    for (const slot of this.slots) BANK.zero(slot);
  }

  reset(): void {
    for (const slot of this.slots) BANK.zero(slot);
    this.energy.fill(0);
    this.subCount = 0;
    this.skip = 0;
    this.result.pass = false;
  }

  /**
   * A frame of μ-law input[off, off+n) (n a multiple of SUB_BLOCK_SAMPLES, at most
   * FRAME_SUBS of them) decoded at once: the samples are decodedFrame(n), sub-block k is
   * input[k·SUB_BLOCK_SAMPLES, ...) with energy frameEnergy(k); commit each in turn with
   * commit(frameEnergy(k), k·SUB_BLOCK_SAMPLES).
   */
  decodeFrame(input: Uint8Array, off: number, n: number): void {
    BANK.decode(input, off, n, SUB_BLOCK_SAMPLES);
  }

  decodedFrame(n: number): Float32Array {
    return BANK.decoded(n);
  }

  frameEnergy(k: number): number {
    return BANK.energies[k];
  }

  /**
   * Consume the sub-block at decodedFrame()[at, at+SUB_BLOCK_SAMPLES) with energy `e` (it must
   * directly follow the previous one in the stream) and evaluate the screen block that ends
   * with it, unless the last evaluation was far from passing (SKIP_BELOW, LONG_SKIP_BELOW):
   * then report no pass.
   */
  commit(e: number, at: number): ScreenResult {
    const h = this.subCount & (HISTORY_SUBS - 1);
    this.energy[h] = e;
    this.subCount++;
    // the next evaluation reads this sub-block: skips never pass a whole block
    if (e < this.gateEnergy) BANK.zero(this.slots[h]);
    else BANK.transform(this.slots[h], at, SUB_BLOCK_SAMPLES);
    if (this.skip > 0 || this.subCount < SCREEN_BLOCK_SUBS) {
      // before the stream's first whole block there is nothing to judge, and no reason to skip
      // the first one: a 10 ms fragment at the very start fills it alone (B5)
      if (this.skip > 0) this.skip--;
      this.result.pass = false;
      this.result.ratio = 0;
      return this.result;
    }
    const r = this.evaluate();
    // the oldest sub-block of the block just evaluated (the next hop's block no longer holds it)
    const oldest = this.energy[this.subCount & (HISTORY_SUBS - 1)];
    const falling = FALL_FACTOR * e < Math.max(oldest, (r.blockPower * SCREEN_BLOCK_SAMPLES) / SCREEN_BLOCK_SUBS);
    const loud = r.blockPower >= this.longSkipMin && e >= this.longSkipMinSub;
    this.skip = falling ? 0 : r.ratio < LONG_SKIP_BELOW && loud ? LONG_SKIP_HOPS : r.ratio < SKIP_BELOW ? 1 : 0;
    return r;
  }

  private evaluate(): ScreenResult {
    const res = this.result;
    res.pass = false;
    res.ratio = 0;
    const c = this.subCount;
    if (c < SCREEN_BLOCK_SUBS) return res;
    const H = HISTORY_SUBS - 1;
    const mean = (this.energy[(c - 1) & H] + this.energy[(c - 2) & H] + this.energy[(c - 3) & H] + this.energy[(c - 4) & H]) / SCREEN_BLOCK_SAMPLES;
    res.blockPower = mean;
    if (mean < this.blockMin) return res;
    const sl = this.slots;
    BANK.power(sl[(c - 1) & H], sl[(c - 2) & H], sl[(c - 3) & H], sl[(c - 4) & H]);
    const pw = BANK.powers;
    const norm = this.norm;
    let lo = 0;
    let loP = -1;
    for (let k = 0; k < N_LOW; k++) {
      const p = pw[k] * norm;
      if (p > loP) {
        loP = p;
        lo = k;
      }
    }
    if (loP < this.toneMin) return res;
    let hi = 0;
    let hiP = -1;
    for (let k = N_LOW; k < N_LOW + N_HIGH; k++) {
      const p = pw[k] * norm;
      if (p > hiP) {
        hiP = p;
        hi = k - N_LOW;
      }
    }
    res.lowBin = lo;
    res.highBin = hi;
    res.lowPower = loP;
    res.highPower = hiP;
    if (hiP < this.toneMin) return res;
    if (loP > hiP * this.maxTwist || hiP > loP * this.maxTwist) return res;
    const tones = loP + hiP;
    // a dial tone under the pair (A13) is not counted against it
    const dial = (pw[DIAL0] + pw[DIAL0 + 1]) * norm;
    const rest = Math.max(mean - dial, 0.05 * mean);
    res.ratio = tones / rest;
    res.pass = res.ratio >= MIN_TONE_RATIO;
    res.dial = dial > DIAL_SHARE * mean;
    return res;
  }
}
