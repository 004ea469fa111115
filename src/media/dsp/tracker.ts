/**
 * Key tracker: turns per-window decisions of the reporting detector into key presses, one per
 * tone, and merges Twilio's out-of-band `dtmf` events with them (CONTRACT §4).
 *
 * In-band, per decision (every REPORT_HOP_SAMPLES = 5 ms, 20 ms windows):
 * - a key is confirmed on its CONFIRM_PASSES-th passing window (a tone must fill ≥ 90% of a
 *   window to pass, so this needs ≥ ~27 ms of tone: a 20 ms tone never reports and a 23 ms
 *   one cannot (A8, A9), a 40 ms one always does (A7)); it is reported at once, so the report
 *   comes ≤ 35 ms after onset plus the frame it arrived in (A15: ≤ 60 ms);
 * - a confirmed key is released after RELEASE_MISSES windows without it: a 10 ms break fails
 *   ≤ 6 windows and a lost 20 ms frame ≤ 8, but a 40 ms pause fails ≥ 11 (A10, A11).
 *
 * Events: a tone and an event for the same digit within MERGE_WINDOW_SAMPLES (150 ms) of each
 * other are one press; whichever comes first is reported, the second only marks it 'both'.
 */
import { KEYS, NO_KEY as NONE, REPORT_HOP_SAMPLES, REPORT_WINDOW_SAMPLES } from './detector';

/** local copies (bundlers turn imported bindings into getters) */
const NO_KEY = NONE;
const WINDOW = REPORT_WINDOW_SAMPLES;

export type KeySource = 'inband' | 'event' | 'both';

export interface KeyPress {
  digit: string;
  source: KeySource;
  /** input sample index: estimated tone onset, or where the event arrived */
  atSample: number;
}

/** Passing windows (with the same key) that confirm a press */
export const CONFIRM_PASSES = 3;
/** Windows without the key that a candidate survives before it is dropped */
const CANDIDATE_MISSES = 1;
/** Windows without the key that end a press: 10 × 5 ms, between a lost frame (≤ 8) and a 40 ms pause (≥ 11) */
export const RELEASE_MISSES = 10;
/** 150 ms at 8 kHz (CONTRACT §4) */
export const MERGE_WINDOW_SAMPLES = 1200;

const HISTORY = 16;

interface PressRecord {
  key: number;
  /** 'inband' | 'event' | 'both' */
  source: KeySource;
  /** onset or event position */
  start: number;
  /** last sample the tone was seen (in-band), or the event position */
  end: number;
  /** still sounding (in-band, not yet released) */
  open: boolean;
  /** has been paired with a press from the other source */
  paired: boolean;
  /** index in the output list while it has not been taken, else -1 */
  outIndex: number;
}

export class KeyTracker {
  private activeKey = NO_KEY;
  private activeRec: PressRecord | null = null;
  private misses = 0;
  private candKey = NO_KEY;
  private candPasses = 0;
  private candMisses = 0;
  private candOnset = 0;

  private readonly history: PressRecord[] = [];
  private historyNext = 0;
  private readonly pool: KeyPress[] = [];
  private readonly out: KeyPress[] = [];
  private outCount = 0;
  /** total presses reported */
  reported = 0;

  constructor() {
    for (let i = 0; i < HISTORY; i++) {
      this.history.push({ key: NO_KEY, source: 'inband', start: 0, end: 0, open: false, paired: true, outIndex: -1 });
    }
    for (let i = 0; i < 64; i++) this.pool.push({ digit: '', source: 'inband', atSample: 0 });
  }

  reset(): void {
    this.activeKey = NO_KEY;
    this.activeRec = null;
    this.misses = 0;
    this.candKey = NO_KEY;
    this.candPasses = 0;
    this.candMisses = 0;
    for (const h of this.history) {
      h.key = NO_KEY;
      h.paired = true;
      h.open = false;
      h.outIndex = -1;
    }
    this.outCount = 0;
    this.out.length = 0;
    this.reported = 0;
  }

  /** One reporter decision for the window ending at `end` */
  decide(key: number, end: number): void {
    if (key !== NO_KEY && key === this.activeKey) {
      this.misses = 0;
      this.candKey = NO_KEY;
      if (this.activeRec) this.activeRec.end = end;
      return;
    }
    if (this.activeKey !== NO_KEY && ++this.misses >= RELEASE_MISSES) this.release();
    if (key === NO_KEY) {
      if (this.candKey !== NO_KEY && ++this.candMisses > CANDIDATE_MISSES) this.candKey = NO_KEY;
      return;
    }
    if (key === this.candKey) {
      this.candPasses++;
    } else {
      this.candKey = key;
      this.candPasses = 1;
      this.candMisses = 0;
      this.candOnset = end - WINDOW;
    }
    if (this.candPasses >= CONFIRM_PASSES) {
      if (this.activeKey !== NO_KEY) this.release();
      this.activeKey = key;
      this.misses = 0;
      this.candKey = NO_KEY;
      this.confirmInband(key, this.candOnset, end);
    }
  }

  /** Is a press of `key` sounding or pending confirmation right now? */
  isSounding(key: number): boolean {
    return this.activeKey === key || this.candKey === key;
  }

  /**
   * An out-of-band event at input position `pos`. Returns true when it opened a new press
   * (no in-band tone of that digit within 150 ms so far): the caller then plays the flat-tone burst.
   */
  event(key: number, pos: number): boolean {
    for (let i = 0; i < HISTORY; i++) {
      const h = this.history[i];
      if (h.key !== key || h.paired || h.source !== 'inband') continue;
      if (h.open || pos - h.end <= MERGE_WINDOW_SAMPLES) {
        this.pair(h);
        return false;
      }
    }
    const rec = this.record(key, 'event', pos, pos);
    rec.open = false;
    this.emit(rec);
    return true;
  }

  private confirmInband(key: number, onset: number, end: number): void {
    for (let i = 0; i < HISTORY; i++) {
      const h = this.history[i];
      if (h.key !== key || h.paired || h.source !== 'event') continue;
      if (onset - h.start <= MERGE_WINDOW_SAMPLES) {
        this.pair(h);
        this.activeRec = h;
        h.open = true;
        h.end = end;
        return;
      }
    }
    const rec = this.record(key, 'inband', Math.max(onset, 0), end);
    rec.open = true;
    this.activeRec = rec;
    this.emit(rec);
  }

  private release(): void {
    if (this.activeRec) this.activeRec.open = false;
    this.activeRec = null;
    this.activeKey = NO_KEY;
    this.misses = 0;
  }

  private pair(h: PressRecord): void {
    h.paired = true;
    h.source = 'both';
    if (h.outIndex >= 0 && h.outIndex < this.outCount) this.out[h.outIndex].source = 'both';
  }

  private record(key: number, source: KeySource, start: number, end: number): PressRecord {
    const rec = this.history[this.historyNext];
    this.historyNext = (this.historyNext + 1) % HISTORY;
    if (this.activeRec === rec) this.activeRec = null;
    rec.key = key;
    rec.source = source;
    rec.start = start;
    rec.end = end;
    rec.paired = false;
    rec.outIndex = -1;
    return rec;
  }

  private emit(rec: PressRecord): void {
    this.reported++;
    if (this.outCount >= this.pool.length) return; // caller is not taking keys: drop, never grow
    const kp = this.pool[this.outCount];
    kp.digit = KEYS[rec.key];
    kp.source = rec.source;
    kp.atSample = rec.start;
    rec.outIndex = this.outCount;
    this.out[this.outCount++] = kp;
  }

  /** Presses since the last call; the array and its objects are reused by the next call */
  take(): readonly KeyPress[] {
    this.out.length = this.outCount;
    for (const h of this.history) h.outIndex = -1;
    const view = this.takenView;
    view.length = 0;
    for (let i = 0; i < this.outCount; i++) view.push(this.copyTo(i));
    this.outCount = 0;
    this.out.length = 0;
    return view;
  }

  private readonly takenView: KeyPress[] = [];
  private readonly takenPool: KeyPress[] = Array.from({ length: 64 }, () => ({ digit: '', source: 'inband' as KeySource, atSample: 0 }));

  private copyTo(i: number): KeyPress {
    const src = this.out[i];
    const dst = this.takenPool[i];
    dst.digit = src.digit;
    dst.source = src.source;
    dst.atSample = src.atSample;
    return dst;
  }

  /** Number of presses waiting in take() */
  get pending(): number {
    return this.outCount;
  }
}

export { REPORT_HOP_SAMPLES };
