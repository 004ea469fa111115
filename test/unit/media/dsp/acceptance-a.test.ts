/**
 * DSP acceptance, rows A (DESIGN.md): what the key tracker reports. Every condition runs all
 * 16 keys at onset phases across the 20 ms frame, through a μ-law round trip, fed 160 bytes
 * at a time through CallerPath.
 */
import {
  ALL_KEYS,
  dbm0ToPower,
  dialTone,
  dtmf,
  everyKey,
  FRAME,
  keysBySlot,
  layout,
  ms,
  noise,
  rng,
  run,
  speechCorpus,
  Timeline,
  type Burst,
  type ToneOpts,
} from '../../../support/synth';

/** Per slot: the digits reported there */
function reportedPerSlot(bursts: Burst[], o: { slotMs?: number } = {}): { digits: string[]; expected: string[] } {
  const l = layout(bursts, o);
  const r = run(l.bytes);
  const by = keysBySlot(l, r.keys);
  return { digits: by.map((ks) => ks.map((k) => k.digit).join('')), expected: bursts.map((b) => b.digit) };
}

function exactRate(bursts: Burst[], o: { slotMs?: number } = {}): { ok: number; extra: number; total: number } {
  const { digits, expected } = reportedPerSlot(bursts, o);
  let ok = 0;
  let extra = 0;
  digits.forEach((d, i) => {
    if (d === expected[i]) ok++;
    else if (d.length > 0) extra++;
  });
  return { ok, extra, total: bursts.length };
}

function reportedCount(bursts: Burst[]): number {
  return reportedPerSlot(bursts).digits.filter((d) => d.length > 0).length;
}

describe('A1: 50 ms on / 50 ms off at -10 dBm0', () => {
  it.each([0, 20, 40, 60, 80, 100, 120, 140, 13, 159])('reports every key once, in order, nothing extra (onset phase %i)', (phase) => {
    const seq = [...ALL_KEYS, ...[...ALL_KEYS].reverse()];
    const t = new Timeline(ms(300) + seq.length * ms(100) + ms(300));
    seq.forEach((d, i) => t.add(dtmf(d, ms(50)), ms(200) + phase + i * ms(100)));
    const r = run(t.mulaw());
    expect(r.keys.map((k) => k.digit).join('')).toBe(seq.join(''));
    expect(r.keys.every((k) => k.source === 'inband')).toBe(true);
  });
});

describe('A2: one or both tones off by ±1.5% (+2 Hz): ≥ 99% reported', () => {
  const cases: [string, ToneOpts][] = [];
  for (const s of [1, -1]) {
    const off = s * 0.015;
    const hz = s * 2;
    cases.push([`low ${s > 0 ? '+' : '-'}`, { lowOffset: off, lowOffsetHz: hz }]);
    cases.push([`high ${s > 0 ? '+' : '-'}`, { highOffset: off, highOffsetHz: hz }]);
    cases.push([`both ${s > 0 ? '+' : '-'}`, { lowOffset: off, lowOffsetHz: hz, highOffset: off, highOffsetHz: hz }]);
    cases.push([`opposite ${s > 0 ? '+' : '-'}`, { lowOffset: off, lowOffsetHz: hz, highOffset: -off, highOffsetHz: -hz }]);
  }
  it.each(cases)('%s', (_name, opts) => {
    const r = exactRate(everyKey(50, opts));
    expect(r.ok / r.total).toBeGreaterThanOrEqual(0.99);
    expect(r.extra).toBe(0);
  });
});

describe('A3: ±3.5% and ±5% off: ≤ 1% reported (B1 checks they are masked)', () => {
  const cases: [string, ToneOpts][] = [];
  for (const off of [0.035, -0.035, 0.05, -0.05]) {
    cases.push([`low ${off}`, { lowOffset: off }]);
    cases.push([`high ${off}`, { highOffset: off }]);
    cases.push([`both ${off}`, { lowOffset: off, highOffset: off }]);
  }
  it.each(cases)('%s', (_name, opts) => {
    const bursts = everyKey(50, opts);
    expect(reportedCount(bursts) / bursts.length).toBeLessThanOrEqual(0.01);
  });
});

describe('A4: level -3 to -36 dBm0 per tone: 100% reported', () => {
  it.each([-3, -6, -10, -15, -20, -25, -30, -33, -36])('%i dBm0', (level) => {
    const r = exactRate(everyKey(50, { levelDbm0: level }));
    expect(r.ok).toBe(r.total);
  });
});

describe('A5: twist normal 0-8 dB (low group louder), reverse 0-4 dB: 100% reported', () => {
  it.each([2, 4, 6, 8, -1, -2, -3, -4])('twist %i dB', (tw) => {
    const r = exactRate(everyKey(50, { twistDb: tw }));
    expect(r.ok).toBe(r.total);
  });
});

describe('A7/A8/A9: duration', () => {
  it.each([40, 45, 60, 100, 500])('A7: %i ms: 100% reported, once', (dur) => {
    const r = exactRate(everyKey(dur), { slotMs: dur + 300 });
    expect(r.ok).toBe(r.total);
  });
  it.each([5, 10, 15, 20])('A8: %i ms: none reported', (dur) => {
    expect(reportedCount(everyKey(dur))).toBe(0);
  });
  it('A9: 23 ms: ≤ 1% reported', () => {
    const bursts = everyKey(23);
    expect(reportedCount(bursts) / bursts.length).toBeLessThanOrEqual(0.01);
  });
});

describe('A10/A11: pauses and breaks', () => {
  function twice(gapMs: number, lostFrame = false): string[] {
    const out: string[] = [];
    for (const d of ALL_KEYS) {
      for (const phase of [0, 40, 80, 120, 150]) {
        const t = new Timeline(ms(600));
        const on = ms(100) + phase;
        if (lostFrame) {
          t.add(dtmf(d, ms(120)), on);
          // the frame that holds the middle of the tone never arrived: played out as silence
          const f = Math.floor((on + ms(50)) / FRAME) * FRAME;
          t.silence(f, FRAME);
        } else {
          t.add(dtmf(d, ms(50)), on);
          t.add(dtmf(d, ms(50), { lowPhase: 1, highPhase: 2 }), on + ms(50 + gapMs));
        }
        out.push(
          run(t.mulaw())
            .keys.map((k) => k.digit)
            .join(''),
        );
      }
    }
    return out;
  }
  it('A10: the same key twice with a 40 ms gap is two presses', () => {
    const got = twice(40);
    expect(got.every((s, i) => s === ALL_KEYS[Math.floor(i / 5)].repeat(2))).toBe(true);
  });
  it('A11: a 10 ms break inside a tone is one press', () => {
    const got = twice(10);
    expect(got.every((s, i) => s === ALL_KEYS[Math.floor(i / 5)])).toBe(true);
  });
  it('A11: one lost frame (20 ms of silence) inside a tone is one press', () => {
    const got = twice(0, true);
    expect(got.every((s, i) => s === ALL_KEYS[Math.floor(i / 5)])).toBe(true);
  });
});

describe('A12: white noise at S/N 15 dB', () => {
  it('reports ≥ 999 of 1000 bursts and nothing extra', () => {
    const r0 = rng(12);
    const keyPower = 2 * dbm0ToPower(-10);
    const bursts: Burst[] = [];
    for (let i = 0; i < 1000; i++) {
      bursts.push({ digit: ALL_KEYS[i % 16], durMs: 50, slotSignal: (n) => noise(n, keyPower / Math.pow(10, 1.5), r0) });
    }
    const r = exactRate(bursts, { slotMs: 200 });
    expect(r.ok).toBeGreaterThanOrEqual(999);
    expect(r.extra).toBe(0);
  });
});

describe('A13: 350+440 Hz dial tone 10 dB above the key', () => {
  // key at -20 dBm0 per tone, dial tone at -10 dBm0 per tone (a -10 dBm0 key under a 0 dBm0
  // dial tone would clip the μ-law range)
  it('reports 100%', () => {
    const r = exactRate(everyKey(50, { levelDbm0: -20 }, (n) => dialTone(n, -10)));
    expect(r.ok).toBe(r.total);
    expect(r.extra).toBe(0);
  });
});

describe('A14: talk-off on the committed speech + music corpus', () => {
  it('reports no key in 2 minutes (the ≥ 60 min measurement is in bench/dsp.ts)', () => {
    const r = run(speechCorpus());
    const perHour = (r.keys.length * 3600) / (speechCorpus().length / 8000);
    // eslint-disable-next-line no-console
    console.log(`A14 talk-off on the 2-minute corpus: ${r.keys.length} false keys (${perHour.toFixed(1)}/hour)`);
    expect(r.keys).toEqual([]);
  });
});

describe('A15: a key press is reported ≤ 60 ms after onset', () => {
  it.each([40, 50, 100])('%i ms tones, every key and phase', (dur) => {
    const bursts = everyKey(dur);
    const l = layout(bursts);
    const r = run(l.bytes);
    const by = keysBySlot(l, r.keys);
    const worst = Math.max(...by.map((ks, i) => (ks.length ? ks[0].reportedAt - l.onsets[i] : Infinity)));
    expect(worst).toBeLessThanOrEqual(ms(60));
  });
});
