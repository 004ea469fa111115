/**
 * A fixed-length sensitive field's Gather ends on its last key, but a caller who keys on (a
 * four-digit year in an expiry) presses the rest after it, while Twilio asks for the next TwiML.
 * The resume after the last sensitive field waits for them (RESUME_HOLD_MS): no recording holds
 * them. A field whose Gather ends on the caller's silence (they stopped mid-entry for longer than
 * its timeout) is followed by a guard that takes the keys they go on with, in the paused stretch.
 * The controls show the same keys reach a recording that runs.
 */
import { RESUME_HOLD_MS } from '../../src/flows/engine';
import type { TranscriptEntry } from '../../tools/emulator';
import { wideDecode } from '../support/decoders';
import { ACCOUNT_SID, sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';

const SENSITIVE_NUMBER = '+15005550024';
const CONTROL_NUMBER = '+15005550025';
const CARD_NUMBER = '+15005550026';
const CARD_CONTROL_NUMBER = '+15005550027';
const EXPIRY = currentExpiry(14);

/** a recorded menu, an expiry (four keys, the Gather ends on the fourth), words, then a question the caller takes time over */
const flow = (id: string, number: string, sensitive: boolean) => `id: ${id}
numbers: ["${number}"]
record: true
steps:
  - collect: menu
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "Press 1, then hash."
  - collect: expiry
    kind: expiry
    sensitive: ${sensitive}
    prompt: "Key in the expiry date as four digits."
  - say: "Thank you."
  - collect: done
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "Press 1 to finish, then hash."
handoff:
  mode: dial
  to: "client:alice"
`;

/** a recorded menu, a card number (one attempt, no fixed length: '#' or the timeout ends it), words, then a last question */
const cardFlow = (id: string, number: string, sensitive: boolean) => `id: ${id}
numbers: ["${number}"]
record: true
steps:
  - collect: menu
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "Press 1, then hash."
  - collect: card
    kind: card-number
    sensitive: ${sensitive}
    attempts: 1
    timeoutSeconds: 2
    prompt: "Key in your card number, then hash."
  - say: "Thank you."
  - collect: done
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "Press 1 to finish, then hash."
handoff:
  mode: dial
  to: "client:alice"
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: {
      'expiry-last': flow('expiry-last', SENSITIVE_NUMBER, true),
      'expiry-plain': flow('expiry-plain', CONTROL_NUMBER, false),
      'card-timeout': cardFlow('card-timeout', CARD_NUMBER, true),
      'card-plain': cardFlow('card-plain', CARD_CONTROL_NUMBER, false),
    },
  });
});

afterAll(async () => {
  await h?.close();
});

/** the caller keys the expiry as MMYYYY: the Gather takes MMYY, the last two keys follow it */
async function call(to: string) {
  const c = await h.emulator.placeCall({
    from: '+15550004444',
    to,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt.includes('Press 1, then')) return '1#';
      if (prompt.includes('expiry')) return `${EXPIRY}20`;
      // the caller takes a moment over the last question: the call is live while the keys land
      await sleep(RESUME_HOLD_MS + 500);
      return '1#';
    },
  });
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);
  return c;
}

test('keys pressed past the end of the last sensitive field reach no recording: the resume waits for them', async () => {
  const c = await call(SENSITIVE_NUMBER);
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
  const c = await call(CONTROL_NUMBER);
  expect(c.gathers.map((g) => g.recordingStatus)).toEqual(['in-progress', 'in-progress', 'in-progress']);
  expect(wideDecode(c.recordingAudio)).toBe(`1#${EXPIRY}201#`);
});

/** the caller keys the card's first eight digits, stops for longer than its timeout, then keys the other eight */
async function cardCall(to: string, card: string) {
  const c = await h.emulator.placeCall({
    from: '+15550004444',
    to,
    voiceUrl: h.voiceUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt.includes('Press 1, then')) return '1#';
      if (prompt.includes('card number')) return card;
      // the caller takes a moment over the last question: every key keyed on lands before its answer
      await sleep(2_000);
      return '1#';
    },
  });
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);
  return c;
}

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
