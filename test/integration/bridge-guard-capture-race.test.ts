/**
 * The bridge's recording guard (src/recording/bridge-guard.ts) and a capture that starts at the
 * same moment, both on another application's recordings of the caller's call. The caller keys
 * to the agent as the agent starts a capture: the guard lists the caller's call and pauses what
 * runs there, taking each into the bridge's hold (`handoff.recordingsHeld`), while the capture,
 * which listed the same recordings running, pauses them for itself. A capture that is then
 * refused (a pause Twilio refuses after others went through) undoes its pauses: were a
 * recording the guard holds among them, it would run again for the rest of the bridge (until a
 * later key's list found it) and hear the caller's keys in the clear. The interleavings are forced
 * with the emulator's delayed and refused pauses, in both orders: the guard's pause first, and
 * the capture's first with the guard's landing before the capture's undo. Whichever, a
 * recording on the caller's call is never resumed during the bridge, and decoded holds no key
 * the caller pressed after the capture's refusal.
 */
import type { EmulatedCall, TimelineEntry } from '../../tools/emulator';
import { multimon } from '../support/audio';
import { wideDecode } from '../support/decoders';
import { relayedThrough } from '../support/relay';
import { appRecording, waitFor, type Harness } from '../support/harness';
import { acceptedCall, api, bridgeSuite, keyed, type Bridged } from '../support/agents';

/** what the caller keys to the agent after the capture was refused (an account number, say) */
const AFTER_KEYS = '5500#';
/**
 * How long the emulator holds back an injected slow pause. Each is far below the pause's bound
 * (PAUSE_ACK_TIMEOUT_MS, 3 s), and the steps forced in between take a few REST round trips on
 * the loopback; the timeline then proves the order came out as forced.
 */
const SLOW_MS = 1_000;

const suite = bridgeSuite();
let h: Harness;
let alice: string;

beforeAll(() => {
  expect(multimon(keyed(AFTER_KEYS))).toBe(AFTER_KEYS);
  expect(wideDecode(keyed(AFTER_KEYS))).toBe(AFTER_KEYS);
  h = suite.h;
  alice = suite.alice;
});

interface Live extends Bridged {
  own: string;
  /** another application's two recordings of the caller's call, started during the bridge, in the order Twilio lists them */
  others: [string, string];
}

/** the test's call, ended after it whatever it showed: a call left up would go on taking the next test's faults */
let current: EmulatedCall | undefined;

async function bridgedCall(): Promise<Live> {
  const live = await acceptedCall(h, alice);
  current = live.call;
  const others: [string, string] = [await appRecording(h, live.call.sid, 'mono'), await appRecording(h, live.call.sid, 'mono')];
  return { ...live, others };
}

/** the REST updates of one recording Twilio answered, in the order it answered them */
const updates = (callSid: string, recordingSid: string) =>
  h.emulator.timeline.filter(
    (e): e is Extract<TimelineEntry, { type: 'rest' }> =>
      e.type === 'rest' && e.method === 'POST' && e.callSid === callSid && e.path.endsWith(`/Recordings/${recordingSid}.json`),
  );
const answered = (callSid: string, recordingSid: string, status: string) => updates(callSid, recordingSid).filter((e) => e.params.Status === status);

const held = async (callSid: string) => (await h.app.services.calls.get(callSid))?.handoff.recordingsHeld ?? [];

/** the fault taken: its request is at the emulator, held back or refused */
const taken = (what: string) => waitFor(() => h.emulator.faults.recordingPause === undefined, what);

const startCapture = (live: Live) => api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });

/**
 * After the refused capture: the agent call's own runs again, the caller's call's two are held
 * by the bridge and were never resumed, and the keys the caller presses now reach the agent and
 * neither of them.
 */
async function heldThrough(live: Live): Promise<void> {
  await waitFor(() => h.emulator.recordingStatuses(live.agentCall.sid, live.own).at(-1) === 'in-progress', "the agent call's own resumed");
  expect(await held(live.call.sid)).toEqual(expect.arrayContaining(live.others));
  const recs = live.others.map((sid) => live.call.recordings.find((r) => r.sid === sid)!);
  const heard = (rec: (typeof recs)[number]) => ({ sid: rec.sid, length: rec.mixed.length, keys: multimon(rec.mixed), wide: wideDecode(rec.mixed) });
  const before = recs.map(heard);
  await live.caller.sendAudio(keyed(AFTER_KEYS));
  await relayedThrough(h, live.caller, live.agent);
  expect(multimon(live.agent.received)).toBe('');
  for (const [i, rec] of recs.entries()) {
    // decoded, each holds what it held at the refusal (at most the key that set the guard off): none of the keys after
    expect(heard(rec)).toEqual(before[i]);
    expect({ sid: rec.sid, statuses: h.emulator.recordingStatuses(live.call.sid, rec.sid) }).toEqual({ sid: rec.sid, statuses: ['in-progress', 'paused'] });
    expect(answered(live.call.sid, rec.sid, 'in-progress')).toEqual([]);
  }
  const entries = (await h.app.services.audit.list(live.call.sid)) as unknown as Record<string, unknown>[];
  expect(entries.filter((e) => e.type === 'recording.resumed' && live.others.includes(e.recordingSid as string))).toEqual([]);
  expect(entries).toContainEqual(expect.objectContaining({ type: 'capture.refused', reason: 'recording-pause-failed' }));
  expect(h.logs.text).not.toContain(AFTER_KEYS);
}

afterEach(async () => {
  h.emulator.faults.recordingPause = undefined;
  await current?.hangup();
  await current?.ended;
  current = undefined;
});

test("the guard holds first: the capture listed the caller's call's recordings running, the guard pauses and holds them while the capture's first pause waits at Twilio; the capture is then refused, and its undo resumes neither", async () => {
  const live = await bridgedCall();
  const [first, second] = live.others;
  // the capture's first pause (the agent call's own) waits at Twilio: it has listed both calls by then
  h.emulator.faults.recordingPause = { delayMs: SLOW_MS, times: 1 };
  const refused = startCapture(live);
  await taken("the capture's first pause at Twilio");
  // the caller keys: the guard lists both running, pauses them and holds them
  await live.caller.sendAudio(keyed('5'));
  await waitFor(async () => (await held(live.call.sid)).length === 2, 'both held by the guard');
  // the capture's pause of the first goes through (it is paused already), its pause of the second is refused
  h.emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
  expect((await refused).status).toBe(503);

  // as forced: the guard's pauses were answered before the capture's own, then the capture's of the first and the second
  const ownPaused = answered(live.agentCall.sid, live.own, 'paused')[0];
  expect(answered(live.call.sid, first, 'paused').map((e) => [e.status, e.t > ownPaused.t])).toEqual([
    [200, false],
    [200, true],
  ]);
  expect(answered(live.call.sid, second, 'paused').map((e) => [e.status, e.t > ownPaused.t])).toEqual([
    [200, false],
    [500, true],
  ]);
  await heldThrough(live);
});

test("the capture pauses first: the guard listed the recordings running, its pause of the first lands after the capture's and before the capture, refused, undoes its pauses; the undo resumes neither", async () => {
  const live = await bridgedCall();
  const [first, second] = live.others;
  // the capture's first pause (the agent call's own) waits at Twilio: it has listed both calls by then
  h.emulator.faults.recordingPause = { delayMs: SLOW_MS, times: 1 };
  const refused = startCapture(live);
  await taken("the capture's first pause at Twilio");
  // the caller keys: the guard lists both running; its pause of the first waits longer than the capture's own
  h.emulator.faults.recordingPause = { delayMs: SLOW_MS * 1.5, times: 1 };
  await live.caller.sendAudio(keyed('5'));
  await taken("the guard's pause of the first at Twilio");
  // the capture's pause of the first goes through, of the second is refused, late: the guard's pause of the first lands in between
  h.emulator.faults.recordingPause = { status: 500, delayMs: SLOW_MS, after: 1, times: 1 };
  expect((await refused).status).toBe(503);
  await waitFor(async () => (await held(live.call.sid)).length === 2, 'both held by the guard');

  // as forced: the first paused by the capture, then by the guard (Twilio answers a pause of a
  // paused recording), both before Twilio refused the capture's pause of the second
  const pausesOfFirst = answered(live.call.sid, first, 'paused');
  const refusedAt = answered(live.call.sid, second, 'paused').find((e) => e.status === 500)!.t;
  expect(pausesOfFirst.map((e) => [e.status, e.t < refusedAt])).toEqual([
    [200, true],
    [200, true],
  ]);
  expect(pausesOfFirst[0].t).toBeGreaterThan(answered(live.agentCall.sid, live.own, 'paused')[0].t);
  await heldThrough(live);
});
