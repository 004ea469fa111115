import { readFileSync } from 'node:fs';
import { compileWat, renderModule, WAT_FILE } from '../../../../scripts/build-wasm';
import { BANK_WASM_BASE64 } from '../../../../src/media/dsp/bank-wasm';
import { GoertzelBank } from '../../../../src/media/dsp/bank';
import { goertzelPower } from '../../../../src/media/dsp/goertzel';
import { HIGH_BINS_HZ, LOW_BINS_HZ } from '../../../../src/media/dsp/screen';

const BINS = [...LOW_BINS_HZ, ...HIGH_BINS_HZ, 350, 440];
const COEFF = BINS.map((f) => 2 * Math.cos((2 * Math.PI * f) / 8000));

describe('Goertzel bank (WebAssembly SIMD)', () => {
  it('the committed module is what bank.wat compiles to', async () => {
    const bytes = await compileWat(readFileSync(WAT_FILE, 'utf8'));
    expect(Buffer.from(BANK_WASM_BASE64, 'base64').equals(Buffer.from(bytes))).toBe(true);
    expect(renderModule(bytes)).toContain(BANK_WASM_BASE64.slice(0, 96));
  });

  it('runs natively here and matches the TypeScript version bit for bit', () => {
    const wasm = new GoertzelBank(COEFF);
    const ts = new GoertzelBank(COEFF, false);
    expect(wasm.native).toBe(true);
    expect(ts.native).toBe(false);
    let seed = 3;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 4294967296);
    for (const n of [1, 2, 19, 20, 21, 80, 160]) {
      for (let trial = 0; trial < 20; trial++) {
        const amp = [1, 100, 32124][trial % 3];
        for (let i = 0; i < n; i++) {
          const v = Math.round((rnd() - 0.5) * 2 * amp);
          wasm.input[i] = v;
          ts.input[i] = v;
        }
        wasm.run(n);
        ts.run(n);
        expect(Array.from(wasm.s1)).toEqual(Array.from(ts.s1));
        expect(Array.from(wasm.s2)).toEqual(Array.from(ts.s2));
      }
    }
  });

  it('gives each bin the Goertzel power of a double-precision Goertzel, to single precision', () => {
    const bank = new GoertzelBank(COEFF);
    const x = new Float64Array(20);
    for (let i = 0; i < 20; i++) {
      x[i] = Math.round(8000 * Math.sin((2 * Math.PI * 770 * i) / 8000) + 5000 * Math.sin((2 * Math.PI * 1336 * i) / 8000));
      bank.input[i] = x[i];
    }
    bank.run(20);
    BINS.forEach((_, k) => {
      const c = COEFF[k];
      const s1 = bank.s1[k];
      const s2 = bank.s2[k];
      const p = s1 * s1 + s2 * s2 - c * s1 * s2;
      const ref = goertzelPower(x, 0, 20, c);
      expect(Math.abs(p - ref)).toBeLessThanOrEqual(1e-5 * Math.max(ref, 1e6));
    });
  });
});
