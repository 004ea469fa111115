/**
 * A fixed-length sensitive field's Gather ends on its last key, but a caller who keys on (a
 * four-digit year in an expiry) presses the rest after it, while Twilio asks for the next TwiML.
 * The resume after the last sensitive field waits for them (RESUME_HOLD_MS): no recording holds
 * them. A field whose Gather ends on the caller's silence (they stopped mid-entry for longer than
 * its timeout) is followed by a guard that takes the keys they go on with, in the paused stretch.
 * The controls show the same keys reach a recording that runs.
 */
import { RESUME_HOLD_MS } from '../../src/flows/engine';
import type { EmulatedCall, TranscriptEntry } from '../../tools/emulator';
import { DONE_PROMPT, fieldFlow, MENU_PROMPT } from '../support/card-flows';
import { wideDecode } from '../support/decoders';
import { ACCOUNT_SID, appRecording, sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';

const SENSITIVE_NUMBER = '+15005550024';
const CONTROL_NUMBER = '+15005550025';
const CARD_NUMBER = '+15005550026';
const CARD_CONTROL_NUMBER = '+15005550027';
const FIRST_EXPIRY_NUMBER = '+15005550028';
const FIRST_CARD_NUMBER = '+15005550029';
const EXPIRY = currentExpiry(14);

/**
 * A recorded menu, `field` (a collect step's YAML lines, sensitive or, for a control, not), words,
 * then a question the caller takes time over; then dial alice.
 */
const recordedFlow = (id: string, number: string, field: string) => fieldFlow(id, number, field, { record: true });

/**
 * The same, but the sensitive field first: the recording is not running yet, and starts with the
 * first document after it (<Start><Recording>), which must wait for its keys as a resume would.
 */
const firstFieldFlow = (id: string, number: string, field: string) => fieldFlow(id, number, field, { record: true, menu: false });

/** an expiry: four keys, the Gather ends on the fourth */
const expiryStep = (sensitive: boolean) => `  - collect: expiry
    kind: expiry
    sensitive: ${sensitive}
    prompt: "Key in the expiry date as four digits."
`;

/**
 * A card number, one attempt, no fixed length: '#' or the timeout ends it. The control asks the
 * same way for plain digits: a card number is always sensitive (flows/schema.ts).
 */
const cardStep = (sensitive: boolean) => `  - collect: card
    kind: ${sensitive ? 'card-number' : 'digits'}
    sensitive: ${sensitive}
    attempts: 1
    timeoutSeconds: 2
    prompt: "Key in your card number, then hash."
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: {
      'expiry-last': recordedFlow('expiry-last', SENSITIVE_NUMBER, expiryStep(true)),
      'expiry-plain': recordedFlow('expiry-plain', CONTROL_NUMBER, expiryStep(false)),
      'card-timeout': recordedFlow('card-timeout', CARD_NUMBER, cardStep(true)),
      'card-plain': recordedFlow('card-plain', CARD_CONTROL_NUMBER, cardStep(false)),
      'expiry-first': firstFieldFlow('expiry-first', FIRST_EXPIRY_NUMBER, expiryStep(true)),
      'card-first': firstFieldFlow('card-first', FIRST_CARD_NUMBER, cardStep(true)),
    },
  });
});

afterAll(async () => {
  await h?.close();
});

/**
 * A call to `to`: the caller answers the menu, then the sensitive question with `keys`, then takes
 * `lastMs` over the last question, so the call is live while keys keyed on past an answer land.
 * `atMenu` runs before the menu's answer, with the call's SID.
 */
async function call(to: string, keys: string, lastMs: number, atMenu?: (callSid: string) => Promise<unknown>) {
  let placed: EmulatedCall | undefined = undefined;
  placed = await h.emulator.placeCall({
    from: '+15550004444',
    to,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt === MENU_PROMPT) {
        await atMenu?.(placed!.sid);
        return '1#';
      }
      if (prompt !== DONE_PROMPT) return keys;
      await sleep(lastMs);
      return '1#';
    },
  });
  const c = placed;
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);
  return c;
}

/** the flow's recording known by its SID (its status callback in), as it is long before a caller answers a menu */
const ownRecordingKnown = (callSid: string) => waitFor(async () => (await h.app.services.calls.get(callSid))?.recording.sid, "the flow's recording SID");

/** the caller keys the expiry as MMYYYY: the Gather takes MMYY, the last two keys follow it */
const expiryCall = (to: string) => call(to, `${EXPIRY}20`, RESUME_HOLD_MS + 500);

test('keys pressed past the end of the last sensitive field reach no recording: the resume waits for them', async () => {
  const c = await expiryCall(SENSITIVE_NUMBER);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'in-progress']);
  // the menu's keys and the last answer's, recorded; neither the expiry nor the keys after it
  expect(wideDecode(c.recordingAudio)).toBe('1#1#');

  // the recording resumed no sooner than the hold after the expiry's Gather ended
  const timeline = h.emulator.timelineFor(c.sid);
  const expiryEnded = timeline.filter((e) => e.type === 'gather')[1];
  const resumed = timeline.filter((e) => e.type === 'recording' && e.status === 'in-progress')[1];
  expect(resumed.t - expiryEnded.t).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
});

test('control: the same keys after the same Gather, recorded throughout, are heard', async () => {
  const c = await expiryCall(CONTROL_NUMBER);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'in-progress', 'in-progress']);
  expect(wideDecode(c.recordingAudio)).toBe(`1#${EXPIRY}201#`);
});

/** the caller keys `card` (a ',' where they stop for longer than its timeout); every key keyed on lands before the last answer */
const cardCall = (to: string, card: string) => call(to, card, 2_000);

const guards = (c: Awaited<ReturnType<typeof cardCall>>) =>
  c.transcript.filter((t): t is Extract<TranscriptEntry, { verb: 'Gather' }> => t.verb === 'Gather' && t.action.includes('/twilio/guard/'));

test('a caller who stops mid-card for longer than its timeout and keys on: the keys fall into a guard, no recording holds them', async () => {
  const c = await cardCall(CARD_NUMBER, '41111111,11111111');
  // the card failed on its first half (one attempt); the guard took the second, paused
  expect(guards(c)).toHaveLength(1);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'paused', 'in-progress']);
  expect(c.gathers[2].digits).toBe('11111111');
  expect(wideDecode(c.recordingAudio)).toBe('1#1#');
  // the audit trail names the failed field, never the keys the guard took
  const trail = JSON.stringify(await h.app.services.audit.list(c.sid));
  expect(trail).toContain('field.failed');
  expect(trail).not.toContain('11111111');
  // nor does the log stream: the guard's Digits are never parsed, the card's never logged
  expect(h.logs.text).not.toContain('11111111');
  expect(h.logs.text).not.toContain('41111111');
});

test("a guard's action resent (Twilio's retry, or a captured request) gets its first answer: the recording is not resumed again", async () => {
  const c = await cardCall(CARD_NUMBER, '41111111,11111111');
  const resumes = () => h.emulator.timelineFor(c.sid).filter((e) => e.type === 'recording' && e.status === 'in-progress').length;
  const before = resumes();
  const again = await h.emulator.signedPost(guards(c)[0].action, { AccountSid: ACCOUNT_SID, CallSid: c.sid, Digits: '999', FinishedOnKey: '' });
  expect(again.status).toBe(200);
  // the words after the card and the next question, as the guard's end first answered
  expect(again.body).toContain('Thank you.');
  expect(again.body).toContain('/twilio/gather/3/1');
  expect(resumes()).toBe(before);
});

test("a card ended on '#' needs no guard: the recording resumes at once", async () => {
  const c = await cardCall(CARD_NUMBER, '4111111111111111#');
  expect(guards(c)).toHaveLength(0);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'paused', 'in-progress']);
  expect(wideDecode(c.recordingAudio)).toBe('1#1#');
});

test('control: the same keys after the same pause, recorded throughout, are heard', async () => {
  const c = await cardCall(CARD_CONTROL_NUMBER, '41111111,11111111');
  expect(guards(c)).toHaveLength(0);
  expect(wideDecode(c.recordingAudio)).toBe('1#41111111' + '11111111' + '1#');
});

test('a recording that first starts right after a sensitive field waits for keys pressed past its count, as a resume does', async () => {
  const c = await expiryCall(FIRST_EXPIRY_NUMBER);
  // not recording while the expiry was asked; recording from the words after it
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['none', 'in-progress']);
  expect(wideDecode(c.recordingAudio)).toBe('1#');
  const timeline = h.emulator.timelineFor(c.sid);
  const expiryEnded = timeline.filter((e) => e.type === 'gather')[0];
  const started = timeline.find((e) => e.type === 'recording' && e.status === 'in-progress')!;
  expect(started.t - expiryEnded.t).toBeGreaterThanOrEqual(RESUME_HOLD_MS);
});

test('a recording that first starts right after a sensitive field ended on silence starts after a guard: the keys keyed on fall into it', async () => {
  const c = await cardCall(FIRST_CARD_NUMBER, '41111111,11111111');
  expect(guards(c)).toHaveLength(1);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['none', 'none', 'in-progress']);
  expect(c.gathers[1].digits).toBe('11111111');
  expect(wideDecode(c.recordingAudio)).toBe('1#');
  expect(h.logs.text).not.toContain('11111111');
});

test("a recording another application started over REST on the call is paused with the flow's own for the sensitive field, and resumed after", async () => {
  // a compliance recorder of the operator's, reaching the call through Twilio's REST API as the caller answers the menu
  let other = '';
  const c = await call(SENSITIVE_NUMBER, `${EXPIRY}20`, RESUME_HOLD_MS + 500, async (callSid) => {
    await ownRecordingKnown(callSid);
    other = await appRecording(h, callSid, 'mono');
  });
  expect(c.recordings).toHaveLength(2);
  const byId = new Map(c.recordings.map((r) => [r.sid, r]));
  const own = c.recordings.find((r) => r.sid !== other)!;
  // both paused at the expiry's Gather, both running again at the last question
  const expiryAt = h.emulator.timelineFor(c.sid).filter((e) => e.type === 'gather')[1].t;
  for (const sid of [own.sid, other]) expect(h.emulator.recordingStatusAt(c.sid, expiryAt, sid)).toBe('paused');
  // neither holds the expiry nor the keys past it; both hear the menu's keys and the last answer
  expect(wideDecode(own.mixed)).toBe('1#1#');
  expect(wideDecode(byId.get(other)!.mixed)).toBe('1#1#');
  const entries = (await h.app.services.audit.list(c.sid)) as unknown as Record<string, unknown>[];
  expect(entries.filter((e) => e.type === 'recording.paused').map((e) => e.recordingSid)).toEqual(expect.arrayContaining([own.sid, other]));
  expect(entries.filter((e) => e.type === 'recording.resumed').map((e) => e.recordingSid)).toEqual(expect.arrayContaining([own.sid, other]));
});

test("the call's recordings cannot be listed: the expiry is not asked (fail closed: another application's recording may run unseen), and the flow's own is never paused", async () => {
  h.emulator.faults.recordingsList = { status: 503 };
  try {
    // the flow's recording known by its SID before the expiry's pause: the list is asked for
    const c = await call(SENSITIVE_NUMBER, EXPIRY, 0, ownRecordingKnown);
    expect((await h.app.services.calls.get(c.sid))!.fields.expiry).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
    expect(c.gathers.map((g) => g.recordingStatus)).not.toContain('paused');
    expect(wideDecode(c.recordingAudio)).toBe('1#');
    expect(h.logs.lines.some((l) => l.includes(c.sid) && l.includes("the call's recordings could not be listed: sensitive input is refused"))).toBe(true);
  } finally {
    h.emulator.faults.recordingsList = undefined;
  }
});
