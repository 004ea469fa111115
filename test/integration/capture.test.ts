/**
 * Mid-call secure capture end to end (CONTRACT §5, issue 5 acceptance): an emulated bridged call,
 * the caller keying in-band DTMF, the emulator's timeline and recording, the agent's audio judged
 * by an independent decoder (multimon-ng), over REST and over the agent WebSocket.
 */
import { sleep, waitFor, type Harness } from '../support/harness';
import { holdsValue } from '../support/values';
import { atAgent, relayedThrough } from '../support/relay';
import {
  agentSide,
  AgentSocket,
  api,
  bridgeSuite,
  captureEnded,
  DTMF_FREQUENCIES,
  keyed,
  multimon,
  OFFER_NUMBER,
  placeCall,
  power,
  silence,
  token,
  TONE_SAMPLES,
  type Bridged,
} from '../support/agents';

const CARD = '4111111111111111';

const suite = bridgeSuite();
let h: Harness;
let alice: string;

beforeAll(() => {
  // the decoder is proven on what the caller keys (and fails clearly, up front, when missing)
  expect(multimon(keyed(CARD + '#'))).toBe(CARD + '#');
  h = suite.h;
  alice = suite.alice;
});

type Live = Bridged;

/** an offered call, accepted by alice over REST (or her socket), bridged */
async function bridgedCall(sock?: AgentSocket): Promise<Live> {
  const { call, caller } = await placeCall(h, OFFER_NUMBER, 'offered');
  if (sock) {
    await sock.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'offer on the socket');
    sock.send({ type: 'handoff.accept', callSid: call.sid });
  } else {
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  }
  const { agentCall, agent } = await agentSide(h, call.sid);
  // a second of the caller's audio, relayed to the agent, whose call is what records the bridge
  await caller.sendAudio(silence(8000));
  await waitFor(() => agentCall.recordingAudio.length >= 8000, 'recorded audio');
  return { call, caller, agentCall, agent };
}

const recordingEntries = (callSid: string) =>
  h.emulator.timelineFor(callSid).filter((e): e is Extract<typeof e, { type: 'recording' }> => e.type === 'recording');

/** keys the card at the caller, checking the recording was paused before the first key */
async function keyCard(live: Live): Promise<{ firstKeyAt: number }> {
  const paused = await waitFor(() => recordingEntries(live.agentCall.sid).find((e) => e.status === 'paused'), 'recording paused');
  const firstKeyAt = h.emulator.now();
  expect(paused.t).toBeLessThan(firstKeyAt);
  expect(h.emulator.recordingStatusAt(live.agentCall.sid, firstKeyAt)).toBe('paused');
  const recorded = live.agentCall.recordingAudio.length;
  const audio = keyed(CARD + '#');
  await live.caller.sendAudio(audio);
  // none of the keyed stretch reached the recording (only its trailing silence, after the resume)
  expect(live.agentCall.recordingAudio.length - recorded).toBeLessThan(audio.length - 16 * 1280);
  // all of it at the agent: what assertNothingLeaked decodes is the whole card, not part of it
  await relayedThrough(h, live.caller, live.agent);
  return { firstKeyAt };
}

/** the recording resumed after the capture; neither the agent nor the recording can decode a key */
function assertNothingLeaked(live: Live, firstKeyAt: number): void {
  const resumed = recordingEntries(live.agentCall.sid).find((e) => e.status === 'in-progress' && e.t > firstKeyAt);
  expect(resumed).toBeDefined();
  expect(h.emulator.recordingStatusAt(live.agentCall.sid, h.emulator.now())).toBe('in-progress');
  // keyCard waited for all of the card at the agent: the decoder hears the whole of it
  expect(multimon(live.agent.received)).toBe('');
  // the caller's own call never recorded (its flow starts no recording before a bridge)
  expect(live.call.recordings).toEqual([]);
  expect(live.agentCall.recordingAudio.length).toBeGreaterThanOrEqual(8000);
  for (const channel of live.agentCall.recordings.flatMap((r) => r.channels())) expect(multimon(channel)).toBe('');
  expect(multimon(live.agentCall.recordingAudio)).toBe('');
}

async function assertNoValueAnywhere(): Promise<void> {
  const logs = h.logs.text;
  for (const probe of [CARD, '41111111', '4111 1111']) expect(logs).not.toContain(probe);
  const keys = await h.scan();
  for (const k of keys) expect(k.content).not.toContain('411111111111');
  for (const k of keys) expect(k.ttl).toBeGreaterThan(0);
  const metrics = await (await fetch(h.metricsUrl)).text();
  expect(metrics).not.toContain('411111');
}

describe('capture over REST', () => {
  it('pauses the recording before the first key, captures 4111111111111111# as a masked valid visa, resumes, leaks no key', async () => {
    const live = await bridgedCall();
    const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    expect(captureId).toMatch(/^cap_/);
    const capturing = await api(h, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice);
    expect(capturing.body).toMatchObject({ status: 'capturing', entered: 0 });

    const { firstKeyAt } = await keyCard(live);
    const done = await captureEnded(h, alice, live.call.sid, captureId, 'capture done');
    expect(done).toMatchObject({ status: 'completed', entered: 16, masked: '************1111', valid: true, brand: 'visa', last4: '1111' });

    const call = (await api(h, 'GET', `/v1/calls/${live.call.sid}`, alice)).body as { fields: Record<string, unknown>; capture: unknown; recording: unknown };
    expect(call.fields.card).toMatchObject({ kind: 'card-number', masked: '************1111', last4: '1111', brand: 'visa', valid: true });
    expect(call.capture).toMatchObject({ id: captureId, status: 'completed' });
    expect(call.recording).toMatchObject({ status: 'none' });
    expect((call as unknown as { recordings: unknown }).recordings).toEqual([
      { leg: 'caller', status: 'none' },
      { leg: 'agent', sid: live.agentCall.recordings[0].sid, status: 'in-progress' },
    ]);
    // the value is in the vault, under the field's token, and nowhere else
    const session = await h.app.services.calls.get(live.call.sid);
    expect(await h.app.services.vault.get(live.call.sid, 'card', session!.fields.card.token!)).toBe(CARD);

    await waitFor(() => recordingEntries(live.agentCall.sid).some((e) => e.status === 'in-progress' && e.t > firstKeyAt), 'recording resumed');
    assertNothingLeaked(live, firstKeyAt);
    await assertNoValueAnywhere();
    const audit = (await api(h, 'GET', `/v1/calls/${live.call.sid}/audit`, token(h, 'sue', 'supervisor'))).body as { entries: { type: string }[] };
    expect(audit.entries.map((e) => e.type)).toEqual(expect.arrayContaining(['capture.started', 'capture.completed', 'recording.paused', 'recording.resumed']));
    await live.call.hangup();
  });

  it('refuses with 503 recording-pause-failed when Twilio cannot pause, leaving no capture state', async () => {
    const live = await bridgedCall();
    const before = (await h.scan()).map((k) => k.key);
    h.emulator.faults.recordingPause = { status: 500 };
    try {
      const r = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
      expect(r.status).toBe(503);
      expect(r.body).toMatchObject({ error: 'recording-pause-failed' });
    } finally {
      delete h.emulator.faults.recordingPause;
    }
    const added = (await h.scan()).map((k) => k.key).filter((k) => !before.includes(k));
    expect(added.filter((k) => /capture/.test(k))).toEqual([]);
    const call = (await api(h, 'GET', `/v1/calls/${live.call.sid}`, alice)).body as { capture: unknown };
    expect(call.capture).toBeNull();
    // no key press goes anywhere: a capture can start now that Twilio answers again
    const again = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(again.status).toBe(201);
    await live.call.hangup();
  });

  it('answers 409 to a second capture while one runs; cancel resumes the recording', async () => {
    const live = await bridgedCall();
    const first = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'expiry', kind: 'expiry', blanket: true });
    expect(first.status).toBe(201);
    const second = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(second.status).toBe(409);
    const { captureId } = first.body as { captureId: string };
    const pausedAt = h.emulator.now();
    const cancelled = await api(h, 'DELETE', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice);
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', entered: 0 });
    expect(recordingEntries(live.agentCall.sid).some((e) => e.status === 'in-progress' && e.t > pausedAt)).toBe(true);
    const third = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(third.status).toBe(201);
    await live.call.hangup();
  });

  it("a resume Twilio takes after its timeout does not undo the next capture's pause: no key of the second capture is recorded", async () => {
    const live = await bridgedCall();
    const first = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(first.status).toBe(201);
    const { captureId } = first.body as { captureId: string };
    // the first capture's resume is answered past PAUSE_ACK_TIMEOUT_MS, then done: the capture
    // ends with the resume unconfirmed and the next capture may start at once
    h.emulator.faults.recordingResume = { delayMs: 4_000, times: 1 };
    const cancelledAt = h.emulator.now();
    expect((await api(h, 'DELETE', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).status).toBe(200);
    const second = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
    expect(second.status).toBe(201);
    // past the moment Twilio carried out the late resume
    await sleep(Math.max(0, cancelledAt + 4_500 - h.emulator.now()));
    expect(h.emulator.recordingStatusAt(live.agentCall.sid, h.emulator.now())).toBe('paused');
    const recorded = live.agentCall.recordingAudio.length;
    const audio = keyed(CARD + '#');
    await live.caller.sendAudio(audio);
    expect(live.agentCall.recordingAudio.length - recorded).toBeLessThan(audio.length - 16 * 1280);
    const done = await captureEnded(h, alice, live.call.sid, (second.body as { captureId: string }).captureId, 'second capture done');
    expect(done).toMatchObject({ status: 'completed', last4: '1111' });
    for (const channel of live.agentCall.recordings.flatMap((r) => r.channels())) expect(multimon(channel)).toBe('');
    await live.call.hangup();
  });

  it('answers 400 to a bad capture body on a visible call, and 409 on a call that is not bridged', async () => {
    const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' })).status).toBe(409);
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'pin' })).status).toBe(400);
    await call.hangup();
  });
});

describe('a failed capture shows nothing', () => {
  it('a card that fails Luhn: all *, no last4 and no brand in the result, the call, the events, the store, the audit and the logs', async () => {
    const sock = await AgentSocket.open(h, alice);
    const live = await bridgedCall(sock);
    const BAD = '4111111111111737';
    const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    await live.caller.sendAudio(keyed(`${BAD}#`));
    const failed = await sock.next((e) => e.type === 'capture.failed' && e.captureId === captureId, 'capture.failed');
    const result = (await api(h, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).body as Record<string, unknown>;
    const field = ((await api(h, 'GET', `/v1/calls/${live.call.sid}`, alice)).body as { fields: Record<string, Record<string, unknown>> }).fields.card;
    for (const seen of [failed, result, field]) {
      expect(seen).toMatchObject({ masked: '*'.repeat(16), valid: false });
      expect(seen).not.toHaveProperty('last4');
      expect(seen).not.toHaveProperty('brand');
    }
    const audit = (await api(h, 'GET', `/v1/calls/${live.call.sid}/audit`, token(h, 'sue', 'supervisor'))).body as { entries: unknown[] };
    const keys = await h.scan();
    const texts = [JSON.stringify(sock.events), JSON.stringify(audit), h.logs.text, ...keys.map((k) => k.content)];
    for (const text of texts) {
      expect(holdsValue(text, BAD)).toBe(false);
      expect(holdsValue(text, '1737')).toBe(false);
    }
    expect(JSON.stringify(sock.events.filter((e) => e.callSid === live.call.sid))).not.toMatch(/visa/);
    await live.call.hangup();
    sock.close();
  });
});

const tonesMasked = async (): Promise<string> => {
  const text = await (await fetch(`${h.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((l) => /^tonewall_(tones_masked|dtmf_events)_total /.test(l))
    .join('|');
};

describe('blanket masking', () => {
  it('plays one continuous flat tone to the agent for the whole capture, gaps between keys included', async () => {
    const live = await bridgedCall();
    const started = await api(h, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code', blanket: true });
    expect(started.status).toBe(201);
    const c0 = live.caller.sentBytes;
    const tonesBefore = await tonesMasked();
    await live.caller.sendAudio(keyed('123'));
    await waitFor(async () => {
      const r = await api(h, 'GET', `/v1/calls/${live.call.sid}/captures/${(started.body as { captureId: string }).captureId}`, alice);
      return (r.body as { status: string }).status === 'completed';
    }, 'capture completed');
    // the keys under the blanket are counted nowhere: /metrics does not move
    expect(await tonesMasked()).toBe(tonesBefore);
    await relayedThrough(h, live.caller, live.agent);
    const R = live.agent.received;
    // the silent gap after the first key, as the agent hears it: the flat tone, not silence
    // (atAgent: where the keys' first byte landed, the look-ahead counted in)
    const gap = atAgent(h, live.caller, c0) + TONE_SAMPLES + 80;
    const flat = power(R, gap, 400, 2000);
    expect(flat).toBeGreaterThan(1e5);
    for (const f of DTMF_FREQUENCIES) expect(power(R, gap, 400, f)).toBeLessThan(flat / 100);
    expect(multimon(R)).toBe('');
    // once the capture ended the blanket is off: silence passes as silence again
    const c1 = live.caller.sentBytes;
    await live.caller.sendAudio(silence(8000));
    await relayedThrough(h, live.caller, live.agent);
    const before = atAgent(h, live.caller, c1);
    const tail = live.agent.received.subarray(before + 4000, before + 8000);
    expect(power(tail, 0, tail.length, 2000)).toBeLessThan(flat / 1000);
    await live.call.hangup();
  });
});

describe('capture over the WebSocket', () => {
  it('accepts and captures over the socket: progress counts 1..16 with no digit, completed masked', async () => {
    const sock = await AgentSocket.open(h, alice);
    const live = await bridgedCall(sock);
    await sock.next((e) => e.type === 'call.bridged' && e.callSid === live.call.sid, 'call.bridged');
    sock.send({ type: 'capture.start', callSid: live.call.sid, name: 'card', kind: 'card-number', blanket: false });
    const started = await sock.next((e) => e.type === 'capture.started' && e.callSid === live.call.sid, 'capture.started');
    const { firstKeyAt } = await keyCard(live);
    const completed = await sock.next((e) => e.type === 'capture.completed' && e.callSid === live.call.sid, 'capture.completed');
    expect(completed).toMatchObject({ captureId: started.captureId, masked: '************1111', valid: true, brand: 'visa', last4: '1111' });

    const progress = sock.events.filter((e) => e.type === 'capture.progress' && e.callSid === live.call.sid);
    expect(progress.map((e) => e.entered)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
    for (const e of progress) {
      expect(e.masked).toBe('*'.repeat(e.entered as number));
      const { callSid: _c, captureId: _i, entered: _n, ...rest } = e;
      expect(JSON.stringify(rest)).not.toMatch(/[0-9]/);
    }
    for (const text of sock.raw) expect(text).not.toMatch(/4111111|111111111/);
    for (const e of sock.events) expect(typeof e.callSid).toBe('string');

    await waitFor(() => recordingEntries(live.agentCall.sid).some((e) => e.status === 'in-progress' && e.t > firstKeyAt), 'recording resumed');
    assertNothingLeaked(live, firstKeyAt);
    await assertNoValueAnywhere();

    // a second capture over the socket while one runs is refused with an error event
    sock.send({ type: 'capture.start', callSid: live.call.sid, name: 'cvv', kind: 'security-code', blanket: true });
    const cvv = await sock.next((e) => e.type === 'capture.started' && e.name === 'cvv', 'cvv capture.started');
    sock.send({ type: 'capture.start', callSid: live.call.sid, name: 'again', kind: 'digits' });
    const refused = await sock.next((e) => e.type === 'error' && e.request === 'capture.start', 'refused');
    expect(refused.code).toBe('TW_ERR_CAPTURE_RUNNING');
    sock.send({ type: 'capture.cancel', callSid: live.call.sid, captureId: cvv.captureId });
    const failed = await sock.next((e) => e.type === 'capture.failed' && e.captureId === cvv.captureId, 'cancelled');
    expect(failed.reason).toBe('cancelled');
    await sleep(50);
    expect(sock.isOpen).toBe(true);
    await live.call.hangup();
    await sock.next((e) => e.type === 'call.ended' && e.callSid === live.call.sid, 'call.ended');
    sock.close();
  });
});
