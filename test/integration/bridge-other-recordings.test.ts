/**
 * A bridge, with a recording the service did not start on the caller's call: another application
 * (a compliance recorder) records it over Twilio's REST API from the IVR on. The service masks
 * only what it relays to the agent; the caller's own call is not masked, so such a recording
 * would hear, in the clear, every key the caller presses while talking to the agent. Before the
 * caller's stream is given, the call's recordings are listed and every other one in progress is
 * paused by its SID for the whole bridge, Twilio's acknowledgement awaited, all or none (a pause
 * refused: no bridge, the apology). Decoded, that recording holds the menu's keys and nothing
 * the caller keyed after, in the IVR's card or in the bridge; the agent hears flat tones only.
 */
import { HANDOFF_REFUSED } from '../../src/flows/steps/handoff';
import { GUARD_INTERVAL_MS } from '../../src/recording/bridge-guard';
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { concat, multimon, silence, speech } from '../support/audio';
import { api, captureEnded, GAP_SAMPLES, keyed, TONE_SAMPLES, token } from '../support/agents';
import { dtmf, toMulaw } from '../support/synth';
import { CARD_PROMPT, CARD_STEPS, MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { relayedThrough } from '../support/relay';
import { appRecording, metricValue, startHarness, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';

const CARD_THEN_BRIDGE = '+15005550041';
const MENU_THEN_BRIDGE = '+15005550042';
const CARD = '4111111111111111';
/** what the caller keys to the agent, outside any capture (an account number the agent asked for, say) */
const BRIDGE_KEYS = '5500#';

let h: Harness;
let alice: string;

beforeAll(async () => {
  // both decoders are proven on the very keys the caller presses in the bridge
  expect(multimon(keyed(BRIDGE_KEYS))).toBe(BRIDGE_KEYS);
  expect(wideDecode(keyed(BRIDGE_KEYS))).toBe(BRIDGE_KEYS);
  h = await startHarness({
    flows: {
      // recorded (so the agent's call is recorded, masked): the menu, the card, then a bridge to alice
      'card-then-bridge': `id: card-then-bridge\nnumbers: ["${CARD_THEN_BRIDGE}"]\nrecord: true\nsteps:\n${MENU_STEP}${CARD_STEPS.card}handoff:\n  mode: bridge\n  to: "client:alice"\n`,
      // not recorded: the menu, then a bridge to alice (the hold is the only pause)
      'menu-then-bridge': `id: menu-then-bridge\nnumbers: ["${MENU_THEN_BRIDGE}"]\nsteps:\n${MENU_STEP}handoff:\n  mode: bridge\n  to: "client:alice"\n`,
    },
  });
  alice = token(h, 'alice');
});

// no message the service sent on any stream is one Twilio refuses (31924)
afterEach(() => expectNoStreamErrors(h.emulator));

afterAll(async () => {
  await h?.close();
});

const statuses = (callSid: string, recordingSid: string) => h.emulator.recordingStatuses(callSid, recordingSid);
const audit = async (callSid: string) => (await h.app.services.audit.list(callSid)) as unknown as Record<string, unknown>[];
const said = (c: EmulatedCall) => c.transcript.flatMap((t) => (t.verb === 'Say' ? [t.text] : []));

/** other applications' recordings paused so far, where */
const othersPaused = (where: string) => metricValue(h, 'tonewall_other_recordings_paused_total', { where });

/**
 * A call to `to`: at the menu another application starts `others` recordings on it over REST
 * (the flow's own, if it records, known by its SID first, as it is long before a caller answers
 * a menu); the caller answers '1' and keys the card if asked.
 */
async function call(to: string, others = 1): Promise<{ c: EmulatedCall; other: string[] }> {
  const other: string[] = [];
  let placed: EmulatedCall | undefined = undefined;
  placed = await h.emulator.placeCall({
    from: '+15550004444',
    to,
    voiceUrl: h.voiceUrl,
    statusCallback: h.statusUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt === CARD_PROMPT) return `${CARD}#`;
      expect(prompt).toBe(MENU_PROMPT);
      if (to === CARD_THEN_BRIDGE) await waitFor(async () => (await h.app.services.calls.get(placed!.sid))?.recording.sid, "the flow's recording SID");
      for (let i = 0; i < others; i++) other.push(await appRecording(h, placed!.sid, 'mono'));
      return '1#';
    },
  });
  return { c: placed, other };
}

/** the call bridged to alice: the caller's media leg and the agent's */
async function bridged(c: EmulatedCall): Promise<{ caller: MediaLeg; agentCall: EmulatedCall; agent: MediaLeg }> {
  const caller = await c.legReady;
  const session = await waitFor(
    async () => {
      const s = await h.app.services.calls.get(c.sid);
      return s?.state === 'bridged' && s.handoff.agentCallSid ? s : null;
    },
    'bridged',
    10_000,
  );
  const agentCall = await waitFor(() => h.emulator.calls.get(session.handoff.agentCallSid!), 'the agent call');
  return { caller, agentCall, agent: await agentCall.legReady };
}

test("another application's recording of the caller's call, paused for the card, stays paused through the whole bridge: it holds no key the caller pressed after the menu, the agent hears flat tones only, and it ends with the call, never resumed", async () => {
  const [ivr, bridge] = [await othersPaused('ivr'), await othersPaused('bridge')];
  const { c, other } = await call(CARD_THEN_BRIDGE);
  const { caller, agentCall, agent } = await bridged(c);
  const rec = c.recordings.find((r) => r.sid === other[0])!;
  // counted for the operator: paused for the card, then for the bridge
  expect(await othersPaused('ivr')).toBe(ivr + 1);
  expect(await othersPaused('bridge')).toBe(bridge + 1);
  // the card's pause taken over by the bridge's: never resumed in between (the flow's own stopped)
  expect(statuses(c.sid, other[0])).toEqual(['in-progress', 'paused']);
  const session = await h.app.services.calls.get(c.sid);
  expect(session?.handoff.recordingsHeld).toEqual(other);

  // the caller talks and keys to the agent, outside any capture
  const firstKeyAt = h.emulator.now();
  expect(h.emulator.recordingStatusAt(c.sid, firstKeyAt, other[0])).toBe('paused');
  const sent = concat([speech(1), keyed(BRIDGE_KEYS), speech(1, 9), silence(1600)]);
  await caller.sendAudio(sent);
  await relayedThrough(h, caller, agent);
  // the agent hears flat tones, no key; so does the agent call's own recording (dual: the agent, and what the agent heard)
  expect(multimon(agent.received)).toBe('');
  expect(wideDecode(agent.received)).toBe('');
  for (const audio of [...agentCall.recordings[0].channels(), agentCall.recordings[0].mixed]) expect(multimon(audio)).toBe('');

  // the other recording heard the menu's keys, and not one key after: not the card, not the bridge's
  for (const audio of [...rec.channels(), rec.mixed]) {
    expect(multimon(audio)).toBe('1#');
    expect(wideDecode(audio)).toBe('1#');
  }
  // nor do the log stream or the metrics hold a digit of them
  expect(h.logs.text).not.toContain('41111111');
  expect(h.logs.text).not.toContain(BRIDGE_KEYS);
  expect(await (await fetch(h.metricsUrl)).text()).not.toContain('411111');

  // the audit trail names its pause for the card, its pause for the bridge and the bridge's hold
  const entries = await audit(c.sid);
  expect(entries.filter((e) => e.type === 'recording.paused' && e.recordingSid === other[0])).toHaveLength(2);
  expect(entries).toContainEqual(expect.objectContaining({ type: 'recording.held', where: 'bridge', recordingSids: other[0] }));
  const held = entries.findIndex((e) => e.type === 'recording.held');
  expect(entries.findIndex((e) => e.type === 'handoff')).toBeGreaterThan(held);

  // the agent hangs up: the service ends the caller's call with the bridge (its TwiML holds
  // nothing after the bridge to go on to), so the recording ends paused, never resumed
  await agentCall.hangup();
  await c.ended;
  expect(statuses(c.sid, other[0])).toEqual(['in-progress', 'paused', 'stopped']);
  expect(entries.filter((e) => e.type === 'recording.resumed' && e.recordingSid === other[0])).toEqual([]);
  expect((await audit(c.sid)).filter((e) => e.type === 'recording.resumed' && e.recordingSid === other[0])).toEqual([]);
});

test('a pause Twilio refuses for the bridge: no bridge is made (fail closed), the caller hears the apology, and the one paused before it runs again (all or none)', async () => {
  const bridge = await othersPaused('bridge');
  // the first of the two others is paused, the second refused
  h.emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
  let placed: Awaited<ReturnType<typeof call>>;
  try {
    placed = await call(MENU_THEN_BRIDGE, 2);
    const c = placed.c;
    await waitFor(() => c.transcript.some((t) => t.verb === 'Hangup' || t.verb === 'Connect/Stream'), 'the handoff, or its refusal', 10_000);
  } finally {
    h.emulator.faults.recordingPause = undefined;
  }
  const { c, other } = placed;
  expect(c.transcript.some((t) => t.verb === 'Connect/Stream')).toBe(false);
  await c.ended;
  expect(said(c)).toContain(HANDOFF_REFUSED);
  expect(c.transcript.at(-1)).toEqual({ verb: 'Hangup' });
  // no agent was dialled
  expect(h.emulator.timelineFor(c.sid).some((e) => e.type === 'rest' && e.method === 'POST' && /\/Calls\.json$/.test(e.path))).toBe(false);
  const session = await h.app.services.calls.get(c.sid);
  expect(session?.handoff.holdFailed).toBe(true);
  expect(session?.handoff.recordingsHeld).toBeUndefined();
  expect(statuses(c.sid, other[0])).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  expect(statuses(c.sid, other[1])).toEqual(['in-progress', 'stopped']);
  const entries = await audit(c.sid);
  expect(entries).toContainEqual(expect.objectContaining({ type: 'recording.pause-failed', recordingSid: other[1], twilioStatus: '500' }));
  expect(entries.some((e) => e.type === 'recording.held')).toBe(false);
  expect(await othersPaused('bridge')).toBe(bridge);
});

test('the list cannot be read at the handoff: the bridge is made (as a stretch goes on) and that is logged; the first capture lists the call again, pauses the recording, and leaves it held for the rest of the bridge', async () => {
  h.emulator.faults.recordingsList = { status: 503, times: 1 };
  let placed: Awaited<ReturnType<typeof call>>;
  try {
    placed = await call(MENU_THEN_BRIDGE);
    await waitFor(async () => (await h.app.services.calls.get(placed.c.sid))?.state === 'bridged', 'bridged', 10_000);
  } finally {
    h.emulator.faults.recordingsList = undefined;
  }
  const { c, other } = placed;
  const { caller, agent } = await bridged(c);
  expect(h.logs.lines.some((l) => l.includes(c.sid) && l.includes("the call's recordings could not be listed"))).toBe(true);
  expect((await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld).toEqual([]);
  // nothing keyed yet: until a key or a capture lists the call again, the recording runs
  expect(statuses(c.sid, other[0])).toEqual(['in-progress']);

  const counted = await othersPaused('capture');
  const started = await api(h, 'POST', `/v1/calls/${c.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  expect(await othersPaused('capture')).toBe(counted + 1);
  const { captureId } = started.body as { captureId: string };
  await caller.sendAudio(keyed(`${CARD}#`));
  const ended = await captureEnded(h, alice, c.sid, captureId);
  expect(ended).toMatchObject({ status: 'completed', valid: true });
  // not resumed at the capture's end: taken into the bridge's hold
  await waitFor(async () => (await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld?.length, 'the recording held for the bridge');
  expect((await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld).toEqual(other);
  expect(statuses(c.sid, other[0])).toEqual(['in-progress', 'paused']);
  const rec = c.recordings.find((r) => r.sid === other[0])!;
  const heard = rec.mixed.length;
  await caller.sendAudio(keyed(BRIDGE_KEYS));
  await relayedThrough(h, caller, agent);
  expect(rec.mixed.length).toBe(heard);
  expect(wideDecode(rec.mixed)).toBe('1#');
  expect(await audit(c.sid)).toContainEqual(expect.objectContaining({ type: 'recording.held', where: 'bridge', recordingSids: other[0] }));
  await c.hangup();
});

/** the caller's call's recordings listed over REST from `from` on (timeline clock) */
const lists = (callSid: string, from: number) =>
  h.emulator.timeline.filter((e) => e.type === 'rest' && e.method === 'GET' && e.path.endsWith(`/Calls/${callSid}/Recordings.json`) && e.t >= from);

/** the first moment `recordingSid` took `status` on the timeline */
const statusAt = (callSid: string, recordingSid: string, status: string) =>
  h.emulator.timelineFor(callSid).find((e) => e.type === 'recording' && e.recordingSid === recordingSid && e.status === status)?.t;

test("a recording another application starts on the caller's call during the bridge is paused at the caller's first key to the agent, held for the rest of the bridge, and hears no key after the first one or two", async () => {
  const { c } = await call(MENU_THEN_BRIDGE, 0);
  const { caller, agent } = await bridged(c);
  const counted = await othersPaused('bridge');
  // the agent's CRM "record" button, mid-bridge: nothing keyed yet, so nothing lists the call
  const other = await appRecording(h, c.sid, 'mono');
  const rec = c.recordings.find((r) => r.sid === other)!;
  expect(statuses(c.sid, other)).toEqual(['in-progress']);

  const SPEECH_MS = 1000;
  const sent = concat([speech(1), keyed(BRIDGE_KEYS), speech(1, 9), silence(1600)]);
  const startedAt = h.emulator.now();
  await caller.sendAudio(sent, { realtime: true });
  await relayedThrough(h, caller, agent);
  // keys reach the agent masked as before: flat tones, no key
  expect(multimon(agent.received)).toBe('');
  expect(wideDecode(agent.received)).toBe('');

  // paused after the first key began, before the third began (each key: 80 ms on, 80 ms off)
  const pausedAt = statusAt(c.sid, other, 'paused');
  expect(pausedAt).toBeDefined();
  expect(pausedAt!).toBeGreaterThan(startedAt + SPEECH_MS);
  expect(pausedAt!).toBeLessThan(startedAt + SPEECH_MS + 2 * 160);
  // decoded, the recording holds the first key or two at most, never the rest
  for (const audio of [rec.mixed]) {
    const heard = multimon(audio);
    expect(heard.length).toBeLessThanOrEqual(2);
    expect(BRIDGE_KEYS.startsWith(heard)).toBe(true);
    expect(wideDecode(audio).length).toBeLessThanOrEqual(2);
  }

  // held: on the record, in the audit trail, counted
  await waitFor(async () => (await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld?.includes(other), 'the recording held for the bridge');
  expect((await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld).toEqual([other]);
  await waitFor(async () => (await audit(c.sid)).some((e) => e.type === 'recording.held'), 'the hold audited');
  expect(await audit(c.sid)).toContainEqual(expect.objectContaining({ type: 'recording.held', where: 'bridge', recordingSids: other }));
  expect(await othersPaused('bridge')).toBe(counted + 1);

  // it stays paused for the rest of the bridge: more keys, later, add nothing to it
  const heard = rec.mixed.length;
  await caller.sendAudio(keyed(BRIDGE_KEYS), { realtime: true });
  await relayedThrough(h, caller, agent);
  expect(rec.mixed.length).toBe(heard);
  expect(statuses(c.sid, other)).toEqual(['in-progress', 'paused']);
  expect(h.logs.text).not.toContain(BRIDGE_KEYS);

  await c.hangup();
  await c.ended;
  expect(statuses(c.sid, other)).toEqual(['in-progress', 'paused', 'stopped']);
  expect((await audit(c.sid)).some((e) => e.type === 'recording.resumed' && e.recordingSid === other)).toBe(false);
});

/** `keys` as `keyed` presses them, each tone `offset` off its nominal frequencies (0.03: +3%) */
const offKeyed = (keys: string, offset: number): Uint8Array =>
  concat([...keys].flatMap((k) => [toMulaw(dtmf(k, TONE_SAMPLES, { lowOffset: offset, highOffset: offset })), silence(GAP_SAMPLES)]).concat(silence(1600)));

test.each([false, true])(
  "keys the bridge masks but does not report (a keypad 3% off frequency; in a blanket capture: %s) still have a recording started on the caller's call during the bridge paused at the first of them",
  async (blanket) => {
    const offKeys = offKeyed(BRIDGE_KEYS, 0.03);
    // what the recording would hold of them is decodable: a wide decoder reads every key
    expect(wideDecode(offKeys)).toContain('5500');
    const { c } = await call(MENU_THEN_BRIDGE, 0);
    const { caller, agent } = await bridged(c);
    // under a blanket the flat tone never stops: no tone of its own is told apart in what the agent hears
    if (blanket) expect((await api(h, 'POST', `/v1/calls/${c.sid}/captures`, alice, { name: 'code', kind: 'security-code', blanket })).status).toBe(201);
    const other = await appRecording(h, c.sid, 'mono');
    const rec = c.recordings.find((r) => r.sid === other)!;

    const startedAt = h.emulator.now();
    await caller.sendAudio(concat([speech(1), offKeys, speech(1, 9), silence(1600)]), { realtime: true });
    await relayedThrough(h, caller, agent);
    // masked on the way to the agent, as every tone is
    expect(wideDecode(agent.received)).toBe('');

    // the recording on the caller's call is paused at the first of them, and decoded holds a key or two at most
    await waitFor(() => statusAt(c.sid, other, 'paused'), 'the recording paused', 5_000);
    expect(statusAt(c.sid, other, 'paused')!).toBeGreaterThan(startedAt + 1000);
    expect(wideDecode(rec.mixed).length).toBeLessThanOrEqual(2);
    await waitFor(async () => (await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld?.includes(other), 'the recording held for the bridge');
    await c.hangup();
  },
);

test("keys with no new recording: the caller's call's recordings are listed at most once per GUARD_INTERVAL_MS, and keys pressed within it are answered by one list once it has passed", async () => {
  const { c } = await call(MENU_THEN_BRIDGE, 0);
  const { caller, agent } = await bridged(c);
  const from = h.emulator.now();
  // 24 keys over some five seconds
  const sent = concat([keyed('123456789012'), speech(1), keyed('123456789012')]);
  await caller.sendAudio(sent, { realtime: true });
  const lastKeyAt = h.emulator.now();
  await relayedThrough(h, caller, agent);
  // any list a key set off has been made
  await new Promise((r) => setTimeout(r, GUARD_INTERVAL_MS + 500));
  const made = lists(c.sid, from).map((e) => e.t);
  expect(made.length).toBeGreaterThanOrEqual(2);
  for (let i = 1; i < made.length; i++) expect(made[i] - made[i - 1]).toBeGreaterThanOrEqual(GUARD_INTERVAL_MS - 50);
  expect(made.length).toBeLessThanOrEqual(Math.ceil((lastKeyAt - from) / GUARD_INTERVAL_MS) + 1);
  expect(multimon(agent.received)).toBe('');
  await c.hangup();
});

test.each([false, true])(
  "a recording another application starts on the caller's call during a capture (after the capture's own list; blanket: %s) is paused at the caller's next key and held: it hears no more than the first key or two of the card, and the capture completes",
  async (blanket) => {
    const { c } = await call(MENU_THEN_BRIDGE, 0);
    const { caller, agent } = await bridged(c);
    const started = await api(h, 'POST', `/v1/calls/${c.sid}/captures`, alice, { name: 'card', kind: 'card-number', blanket });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    // the capture listed the call's recordings as it started: this one comes after
    const other = await appRecording(h, c.sid, 'mono');
    const rec = c.recordings.find((r) => r.sid === other)!;
    await caller.sendAudio(keyed(`${CARD}#`), { realtime: true });
    const ended = await captureEnded(h, alice, c.sid, captureId);
    expect(ended).toMatchObject({ status: 'completed', valid: true });
    expect(multimon(agent.received)).toBe('');
    const heard = multimon(rec.mixed);
    expect(heard.length).toBeLessThanOrEqual(2);
    expect(CARD.startsWith(heard)).toBe(true);
    expect(wideDecode(rec.mixed).length).toBeLessThanOrEqual(2);
    // held for the rest of the bridge: the capture's end resumes the agent call's recording, not this one
    await waitFor(async () => (await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld?.includes(other), 'the recording held for the bridge');
    expect(statuses(c.sid, other)).toEqual(['in-progress', 'paused']);
    expect(h.logs.text).not.toContain(CARD.slice(-8));
    await c.hangup();
  },
);

test('mid-bridge, a list Twilio will not give and a pause it refuses are logged, fail nothing (the call goes on, keys still masked), and a later key tries again: the recording is then held', async () => {
  const { c } = await call(MENU_THEN_BRIDGE, 0);
  const { caller, agent } = await bridged(c);
  const other = await appRecording(h, c.sid, 'mono');
  const from = h.emulator.now();
  const warned = (msg: string) => h.logs.lines.filter((l) => l.includes(c.sid) && l.includes(msg)).length;
  const pressed = async (n: number) => {
    await caller.sendAudio(keyed('5'));
    await waitFor(() => lists(c.sid, from).length >= n, `list ${n}`);
  };
  try {
    h.emulator.faults.recordingsList = { status: 503, times: 1 };
    await pressed(1);
    await waitFor(() => warned("the call's recordings could not be listed") > 0, 'the unreadable list logged');
    expect(statuses(c.sid, other)).toEqual(['in-progress']);

    await new Promise((r) => setTimeout(r, GUARD_INTERVAL_MS));
    h.emulator.faults.recordingPause = { status: 500, times: 1 };
    await pressed(2);
    await waitFor(() => warned('could not be paused during the bridge') > 0, 'the refused pause logged');
    expect(statuses(c.sid, other)).toEqual(['in-progress']);
    expect((await audit(c.sid)).some((e) => e.type === 'recording.pause-failed' && e.recordingSid === other)).toBe(true);
  } finally {
    h.emulator.faults.recordingsList = undefined;
    h.emulator.faults.recordingPause = undefined;
  }
  expect((await h.app.services.calls.get(c.sid))?.state).toBe('bridged');

  await new Promise((r) => setTimeout(r, GUARD_INTERVAL_MS));
  await pressed(3);
  await waitFor(async () => (await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld?.includes(other), 'the recording held for the bridge');
  expect(statuses(c.sid, other)).toEqual(['in-progress', 'paused']);
  expect(multimon(agent.received)).toBe('');
  await c.hangup();
});
