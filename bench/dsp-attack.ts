/**
 * The agent as attacker (DESIGN.md "DSP acceptance", rows B and C, from the other side): for
 * inputs a caller's phone produces or a caller could craft, feed the real CallerPath and try to
 * recover the key, its row or its column from the exact μ-law audio the agent's stream carries
 * (test/support/attacker.ts: least-squares fits at the eight DTMF frequencies over whatever the
 * flat tone did not replace, with no level, twist or duration rule).
 *
 *   npx tsx bench/run.ts dsp-attack     (only when named; ATTACK_TRIALS=8 trials per key and
 *                                        condition, about 2.5 min; ATTACK_ONLY=text: conditions
 *                                        whose name holds it; ATTACK_VERBOSE=1: every strategy's
 *                                        accuracy; the GSM rows need sox)
 *
 * Per condition: leaked samples (C2: samples of the key's own sound, tail and echoes included,
 * that μ-law keeps and the agent got unreplaced), and the decoder's accuracy for key / row /
 * column with the strategy that did best, against chance (1/16, 1/4), with the binomial tail p
 * times the number of strategies: LEAK below 0.001, weak? below 0.05. Strategies: `near` (every
 * passed sample from 30 ms before the tone to 150 ms after it), `preE` / `postE` (the E ms just
 * before the flat tone starts or just after it ends), `in` (passed samples between its start
 * and end), `joint-*` (the 16 keys' tone pairs fitted jointly, for the shortest windows) and
 * `len` (the flat tone's length alone, nearest class mean, leave-one-out: a timing side channel
 * when every key is sent for the same time).
 */
import { CallerPath } from '../src/media/dsp';
import { agentAudio, binomialTail, guessJoint, guessWindow, type Guess } from '../test/support/attacker';
import { dbm0ToPower, dtmf, fromMulaw, keyFreqs, ms, noise, rng, sine, speechCorpus, toMulaw, type ToneOpts } from '../test/support/synth';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { printBench } from './support';

const LOOKAHEAD_MS = 40;
const L = (LOOKAHEAD_MS * 8000) / 1000;
const FRAME = 160;

/** One trial's input: a slot of audio with the tone at [on, on + len) (its direct sound) */
interface Trial {
  x: Float64Array;
  on: number;
  len: number;
  /** the key's own sound over the slot (direct, tail, echoes), when known: leaks are counted where it is audible */
  own?: Float64Array;
}

/** What the decoder must name: the key, or only the row (a lone low tone) or the column */
type Target = 'key' | 'row' | 'col';

interface Condition {
  name: string;
  slotMs?: number;
  target?: Target;
  make: (digit: string, r: () => number) => Trial;
  /** the whole stream through a codec before G.711 (a mobile caller's path) */
  codec?: (x: Float64Array) => Float64Array;
}

/** GSM 06.10 full rate (sox), the classic mobile voice codec: linear in, linear out */
function gsmFullRate(x: Float64Array): Float64Array {
  const pcm = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(x[i])));
  const enc = spawnSync('sox', ['-t', 's16', '-r', '8000', '-c', '1', '-', '-t', 'gsm', '-'], { input: Buffer.from(pcm.buffer), maxBuffer: 1 << 28 });
  if (enc.status !== 0) throw new Error(`sox gsm encode failed: ${enc.stderr.toString()}`);
  const dec = spawnSync('sox', ['-t', 'gsm', '-r', '8000', '-c', '1', '-', '-t', 's16', '-'], { input: enc.stdout, maxBuffer: 1 << 28 });
  if (dec.status !== 0) throw new Error(`sox gsm decode failed: ${dec.stderr.toString()}`);
  const b = dec.stdout;
  const y = new Float64Array(x.length);
  for (let i = 0; i < Math.min(x.length, b.length / 2); i++) y[i] = b.readInt16LE(2 * i);
  return y;
}

const KEYS = '123A456B789C*0#D';
const LEAD = ms(150);

/** A key at `lead` + a random onset phase across the frame, random start phases */
function tone(digit: string, r: () => number, durMs: number, o: ToneOpts = {}): { sig: Float64Array; on: number } {
  const on = LEAD + Math.floor(r() * FRAME);
  return { sig: dtmf(digit, ms(durMs), { lowPhase: r() * 2 * Math.PI, highPhase: r() * 2 * Math.PI, ...o }), on };
}

function place(slot: number, parts: { sig: ArrayLike<number>; at: number }[]): Float64Array {
  const x = new Float64Array(slot);
  for (const p of parts) for (let i = 0; i < p.sig.length && p.at + i < slot; i++) x[p.at + i] += p.sig[i];
  return x;
}

function simple(durMs: number, o: ToneOpts = {}, bg?: (n: number, r: () => number) => Float64Array, slotMs = 500): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, durMs, o);
    const x = place(ms(slotMs), [{ sig: t.sig, at: t.on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: t.sig.length, own };
  };
}

const lineNoise = (dbm0: number) => (n: number, r: () => number) => noise(n, dbm0ToPower(dbm0), r);

/** Material from the committed corpus (speech or music), a random stretch scaled to `dbm0` mean power */
function corpusBg(kind: 'speech' | 'music', dbm0: number): (n: number, r: () => number) => Float64Array {
  const bytes = speechCorpus();
  const segs = readFileSync(path.join(__dirname, '../test/fixtures/speech/corpus-2min.segments.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '))
    .filter((p) => p[2] === kind)
    .map((p) => [Number(p[0]), Number(p[1])]);
  const x = fromMulaw(bytes);
  return (n, r) => {
    for (;;) {
      const [a, b] = segs[Math.floor(r() * segs.length)];
      if (b - a < n) continue;
      const off = a + Math.floor(r() * (b - a - n));
      let e = 0;
      for (let i = off; i < off + n; i++) e += x[i] * x[i];
      // active material only (not a pause)
      if (e / n < dbm0ToPower(-45)) continue;
      const g = Math.sqrt(dbm0ToPower(dbm0) / (e / n));
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = x[off + i] * g;
      return out;
    }
  };
}

/** Tone with an exponentially decaying tail after its end (time constant tauMs) */
function decayTail(durMs: number, tauMs: number, levelDbm0 = -10, bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const tailMs = Math.min(tauMs * 10, 250);
    const t = tone(d, r, durMs + tailMs, { levelDbm0 });
    const n0 = ms(durMs);
    for (let i = n0; i < t.sig.length; i++) t.sig[i] *= Math.exp(-(i - n0) / ms(tauMs));
    const x = place(ms(600), [{ sig: t.sig, at: t.on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: n0, own };
  };
}

/** Tone plus discrete echoes (delay ms, gain dB) */
function echo(durMs: number, taps: [number, number][], bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, durMs);
    const parts = [{ sig: t.sig, at: t.on }];
    for (const [delay, g] of taps) parts.push({ sig: t.sig.map((v) => v * Math.pow(10, g / 20)), at: t.on + ms(delay) });
    const x = place(ms(700), parts);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: t.sig.length, own };
  };
}

/** Tone through a room: direct sound plus exponentially decaying noise reverb (RT60, direct-to-reverberant ratio) */
function reverb(durMs: number, rt60Ms: number, drrDb: number, bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, durMs);
    const tau = ms(rt60Ms) / Math.log(1000);
    const irLen = Math.min(ms(rt60Ms), ms(500));
    const ir = new Float64Array(irLen);
    let e = 0;
    const rn = rng(Math.floor(r() * 1e9));
    for (let i = 1; i < irLen; i++) {
      ir[i] = (rn() * 2 - 1) * Math.exp(-i / tau);
      e += ir[i] * ir[i];
    }
    const g = Math.sqrt(Math.pow(10, -drrDb / 10) / e);
    for (let i = 1; i < irLen; i++) ir[i] *= g;
    ir[0] = 1;
    const y = new Float64Array(t.sig.length + irLen);
    for (let i = 0; i < t.sig.length; i++) {
      const v = t.sig[i];
      for (let k = 0; k < irLen; k++) y[i + k] += v * ir[k];
    }
    const x = place(ms(1000), [{ sig: y, at: t.on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: t.sig.length, own };
  };
}

/** One DTMF frequency alone: the row's (low) or the column's (high) of the key */
function single(which: 'low' | 'high', durMs: number, dbm0: number, bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const [lo, hi] = keyFreqs(d);
    const on = LEAD + Math.floor(r() * FRAME);
    const sig = sine(which === 'low' ? lo : hi, ms(durMs), dbm0, r() * 2 * Math.PI);
    const x = place(ms(500), [{ sig, at: on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on, len: sig.length, own };
  };
}

/** The same key twice with a short gap (a double press, or a tone broken by a lost frame) */
function doublePress(durMs: number, gapMs: number): Condition['make'] {
  return (d, r) => {
    const a = tone(d, r, durMs);
    const b = dtmf(d, ms(durMs), { lowPhase: r() * 6, highPhase: r() * 6 });
    const x = place(ms(600), [
      { sig: a.sig, at: a.on },
      { sig: b, at: a.on + ms(durMs + gapMs) },
    ]);
    return { x, on: a.on, len: ms(2 * durMs + gapMs), own: x.slice() };
  };
}

/** A tone, a break (a lost packet, a bounce), then a fragment of the same key */
function fragmentAfter(durMs: number, gapMs: number, fragMs: number, bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, durMs + gapMs + fragMs);
    t.sig.fill(0, ms(durMs), ms(durMs + gapMs));
    const x = place(ms(500), [{ sig: t.sig, at: t.on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: t.sig.length, own };
  };
}

/** A fragment, a break, then the tone (a bounce as the key goes down) */
function fragmentBefore(fragMs: number, gapMs: number, durMs: number): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, fragMs + gapMs + durMs);
    t.sig.fill(0, ms(fragMs), ms(fragMs + gapMs));
    const x = place(ms(500), [{ sig: t.sig, at: t.on }]);
    return { x, on: t.on, len: t.sig.length, own: x.slice() };
  };
}

/** A tone that rises and falls slowly (raised cosine over `rampMs` each way) */
function ramped(durMs: number, rampMs: number, levelDbm0 = -10, bg?: (n: number, r: () => number) => Float64Array): Condition['make'] {
  return (d, r) => {
    const t = tone(d, r, durMs, { levelDbm0 });
    const n = t.sig.length;
    const rn = ms(rampMs);
    for (let i = 0; i < rn; i++) {
      const g = 0.5 - 0.5 * Math.cos((Math.PI * i) / rn);
      t.sig[i] *= g;
      t.sig[n - 1 - i] *= g;
    }
    const x = place(ms(500), [{ sig: t.sig, at: t.on }]);
    const own = x.slice();
    if (bg) {
      const b = bg(x.length, r);
      for (let i = 0; i < x.length; i++) x[i] += b[i];
    }
    return { x, on: t.on, len: n, own };
  };
}

interface Outcome {
  name: string;
  trials: number;
  /** input samples of the tone's direct sound the agent got unreplaced, and in how many trials */
  leaked: number;
  trialsLeaking: number;
  /** trials in which the flat tone appeared at all */
  masked: number;
  target: Target;
  /** strategy → correct guesses of the target */
  correct: Record<string, number>;
}

const STRATEGIES = ['near', 'pre1', 'pre5', 'pre20', 'post1', 'post5', 'post20', 'post100', 'in', 'joint-pre1', 'joint-pre5', 'joint-post5', 'len'];

function runCondition(c: Condition, trialsPerKey: number, seed: number): Outcome {
  const r = rng(seed);
  const target = c.target ?? 'key';
  const trials: (Trial & { key: number; at: number })[] = [];
  const slot = ms(c.slotMs ?? 500);
  let total = 0;
  for (let t = 0; t < trialsPerKey; t++) {
    for (let k = 0; k < 16; k++) {
      const tr = c.make(KEYS[k], r);
      trials.push({ ...tr, key: k, at: total });
      total += Math.max(tr.x.length, slot);
    }
  }
  let x: Float64Array = new Float64Array(total + ms(200));
  for (const tr of trials) x.set(tr.x, tr.at);
  if (c.codec) x = c.codec(x);
  const input = toMulaw(x);
  const path = new CallerPath({ lookaheadMs: LOOKAHEAD_MS });
  const n = Math.ceil(input.length / FRAME) * FRAME;
  const inBytes = new Uint8Array(n).fill(0xff);
  inBytes.set(input);
  const out = new Uint8Array(n);
  const rep = new Uint8Array(n);
  for (let p = 0; p < n; p += FRAME) {
    path.process(inBytes.subarray(p, p + FRAME), out.subarray(p, p + FRAME), rep.subarray(p, p + FRAME));
    path.takeKeys();
  }
  const y = agentAudio(out);
  const o: Outcome = {
    name: c.name,
    trials: trials.length,
    leaked: 0,
    trialsLeaking: 0,
    masked: 0,
    target,
    correct: Object.fromEntries(STRATEGIES.map((s) => [s, 0])),
  };
  const truth = (key: number): number => (target === 'key' ? key : target === 'row' ? key >> 2 : key & 3);
  const pick = (g: Guess): number => (target === 'key' ? g.key : target === 'row' ? g.row : g.col);
  const lengths: number[] = [];
  for (const tr of trials) {
    const on = tr.at + tr.on + L;
    const slotEnd = tr.at + Math.max(tr.x.length, slot) + L;
    // C2 on the key's own sound wherever it is audible after G.711 (|x| ≥ 4), else on its direct sound
    let leaked = 0;
    if (tr.own && !c.codec) {
      for (let i = 0; i < tr.own.length; i++) if (Math.abs(tr.own[i]) >= 4 && !rep[tr.at + i + L]) leaked++;
    } else {
      for (let i = on; i < on + tr.len; i++) if (!rep[i]) leaked++;
    }
    o.leaked += leaked;
    if (leaked > 0) o.trialsLeaking++;
    // the flat tone around this tone, as the agent sees it: from its first sample near the
    // onset to its last one in the slot (a tail may keep it going)
    const from = Math.max(tr.at + L, on - ms(30));
    const to = Math.min(slotEnd, on + tr.len + ms(150));
    let ms0 = -1;
    let ms1 = -1;
    for (let i = from; i < slotEnd; i++) {
      if (!rep[i]) continue;
      if (ms0 < 0) {
        if (i >= to) break;
        ms0 = i;
      }
      ms1 = i + 1;
    }
    if (ms0 >= 0) o.masked++;
    lengths.push(ms0 >= 0 ? ms1 - ms0 : 0);
    const s0 = ms0 >= 0 ? ms0 : on;
    const s1 = ms0 >= 0 ? ms1 : on + tr.len;
    const post = (e: number) => Math.min(s1 + ms(e), slotEnd);
    const guesses: Record<string, Guess> = {
      near: guessWindow(y, rep, from, Math.max(to, post(100)), r),
      pre1: guessWindow(y, rep, s0 - ms(1), s0, r),
      pre5: guessWindow(y, rep, s0 - ms(5), s0, r),
      pre20: guessWindow(y, rep, s0 - ms(20), s0, r),
      post1: guessWindow(y, rep, s1, post(1), r),
      post5: guessWindow(y, rep, s1, post(5), r),
      post20: guessWindow(y, rep, s1, post(20), r),
      post100: guessWindow(y, rep, s1, post(100), r),
      in: guessWindow(y, rep, s0, s1, r),
      'joint-pre1': guessJoint(y, rep, s0 - ms(1), s0, r),
      'joint-pre5': guessJoint(y, rep, s0 - ms(5), s0, r),
      'joint-post5': guessJoint(y, rep, s1, post(5), r),
    };
    for (const [s, g] of Object.entries(guesses)) if (pick(g) === truth(tr.key)) o.correct[s]++;
  }
  // timing: the flat tone's length alone, nearest class mean (leave one out), ties at random
  for (let i = 0; i < trials.length; i++) {
    const sums = new Map<number, [number, number]>();
    for (let j = 0; j < trials.length; j++) {
      if (j === i) continue;
      const c0 = truth(trials[j].key);
      const s = sums.get(c0) ?? [0, 0];
      s[0] += lengths[j];
      s[1]++;
      sums.set(c0, s);
    }
    let best: number[] = [];
    let bestD = Infinity;
    for (const [c0, [s, m]] of sums) {
      const dist = Math.abs(lengths[i] - s / m);
      if (dist < bestD - 1e-9) {
        bestD = dist;
        best = [c0];
      } else if (Math.abs(dist - bestD) <= 1e-9) best.push(c0);
    }
    if (best[Math.floor(r() * best.length)] === truth(trials[i].key)) o.correct.len++;
  }
  return o;
}

export function conditions(): Condition[] {
  const c: Condition[] = [];
  const quiet = lineNoise(-70);
  const line = lineNoise(-60);
  // levels, in digital silence and over line noise
  for (const lvl of [-10, -30, -40, -45, -50, -53, -56, -58, -60, -65, -70])
    c.push({ name: `level ${lvl} dBm0, 60 ms, silence`, make: simple(60, { levelDbm0: lvl }) });
  for (const lvl of [-40, -50, -55, -58, -62]) c.push({ name: `level ${lvl} dBm0, 60 ms, noise -70`, make: simple(60, { levelDbm0: lvl }, quiet) });
  // twist within and beyond the limits (low minus high), mean level -10 and -25
  for (const tw of [8, 12, 15, 18, 20, 25, 30, -4, -8, -12, -15, -18, -20, -25, -30])
    c.push({ name: `twist ${tw} dB, -10 dBm0`, make: simple(60, { twistDb: tw }) });
  for (const tw of [12, 15, 18, -12, -15, -18])
    c.push({ name: `twist ${tw} dB, -25 dBm0, noise -60`, make: simple(60, { twistDb: tw, levelDbm0: -25 }, line) });
  // frequency offsets
  for (const off of [0.015, -0.015, 0.03, -0.03, 0.05, -0.05, 0.07, -0.07])
    c.push({ name: `offset ${(off * 100).toFixed(1)}% both`, make: simple(60, { lowOffset: off, highOffset: off }) });
  for (const off of [0.03, -0.03, 0.05, -0.05])
    c.push({ name: `offset ${(off * 100).toFixed(1)}% low, ${(-off * 100).toFixed(1)}% high`, make: simple(60, { lowOffset: off, highOffset: -off }) });
  // short tones and short gaps (onsets across the frame in every condition)
  for (const dur of [3, 5, 8, 10, 15, 20, 30, 40]) c.push({ name: `short ${dur} ms`, make: simple(dur) });
  for (const dur of [5, 8, 10, 20]) c.push({ name: `short ${dur} ms, -40 dBm0`, make: simple(dur, { levelDbm0: -40 }) });
  for (const dur of [5, 8, 10, 20]) c.push({ name: `short ${dur} ms, noise -60`, make: simple(dur, {}, line) });
  for (const [dur, gap] of [
    [40, 5],
    [40, 10],
    [40, 20],
    [20, 5],
    [10, 3],
  ])
    c.push({ name: `double press ${dur} ms, gap ${gap} ms`, make: doublePress(dur, gap) });
  for (const [gap, frag] of [
    [10, 5],
    [15, 5],
    [20, 3],
    [20, 5],
    [20, 8],
    [30, 5],
    [40, 8],
  ])
    c.push({ name: `60 ms, break ${gap} ms, ${frag} ms fragment`, make: fragmentAfter(60, gap, frag) });
  c.push({ name: '60 ms, break 20 ms, 5 ms fragment, noise -60', make: fragmentAfter(60, 20, 5, line) });
  for (const [frag, gap] of [
    [5, 10],
    [5, 20],
    [8, 15],
  ])
    c.push({ name: `${frag} ms fragment, break ${gap} ms, 60 ms`, make: fragmentBefore(frag, gap, 60) });
  // backgrounds: speech, music, white noise
  for (const [lvl, sp] of [
    [-10, -20],
    [-10, -15],
    [-15, -15],
    [-20, -15],
    [-25, -15],
  ])
    c.push({ name: `over speech: tone ${lvl}, speech ${sp} dBm0`, make: simple(80, { levelDbm0: lvl }, corpusBg('speech', sp)) });
  for (const [lvl, mu] of [
    [-10, -20],
    [-15, -15],
    [-20, -15],
  ])
    c.push({ name: `over music: tone ${lvl}, music ${mu} dBm0`, make: simple(80, { levelDbm0: lvl }, corpusBg('music', mu)) });
  for (const snr of [10, 6, 3, 0, -3, -6]) {
    const p = (2 * dbm0ToPower(-10)) / Math.pow(10, snr / 10);
    c.push({ name: `white noise S/N ${snr} dB`, make: simple(80, {}, (n, r) => noise(n, p, r)) });
  }
  // echo and reverb
  for (const [d, g] of [
    [10, -6],
    [30, -10],
    [60, -15],
    [120, -20],
    [60, -30],
    [120, -40],
  ])
    c.push({ name: `echo ${d} ms at ${g} dB`, make: echo(80, [[d, g]]) });
  c.push({ name: 'echo 60 ms at -30 dB, noise -60', make: echo(80, [[60, -30]], line) });
  for (const [rt, drr] of [
    [200, 6],
    [400, 6],
    [400, 0],
    [800, 0],
  ]) {
    c.push({ name: `reverb RT60 ${rt} ms, DRR ${drr} dB`, slotMs: 1000, make: reverb(80, rt, drr) });
    c.push({ name: `reverb RT60 ${rt} ms, DRR ${drr} dB, noise -60`, slotMs: 1000, make: reverb(80, rt, drr, line) });
  }
  // slow edges: an exponential tail after the key is released, raised-cosine ramps
  for (const tau of [1, 3, 10, 30]) c.push({ name: `decaying tail τ ${tau} ms`, slotMs: 600, make: decayTail(60, tau) });
  for (const tau of [3, 10, 30]) c.push({ name: `decaying tail τ ${tau} ms, noise -60`, slotMs: 600, make: decayTail(60, tau, -10, line) });
  for (const ramp of [2, 5, 15]) c.push({ name: `ramps ${ramp} ms`, make: ramped(80, ramp) });
  for (const ramp of [5, 15]) c.push({ name: `ramps ${ramp} ms, -40 dBm0`, make: ramped(80, ramp, -40) });
  for (const tau of [3, 10]) c.push({ name: `decaying tail τ ${tau} ms, noise -70`, slotMs: 600, make: decayTail(60, tau, -10, quiet) });
  // a mobile caller: the tones through GSM full rate
  for (const lvl of [-10, -25]) {
    c.push({ name: `GSM-FR, ${lvl} dBm0, 60 ms`, make: simple(60, { levelDbm0: lvl }), codec: gsmFullRate });
    c.push({ name: `GSM-FR, ${lvl} dBm0, 100 ms, noise -60`, make: simple(100, { levelDbm0: lvl }, line), codec: gsmFullRate });
  }
  c.push({ name: 'GSM-FR, 60 ms, break 20 ms, 5 ms fragment', make: fragmentAfter(60, 20, 5), codec: gsmFullRate });
  // one frequency alone
  for (const lvl of [-10, -30]) {
    c.push({ name: `row tone alone ${lvl} dBm0`, target: 'row', make: single('low', 60, lvl) });
    c.push({ name: `column tone alone ${lvl} dBm0`, target: 'col', make: single('high', 60, lvl) });
  }
  // the flat tone's length as a side channel: fixed-length tones (an auto-dialler, a network that regenerates tones)
  c.push({ name: 'fixed 100 ms, silence', make: simple(100) });
  c.push({ name: 'fixed 100 ms, noise -60', make: simple(100, {}, line) });
  c.push({ name: 'fixed 100 ms, noise -50', make: simple(100, {}, lineNoise(-50)) });
  c.push({ name: 'fixed 100 ms, -40 dBm0, noise -60', make: simple(100, { levelDbm0: -40 }, line) });
  c.push({ name: 'fixed 100 ms, white noise S/N 10 dB', make: simple(100, {}, (n, r) => noise(n, (2 * dbm0ToPower(-10)) / 10, r)) });
  return c;
}

function chance(t: Target): number {
  return t === 'key' ? 1 / 16 : 1 / 4;
}

export async function runDspAttackBench(): Promise<Record<string, number | string>> {
  const perKey = Math.max(4, Number(process.env.ATTACK_TRIALS ?? 8));
  const only = process.env.ATTACK_ONLY;
  const result: Record<string, number | string> = {};
  let seed = 1;
  for (const c of conditions()) {
    seed++;
    if (only && !c.name.includes(only)) continue;
    const o = runCondition(c, perKey, seed);
    const p0 = chance(o.target);
    let best = 'near';
    for (const s of STRATEGIES) if (o.correct[s] > o.correct[best]) best = s;
    const k = o.correct[best];
    // the best of 13 strategies: Bonferroni
    const p = Math.min(1, binomialTail(k, o.trials, p0) * STRATEGIES.length);
    const verdict = p < 0.001 ? 'LEAK' : p < 0.05 ? 'weak?' : 'chance';
    result[o.name] =
      `${verdict.padEnd(6)} ${o.target} ${((100 * k) / o.trials).toFixed(1)}% by ${best} (chance ${(100 * p0).toFixed(1)}%, p ${p.toExponential(1)}); ` +
      `masked ${o.masked}/${o.trials}; leaked ${o.leaked} tone samples in ${o.trialsLeaking} trials` +
      (process.env.ATTACK_VERBOSE ? ' | ' + STRATEGIES.map((s) => `${s} ${((100 * o.correct[s]) / o.trials).toFixed(1)}`).join(' ') : '');
  }
  return result;
}

if (require.main === module) printBench(runDspAttackBench);
