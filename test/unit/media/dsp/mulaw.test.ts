import { encodeMulaw, MULAW_DECODE, MULAW_FULL_SCALE, MULAW_SILENCE } from '../../../../src/media/dsp/mulaw';
import { dbm0ToPeak, peakToDbm0 } from '../../../../src/media/dsp/levels';

describe('G.711 μ-law', () => {
  it('round-trips every one of the 256 codes (0x7F, negative zero, becomes 0xFF)', () => {
    for (let c = 0; c < 256; c++) {
      const back = encodeMulaw(MULAW_DECODE[c]);
      expect(back).toBe(c === 0x7f ? 0xff : c);
    }
  });

  it('decodes to the 16-bit scale with full scale 32124 and silence 0xFF', () => {
    expect(MULAW_DECODE[0x00]).toBe(-MULAW_FULL_SCALE);
    expect(MULAW_DECODE[0x80]).toBe(MULAW_FULL_SCALE);
    expect(MULAW_DECODE[MULAW_SILENCE]).toBe(0);
    expect(Math.max(...MULAW_DECODE)).toBe(MULAW_FULL_SCALE);
  });

  it('encodes within one quantisation step (≤ 1/16 of the segment) and clips beyond full scale', () => {
    let prev = encodeMulaw(-33000);
    for (let x = -33000; x <= 33000; x += 7) {
      const c = encodeMulaw(x);
      const got = MULAW_DECODE[c];
      // segment step: 2^(seg+3) on the 16-bit scale, seg from the magnitude
      const step = 8 << Math.min(7, Math.max(0, Math.floor(Math.log2((Math.abs(x) + 132) / 256)) + 1));
      expect(Math.abs(got - Math.max(-32124, Math.min(32124, x)))).toBeLessThanOrEqual(step);
      // monotonic: larger input never decodes lower
      expect(got).toBeGreaterThanOrEqual(MULAW_DECODE[prev]);
      prev = c;
    }
    expect(MULAW_DECODE[encodeMulaw(1e6)]).toBe(MULAW_FULL_SCALE);
    expect(MULAW_DECODE[encodeMulaw(-1e6)]).toBe(-MULAW_FULL_SCALE);
  });

  it('puts a full-scale sine at +3.14 dBm0', () => {
    expect(peakToDbm0(MULAW_FULL_SCALE)).toBeCloseTo(3.14, 6);
    expect(dbm0ToPeak(3.14)).toBeCloseTo(MULAW_FULL_SCALE, 6);
    expect(peakToDbm0(dbm0ToPeak(-36))).toBeCloseTo(-36, 9);
  });
});
