/**
 * Keys past a secure capture's end, in a bridge. A capture that ends on its count (a security
 * code's third digit, an expiry's fourth) ends on the last key's report, which comes while that
 * key's tone still sounds (the detector reports within ~60 ms of its start), and a caller who keys
 * on (a Visa holder keying an Amex-like fourth digit, `MMYYYY` into a four-digit expiry) presses
 * more after it. The recordings the capture paused and resumes (the agent call's own, and another
 * application's on the agent's call; one on the caller's call is held for the whole bridge,
 * bridge-other-recordings.test.ts) are resumed only once `RESUME_HOLD_MS` has passed after the
 * last key the capture heard, or the last tone the bridge masked unreported (a keypad off
 * frequency, DESIGN B1): decoded, neither holds a key, nor a flat tone. The caller keys in real
 * time, as a caller does.
 */
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { RESUME_HOLD_MS } from '../../src/flows/engine';
import { encodeMulaw, MULAW_DECODE } from '../../src/media/dsp/mulaw';
import { concat, keyTone, multimon, power, silence, speech } from '../support/audio';
import { wideDecode } from '../support/decoders';
import { dtmf, toMulaw } from '../support/synth';
import { appRecording, waitFor, type Harness } from '../support/harness';
import { acceptedCall, api, bridgeSuite, captureEnded, GAP_SAMPLES, keyed, TONE_SAMPLES } from '../support/agents';

/** one key of keyed(), tone and gap, in ms */
const KEY_MS = ((TONE_SAMPLES + GAP_SAMPLES) * 1000) / 8000;
/** the flat tone (CONTRACT §4): what the agent hears of every key the caller presses */
const FLAT_HZ = 2000;

const suite = bridgeSuite();
let h: Harness;
let alice: string;

beforeAll(() => {
  expect(multimon(keyed('12345'))).toBe('12345');
  expect(wideDecode(keyed('12345'))).toBe('12345');
  // the flat-tone judge finds the masker's flat tone, and none in speech
  expect(holdsFlatTone(concat([speech(1), flatTone(640)]))).toBe(true);
  expect(holdsFlatTone(concat([speech(1), speech(1, 9)]))).toBe(false);
  h = suite.h;
  alice = suite.alice;
});

interface Live {
  call: EmulatedCall;
  caller: MediaLeg;
  agentCall: EmulatedCall;
  /** the agent call's own recording */
  own: string;
  /** another application's, on the agent's call */
  other: string;
}

/** an offered call accepted by alice and bridged, its agent's call recorded by the service and, over REST, by another application */
async function bridgedCall(): Promise<Live> {
  const { call, caller, agentCall, own } = await acceptedCall(h, alice);
  const other = await appRecording(h, agentCall.sid);
  // the caller talks: both recordings hear them (the agent's, through the bridge)
  await caller.sendAudio(speech(1));
  await waitFor(
    () => recordingOf(agentCall, other).mixed.length >= 8000 && recordingOf(agentCall, own).mixed.length >= 8000,
    'both recordings to hear the caller',
  );
  return { call, caller, agentCall, own, other };
}

const recordingOf = (call: EmulatedCall, sid: string) => call.recordings.find((r) => r.sid === sid)!;

async function startCapture(live: Live, kind: string): Promise<string> {
  const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: kind, kind });
  expect(started.status).toBe(201);
  return (started.body as { captureId: string }).captureId;
}

/** when each recording was resumed after `since`, on the emulator's timeline */
function resumedAt(live: Live, since: number): { own: number; other: number } {
  const at = (callSid: string, sid: string) =>
    h.emulator.timelineFor(callSid).find((e) => e.type === 'recording' && e.recordingSid === sid && e.status === 'in-progress' && e.t > since)?.t;
  const own = at(live.agentCall.sid, live.own);
  const other = at(live.agentCall.sid, live.other);
  expect(own).toBeDefined();
  expect(other).toBeDefined();
  return { own: own!, other: other! };
}

/**
 * Whether any 20 ms of the audio is a flat tone: a sine at FLAT_HZ holds half the window's mean
 * power at that frequency (Goertzel, normalised by n²); speech, loud as it may be at 2 kHz, holds
 * a few per cent (the corpus: under 4%); silence is left out.
 */
function holdsFlatTone(audio: Uint8Array): boolean {
  for (let i = 0; i + 160 <= audio.length; i += 80) {
    let mean = 0;
    for (let j = i; j < i + 160; j++) mean += MULAW_DECODE[audio[j]] ** 2;
    mean /= 160;
    if (mean > 1e4 && power(audio, i, 160, FLAT_HZ) > 0.25 * mean) return true;
  }
  return false;
}

/** a sine at FLAT_HZ, -10 dBm0 (full scale, 32124, is +3.14 dBm0), as the masker's flat tone */
function flatTone(samples: number): Uint8Array {
  const amplitude = 32124 * Math.pow(10, (-10 - 3.14) / 20);
  return Uint8Array.from({ length: samples }, (_, n) => encodeMulaw(amplitude * Math.sin((2 * Math.PI * FLAT_HZ * n) / 8000)));
}

/** neither recording holds a key, by either decoder, nor a flat tone */
function nothingRecorded(live: Live): void {
  for (const rec of [recordingOf(live.agentCall, live.other), recordingOf(live.agentCall, live.own)]) {
    for (const audio of [...rec.channels(), rec.mixed]) {
      expect(multimon(audio)).toBe('');
      expect(wideDecode(audio)).toBe('');
    }
    for (const audio of rec.channels()) expect(holdsFlatTone(audio)).toBe(false);
  }
}

/** both recordings run again after the capture, and hear the caller */
async function recordingAgain(live: Live): Promise<void> {
  expect(h.emulator.recordingStatuses(live.agentCall.sid, live.other)).toEqual(['in-progress', 'paused', 'in-progress']);
  expect(h.emulator.recordingStatuses(live.agentCall.sid, live.own)).toEqual(['in-progress', 'paused', 'in-progress']);
  const other = recordingOf(live.agentCall, live.other).mixed.length;
  await live.caller.sendAudio(speech(1, 9), { realtime: true });
  await waitFor(() => recordingOf(live.agentCall, live.other).mixed.length >= other + 7000, 'the other recording to hear the caller again');
}

/**
 * Each recording resumed no sooner than RESUME_HOLD_MS after the last key (the keying began at
 * `sentAt`), running and hearing the caller again, and holding no key nor flat tone
 */
async function heldThenResumed(live: Live, sentAt: number, lastKeyAt: number): Promise<void> {
  const resumed = resumedAt(live, sentAt);
  expect(resumed.own).toBeGreaterThanOrEqual(lastKeyAt + RESUME_HOLD_MS);
  expect(resumed.other).toBeGreaterThanOrEqual(lastKeyAt + RESUME_HOLD_MS);
  await recordingAgain(live);
  nothingRecorded(live);
}

test('a three-digit security code keyed with two more digits right after: every recording resumes a hold after the last key, and none holds a key or a flat tone', async () => {
  const live = await bridgedCall();
  const captureId = await startCapture(live, 'security-code');
  const sentAt = h.emulator.now();
  // the caller keys on past the code's three digits, as into a longer field
  await live.caller.sendAudio(keyed('12345'), { realtime: true });
  const done = await captureEnded(h, alice, live.call.sid, captureId);
  // the code is the first three keys; the two after it count into nothing
  expect(done).toMatchObject({ status: 'completed', entered: 3, masked: '***', valid: true });

  const lastKeyAt = sentAt + 4 * KEY_MS;
  await heldThenResumed(live, sentAt, lastKeyAt);
  // the keys past the count caused no error
  expect(h.logs.text).not.toContain('capture did not end cleanly');
  await live.call.hangup();
});

test('a three-digit security code whose third key is held for 400 ms: its tone ends inside the paused stretch', async () => {
  const live = await bridgedCall();
  const captureId = await startCapture(live, 'security-code');
  const HELD = 3200;
  const audio = concat([keyTone('1', TONE_SAMPLES), silence(GAP_SAMPLES), keyTone('2', TONE_SAMPLES), silence(GAP_SAMPLES), keyTone('3', HELD), silence(1600)]);
  const sentAt = h.emulator.now();
  await live.caller.sendAudio(audio, { realtime: true });
  expect(await captureEnded(h, alice, live.call.sid, captureId)).toMatchObject({ status: 'completed', entered: 3, masked: '***', valid: true });

  const thirdKeyAt = sentAt + 2 * KEY_MS;
  await heldThenResumed(live, sentAt, thirdKeyAt);
  await live.call.hangup();
});

test('a capture the agent cancels while the caller keys: the recordings resume only a hold after the last key', async () => {
  const live = await bridgedCall();
  const captureId = await startCapture(live, 'card-number');
  const sentAt = h.emulator.now();
  const keying = live.caller.sendAudio(keyed('41111111'), { realtime: true });
  await waitFor(
    async () => ((await api(h, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).body as { entered: number }).entered >= 3,
    'three keys',
  );
  const cancelled = await api(h, 'DELETE', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice);
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({ status: 'cancelled' });
  await keying;

  const lastKeyAt = sentAt + 7 * KEY_MS;
  await heldThenResumed(live, sentAt, lastKeyAt);
  await live.call.hangup();
});

test('a security code keyed on past its count on a keypad 3% off frequency (masked, never reported): every recording resumes a hold after the last of those keys, not after the last reported one, and none holds a flat tone', async () => {
  const live = await bridgedCall();
  const captureId = await startCapture(live, 'security-code');
  const OFF_KEYS = '456789012345';
  const off = (k: string) => toMulaw(dtmf(k, TONE_SAMPLES, { lowOffset: 0.03, highOffset: 0.03 }));
  // masked (a wide decoder reads them in the clear) but never reported: the agent hears flat tones only
  expect(wideDecode(concat([...OFF_KEYS].flatMap((k) => [off(k), silence(GAP_SAMPLES)])))).toContain('4567');
  const audio = concat([
    ...[...'123'].flatMap((k) => [keyTone(k, TONE_SAMPLES), silence(GAP_SAMPLES)]),
    // the keying goes on past RESUME_HOLD_MS after the code's third key
    ...[...OFF_KEYS].flatMap((k) => [off(k), silence(GAP_SAMPLES)]),
    silence(1600),
  ]);
  expect((OFF_KEYS.length - 1) * KEY_MS).toBeGreaterThan(RESUME_HOLD_MS);
  const sentAt = h.emulator.now();
  await live.caller.sendAudio(audio, { realtime: true });
  expect(await captureEnded(h, alice, live.call.sid, captureId)).toMatchObject({ status: 'completed', entered: 3, masked: '***', valid: true });

  const lastOffKeyAt = sentAt + (3 + OFF_KEYS.length - 1) * KEY_MS;
  await heldThenResumed(live, sentAt, lastOffKeyAt);
  await live.call.hangup();
});
