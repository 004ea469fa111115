/**
 * A secure capture in a bridge, with a recording the service did not start: another application
 * (a compliance recorder) records the caller's call, or the agent's, over Twilio's REST API,
 * starting it during the bridge (one running at the handoff is paused for the whole bridge:
 * bridge-other-recordings.test.ts). The caller's call is not masked (the service masks only what
 * it relays to the agent), so such a recording hears every key the caller presses. Before the
 * capture listens, both calls' recordings are listed and every one in progress is paused by its
 * SID with the agent call's own, Twilio's acknowledgement awaited, all or none (a failure refuses
 * the capture: 503). The agent call's are resumed after; one on the caller's call is taken into
 * the bridge's hold instead, so it hears no key for the rest of the bridge. Decoded, the other
 * recording holds no key of the card, while it recorded the caller before the capture.
 */
import type { EmulatedCall } from '../../tools/emulator';
import { concat, multimon, speech } from '../support/audio';
import { wideDecode } from '../support/decoders';
import { relayedThrough } from '../support/relay';
import { appRecording, metricValue, waitFor, type Harness } from '../support/harness';
import { acceptedCall, api, bridgeSuite, captureEnded, keyed, type Bridged } from '../support/agents';

const CARD = '4111111111111111';

const suite = bridgeSuite();
let h: Harness;
let alice: string;

beforeAll(() => {
  // both decoders are proven on the very keys the caller presses
  expect(multimon(keyed(`${CARD}#`))).toBe(`${CARD}#`);
  expect(wideDecode(keyed(`${CARD}#`))).toBe(`${CARD}#`);
  h = suite.h;
  alice = suite.alice;
});

type Live = Bridged;

/** an offered call accepted by alice, bridged, the agent call's own recording known by its SID (as it is long before an agent asks for a card) */
async function bridgedCall(): Promise<Live> {
  const { call, caller, agentCall, agent } = await acceptedCall(h, alice);
  return { call, caller, agentCall, agent };
}

const statuses = (callSid: string, recordingSid: string) => h.emulator.recordingStatuses(callSid, recordingSid);

/** every channel and the mix of the recording: not one key, by either decoder */
function holdsNoKey(call: EmulatedCall, recordingSid: string): void {
  const rec = call.recordings.find((r) => r.sid === recordingSid)!;
  for (const audio of [...rec.channels(), rec.mixed]) {
    expect(multimon(audio)).toBe('');
    expect(wideDecode(audio)).toBe('');
  }
}

test("a recording another application starts on the caller's call during the bridge is paused before the capture listens, holds no key of the card, and stays paused after, held for the rest of the bridge", async () => {
  const live = await bridgedCall();
  const other = await appRecording(h, live.call.sid);
  // the caller talks: the other recording hears them
  await live.caller.sendAudio(speech(1));
  const rec = live.call.recordings.find((r) => r.sid === other)!;
  await waitFor(() => rec.mixed.length >= 8000, 'the other recording to hear the caller');

  const metric = () => metricValue(h, 'tonewall_other_recordings_paused_total', { where: 'capture' });
  const counted = await metric();
  const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  expect(await metric()).toBe(counted + 1);
  // paused (acknowledged) by the time the capture answered, before the first key
  const firstKeyAt = h.emulator.now();
  expect(h.emulator.recordingStatusAt(live.call.sid, firstKeyAt, other)).toBe('paused');
  expect(h.emulator.recordingStatusAt(live.agentCall.sid, firstKeyAt)).toBe('paused');
  const before = rec.mixed.length;
  await live.caller.sendAudio(keyed(`${CARD}#`));
  expect(await captureEnded(h, alice, live.call.sid, captureId)).toMatchObject({ status: 'completed', masked: '************1111', valid: true });

  // not resumed after: the bridge holds it from now on, and it hears nothing more of the caller
  await waitFor(
    async () => (await h.app.services.calls.get(live.call.sid))?.handoff.recordingsHeld?.includes(other),
    'the other recording held for the bridge',
  );
  expect(statuses(live.call.sid, other)).toEqual(['in-progress', 'paused']);
  expect(rec.mixed.length).toBe(before);
  await live.caller.sendAudio(concat([speech(1, 9), keyed('5500#')]));
  await relayedThrough(h, live.caller, live.agent);
  expect(rec.mixed.length).toBe(before);
  holdsNoKey(live.call, other);
  // nor does the log stream, or a metric
  expect(h.logs.text).not.toContain('41111111');
  expect(await (await fetch(h.metricsUrl)).text()).not.toContain('411111');

  // the audit trail names its pause with the agent call's own, the agent call's resume, and its hold, on the caller's call
  const entries = (await h.app.services.audit.list(live.call.sid)) as unknown as Record<string, unknown>[];
  const ownSid = live.agentCall.recordings[0].sid;
  expect(entries.filter((e) => e.type === 'recording.paused').map((e) => e.recordingSid)).toEqual([ownSid, other]);
  expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.recordingSid)).toEqual([ownSid]);
  expect(entries).toContainEqual(expect.objectContaining({ type: 'recording.held', where: 'bridge', recordingSids: other }));
  await live.call.hangup();
});

test("one on the agent's call, besides its own, is paused and resumed with it", async () => {
  const live = await bridgedCall();
  const other = await appRecording(h, live.agentCall.sid);
  const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  const ownSid = live.agentCall.recordings[0].sid;
  for (const sid of [ownSid, other]) expect(h.emulator.recordingStatusAt(live.agentCall.sid, h.emulator.now(), sid)).toBe('paused');
  await live.caller.sendAudio(keyed('123#'));
  expect(await captureEnded(h, alice, live.call.sid, captureId)).toMatchObject({ status: 'completed' });
  for (const sid of [ownSid, other]) {
    await waitFor(() => statuses(live.agentCall.sid, sid).at(-1) === 'in-progress', 'each resumed');
    expect(statuses(live.agentCall.sid, sid)).toEqual(['in-progress', 'paused', 'in-progress']);
  }
  await live.call.hangup();
});

test("the other recording's pause fails: the capture is refused (503, fail closed), and the agent call's, paused first, runs again", async () => {
  const live = await bridgedCall();
  const other = await appRecording(h, live.call.sid);
  // the agent call's own recording is paused first, then the caller's call's other one, refused
  h.emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
  try {
    const r = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'recording-pause-failed' });
  } finally {
    h.emulator.faults.recordingPause = undefined;
  }
  const ownSid = live.agentCall.recordings[0].sid;
  expect(statuses(live.agentCall.sid, ownSid)).toEqual(['in-progress', 'paused', 'in-progress']);
  expect(statuses(live.call.sid, other)).toEqual(['in-progress']);
  const view = (await api(h, 'GET', `/v1/calls/${live.call.sid}`, alice)).body as { capture: unknown };
  expect(view.capture).toBeNull();
  const entries = (await h.app.services.audit.list(live.call.sid)) as unknown as Record<string, unknown>[];
  expect(entries).toContainEqual(expect.objectContaining({ type: 'recording.pause-failed', recordingSid: other, twilioStatus: '500' }));
  expect(entries).toContainEqual(expect.objectContaining({ type: 'capture.refused', reason: 'recording-pause-failed' }));
  await live.call.hangup();
});

test("another recording's resume on the agent's call is refused after a capture: it stays paused, and the next capture takes it in (Twilio lists it paused) and resumes it", async () => {
  const live = await bridgedCall();
  const other = await appRecording(h, live.agentCall.sid);
  const capture = async (digits: string) => {
    const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    await live.caller.sendAudio(keyed(`${digits}#`));
    expect(await captureEnded(h, alice, live.call.sid, captureId)).toMatchObject({ status: 'completed' });
  };
  // the agent call's own is resumed first, then the other one there, refused outright
  // (a 400; a 429, 500 or 503 would be tried again, recording/controller.ts RESUME_RETRIED)
  h.emulator.faults.recordingResume = { status: 400, after: 1, times: 1 };
  try {
    await capture('123');
  } finally {
    h.emulator.faults.recordingResume = undefined;
  }
  const ownSid = live.agentCall.recordings[0].sid;
  await waitFor(() => statuses(live.agentCall.sid, ownSid).at(-1) === 'in-progress', "the agent call's own resumed");
  expect(statuses(live.agentCall.sid, other)).toEqual(['in-progress', 'paused']);

  await capture('456');
  await waitFor(() => statuses(live.agentCall.sid, other).at(-1) === 'in-progress', 'the other recording resumed after the next capture');
  const resumes = ((await h.app.services.audit.list(live.call.sid)) as unknown as Record<string, unknown>[]).filter(
    (e) => e.recordingSid === other && String(e.type).startsWith('recording.resume'),
  );
  expect(resumes.map((e) => e.type)).toEqual(['recording.resume-failed', 'recording.resumed']);
  expect((await h.app.services.calls.get(live.call.sid))?.heldRecordings).toBeUndefined();
  holdsNoKey(live.agentCall, other);
  await live.call.hangup();
});
