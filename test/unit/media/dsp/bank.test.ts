import { readFileSync } from 'node:fs';
import { compileWat, renderModule, WAT_FILE } from '../../../../scripts/build-wasm';
import { BANK_WASM_BASE64 } from '../../../../src/media/dsp/bank-wasm';
import { BANK_BINS, FilterBank } from '../../../../src/media/dsp/bank';
import { MULAW_DECODE } from '../../../../src/media/dsp/mulaw';
import { goertzelComplex } from '../../../../src/media/dsp/goertzel';
import { DIAL_BINS_HZ, HIGH_BINS_HZ, LOW_BINS_HZ } from '../../../../src/media/dsp/screen';

const BINS = [...LOW_BINS_HZ, ...HIGH_BINS_HZ, ...DIAL_BINS_HZ];
const HOP = 20;

function rng(seed: number): () => number {
  return () => (seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296;
}

/** Writes four sub-blocks of x into the bank's slots of `region` (slot 0 = newest) */
function fill(bank: FilterBank, region: number, x: Float64Array): number[] {
  const slots = [0, 1, 2, 3].map((h) => bank.slot(region, h));
  for (let j = 0; j < 4; j++) {
    for (let i = 0; i < HOP; i++) bank.input[i] = x[j * HOP + i];
    bank.transform(slots[3 - j], 0, HOP); // oldest sub-block first, into slot 3
  }
  return slots;
}

/** The bank's block powers of x (four sub-blocks) are those of a double-precision DFT */
function expectDft(bank: FilterBank, region: number, x: Float64Array): void {
  const s = fill(bank, region, x);
  bank.power(s[0], s[1], s[2], s[3]);
  const out = new Float64Array(2);
  BINS.forEach((hz, k) => {
    goertzelComplex(x, 0, 4 * HOP, hz, out);
    const ref = out[0] * out[0] + out[1] * out[1];
    expect(Math.abs(bank.powers[k] - ref)).toBeLessThanOrEqual(1e-5 * Math.max(ref, 1e8));
  });
}

describe('filter bank (WebAssembly SIMD)', () => {
  it('the committed module is what bank.wat compiles to', async () => {
    const bytes = await compileWat(readFileSync(WAT_FILE, 'utf8'));
    expect(Buffer.from(BANK_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(renderModule(bytes)).toContain(BANK_WASM_BASE64.slice(0, 96));
  });

  it('runs natively here and gives the TypeScript version’s powers bit for bit', () => {
    const wasm = new FilterBank(BINS, HOP);
    const ts = new FilterBank(BINS, HOP, false);
    expect(wasm.native).toBe(true);
    expect(ts.native).toBe(false);
    const rnd = rng(3);
    const rw = wasm.alloc();
    const rt = ts.alloc();
    for (let trial = 0; trial < 60; trial++) {
      const amp = [1, 100, 32124][trial % 3];
      const x = Float64Array.from({ length: 4 * HOP }, () => Math.round((rnd() - 0.5) * 2 * amp));
      const sw = fill(wasm, rw, x);
      const st = fill(ts, rt, x);
      if (trial % 5 === 4) {
        wasm.zero(sw[2]);
        ts.zero(st[2]);
      }
      wasm.power(sw[0], sw[1], sw[2], sw[3]);
      ts.power(st[0], st[1], st[2], st[3]);
      expect(Array.from(wasm.powers)).toEqual(Array.from(ts.powers));
    }
  });

  it('decodes μ-law frames like the TypeScript version and MULAW_DECODE, with each sub-block’s energy', () => {
    const wasm = new FilterBank(BINS, HOP);
    const ts = new FilterBank(BINS, HOP, false);
    const rnd = rng(9);
    for (const n of [20, 40, 160]) {
      const frame = Uint8Array.from({ length: n }, () => Math.floor(rnd() * 256));
      wasm.decode(frame, 0, n, HOP);
      ts.decode(frame, 0, n, HOP);
      expect(Array.from(wasm.decoded(n))).toEqual(Array.from(frame, (b) => MULAW_DECODE[b]));
      expect(Array.from(ts.decoded(n))).toEqual(Array.from(wasm.decoded(n)));
      for (let k = 0; k < n / HOP; k++) {
        let e = 0;
        for (let i = k * HOP; i < (k + 1) * HOP; i++) e += MULAW_DECODE[frame[i]] ** 2;
        expect(wasm.energies[k]).toBe(e);
        expect(ts.energies[k]).toBe(e);
      }
      // the last sub-block, transformed where it lies, and again after moving it to the start
      const a = wasm.slot(wasm.alloc(), 0);
      const b = wasm.slot(wasm.alloc(), 0);
      wasm.transform(a, n - HOP, HOP);
      wasm.input.copyWithin(0, n - HOP, n);
      wasm.transform(b, 0, HOP);
      wasm.power(a, a, a, a);
      const inPlace = Array.from(wasm.powers);
      wasm.power(b, b, b, b);
      expect(Array.from(wasm.powers)).toEqual(inPlace);
      expect(Math.max(...inPlace)).toBeGreaterThan(0);
    }
    expect(() => wasm.decode(new Uint8Array(2000), 0, 2000, HOP)).toThrow(RangeError);
  });

  it('block powers equal a double-precision DFT of the 80 samples, to single precision', () => {
    const bank = new FilterBank(BINS, HOP);
    const region = bank.alloc();
    const x = Float64Array.from({ length: 4 * HOP }, (_, i) =>
      Math.round(8000 * Math.sin((2 * Math.PI * 770 * i) / 8000) + 5000 * Math.sin((2 * Math.PI * 1336 * i + 1) / 8000)),
    );
    expectDft(bank, region, x);
    expect(bank.powers[1]).toBeGreaterThan(10 * bank.powers[3]); // the tone is at 770 Hz, not 941
  });

  it('hands out regions that do not overlap, reuses released ones, and keeps working as the memory grows', () => {
    const bank = new FilterBank(BINS, HOP);
    const regions = Array.from({ length: 300 }, () => bank.alloc()); // > one 64 KB page
    expect(new Set(regions).size).toBe(300);
    const sorted = [...regions].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i] - sorted[i - 1]).toBeGreaterThanOrEqual(4 * 2 * 4 * BANK_BINS);
    bank.release(regions[7]);
    expect(bank.alloc()).toBe(regions[7]);
    const last = regions[299];
    const x = Float64Array.from({ length: 4 * HOP }, (_, i) => Math.round(9000 * Math.sin((2 * Math.PI * 941 * i) / 8000)));
    expectDft(bank, last, x);
    expect(bank.powers[3]).toBeGreaterThan(10 * bank.powers[1]); // the tone is at 941 Hz, not 770
  });
});
