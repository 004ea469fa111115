/**
 * DSP acceptance, rows B and C (DESIGN.md): what the masker must remove and how removal is
 * judged. C2 is checked sample by sample: every input sample that belongs to a tone must come
 * out replaced, exactly look-ahead samples later.
 */
import {
  ALL_KEYS,
  dbm0ToPower,
  dtmf,
  everyKey,
  fromMulaw,
  layout,
  leaks,
  ms,
  noise,
  rng,
  run,
  speechCorpus,
  Timeline,
  type Burst,
  type Layout,
  type ToneOpts,
} from '../../../support/synth';

const LOOKAHEAD = 320;

function masked(bursts: Burst[], o: { slotMs?: number; lookaheadMs?: number } = {}) {
  const l = layout(bursts, { slotMs: o.slotMs });
  const r = run(l.bytes, { lookaheadMs: o.lookaheadMs ?? 40 });
  return leaks(l, r.replaced, ((o.lookaheadMs ?? 40) * 8000) / 1000);
}

function expectAllMasked(bursts: Burst[], o: { slotMs?: number; lookaheadMs?: number } = {}): void {
  const rep = masked(bursts, o);
  expect(rep).toEqual({ leaked: 0, maxRun: 0, burstsLeaking: 0 });
}

describe('B1: offsets up to ±5%: all masked (C2: zero unmasked tone samples)', () => {
  const cases: [string, ToneOpts][] = [];
  for (const off of [0.015, -0.015, 0.035, -0.035, 0.05, -0.05]) {
    cases.push([`both ${off}`, { lowOffset: off, highOffset: off }]);
    cases.push([`low ${off}, high ${-off}`, { lowOffset: off, highOffset: -off }]);
    cases.push([`low only ${off}`, { lowOffset: off }]);
    cases.push([`high only ${off}`, { highOffset: off }]);
  }
  it.each(cases)('%s', (_n, opts) => expectAllMasked(everyKey(50, opts)));
});

describe('B2: twist up to ±12 dB: all masked', () => {
  it.each([12, 10, 8, 4, -4, -8, -10, -12])('twist %i dB', (tw) => expectAllMasked(everyKey(50, { twistDb: tw })));
});

describe('B3: levels down to -50 dBm0: all masked', () => {
  it.each([-3, -20, -36, -40, -45, -50])('%i dBm0 per tone', (lvl) => expectAllMasked(everyKey(50, { levelDbm0: lvl })));
});

describe('B4: white noise down to S/N 6 dB: all masked', () => {
  it.each([15, 10, 6])('S/N %i dB', (snr) => {
    const r0 = rng(40 + snr);
    const p = (2 * dbm0ToPower(-10)) / Math.pow(10, snr / 10);
    expectAllMasked(everyKey(50, {}, (n) => noise(n, p, r0)));
  });
});

describe('B5: fragments from 10 ms to 2 s: all masked', () => {
  it.each([10, 12, 15, 20, 23, 30, 40, 100])('%i ms', (dur) => expectAllMasked(everyKey(dur)));
  it('2 s', () => {
    const bursts: Burst[] = ALL_KEYS.map((d) => ({ digit: d, durMs: 2000 }));
    expectAllMasked(bursts, { slotMs: 2400 });
  });
});

/**
 * A 60 ms tone, a break of `gapMs`, then a fragment, at every onset phase across the 20 ms
 * frame (the fragment's phase follows, as the tone is three whole frames long). One slot per
 * (fragment length, phase); both tones are judged.
 */
function afterBreak(first: string, second: string, gapMs: number, fragmentMs: number[]): Layout {
  const slotLen = 8 * 160;
  const onsets: number[] = [];
  const lengths: number[] = [];
  const slotStarts: number[] = [];
  const t = new Timeline(slotLen * fragmentMs.length * 160 + ms(100));
  let slot = 0;
  for (const frag of fragmentMs) {
    for (let phase = 0; phase < 160; phase++, slot += slotLen) {
      const on = slot + 160 + phase;
      const next = on + ms(60) + ms(gapMs);
      t.add(dtmf(first, ms(60)), on);
      t.add(dtmf(second, ms(frag)), next);
      onsets.push(on, next);
      lengths.push(ms(60), ms(frag));
      slotStarts.push(slot, slot);
    }
  }
  return { bytes: t.mulaw(), onsets, lengths, slotStarts, slotLen };
}

describe('B5, C2: a fragment after a short break in a tone: all masked, every phase', () => {
  // the tone's end is seen in the same frame as the fragment's first mark: the fragment was
  // lost when the end was applied after it, or taken for a late window of the tone that ended
  it.each([
    ['5', '5'],
    ['1', '9'],
    ['3', 'A'],
    ['D', '*'],
  ])('%s then %s: breaks of 1-10 ms, fragments of 10-17 ms', (first, second) => {
    for (const gapMs of [1, 2, 3, 5, 10]) {
      const l = afterBreak(first, second, gapMs, [10, 12, 15, 17]);
      const r = run(l.bytes);
      expect({ gapMs, ...leaks(l, r.replaced, LOOKAHEAD) }).toEqual({ gapMs, leaked: 0, maxRun: 0, burstsLeaking: 0 });
    }
  });

  it('A11: a 10 ms break inside a tone with 10 ms of the tone after it, every key and phase', () => {
    const slotLen = 8 * 160;
    const t = new Timeline(slotLen * 16 * 160 + ms(100));
    const l: Layout = { bytes: new Uint8Array(0), onsets: [], lengths: [], slotStarts: [], slotLen };
    let slot = 0;
    for (const d of ALL_KEYS) {
      for (let phase = 0; phase < 160; phase++, slot += slotLen) {
        const on = slot + 160 + phase;
        t.add(dtmf(d, ms(80)), on).silence(on + ms(60), ms(10));
        l.onsets.push(on, on + ms(70));
        l.lengths.push(ms(60), ms(10));
        l.slotStarts.push(slot, slot);
      }
    }
    l.bytes = t.mulaw();
    const r = run(l.bytes);
    expect(leaks(l, r.replaced, LOOKAHEAD)).toEqual({ leaked: 0, maxRun: 0, burstsLeaking: 0 });
  });
});

describe('B5, C2: a fragment at the very start of a stream: all masked', () => {
  // a stream resumed on another instance (failover) while the caller still holds a key: the
  // first 10 ms block is the only one a 10 ms fragment fills, and must not be skipped
  it.each([80, 88, 100])('%i samples at onsets 0-20 of a fresh stream', (n) => {
    for (let on = 0; on <= 20; on++) {
      const t = new Timeline(ms(150)).add(dtmf('7', n, { lowPhase: on * 0.3, highPhase: on * 0.7 }), on);
      const l: Layout = { bytes: t.mulaw(), onsets: [on], lengths: [n], slotStarts: [0], slotLen: t.length };
      const r = run(l.bytes);
      expect({ on, ...leaks(l, r.replaced, LOOKAHEAD) }).toEqual({ on, leaked: 0, maxRun: 0, burstsLeaking: 0 });
    }
  });
});

/**
 * Each burst with a stretch of the speech corpus over its slot's lead (layout's default 100 ms),
 * up to the tone's onset when the phase is 0: active speech, ≥ -30 dBm0 in its last 10 ms.
 */
function afterSpeech(bursts: Burst[], seed: number): Burst[] {
  const corpus = fromMulaw(speechCorpus());
  const r0 = rng(seed);
  const lead = ms(100);
  return bursts.map((b) => ({
    ...b,
    slotSignal: (n: number) => {
      const x = new Float64Array(n);
      let off = 0;
      for (let tries = 0; tries < 50; tries++) {
        off = Math.floor(r0() * (corpus.length - n));
        let e = 0;
        for (let i = off + lead - ms(10); i < off + lead; i++) e += corpus[i] * corpus[i];
        if (e / ms(10) > dbm0ToPower(-30)) break;
      }
      for (let i = 0; i < lead; i++) x[i] = corpus[off + i];
      return x;
    },
  }));
}

describe('B6: tones straight after speech: all masked', () => {
  it('16 keys × 11 phases, each right after a stretch of the speech corpus', () => {
    const bursts = afterSpeech(everyKey(50), 6);
    // speech runs up to the slot's lead; phases put the onset 0-20 ms later, so also check
    // the hardest case: onset exactly where the speech stops
    expectAllMasked(bursts);
    const tight = bursts.map((b) => ({ ...b }));
    const l = layout(tight, { phases: [0] });
    const r = run(l.bytes);
    expect(leaks(l, r.replaced, LOOKAHEAD)).toEqual({ leaked: 0, maxRun: 0, burstsLeaking: 0 });
  });
});

describe('B5, B6: a fragment straight after speech: all masked', () => {
  // the screen skipped up to 17.5 ms of hops in speech, stepping over a 10-15 ms fragment that
  // began as the speech stopped: three runs of every key, onsets where the speech stops, just
  // after it, and across the frame
  it.each([10, 12, 15])('%i ms', (dur) => {
    const bursts = afterSpeech([...everyKey(dur), ...everyKey(dur), ...everyKey(dur)], 6);
    for (const phases of [[0], [0, 1, 3, 7, 10, 13, 20, 27, 40], undefined]) {
      const l = layout(bursts, { phases });
      const r = run(l.bytes);
      expect({ phases, ...leaks(l, r.replaced, LOOKAHEAD) }).toEqual({ phases, leaked: 0, maxRun: 0, burstsLeaking: 0 });
    }
  });
});

describe('B3, B5, B6: a quiet 10 ms fragment straight after speech: all masked', () => {
  // the screen skipped the next hop (or three) after a block whose loud speech hid a quiet tone
  // in its newer sub-blocks; the block that the fragment fills alone came one hop later. Every
  // key plain and with 6 dB twist, onsets where the speech stops, just after it, and across
  // the frame
  it.each([-20, -30, -40])('%i dBm0', (levelDbm0) => {
    const bursts = afterSpeech([...everyKey(10, { levelDbm0 }), ...everyKey(10, { levelDbm0, twistDb: 6 })], 7 + levelDbm0);
    for (const phases of [[0], [0, 1, 3, 7, 10, 13, 17, 20, 27, 40], undefined]) {
      const l = layout(bursts, { phases });
      const r = run(l.bytes);
      expect({ phases, ...leaks(l, r.replaced, LOOKAHEAD) }).toEqual({ phases, leaked: 0, maxRun: 0, burstsLeaking: 0 });
    }
  });
});

describe('B2, B3, B6 combined: a -50 dBm0 key with 6 dB twist straight after speech: all masked', () => {
  // the weaker tone is then at -53 dBm0, 3 dB under B3's floor; after the μ-law round trip the
  // net measured it at -53.6 to -53.7 on 10 ms windows and dropped it at its -53 dBm0 floor:
  // fragments up to 20 ms went through whole (10 ms: 99 and 121 of 176 bursts), a 50 ms tone
  // kept a 19-sample tail. Normal and reverse twist, onsets where the speech stops and across
  // the frame
  it.each([10, 15, 20, 50])('%i ms', (dur) => {
    const bursts = afterSpeech([...everyKey(dur, { levelDbm0: -50, twistDb: 6 }), ...everyKey(dur, { levelDbm0: -50, twistDb: -6 })], 50 + dur);
    for (const phases of [[0], undefined]) {
      const l = layout(bursts, { phases });
      const r = run(l.bytes);
      expect({ phases, ...leaks(l, r.replaced, LOOKAHEAD) }).toEqual({ phases, leaked: 0, maxRun: 0, burstsLeaking: 0 });
    }
  });
});

describe('E1: with a 20 ms look-ahead (the goal: zero leak at 20)', () => {
  it.each<[string, Burst[]]>([
    ['nominal', everyKey(50)],
    ['±5% offsets', everyKey(50, { lowOffset: 0.05, highOffset: -0.05 })],
    ['twist 12 dB', everyKey(50, { twistDb: 12 })],
    ['-50 dBm0', everyKey(50, { levelDbm0: -50 })],
    ['10 ms fragments', everyKey(10)],
    ['S/N 10 dB', everyKey(50, {}, (n) => noise(n, (2 * dbm0ToPower(-10)) / Math.pow(10, 1.0), rng(20)))],
  ])('%s: all masked', (_n, bursts) => expectAllMasked(bursts, { lookaheadMs: 20 }));

  it('S/N 6 dB: measured, rare leaks tolerated (zero at the default 40 ms is B4)', () => {
    const r0 = rng(20);
    const rep = masked(
      everyKey(50, {}, (n) => noise(n, (2 * dbm0ToPower(-10)) / Math.pow(10, 0.6), r0)),
      { lookaheadMs: 20 },
    );
    // eslint-disable-next-line no-console
    console.log(`E1 at 20 ms, S/N 6 dB: ${rep.burstsLeaking} of 176 bursts leak ${rep.leaked} samples (longest run ${rep.maxRun})`);
    expect(rep.burstsLeaking).toBeLessThanOrEqual(3);
  });
});
