/**
 * A fixed-length sensitive field's Gather ends on its last key, but a caller who keys on (a
 * four-digit year in an expiry) presses the rest after it, while Twilio asks for the next TwiML.
 * The resume after the last sensitive field waits for them (RESUME_HOLD_MS): no recording holds
 * them. The control shows the same keys reach a recording that runs.
 */
import { RESUME_HOLD_MS } from '../../src/flows/engine';
import { wideDecode } from '../support/decoders';
import { sleep, startHarness, waitFor, type Harness } from '../support/harness';
import { currentExpiry } from '../support/values';

const SENSITIVE_NUMBER = '+15005550024';
const CONTROL_NUMBER = '+15005550025';
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

let h: Harness;

beforeAll(async () => {
  h = await startHarness({
    flows: { 'expiry-last': flow('expiry-last', SENSITIVE_NUMBER, true), 'expiry-plain': flow('expiry-plain', CONTROL_NUMBER, false) },
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
