/**
 * The masking net's result queue (net.ts record(), detector.ts NET_QUEUE): every mark the net
 * makes must reach the masker, as a dropped one is tone audio sent to the agent unmasked. The
 * queue holds NET_RECORDS_PER_SUB_BLOCK records per sub-block of the longest feed(); these
 * tests drive that bound with adversarial input and check it is never passed.
 */
import { DtmfDetector, MAX_FEED_SAMPLES, NET_QUEUE } from '../../../../src/media/dsp/detector';
import { NET_RECORDS_PER_SUB_BLOCK, NET_TRIM } from '../../../../src/media/dsp/net';
import { SUB_BLOCK_SAMPLES } from '../../../../src/media/dsp/screen';
import { ALL_KEYS, dbm0ToPower, dtmf, ms, noise, rng, Timeline } from '../../../support/synth';

/** Sub-blocks a feed() of n bytes completes, with `pending` bytes of the last one waiting */
const subsOf = (pending: number, n: number): number => Math.floor((pending + n) / SUB_BLOCK_SAMPLES);

interface Driven {
  /** the most records one feed() made */
  most: number;
  /** feeds whose records exceeded NET_RECORDS_PER_SUB_BLOCK per completed sub-block */
  overBound: number;
  marks: number;
  trims: number;
}

/** Feed `bytes` in chunks of the given sizes (cycled) and count what the net recorded */
function drive(bytes: Uint8Array, sizes: number[]): Driven {
  const det = new DtmfDetector();
  const d: Driven = { most: 0, overBound: 0, marks: 0, trims: 0 };
  let pending = 0;
  for (let at = 0, k = 0; at < bytes.length; k++) {
    const n = Math.min(sizes[k % sizes.length], bytes.length - at);
    det.feed(bytes, at, n);
    if (det.netCount > NET_RECORDS_PER_SUB_BLOCK * subsOf(pending, n)) d.overBound++;
    pending = (pending + n) % SUB_BLOCK_SAMPLES;
    d.most = Math.max(d.most, det.netCount);
    for (let i = 0; i < det.netCount; i++) {
      if (det.netKinds[i] === NET_TRIM) d.trims++;
      else d.marks++;
    }
    at += n;
  }
  return d;
}

/** Key 5 cut into `onSamples` pieces by digital-silence breaks of `offSamples` */
function chopped(onSamples: number, offSamples: number, n: number): Uint8Array {
  const x = dtmf('5', n);
  for (let i = 0; i < n; i++) if (i % (onSamples + offSamples) >= onSamples) x[i] = 0;
  return new Timeline(n + ms(100)).add(x, 0).mulaw();
}

describe('masking net: the queue of one feed() never overflows', () => {
  it(`the bound is reached: a tone chopped every 3.25 ms records ${NET_RECORDS_PER_SUB_BLOCK} per sub-block (a mark and a trim)`, () => {
    // 18 samples on, 8 (1 ms, one quiet run) off: each piece is a hit, each break a seen end
    const bytes = chopped(18, 8, ms(4000));
    const frames = drive(bytes, [160]);
    expect(frames.overBound).toBe(0);
    expect(frames.most).toBe(NET_RECORDS_PER_SUB_BLOCK * (160 / SUB_BLOCK_SAMPLES));
    const longest = drive(bytes, [MAX_FEED_SAMPLES]);
    expect(longest.overBound).toBe(0);
    expect(longest.most).toBe(NET_QUEUE);
    expect(longest.trims).toBeGreaterThan(1000);
  });

  it('adversarial input fed in the longest feeds and odd chunks stays within the bound', () => {
    const n = ms(2500);
    const signals: [string, Uint8Array][] = [];
    for (const [on, off] of [
      [19, 8],
      [20, 8],
      [22, 8],
      [34, 8],
      [80, 8],
      [80, 12],
    ])
      signals.push([`chopped ${on}/${off}`, chopped(on, off, n)]);
    // 10 ms fragments of every key, 1-5 ms apart
    for (const gapMs of [1, 1.5, 2, 5]) {
      const t = new Timeline(n + ms(100));
      let k = 0;
      for (let at = 0; at + ms(10) < n; at += ms(10 + gapMs)) t.add(dtmf(ALL_KEYS[k++ % 16], ms(10)), at);
      signals.push([`10 ms fragments ${gapMs} ms apart`, t.mulaw()]);
    }
    // many short tones of random keys, lengths 1-15 ms, levels -50 to -3 dBm0, breaks 1-5 ms,
    // some over noise bursts
    for (let seed = 1; seed <= 4; seed++) {
      const r = rng(seed);
      const t = new Timeline(n + ms(100));
      for (let at = 0; at < n;) {
        const len = 8 + Math.floor(r() * 112);
        t.add(dtmf(ALL_KEYS[Math.floor(r() * 16)], len, { levelDbm0: -50 + r() * 47, twistDb: -12 + r() * 24, lowPhase: r() * 6, highPhase: r() * 6 }), at);
        if (seed > 2) t.add(noise(len, dbm0ToPower(-30), r), at);
        at += len + 8 + Math.floor(r() * 32);
      }
      signals.push([`random short tones ${seed}`, t.mulaw()]);
    }
    const odd = [MAX_FEED_SAMPLES - 1, 7, MAX_FEED_SAMPLES, 33, 1, MAX_FEED_SAMPLES - 19];
    for (const [name, bytes] of signals) {
      for (const sizes of [[160], [MAX_FEED_SAMPLES], odd]) {
        const d = drive(bytes, sizes);
        expect({ name, sizes, overBound: d.overBound, atMostQueue: d.most <= NET_QUEUE }).toEqual({ name, sizes, overBound: 0, atMostQueue: true });
        expect(d.marks).toBeGreaterThan(0);
      }
    }
  });

  it('a feed() longer than the queue is sized for is refused, not cut short', () => {
    // before, the queue silently dropped whatever did not fit: marks of tone audio lost
    const bytes = chopped(18, 8, ms(1000));
    const det = new DtmfDetector();
    expect(() => det.feed(bytes, 0, MAX_FEED_SAMPLES + 1)).toThrow(RangeError);
    expect(() => det.feed(bytes, 0, MAX_FEED_SAMPLES)).not.toThrow();
  });
});
