/**
 * A bank of 16 Goertzel recurrences run together over one block of samples, in single
 * precision: the screen's (screen.ts) per-sub-block transform. The work is done by a small
 * WebAssembly SIMD module (bank.wat: why, and how it is built); goertzelBankF32 below is the
 * same computation in TypeScript, used where WebAssembly SIMD is unavailable and as the
 * reference the module is tested against (bit for bit: every f32 step is rounded with
 * Math.fround, as the f32x4 instructions round).
 */
import { BANK_WASM_BASE64 } from './bank-wasm';

export const BANK_BINS = 16;
/** The most samples one run() takes */
export const BANK_MAX_SAMPLES = 4096;

// byte offsets in the module's memory (bank.wat)
const COEFF_AT = 0;
const S1_AT = 64;
const S2_AT = 128;
const INPUT_AT = 256;

interface BankExports {
  memory: WebAssembly.Memory;
  bank(n: number): void;
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

export class GoertzelBank {
  /** write the samples here (f32), then run(n) */
  readonly input: Float32Array;
  /** s[n-1] and s[n-2] of each bin after run() */
  readonly s1: Float32Array;
  readonly s2: Float32Array;
  private readonly coeff: Float32Array;
  private readonly wasm: BankExports | null;

  /**
   * `coefficients`: 2·cos(ω) of up to 16 bins (unused bins run with 0). `useWasm: false` runs
   * the TypeScript version (tests).
   */
  constructor(coefficients: ArrayLike<number>, useWasm = true) {
    if (coefficients.length > BANK_BINS) throw new RangeError(`at most ${BANK_BINS} bins`);
    this.wasm = useWasm ? instantiate() : null;
    const buffer = this.wasm ? this.wasm.memory.buffer : new ArrayBuffer(INPUT_AT + 4 * BANK_MAX_SAMPLES);
    this.coeff = new Float32Array(buffer, COEFF_AT, BANK_BINS);
    this.s1 = new Float32Array(buffer, S1_AT, BANK_BINS);
    this.s2 = new Float32Array(buffer, S2_AT, BANK_BINS);
    this.input = new Float32Array(buffer, INPUT_AT, BANK_MAX_SAMPLES);
    for (let k = 0; k < coefficients.length; k++) this.coeff[k] = coefficients[k];
  }

  /** true when the WebAssembly module does the work */
  get native(): boolean {
    return this.wasm !== null;
  }

  /** The 16 recurrences over input[0, n) */
  run(n: number): void {
    if (this.wasm) this.wasm.bank(n);
    else goertzelBankF32(this.input, n, this.coeff, this.s1, this.s2);
  }
}

/**
 * s[i] = (x[i] - s[i-2]) + c·s[i-1] for each coefficient c, from zero state, every step
 * rounded to single precision; writes s[n-1] to s1 and s[n-2] to s2.
 */
export function goertzelBankF32(x: Float32Array, n: number, coeff: Float32Array, s1: Float32Array, s2: Float32Array): void {
  const f = Math.fround;
  for (let k = 0; k < coeff.length; k++) {
    const c = coeff[k];
    let a = 0;
    let b = 0;
    for (let i = 0; i < n; i++) {
      const t = f(f(x[i] - b) + f(c * a));
      b = a;
      a = t;
    }
    s1[k] = a;
    s2[k] = b;
  }
}
