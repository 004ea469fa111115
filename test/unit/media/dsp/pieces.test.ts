/**
 * Each piece alone (tracker, masker, detector) and the CallerPath features that are not rows
 * of the acceptance table: out-of-band events, blanket masking, counters, reset.
 */
import { CallerPath } from '../../../../src/media/dsp';
import { DtmfDetector, keyIndex, NO_KEY } from '../../../../src/media/dsp/detector';
import { FADE_SAMPLES, flatToneByte } from '../../../../src/media/dsp/flat-tone';
import { Masker } from '../../../../src/media/dsp/masker';
import { CONFIRM_PASSES, KeyTracker, RELEASE_MISSES } from '../../../../src/media/dsp/tracker';
import { ALL_KEYS, dtmf, ms, noise, rng, run, Timeline } from '../../../support/synth';

describe('KeyTracker', () => {
  const k5 = keyIndex('5');
  const feed = (t: KeyTracker, seq: number[], from = 0): number => {
    let end = from;
    for (const d of seq) t.decide(d, (end += 40));
    return end;
  };

  it(`confirms on the ${CONFIRM_PASSES}rd passing window and reports once`, () => {
    const t = new KeyTracker();
    feed(t, [k5, k5]);
    expect(t.pending).toBe(0);
    feed(t, [k5, k5, k5, k5, NO_KEY, k5, k5], 80);
    expect(t.take().map((k) => k.digit)).toEqual(['5']);
  });

  it(`bridges up to ${RELEASE_MISSES - 1} missing windows, splits at ${RELEASE_MISSES}`, () => {
    const t = new KeyTracker();
    let end = feed(t, [k5, k5, k5]);
    end = feed(t, Array(RELEASE_MISSES - 1).fill(NO_KEY), end);
    end = feed(t, [k5, k5, k5], end);
    expect(t.take()).toHaveLength(1);
    end = feed(t, Array(RELEASE_MISSES).fill(NO_KEY), end);
    feed(t, [k5, k5, k5], end);
    expect(t.take()).toHaveLength(1);
  });

  it('a different key needs its own confirmation and ends the first press', () => {
    const t = new KeyTracker();
    const k1 = keyIndex('1');
    const end = feed(t, [k5, k5, k5, k1, k5, k5]);
    expect(t.take().map((k) => k.digit)).toEqual(['5']);
    feed(t, [k1, k1, k1], end);
    expect(t.take().map((k) => k.digit)).toEqual(['1']);
  });

  it('merges an event and a tone of the same digit within 150 ms into one press', () => {
    const t = new KeyTracker();
    expect(t.event(k5, 100)).toBe(true);
    feed(t, [k5, k5, k5], 100 + ms(100) - 160 + 40);
    const keys = t.take();
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ digit: '5', source: 'both' });
  });

  it('keeps an event and a tone more than 150 ms apart as two presses', () => {
    const t = new KeyTracker();
    t.event(k5, 0);
    feed(t, [k5, k5, k5], ms(200));
    expect(t.take().map((k) => k.source)).toEqual(['event', 'inband']);
  });

  it('an event after the tone it belongs to only marks the press', () => {
    const t = new KeyTracker();
    const end = feed(t, [k5, k5, k5, k5]);
    expect(t.event(k5, end + ms(100))).toBe(false);
    expect(t.take().map((k) => [k.digit, k.source])).toEqual([['5', 'both']]);
    expect(t.event(k5, end + ms(140))).toBe(true); // the press is paired: a second event is a new press
  });
});

describe('Masker', () => {
  const input = Uint8Array.from({ length: 1600 }, (_, i) => (i * 7) & 0x7f);
  const out = new Uint8Array(160);
  const flags = new Uint8Array(160);

  it('delays by exactly the look-ahead and replaces only what is marked (plus the fade-out)', () => {
    const m = new Masker(320);
    const all: number[] = [];
    const rep: number[] = [];
    for (let p = 0; p < 1600; p += 160) {
      m.write(input, p, 160);
      if (p === 0) m.mark(100, 200, true);
      m.emit(out, 0, 160, flags);
      all.push(...out);
      rep.push(...flags);
    }
    for (let j = 0; j < 1600; j++) {
      const i = j - 320;
      const masked = i >= 100 && i < 200 + FADE_SAMPLES;
      expect(rep[j]).toBe(masked ? 1 : 0);
      if (!masked) expect(all[j]).toBe(i < 0 ? 0xff : input[i]);
      else if (i >= 100 + FADE_SAMPLES && i < 200) expect(all[j]).toBe(flatToneByte(i));
    }
    expect(m.tonesMasked).toBe(1);
    expect(m.samplesReplaced).toBe(100 + FADE_SAMPLES);
  });

  it('blanket mode replaces everything while on', () => {
    const m = new Masker(160);
    m.setBlanket(true);
    for (let p = 0; p < 800; p += 160) {
      m.write(input, p, 160);
      m.emit(out, 0, 160, flags);
      if (p >= 320) for (let i = 0; i < 160; i++) expect(out[i]).toBe(flatToneByte(p - 160 + i));
      expect([...flags].every((f) => f === 1)).toBe(true);
    }
    m.setBlanket(false);
    m.write(input, 800, 160);
    m.emit(out, 0, 160, flags);
    expect(flags.slice(FADE_SAMPLES).every((f) => f === 0)).toBe(true);
    expect(out.slice(FADE_SAMPLES)).toEqual(input.slice(640 + FADE_SAMPLES, 800));
  });
});

describe('DtmfDetector alone', () => {
  it('decides each key in its windows, and nothing for silence', () => {
    for (const d of ALL_KEYS) {
      const t = new Timeline(ms(200));
      t.add(dtmf(d, ms(80)), ms(50));
      const bytes = t.mulaw();
      const det = new DtmfDetector();
      const seen = new Set<number>();
      for (let p = 0; p < bytes.length; p += 160) {
        det.feed(bytes, p, 160);
        for (let i = 0; i < det.decisionCount; i++) if (det.decisions[i] !== NO_KEY) seen.add(det.decisions[i]);
      }
      expect([...seen]).toEqual([keyIndex(d)]);
    }
  });
});

describe('CallerPath: out-of-band events', () => {
  it('an event with no in-band tone is one press and a 100 ms flat-tone burst at its position', () => {
    const r = run(new Uint8Array(ms(500)).fill(0xff), { events: [{ digit: '7', at: ms(100) }] });
    expect(r.keys.map((k) => [k.digit, k.source, k.atSample])).toEqual([['7', 'event', ms(100)]]);
    const first = r.replaced.indexOf(1);
    const last = r.replaced.lastIndexOf(1);
    expect(first).toBe(ms(100) + 320);
    expect(last - first + 1).toBe(ms(100) + FADE_SAMPLES);
    expect(r.path.stats.tonesMasked).toBe(1);
  });

  it.each([-120, -40, 0, 30, 80, 140])('a tone and an event %i ms after its onset are one press', (dt) => {
    const t = new Timeline(ms(600));
    t.add(dtmf('9', ms(60)), ms(200));
    const r = run(t.mulaw(), { events: [{ digit: '9', at: ms(200 + dt) }] });
    expect(r.keys.map((k) => k.digit)).toEqual(['9']);
  });

  it('a tone and an event for different digits are two presses', () => {
    const t = new Timeline(ms(600));
    t.add(dtmf('9', ms(60)), ms(200));
    const r = run(t.mulaw(), { events: [{ digit: '3', at: ms(230) }] });
    expect(r.keys.map((k) => k.digit).sort()).toEqual(['3', '9']);
  });

  it('ignores malformed digits', () => {
    const p = new CallerPath({ lookaheadMs: 40 });
    p.dtmfEvent('x');
    p.dtmfEvent('12');
    p.dtmfEvent('');
    expect(p.takeKeys()).toHaveLength(0);
  });
});

describe('CallerPath: blanket, counters, reset', () => {
  it('blanket mode hides speech and tones alike, and counters add up', () => {
    const t = new Timeline(ms(1000));
    t.add(dtmf('1', ms(60)), ms(300));
    const bytes = t.mulaw();
    const p = new CallerPath({ lookaheadMs: 40 });
    p.setBlanket(true);
    const r = run(bytes, { path: p });
    expect(r.keys.map((k) => k.digit)).toEqual(['1']); // keys are still reported
    expect(r.replaced.slice(FADE_SAMPLES).every((f) => f === 1)).toBe(true);
    expect(p.stats).toMatchObject({ samplesProcessed: bytes.length, samplesReplaced: bytes.length, keysReported: 1, tonesMasked: 1, tonesMarked: 1 });
    p.reset();
    expect(p.stats).toEqual({ tonesMasked: 0, tonesMarked: 0, samplesReplaced: 0, samplesProcessed: 0, keysReported: 0 });
    const again = run(bytes, { path: p });
    expect(again.keys.map((k) => k.digit)).toEqual(['1']);
    expect(again.replaced.filter((f) => f === 1).length).toBeLessThan(ms(150));
  });
});

describe('CallerPath: many streams share one filter bank', () => {
  /** Two seconds of keys with speech-like noise in between, different per seed */
  function signal(seed: number): Uint8Array {
    const r = rng(seed);
    const t = new Timeline(ms(2000));
    for (let at = ms(40); at < ms(1900); at += ms(150)) t.add(dtmf(ALL_KEYS[Math.floor(r() * 16)], ms(50 + r() * 40)), at);
    t.add(noise(ms(2000), 2e4, r), 0);
    return t.mulaw();
  }

  /** Output bytes, replaced flags and keys of `bytes` fed in chunks of the given sizes (cycled) */
  function feeder(bytes: Uint8Array, sizes: number[]) {
    const path = new CallerPath({ lookaheadMs: 40 });
    const out = new Uint8Array(bytes.length);
    const flags = new Uint8Array(bytes.length);
    const keys: string[] = [];
    let at = 0;
    let i = 0;
    return {
      done: () => at >= bytes.length,
      /** feeds the next chunk */
      step(): void {
        const n = Math.min(sizes[i++ % sizes.length], bytes.length - at);
        const o = new Uint8Array(n);
        const f = new Uint8Array(n);
        if (path.process(bytes.subarray(at, at + n), o, f) > 0) for (const k of path.takeKeys()) keys.push(`${k.digit}@${k.atSample}`);
        out.set(o, at);
        flags.set(f, at);
        at += n;
      },
      result: () => ({ out, flags, keys }),
    };
  }

  it('gives each stream what it gets alone, whatever the chunking and however the streams interleave', () => {
    const a = signal(1);
    const b = signal(2);
    const odd = [7, 33, 160, 1, 99, 20, 13];
    // alone: all of a, then all of b
    const aAlone = feeder(a, odd);
    while (!aAlone.done()) aAlone.step();
    const bAlone = feeder(b, [160]);
    while (!bAlone.done()) bAlone.step();
    // interleaved: a's odd chunks (which leave sub-blocks half-written) between b's frames
    const aMixed = feeder(a, odd);
    const bMixed = feeder(b, [160]);
    while (!aMixed.done() || !bMixed.done()) {
      if (!aMixed.done()) aMixed.step();
      if (!bMixed.done()) bMixed.step();
    }
    expect(aAlone.result().keys.length).toBeGreaterThan(8);
    expect(bAlone.result().keys.length).toBeGreaterThan(8);
    expect(aMixed.result()).toEqual(aAlone.result());
    expect(bMixed.result()).toEqual(bAlone.result());
  });
});
