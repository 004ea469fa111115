/**
 * DSP acceptance, rows C (how removal is judged), D (what passes untouched) and E1 (delay).
 */
import { spawnSync } from 'node:child_process';
import { CallerPath, FLAT_TONE_DBM0, FLAT_TONE_HZ } from '../../../../src/media/dsp';
import { COL_HZ, ROW_HZ } from '../../../../src/media/dsp/detector';
import { FADE_SAMPLES, flatToneByte } from '../../../../src/media/dsp/flat-tone';
import { goertzelComplex } from '../../../../src/media/dsp/goertzel';
import { peakToDbm0 } from '../../../../src/media/dsp/levels';
import { MULAW_DECODE } from '../../../../src/media/dsp/mulaw';
import { wideDecoder } from '../../../support/decoders';
import { ALL_KEYS, dtmf, fromMulaw, layout, everyKey, ms, run, speechCorpus, Timeline, toMulaw } from '../../../support/synth';

const L = 320;

/** A notch at `f` (pole radius r): what an eavesdropper would use to strip the flat tone */
function notch(x: Float64Array, f: number, r = 0.98): Float64Array {
  const w = (2 * Math.PI * f) / 8000;
  const b1 = -2 * Math.cos(w);
  const a1 = -2 * r * Math.cos(w);
  const a2 = r * r;
  const y = new Float64Array(x.length);
  let x1 = 0,
    x2 = 0,
    y1 = 0,
    y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i] + b1 * x1 + x2 - a1 * y1 - a2 * y2;
    x2 = x1;
    x1 = x[i];
    y2 = y1;
    y1 = v;
    y[i] = v;
  }
  return y;
}

function tool(name: string): void {
  const r = spawnSync(name, ['-h']);
  if (r.error) throw new Error(`C1 needs ${name} installed (apt-get install -y multimon-ng sox): ${r.error.message}`);
}

/** Decode μ-law audio with multimon-ng (22050 Hz s16le via sox) */
function multimon(ulaw: Uint8Array, notchFlatTone = false): string {
  tool('sox');
  tool('multimon-ng');
  const effects = notchFlatTone ? ['bandreject', String(FLAT_TONE_HZ), '100'] : [];
  const pcm = spawnSync(
    'sox',
    ['-t', 'raw', '-r', '8000', '-e', 'mu-law', '-b', '8', '-c', '1', '-', '-t', 'raw', '-r', '22050', '-e', 'signed', '-b', '16', '-c', '1', '-', ...effects],
    { input: ulaw, maxBuffer: 1 << 28 },
  );
  if (pcm.status !== 0) throw new Error(`sox failed: ${pcm.stderr.toString()}`);
  const mm = spawnSync('multimon-ng', ['-q', '-t', 'raw', '-a', 'DTMF', '-'], { input: pcm.stdout, maxBuffer: 1 << 28 });
  if (mm.status !== 0) throw new Error(`multimon-ng failed: ${mm.stderr.toString()}`);
  return (mm.stdout.toString().match(/DTMF: (.)/g) ?? []).map((s) => s.slice(-1)).join('');
}

describe('C1: independent decoders find no key on the agent side', () => {
  const t = new Timeline(ms(300) + 16 * ms(250));
  ALL_KEYS.forEach((d, i) => t.add(dtmf(d, ms(80)), ms(200) + i * ms(250) + i * 7));
  const input = t.mulaw();
  const out = run(input).out;

  it('multimon-ng decodes every key of the input (so the decoder works) and none of the output, also after notching the flat tone', () => {
    expect(multimon(input)).toBe(ALL_KEYS.join(''));
    expect(multimon(out)).toBe('');
    expect(multimon(out, true)).toBe('');
  });

  it('a wide spandsp-style decoder (twist 12/12 dB, -50 dBm0) decodes every input key and none of the output, also after a notch', () => {
    expect(wideDecoder(fromMulaw(input))).toBe(ALL_KEYS.join(''));
    expect(wideDecoder(fromMulaw(out))).toBe('');
    expect(wideDecoder(notch(fromMulaw(out), FLAT_TONE_HZ))).toBe('');
  });
});

describe('C3: the masked stretch is byte-identical for every key with the same timing', () => {
  it.each([0, 20, 40, 60, 80, 100, 120, 140, 3, 157])('onset phase %i', (phase) => {
    const outs = ALL_KEYS.map((d) => {
      const t = new Timeline(ms(400));
      t.add(dtmf(d, ms(60)), ms(100) + phase);
      return Buffer.from(run(t.mulaw()).out);
    });
    for (const o of outs) expect(o.equals(outs[0])).toBe(true);
    // and what replaced the tone is the flat tone (at full level once faded in)
    const replacedBytes = [...outs[0]].filter((b, i) => b !== 0xff && b === flatToneByte(i - L));
    expect(replacedBytes.length).toBeGreaterThan(ms(60) - FADE_SAMPLES);
  });
});

describe('C4: nothing decodable under the flat tone', () => {
  /** worst Goertzel (N=205) level at the DTMF frequencies over windows [from, to) of y */
  function worstDtmfLevel(y: Float64Array, from: number, to: number): { worst: number; windows: number } {
    const out = new Float64Array(2);
    let worst = -Infinity;
    let windows = 0;
    for (let s = from; s + 205 <= to; s += 10) {
      windows++;
      for (const f of [...ROW_HZ, ...COL_HZ]) {
        goertzelComplex(y, s, 205, f, out);
        worst = Math.max(worst, peakToDbm0((2 * Math.hypot(out[0], out[1])) / 205));
      }
    }
    return { worst, windows };
  }

  it('residual Goertzel power (N=205) at every DTMF frequency under the flat tone, after a 2000 Hz notch, is ≤ -60 dBm0', () => {
    const t = new Timeline(ms(800));
    t.add(dtmf('5', ms(400)), ms(200) + 13);
    const r = run(t.mulaw());
    const y = notch(fromMulaw(r.out), FLAT_TONE_HZ);
    const first = r.replaced.indexOf(1);
    const last = r.replaced.lastIndexOf(1);
    // under the flat tone: once faded in and the notch (time constant 50 samples) has settled
    const settle = FADE_SAMPLES + 200;
    const steady = worstDtmfLevel(y, first + settle, last + 1 - FADE_SAMPLES);
    expect(steady.windows).toBeGreaterThan(100);
    expect(steady.worst).toBeLessThanOrEqual(-60);
    // the fade edges splatter a little (the same for every key: C3); measured, not judged here
    const edges = worstDtmfLevel(y, first - 100, last + 100);
    // eslint-disable-next-line no-console
    console.log(`C4: under the flat tone ${steady.worst.toFixed(1)} dBm0; across its fades ${edges.worst.toFixed(1)} dBm0`);
  });

  it('the flat tone is 2000 Hz at -10 dBm0 with a phase fixed by the sample index', () => {
    const x = Float64Array.from({ length: 800 }, (_, i) => MULAW_DECODE[flatToneByte(i)]);
    const out = new Float64Array(2);
    goertzelComplex(x, 0, 800, FLAT_TONE_HZ, out);
    expect(peakToDbm0((2 * Math.hypot(out[0], out[1])) / 800)).toBeCloseTo(FLAT_TONE_DBM0, 0);
    for (let i = 0; i < 16; i++) expect(flatToneByte(i)).toBe(flatToneByte(i + 4 * 1000));
  });
});

describe('D1: outside masked stretches, output bytes = input bytes delayed by exactly the look-ahead', () => {
  it.each([40, 20])('look-ahead %i ms, speech with tones in it', (la) => {
    const sp = speechCorpus().subarray(0, ms(20000));
    const x = fromMulaw(sp);
    ALL_KEYS.forEach((d, i) => {
      const tone = dtmf(d, ms(60));
      const at = ms(500) + i * ms(1100) + i * 11;
      for (let j = 0; j < tone.length; j++) x[at + j] += tone[j];
    });
    // bytes are compared, so unmasked samples must be the input bytes as they were
    const input = toMulaw(x);
    const lag = (la * 8000) / 1000;
    const r = run(input, { lookaheadMs: la });
    let passed = 0;
    for (let j = 0; j < input.length; j++) {
      if (r.replaced[j]) continue;
      expect(r.out[j]).toBe(j < lag ? 0xff : input[j - lag]);
      passed++;
    }
    expect(passed).toBeGreaterThan(input.length * 0.9);
    expect(r.path.stats.tonesMasked).toBeGreaterThanOrEqual(16);
  });
});

describe('D2: the speech corpus is left alone', () => {
  it('≤ 0.1% of samples replaced', () => {
    const r = run(speechCorpus());
    const share = r.path.stats.samplesReplaced / r.path.stats.samplesProcessed;
    // eslint-disable-next-line no-console
    console.log(`D2: ${(100 * share).toFixed(4)}% of the 2-minute corpus replaced, ${r.path.stats.tonesMasked} stretches`);
    expect(share).toBeLessThanOrEqual(0.001);
  });
});

describe('E1: the added delay equals the look-ahead', () => {
  it.each([5, 20, 40, 100, 200])('%i ms', (la) => {
    const input = new Uint8Array(ms(400)).fill(0xff);
    input[ms(100) + 3] = 0x10; // one loud click
    const r = run(input, { lookaheadMs: la });
    expect(r.out.indexOf(0x10) - (ms(100) + 3)).toBe((la * 8000) / 1000);
    expect(new CallerPath({ lookaheadMs: la }).lookaheadSamples).toBe((la * 8000) / 1000);
  });

  it('rejects look-aheads outside (0, 200] ms or not a multiple of 5 ms', () => {
    for (const la of [0, -5, 7, 205, NaN]) expect(() => new CallerPath({ lookaheadMs: la })).toThrow(RangeError);
  });
});

describe('frames of any length', () => {
  it('gives the same output and keys for frames of 1, 7, 80, 160, 333 and 4000 bytes', () => {
    const l = layout(everyKey(50).slice(0, 40));
    const ref = run(l.bytes);
    for (const frame of [1, 7, 80, 333, 4000]) {
      const r = run(l.bytes, { frame });
      expect(Buffer.from(r.out.subarray(0, ref.out.length - frame)).equals(Buffer.from(ref.out.subarray(0, ref.out.length - frame)))).toBe(true);
      expect(r.keys.map((k) => k.digit)).toEqual(ref.keys.map((k) => k.digit));
    }
  });
});
