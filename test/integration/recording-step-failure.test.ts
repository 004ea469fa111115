/**
 * A step that fails after it paused the call's recordings: the store (a Redis of the test's own)
 * stops while Twilio is still answering the pause for the card, so the step's write is refused
 * and the caller hears the safe apology and the flow's fixed dial instead of the card's prompt.
 * Nothing sensitive will be asked, so the recording is resumed: the conversation that follows is
 * recorded, as the operator's compliance recording needs it.
 */
import { CARD_PROMPT, MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';

const NUMBER = '+15005550041';
const FLOW = `id: recorded-card
numbers: ["${NUMBER}"]
record: true
steps:
${MENU_STEP}  - collect: card
    kind: card-number
    prompt: "${CARD_PROMPT}"
handoff:
  mode: dial
  to: "client:alice"
`;

let redis: PrivateRedis;
let h: Harness;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  h = await startHarness({ flows: { 'recorded-card': FLOW }, env: { REDIS_URL: redis.url } });
}, 30_000);

afterAll(async () => {
  if (redis.down) await redis.up();
  await h?.close();
  await redis.close();
});

test("the store stops while the card's pause is answered: the caller gets the apology and the dial, and the recording runs again for them", async () => {
  // the pause is answered a second late; once its request is in (the fault taken), the store goes
  h.emulator.faults.recordingPause = { delayMs: 1_000, times: 1 };
  const call = await h.emulator.placeCall({
    from: '+15550007777',
    to: NUMBER,
    voiceUrl: h.voiceUrl,
    onGather: (g) => {
      if (g.prompt.join(' ') !== MENU_PROMPT) return '4111111111111111#';
      void waitFor(() => h.emulator.faults.recordingPause === undefined, 'the pause request').then(() => redis.stop());
      return '1#';
    },
  });
  await waitFor(() => call.transcript.some((t) => t.verb === 'Dial'), 'the safe dial', 10_000);
  // the card was never asked for
  expect(call.transcript.flatMap((t) => (t.verb === 'Gather' ? t.prompt : []))).toEqual([MENU_PROMPT]);
  const [rec] = call.recordings;
  expect(h.emulator.recordingStatuses(call.sid, rec.sid).slice(0, 3)).toEqual(['in-progress', 'paused', 'in-progress']);
  const dialAt = h.emulator.timelineFor(call.sid).find((e) => e.type === 'twiml-verb' && e.entry.verb === 'Dial');
  expect(dialAt && h.emulator.recordingStatusAt(call.sid, dialAt.t, rec.sid)).toBe('in-progress');
  expect(h.logs.lines.some((l) => l.includes(call.sid) && l.includes('the step failed after pausing'))).toBe(true);
  await call.hangup();
});
