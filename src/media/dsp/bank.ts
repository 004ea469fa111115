/**
 * The screen's filter bank (screen.ts): μ-law frames decoded into samples and sub-block
 * energies, 16 Goertzel bins per sub-block, kept per screen for the last four sub-blocks, and
 * the block powers over them, in single precision. A small WebAssembly SIMD module does the
 * work (bank.wat: why, and how it is built); the class below
 * holds its memory, hands each screen a history region in it, and runs the same computation in
 * TypeScript where WebAssembly SIMD is unavailable. The TypeScript version is also what the
 * module is tested against, bit for bit: every f32 step is rounded with Math.fround, in the
 * module's order.
 */
import { BANK_WASM_BASE64 } from './bank-wasm';
import { SAMPLE_RATE_HZ } from './levels';
import { MULAW_DECODE } from './mulaw';

export const BANK_BINS = 16;
/** The most samples the input holds (decode() and transform()) */
export const BANK_MAX_SAMPLES = 1024;
/** The most sub-block energies one decode() reports */
export const BANK_MAX_ENERGIES = 8;
/** Sub-block slots per screen region */
export const BANK_SLOTS = 4;

// byte offsets in the memory (bank.wat)
const COEFF_AT = 0;
const COS_AT = 64;
const SIN_AT = 128;
const HOP_RE_AT = 192;
const HOP_IM_AT = 256;
const POWERS_AT = 320;
const ENERGY_AT = 384;
const INPUT_AT = 512;
const BYTES_AT = 4608;
const TABLE_AT = 5632;
const REGIONS_AT = 8192;
const SLOT_BYTES = 2 * 4 * BANK_BINS;
const REGION_BYTES = BANK_SLOTS * SLOT_BYTES;
const PAGE_BYTES = 65536;

interface BankExports {
  memory: WebAssembly.Memory;
  decode(n: number, sub: number): void;
  transform(slot: number, at: number, n: number): void;
  zero(slot: number): void;
  power(s0: number, s1: number, s2: number, s3: number): void;
}

function instantiate(): BankExports | null {
  const bytes = Buffer.from(BANK_WASM_BASE64, 'base64');
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return null;
  try {
    return new WebAssembly.Instance(new WebAssembly.Module(bytes), {}).exports as unknown as BankExports;
  } catch {
    return null;
  }
}

export class FilterBank {
  /** the samples transform() reads: decode() writes a frame here; valid until the next alloc() */
  input!: Float32Array;
  /** block powers (|DFT|², unnormalised) of the 16 bins after power(); valid until the next alloc() */
  powers!: Float32Array;
  /** sub-block energies after decode(); valid until the next alloc() */
  energies!: Float64Array;
  private bytes!: Uint8Array;
  /** decoded(n)'s views by length; views() drops them when the memory grows */
  private decodedViews: Float32Array[] = [];
  private f32!: Float32Array;
  private readonly wasm: BankExports | null;
  /** the TypeScript version's memory */
  private buffer: ArrayBuffer | null = null;
  private nextRegion = REGIONS_AT;
  private readonly free: number[] = [];

  /**
   * `binsHz`: up to 16 bin frequencies (unused bins stay 0); `hopSamples`: the sub-block length,
   * the phase step between slots. `useWasm: false` runs the TypeScript version (tests).
   */
  constructor(binsHz: readonly number[], hopSamples: number, useWasm = true) {
    if (binsHz.length > BANK_BINS) throw new RangeError(`at most ${BANK_BINS} bins`);
    this.wasm = useWasm ? instantiate() : null;
    if (!this.wasm) this.buffer = new ArrayBuffer(PAGE_BYTES);
    this.views();
    const f = this.f32;
    binsHz.forEach((hz, k) => {
      const w = (2 * Math.PI * hz) / SAMPLE_RATE_HZ;
      f[COEFF_AT / 4 + k] = 2 * Math.cos(w);
      f[COS_AT / 4 + k] = Math.cos(w);
      f[SIN_AT / 4 + k] = Math.sin(w);
      f[HOP_RE_AT / 4 + k] = Math.cos(w * hopSamples);
      f[HOP_IM_AT / 4 + k] = Math.sin(w * hopSamples);
    });
    for (let b = 0; b < 256; b++) f[TABLE_AT / 4 + b] = MULAW_DECODE[b];
  }

  /** true when the WebAssembly module does the work */
  get native(): boolean {
    return this.wasm !== null;
  }

  /** A history region of BANK_SLOTS slots (byte offset); give it back with release() */
  alloc(): number {
    const reused = this.free.pop();
    if (reused !== undefined) return reused;
    const region = this.nextRegion;
    this.nextRegion += REGION_BYTES;
    const size = this.wasm ? this.wasm.memory.buffer.byteLength : this.buffer!.byteLength;
    if (this.nextRegion > size) {
      const pages = Math.ceil((this.nextRegion - size) / PAGE_BYTES) + 1;
      if (this.wasm) {
        this.wasm.memory.grow(pages);
      } else {
        const bigger = new ArrayBuffer(size + pages * PAGE_BYTES);
        new Uint8Array(bigger).set(new Uint8Array(this.buffer!));
        this.buffer = bigger;
      }
      this.views();
    }
    return region;
  }

  release(region: number): void {
    this.free.push(region);
  }

  /** Byte offset of slot h (0..BANK_SLOTS-1) of a region */
  slot(region: number, h: number): number {
    return region + h * SLOT_BYTES;
  }

  /**
   * μ-law input[off, off+n) (n ≤ BANK_MAX_SAMPLES) decoded into input[0, n), and the energy
   * (sum of squares) of each whole run of `sub` samples into energies (at most BANK_MAX_ENERGIES)
   */
  decode(input: Uint8Array, off: number, n: number, sub: number): void {
    if (n > BANK_MAX_SAMPLES || Math.floor(n / sub) > BANK_MAX_ENERGIES) throw new RangeError('FilterBank.decode: frame too long');
    if (off === 0 && n === input.length) this.bytes.set(input);
    else for (let i = 0; i < n; i++) this.bytes[i] = input[off + i];
    if (this.wasm) this.wasm.decode(n, sub);
    else this.decodeTs(n, sub);
  }

  /** input[0, n) as one view, made once per length (no allocation per frame) */
  decoded(n: number): Float32Array {
    return (this.decodedViews[n] ??= this.input.subarray(0, n));
  }

  /** The bins of input[at, at+n) into `slot` */
  transform(slot: number, at: number, n: number): void {
    if (this.wasm) this.wasm.transform(slot, at, n);
    else this.transformTs(slot, at, n);
  }

  /** No bins in `slot` (a sub-block below the energy gate) */
  zero(slot: number): void {
    if (this.wasm) this.wasm.zero(slot);
    else this.f32.fill(0, slot / 4, (slot + SLOT_BYTES) / 4);
  }

  /** The block powers of the four slots, newest (s0) to oldest (s3), into `powers` */
  power(s0: number, s1: number, s2: number, s3: number): void {
    if (this.wasm) this.wasm.power(s0, s1, s2, s3);
    else this.powerTs(s0, s1, s2, s3);
  }

  private views(): void {
    const buffer = this.wasm ? this.wasm.memory.buffer : this.buffer!;
    this.f32 = new Float32Array(buffer);
    this.input = new Float32Array(buffer, INPUT_AT, BANK_MAX_SAMPLES);
    this.powers = new Float32Array(buffer, POWERS_AT, BANK_BINS);
    this.energies = new Float64Array(buffer, ENERGY_AT, BANK_MAX_ENERGIES);
    this.bytes = new Uint8Array(buffer, BYTES_AT, BANK_MAX_SAMPLES);
    this.decodedViews = [];
  }

  private decodeTs(n: number, sub: number): void {
    const m = this.f32;
    const x = INPUT_AT / 4;
    let e = 0;
    let k = 0;
    let out = 0;
    for (let i = 0; i < n; i++) {
      const v = m[TABLE_AT / 4 + this.bytes[i]];
      m[x + i] = v;
      e += v * v;
      if (++k === sub) {
        this.energies[out++] = e;
        e = 0;
        k = 0;
      }
    }
  }

  private transformTs(slot: number, at: number, n: number): void {
    const f = Math.fround;
    const m = this.f32;
    const x = INPUT_AT / 4 + at;
    const o = slot / 4;
    for (let k = 0; k < BANK_BINS; k++) {
      const c = m[COEFF_AT / 4 + k];
      let a = 0;
      let b = 0;
      for (let i = 0; i < n; i++) {
        const t = f(f(m[x + i] - b) + f(c * a));
        b = a;
        a = t;
      }
      m[o + k] = f(a - f(m[COS_AT / 4 + k] * b));
      m[o + BANK_BINS + k] = f(m[SIN_AT / 4 + k] * b);
    }
  }

  private powerTs(s0: number, s1: number, s2: number, s3: number): void {
    const f = Math.fround;
    const m = this.f32;
    const slots = [s2 / 4, s1 / 4, s0 / 4];
    for (let k = 0; k < BANK_BINS; k++) {
      const wr = m[HOP_RE_AT / 4 + k];
      const wi = m[HOP_IM_AT / 4 + k];
      let r = m[s3 / 4 + k];
      let i = m[s3 / 4 + BANK_BINS + k];
      for (const o of slots) {
        const t = f(f(f(r * wr) - f(i * wi)) + m[o + k]);
        i = f(f(f(r * wi) + f(i * wr)) + m[o + BANK_BINS + k]);
        r = t;
      }
      m[POWERS_AT / 4 + k] = f(f(r * r) + f(i * i));
    }
  }
}
