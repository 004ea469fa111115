/**
 * Recordings the service did not start, on a flow that records nothing itself: another
 * application (a compliance recorder of the operator's) starts a recording over Twilio's REST API
 * on the caller's call as they answer the menu. Before each sensitive stretch the call's
 * recordings are listed and every one in progress is paused by its SID, Twilio's acknowledgement
 * awaited, all or none (fail closed), and resumed after by the rules the flow's own recording
 * follows (held after a field that ended on its count). The recording's audio, decoded, holds the
 * menu's keys and the last answer's, never a key of the card.
 */
import { RESUME_HOLD_MS } from '../../src/flows/engine';
import type { EmulatedCall, TranscriptEntry } from '../../tools/emulator';
import { CARD_PROMPT, CARD_STEPS, DONE_PROMPT, EXPIRY_PROMPT, fieldFlow, MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { appRecording, freePort, metricValue, sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { ShopApp } from '../support/shop-app';
import { currentExpiry } from '../support/values';

const CARD_NUMBER = '+15005550031';
const EXPIRY_NUMBER = '+15005550032';
const RECORDED_BRIDGE_NUMBER = '+15005550033';
const TWO_STRETCHES_NUMBER = '+15005550034';
const CARD_FIRST_NUMBER = '+15005550035';
const BETWEEN_PROMPT = 'Press 1 for the expiry date, then hash.';
const CARD = '4111111111111111';
const EXPIRY = currentExpiry(14);

/** a flow that does not record: the menu, `field` (a sensitive collect step's YAML lines), words, a last question, then dial alice */
const unrecordedFlow = (id: string, number: string, field: string) => fieldFlow(id, number, field, { record: false });

const cardStep = CARD_STEPS.card;
/** four keys: the Gather ends on the fourth */
const expiryStep = CARD_STEPS.expiry;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: {
      'unrecorded-card': unrecordedFlow('unrecorded-card', CARD_NUMBER, cardStep),
      'unrecorded-expiry': unrecordedFlow('unrecorded-expiry', EXPIRY_NUMBER, expiryStep),
      // the card first: its stretch opens on the call's first webhook
      'card-first': fieldFlow('card-first', CARD_FIRST_NUMBER, cardStep, { record: false, menu: false }),
      // two sensitive stretches, a question that is not sensitive between them
      'two-stretches': unrecordedFlow(
        'two-stretches',
        TWO_STRETCHES_NUMBER,
        `${cardStep}  - collect: between\n    kind: digits\n    sensitive: false\n    minLength: 1\n    maxLength: 1\n    prompt: "${BETWEEN_PROMPT}"\n${expiryStep}`,
      ),
      // recorded, and only a bridge after the card: the flow's own recording is stopped for the bridge
      'recorded-bridge': `id: recorded-bridge\nnumbers: ["${RECORDED_BRIDGE_NUMBER}"]\nrecord: true\nsteps:\n${MENU_STEP}${cardStep}handoff:\n  mode: bridge\n`,
    },
  });
});

afterAll(async () => {
  await h?.close();
});

/**
 * A call to `to`: at the menu another application starts a recording on it over REST (unless
 * `record` is false); the caller keys `keys` (or what it gives for the prompt) at the other questions and takes `lastMs` over the
 * last one, so the call is live while keys pressed past an answer land.
 */
async function call(to: string, keys: string | ((prompt: string) => string), lastMs: number, record = true): Promise<{ c: EmulatedCall; other: string }> {
  let other = '';
  let placed: EmulatedCall | undefined = undefined;
  placed = await h.emulator.placeCall({
    from: '+15550004444',
    to,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt === MENU_PROMPT) {
        if (record) other = await appRecording(h, placed!.sid, 'mono');
        return '1#';
      }
      if (prompt !== DONE_PROMPT) return typeof keys === 'string' ? keys : keys(prompt);
      await sleep(lastMs);
      return '1#';
    },
  });
  const c = placed;
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);
  return { c, other };
}

const gatherTimes = (c: EmulatedCall) => h.emulator.timelineFor(c.sid).filter((e) => e.type === 'gather');
const lists = (c: EmulatedCall) => h.emulator.timelineFor(c.sid).filter((e) => e.type === 'rest' && e.method === 'GET' && /\/Recordings\.json$/.test(e.path));
const prompts = (c: EmulatedCall) =>
  c.transcript.filter((t): t is Extract<TranscriptEntry, { verb: 'Gather' }> => t.verb === 'Gather').flatMap((t) => t.prompt);
const statuses = (c: EmulatedCall, recordingSid: string) => h.emulator.recordingStatuses(c.sid, recordingSid);
const audit = async (c: EmulatedCall) => (await h.app.services.audit.list(c.sid)) as unknown as Record<string, unknown>[];

/** other applications' recordings paused so far, where */
const othersPaused = (where: string) => metricValue(h, 'tonewall_other_recordings_paused_total', { where });

test("a flow that does not record: another application's recording is paused for the card, holds no key of it, and runs again after", async () => {
  const counted = await othersPaused('ivr');
  const { c, other } = await call(CARD_NUMBER, `${CARD}#`, 1_000);
  // counted for the operator: another application records these calls
  expect(await othersPaused('ivr')).toBe(counted + 1);
  const session = await h.app.services.calls.get(c.sid);
  expect(session!.fields.card).toMatchObject({ valid: true, last4: '1111' });
  expect(c.recordings.map((r) => r.sid)).toEqual([other]);

  // paused (acknowledged) at the card's Gather, in progress again at the last question and at the handoff
  const [, cardAsked, doneAsked] = gatherTimes(c);
  expect(h.emulator.recordingStatusAt(c.sid, cardAsked.t, other)).toBe('paused');
  expect(h.emulator.recordingStatusAt(c.sid, doneAsked.t, other)).toBe('in-progress');
  // started, paused once, resumed once, and ended only with the call (which ends after its <Dial>)
  await c.ended;
  expect(statuses(c, other)).toEqual(['in-progress', 'paused', 'in-progress', 'stopped']);
  // the menu's keys and the last answer's are recorded; not one key of the card
  expect(wideDecode(c.recordings[0].mixed)).toBe('1#1#');

  // one list of the call's recordings for the one sensitive stretch
  expect(lists(c)).toHaveLength(1);
  const entries = await audit(c);
  expect(entries.filter((e) => e.type === 'recording.paused').map((e) => e.recordingSid)).toEqual([other]);
  expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.recordingSid)).toEqual([other]);
  // the session names no recording of its own: the flow records nothing
  expect(session!.recording).toMatchObject({ status: 'none' });
  expect(h.logs.text).not.toContain('41111111');
});

test('after a field that ended on its count, the resume is held for the keys the caller presses past it', async () => {
  // the caller keys the expiry as MMYYYY: the Gather takes MMYY, the last two keys follow it
  const { c, other } = await call(EXPIRY_NUMBER, `${EXPIRY}20`, RESUME_HOLD_MS + 500);
  expect((await h.app.services.calls.get(c.sid))!.fields.expiry).toMatchObject({ valid: true });
  expect(wideDecode(c.recordings[0].mixed)).toBe('1#1#');
  const expiryEnded = gatherTimes(c)[1];
  const resumed = h.emulator
    .timelineFor(c.sid)
    .find((e) => e.type === 'recording' && e.recordingSid === other && e.status === 'in-progress' && e.t > expiryEnded.t);
  expect(resumed!.t - expiryEnded.t).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
});

test('nothing else records the call: one list, nothing paused or resumed, and no wait after the card', async () => {
  const { c } = await call(CARD_NUMBER, `${CARD}#`, 0, false);
  expect((await h.app.services.calls.get(c.sid))!.fields.card).toMatchObject({ valid: true });
  expect(lists(c)).toHaveLength(1);
  expect(h.emulator.timelineFor(c.sid).filter((e) => e.type === 'recording')).toEqual([]);
  expect((await audit(c)).filter((e) => String(e.type).startsWith('recording.'))).toEqual([]);
  // no guard and no held resume: the words and the last question follow the card at once
  expect(c.transcript.filter((t) => t.verb === 'Gather')).toHaveLength(3);
});

test("the other recording's pause fails: the card is not asked (fail closed), marked recording-pause-failed, and the call is handed off", async () => {
  h.emulator.faults.recordingPause = { status: 500, times: 1 };
  try {
    const { c, other } = await call(CARD_NUMBER, `${CARD}#`, 0);
    expect(prompts(c)).not.toContain(CARD_PROMPT);
    expect(c.transcript.some((t) => t.verb === 'Dial')).toBe(true);
    await c.ended;
    const session = await h.app.services.calls.get(c.sid);
    expect(session!.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    expect(session!.recording.pauseFailed).toBe(true);
    const entries = await audit(c);
    expect(entries.filter((e) => e.type === 'recording.pause-failed').map((e) => [e.recordingSid, e.twilioStatus])).toEqual([[other, '500']]);
    expect(entries).toContainEqual(expect.objectContaining({ type: 'field.failed', field: 'card', reason: 'recording-pause-failed' }));
    // nothing was keyed into the recording, which was never paused
    expect(wideDecode(c.recordings[0].mixed)).toBe('1#');
    expect(statuses(c, other)).toEqual(['in-progress', 'stopped']);
  } finally {
    h.emulator.faults.recordingPause = undefined;
  }
});

test("the call's recordings cannot be listed: what runs there is unknown, so the card is not asked (fail closed, as after a failed pause), nothing is paused, and the refusal is counted, logged and audited", async () => {
  const failures = await metricValue(h, 'tonewall_recording_pause_failures_total');
  h.emulator.faults.recordingsList = { status: 503 };
  try {
    const { c, other } = await call(CARD_NUMBER, `${CARD}#`, 0);
    const session = await h.app.services.calls.get(c.sid);
    expect(session!.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    // the card's prompt never said: the flow went from the menu to its handoff
    expect(prompts(c)).not.toContain(CARD_PROMPT);
    // never paused (nor resumed): it ran until the call ended
    expect(statuses(c, other)).not.toContain('paused');
    expect(await metricValue(h, 'tonewall_recording_pause_failures_total')).toBe(failures + 1);
    expect(h.logs.lines.some((l) => l.includes(c.sid) && l.includes("the call's recordings could not be listed: sensitive input is refused"))).toBe(true);
    expect(await audit(c)).toContainEqual(
      expect.objectContaining({ type: 'recording.pause-failed', twilioStatus: 'unlisted', reason: 'recordings-not-listed' }),
    );
    // the recording nobody could see heard the menu's key, never a key of the card
    expect(wideDecode(c.recordings[0].mixed)).toBe('1#');
  } finally {
    h.emulator.faults.recordingsList = undefined;
  }
});

test("a recorded flow before a bridge: another application's recording, paused with the flow's own for the card, stays paused for the bridge (never resumed between); only the flow's own is stopped", async () => {
  let other = '';
  let placed: EmulatedCall | undefined = undefined;
  placed = await h.emulator.placeCall({
    from: '+15550004444',
    to: RECORDED_BRIDGE_NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      if (g.prompt.join(' ') !== MENU_PROMPT) return `${CARD}#`;
      // the flow's recording known by its SID, as it is long before a caller answers a menu
      await waitFor(async () => (await h.app.services.calls.get(placed!.sid))?.recording.sid, "the flow's recording SID");
      other = await appRecording(h, placed!.sid, 'mono');
      return '1#';
    },
  });
  const c = placed;
  await waitFor(async () => (await h.app.services.calls.get(c.sid))?.state === 'offered', 'the bridge handoff', 10_000);
  const own = c.recordings.find((r) => r.sid !== other)!;
  // only the bridge follows the card: neither is resumed, the flow's own is stopped, the other held for the bridge
  expect(statuses(c, own.sid)).toEqual(['in-progress', 'paused', 'stopped']);
  expect(statuses(c, other)).toEqual(['in-progress', 'paused']);
  expect((await h.app.services.calls.get(c.sid))?.handoff.recordingsHeld).toEqual([other]);
  expect(wideDecode(c.recordings.find((r) => r.sid === other)!.mixed)).toBe('1#');
  await c.hangup();
});

test('a resume Twilio refused leaves the other recording paused: the next stretch takes it in (Twilio lists it paused, not in progress) and resumes it after', async () => {
  // the resume after the card is refused outright (a 400; a 429, 500 or 503 would be tried again,
  // recording/controller.ts RESUME_RETRIED); the one after the expiry goes through
  h.emulator.faults.recordingResume = { status: 400, times: 1 };
  try {
    const { c, other } = await call(TWO_STRETCHES_NUMBER, (prompt) => (prompt === CARD_PROMPT ? `${CARD}#` : prompt === BETWEEN_PROMPT ? '1#' : EXPIRY), 0);
    const [, cardAsked, betweenAsked, expiryAsked, doneAsked] = gatherTimes(c);
    expect(prompts(c)).toEqual([MENU_PROMPT, CARD_PROMPT, BETWEEN_PROMPT, EXPIRY_PROMPT, DONE_PROMPT]);
    expect(h.emulator.recordingStatusAt(c.sid, cardAsked.t, other)).toBe('paused');
    // left paused by the refused resume
    expect(h.emulator.recordingStatusAt(c.sid, betweenAsked.t, other)).toBe('paused');
    expect(h.emulator.recordingStatusAt(c.sid, expiryAsked.t, other)).toBe('paused');
    // and running again once the second stretch is over
    expect(h.emulator.recordingStatusAt(c.sid, doneAsked.t, other)).toBe('in-progress');
    const resumes = (await audit(c)).filter((e) => e.recordingSid === other && String(e.type).startsWith('recording.resume'));
    expect(resumes.map((e) => e.type)).toEqual(['recording.resume-failed', 'recording.resumed']);
  } finally {
    h.emulator.faults.recordingResume = undefined;
  }
});

test("a call another application answered, recorded and <Redirect>ed to the Voice URL of a flow that opens with the card: the first webhook lists the call's recordings and pauses the app's", async () => {
  const shop = new ShopApp(h.publicUrl, h.emulator.baseUrl, await freePort(), CARD);
  await shop.start();
  try {
    // the app answers, starts its recording over REST, then hands the live call to the flow (not the drop-in route)
    shop.recordings = 1;
    shop.redirectTo = h.voiceUrl;
    const c = await h.emulator.placeCall({
      from: '+15550004444',
      to: CARD_FIRST_NUMBER,
      voiceUrl: `${shop.url}/voice`,
      onGather: (g) => {
        const prompt = g.prompt.join(' ');
        return prompt === MENU_PROMPT || prompt === DONE_PROMPT ? '1#' : `${CARD}#`;
      },
    });
    await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);
    await c.ended;
    expect(c.recordings).toHaveLength(1);
    const apps = c.recordings[0].sid;
    const [cardAsked, doneAsked] = gatherTimes(c);
    expect(prompts(c)).toEqual([CARD_PROMPT, DONE_PROMPT]);
    expect(h.emulator.recordingStatusAt(c.sid, cardAsked.t, apps)).toBe('paused');
    expect(h.emulator.recordingStatusAt(c.sid, doneAsked.t, apps)).toBe('in-progress');
    expect(wideDecode(c.recordings[0].mixed)).toBe('1#');
    expect((await h.app.services.calls.get(c.sid))!.fields.card).toMatchObject({ valid: true, last4: '1111' });
  } finally {
    await shop.app.close();
  }
});
