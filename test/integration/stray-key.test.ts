/**
 * A '#' pressed past an entry that ended on its count (a security code asked "then press hash",
 * which its Gather ends on the third key once the card's brand is known) can reach the next
 * Gather as it begins, as Twilio takes every key pressed once a Gather has begun, and end it
 * empty. That entry is asked again once, same attempt, nothing said of an error, on an action of
 * its own; elsewhere an empty entry is the no-input it says it is. The emulator's prompts take no
 * time, so no key in flight reaches the next Gather: the caller keys the stray '#' there itself.
 */
import type { EmulatedCall, TranscriptEntry } from '../../tools/emulator';
import { startHarness, waitFor, type Harness } from '../support/harness';

const NUMBER = '+15005550031';
const CARD = '4111111111111111';
/** what the caller hears: the flow's prompts, and the engine's own no-input message */
const SAID = {
  code: 'Key in the security code, then press hash.',
  postal: 'Key in your postal code, then press hash.',
  ref: 'Key in your reference, then press hash.',
  noInput: "Sorry, I didn't hear anything.",
};

/** a card, its security code (ends on its count), a postal code; then a reference (after a card entry ended on '#'), twice over */
const FLOW = `id: stray
numbers: ["${NUMBER}"]
steps:
  - collect: card
    kind: card-number
    prompt: "Key in your card number, then press hash."
  - collect: cvv
    kind: security-code
    prompt: "${SAID.code}"
  - collect: postal
    kind: postal-code
    minLength: 5
    maxLength: 5
    prompt: "${SAID.postal}"
  - collect: card2
    kind: card-number
    prompt: "Key in your second card number, then press hash."
  - collect: ref
    kind: digits
    minLength: 4
    maxLength: 8
    prompt: "${SAID.ref}"
handoff:
  mode: dial
  to: "client:alice"
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ flows: { stray: FLOW } });
});

afterAll(async () => {
  await h?.close();
});

const gathers = (c: EmulatedCall) => c.transcript.filter((t): t is Extract<TranscriptEntry, { verb: 'Gather' }> => t.verb === 'Gather');

test("the '#' after a security code that ended on its count, taken by the postal code's Gather: asked again once, same attempt, no error said", async () => {
  // what the caller keys at each prompt, in order
  const keys: Record<string, string[]> = {
    [SAID.code]: ['123'],
    [SAID.postal]: ['#', '94105#'],
    [SAID.ref]: ['#', '1234#'],
  };
  const heard: string[] = [];
  const c = await h.emulator.placeCall({
    from: '+15550006666',
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: (g) => {
      const prompt = g.prompt.join(' ');
      heard.push(prompt);
      return keys[g.prompt.at(-1) ?? '']?.shift() ?? `${CARD}#`;
    },
  });
  await waitFor(() => c.transcript.some((t) => t.verb === 'Dial'), 'the handoff', 10_000);

  const actions = gathers(c).map((g) => new URL(g.action).pathname);
  expect(actions).toEqual([
    '/twilio/gather/0/1',
    '/twilio/gather/1/1',
    '/twilio/gather/2/1',
    // asked again on its own action: the same step and attempt
    '/twilio/gather/2/1/again',
    '/twilio/gather/3/1',
    // after a card number that ended on '#', the empty reference is what it says: no input
    '/twilio/gather/4/1',
    '/twilio/gather/4/2',
  ]);
  // the postal code asked again as at first, nothing said of an error; the reference's retry says it
  expect(heard[3]).toBe(SAID.postal);
  expect(heard[6]).toBe(`${SAID.noInput} ${SAID.ref}`);
  const session = await h.app.services.calls.get(c.sid);
  expect(session?.fields.postal).toMatchObject({ valid: true });
  expect(session?.fields.ref).toMatchObject({ valid: true });
});
