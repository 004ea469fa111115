import { MULAW_DECODE } from '../../../src/media/dsp/mulaw';
import { HOLD_FRAMES_BASE64, HoldPlayer } from '../../../src/media/hold';

describe('hold sound', () => {
  it('is whole 160-byte frames, quiet, not silent, and loops', () => {
    expect(HOLD_FRAMES_BASE64.length).toBe(80);
    let peak = 0;
    for (const f of HOLD_FRAMES_BASE64) {
      const bytes = Buffer.from(f, 'base64');
      expect(bytes.length).toBe(160);
      for (const b of bytes) peak = Math.max(peak, Math.abs(MULAW_DECODE[b]));
    }
    expect(peak).toBeGreaterThan(500);
    expect(peak).toBeLessThan(4000);
    const p = new HoldPlayer();
    const first = p.frame();
    for (let i = 1; i < HOLD_FRAMES_BASE64.length; i++) p.frame();
    expect(p.frame()).toBe(first);
  });
});
