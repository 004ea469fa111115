/**
 * Test signal synthesis for the DSP tests: DTMF pairs with frequency offsets, twist and level
 * in dBm0, white noise at a given S/N, dial tone, the committed speech corpus; a μ-law round
 * trip; and a driver that feeds CallerPath frame by frame and records what came out.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CallerPath, type KeyPress } from '../../src/media/dsp';
import { COL_HZ, KEYS, ROW_HZ } from '../../src/media/dsp/detector';
import { dbm0ToPeak, dbm0ToPower } from '../../src/media/dsp/levels';
import { encodeMulaw, MULAW_DECODE } from '../../src/media/dsp/mulaw';

export const FS = 8000;
export const FRAME = 160;
export const ALL_KEYS = KEYS.split('');
export const ms = (m: number): number => Math.round((m * FS) / 1000);

/** Deterministic PRNG (mulberry32) so failures reproduce */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal from a uniform source */
export function gauss(r: () => number): number {
  const u = Math.max(r(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

export interface ToneOpts {
  /** level of each tone in dBm0 before twist (default -10) */
  levelDbm0?: number;
  /** low minus high, dB: positive = normal twist (low group louder); split evenly around level */
  twistDb?: number;
  /** relative frequency offsets, e.g. 0.015 = +1.5% */
  lowOffset?: number;
  highOffset?: number;
  /** extra absolute offsets in Hz */
  lowOffsetHz?: number;
  highOffsetHz?: number;
  /** starting phases, radians */
  lowPhase?: number;
  highPhase?: number;
}

export function keyFreqs(digit: string, o: ToneOpts = {}): [number, number] {
  const k = KEYS.indexOf(digit);
  if (k < 0) throw new Error(`bad digit ${digit}`);
  const lo = ROW_HZ[k >> 2] * (1 + (o.lowOffset ?? 0)) + (o.lowOffsetHz ?? 0);
  const hi = COL_HZ[k & 3] * (1 + (o.highOffset ?? 0)) + (o.highOffsetHz ?? 0);
  return [lo, hi];
}

/** A DTMF tone pair of n samples (16-bit linear scale, floats) */
export function dtmf(digit: string, n: number, o: ToneOpts = {}): Float64Array {
  const [flo, fhi] = keyFreqs(digit, o);
  const level = o.levelDbm0 ?? -10;
  const tw = o.twistDb ?? 0;
  const alo = dbm0ToPeak(level + tw / 2);
  const ahi = dbm0ToPeak(level - tw / 2);
  const x = new Float64Array(n);
  const wl = (2 * Math.PI * flo) / FS;
  const wh = (2 * Math.PI * fhi) / FS;
  const pl = o.lowPhase ?? 0;
  const ph = o.highPhase ?? 0;
  for (let i = 0; i < n; i++) x[i] = alo * Math.sin(wl * i + pl) + ahi * Math.sin(wh * i + ph);
  return x;
}

export function sine(freq: number, n: number, dbm0: number, phase = 0): Float64Array {
  const a = dbm0ToPeak(dbm0);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = a * Math.sin((2 * Math.PI * freq * i) / FS + phase);
  return x;
}

/** 350 + 440 Hz, each tone at `dbm0` */
export function dialTone(n: number, dbm0: number): Float64Array {
  const a = sine(350, n, dbm0);
  const b = sine(440, n, dbm0, 1);
  for (let i = 0; i < n; i++) a[i] += b[i];
  return a;
}

/** White Gaussian noise with mean power `power` */
export function noise(n: number, power: number, r: () => number): Float64Array {
  const s = Math.sqrt(power);
  const x = new Float64Array(n);
  for (let i = 0; i < n; i++) x[i] = s * gauss(r);
  return x;
}

/** Mean power of a signal (amplitude²/2 per sine) */
export function meanPower(x: Float64Array): number {
  let e = 0;
  for (let i = 0; i < x.length; i++) e += x[i] * x[i];
  return e / x.length;
}

/** A linear canvas to place signals on */
export class Timeline {
  readonly x: Float64Array;
  constructor(readonly length: number) {
    this.x = new Float64Array(length);
  }
  add(sig: ArrayLike<number>, at: number): this {
    for (let i = 0; i < sig.length && at + i < this.length; i++) if (at + i >= 0) this.x[at + i] += sig[i];
    return this;
  }
  /** Replace [at, at+n) with zeros (a lost frame) */
  silence(at: number, n: number): this {
    this.x.fill(0, at, at + n);
    return this;
  }
  mulaw(): Uint8Array {
    return toMulaw(this.x);
  }
}

export function toMulaw(x: ArrayLike<number>): Uint8Array {
  const b = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++) b[i] = encodeMulaw(x[i]);
  return b;
}

export function fromMulaw(b: Uint8Array): Float64Array {
  const x = new Float64Array(b.length);
  for (let i = 0; i < b.length; i++) x[i] = MULAW_DECODE[b[i]];
  return x;
}

export { dbm0ToPeak, dbm0ToPower };

export interface ReportedKey extends KeyPress {
  /** input samples consumed when the key became available (end of that frame) */
  reportedAt: number;
}

export interface RunResult {
  out: Uint8Array;
  replaced: Uint8Array;
  keys: ReportedKey[];
  path: CallerPath;
}

export interface RunOpts {
  lookaheadMs?: number;
  frame?: number;
  /** out-of-band events: digit at input sample position (delivered before the frame that starts at or after it) */
  events?: { digit: string; at: number }[];
  path?: CallerPath;
}

/** Feed μ-law bytes through a CallerPath frame by frame; pads to whole frames with silence */
export function run(bytes: Uint8Array, o: RunOpts = {}): RunResult {
  const frame = o.frame ?? FRAME;
  const path = o.path ?? new CallerPath({ lookaheadMs: o.lookaheadMs ?? 40 });
  const total = Math.ceil(bytes.length / frame) * frame;
  const input = new Uint8Array(total).fill(0xff);
  input.set(bytes);
  const out = new Uint8Array(total);
  const replaced = new Uint8Array(total);
  const keys: ReportedKey[] = [];
  const events = [...(o.events ?? [])].sort((a, b) => a.at - b.at);
  let ev = 0;
  for (let p = 0; p < total; p += frame) {
    while (ev < events.length && events[ev].at <= p) path.dtmfEvent(events[ev++].digit);
    const n = path.process(input.subarray(p, p + frame), out.subarray(p, p + frame), replaced.subarray(p, p + frame));
    if (n > 0) for (const k of path.takeKeys()) keys.push({ ...k, reportedAt: p + frame });
  }
  return { out, replaced, keys, path };
}

const FIXTURE = join(__dirname, '../fixtures/speech/corpus-2min.ulaw');

export function speechCorpus(): Uint8Array {
  return new Uint8Array(readFileSync(FIXTURE));
}

export function speechFixturePath(): string {
  return FIXTURE;
}

export interface Burst {
  digit: string;
  durMs: number;
  opts?: ToneOpts;
  /** extra signal added over the whole slot (noise, dial tone, speech) */
  slotSignal?: (slotLen: number) => Float64Array;
}

export interface Layout {
  bytes: Uint8Array;
  /** input sample index where each burst starts */
  onsets: number[];
  /** burst lengths in samples */
  lengths: number[];
  /** slot boundaries: burst i lives in [slotStarts[i], slotStarts[i] + slotLen) */
  slotStarts: number[];
  slotLen: number;
}

/**
 * One burst per slot, each starting `lead` ms into its slot plus a phase offset across the
 * 20 ms frame (phases cycle through `phases`, in samples), so one CallerPath run covers all
 * keys × phases of a condition.
 */
export function layout(bursts: Burst[], o: { slotMs?: number; leadMs?: number; phases?: number[] } = {}): Layout {
  const slotLen = ms(o.slotMs ?? 300);
  const lead = ms(o.leadMs ?? 100);
  const phases = o.phases ?? PHASES;
  const t = new Timeline(slotLen * bursts.length + ms(300));
  const onsets: number[] = [];
  const lengths: number[] = [];
  const slotStarts: number[] = [];
  bursts.forEach((b, i) => {
    const slot = i * slotLen;
    const on = slot + lead + phases[i % phases.length];
    const n = ms(b.durMs);
    if (b.slotSignal) t.add(b.slotSignal(slotLen), slot);
    t.add(dtmf(b.digit, n, b.opts), on);
    onsets.push(on);
    lengths.push(n);
    slotStarts.push(slot);
  });
  return { bytes: t.mulaw(), onsets, lengths, slotStarts, slotLen };
}

/** Onset phases across the 20 ms frame (samples) */
export const PHASES = [0, 20, 40, 60, 80, 100, 120, 140, 7, 93, 159];

/** Every key at every phase (16 × PHASES) */
export function everyKey(durMs: number, opts?: ToneOpts, slotSignal?: Burst['slotSignal']): Burst[] {
  const out: Burst[] = [];
  for (let p = 0; p < PHASES.length; p++) for (const d of ALL_KEYS) out.push({ digit: d, durMs, opts, slotSignal });
  return out;
}

/** Keys reported inside each slot */
export function keysBySlot(l: Layout, keys: ReportedKey[]): ReportedKey[][] {
  const by: ReportedKey[][] = l.slotStarts.map(() => []);
  for (const k of keys) {
    // the onset estimate (or event position) says which slot the press belongs to
    const j = Math.min(Math.max(Math.floor(k.atSample / l.slotLen), 0), by.length - 1);
    by[j].push(k);
  }
  return by;
}

export interface LeakReport {
  /** tone samples whose delayed output was not replaced */
  leaked: number;
  /** longest run of such samples */
  maxRun: number;
  /** bursts with any leaked sample */
  burstsLeaking: number;
}

/** C2: every input tone sample i must come out replaced at i + look-ahead */
export function leaks(l: Layout, replaced: Uint8Array, lookahead: number): LeakReport {
  let leaked = 0;
  let maxRun = 0;
  let burstsLeaking = 0;
  l.onsets.forEach((on, b) => {
    let run = 0;
    let any = false;
    for (let i = on; i < on + l.lengths[b]; i++) {
      if (replaced[i + lookahead] !== 1) {
        leaked++;
        run++;
        any = true;
        if (run > maxRun) maxRun = run;
      } else {
        run = 0;
      }
    }
    if (any) burstsLeaking++;
  });
  return { leaked, maxRun, burstsLeaking };
}
