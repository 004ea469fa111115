/**
 * A resume Twilio did not answer in time may still be carried out until the REST client gives up
 * on it. The IVR's next pause waits that out on whichever instance sends it
 * (twilio/stretch-recordings.ts `afterLateResume`); so must the pauses before a bridge, the stop of the flow's own recording
 * and the hold of other applications' on the caller's call, which is not masked: a late resume
 * carried out after the hold would leave such a recording running through the bridge, hearing
 * the keys the caller presses to the agent. Two instances behind one PUBLIC_URL: the card's
 * webhook on A, whose resume of another application's recording goes unanswered; the menu after
 * it, and the bridge, on B.
 */
import { multimon } from '../support/audio';
import { keyed } from '../support/agents';
import { CARD_PROMPT, CARD_STEPS, MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { appRecording, sleep, waitFor } from '../support/harness';
import { instancePair } from '../support/failover';
import { relayedThrough } from '../support/relay';

const PUB = 'https://ivr.late-resume.test';
const NUMBER = '+15005550043';
const CARD = '4111111111111111';
/** what the caller keys to the agent, outside any capture */
const BRIDGE_KEYS = '5500#';
const AFTER_CARD_PROMPT = 'Press 2, then hash.';
const FLOW = `id: card-menu-bridge
numbers: ["${NUMBER}"]
record: true
steps:
${MENU_STEP}${CARD_STEPS.card}  - collect: after
    kind: digits
    sensitive: false
    minLength: 1
    maxLength: 1
    prompt: "${AFTER_CARD_PROMPT}"
handoff:
  mode: bridge
  to: "client:alice"
`;

const pair = instancePair(PUB, undefined, { 'card-menu-bridge': FLOW });

beforeAll(() => expect(multimon(keyed(BRIDGE_KEYS))).toBe(BRIDGE_KEYS));

test("a resume of another application's recording unanswered on one instance, the bridge made on another: the hold is not undone by it, and the recording hears no key the caller presses in the bridge", async () => {
  const { a, b } = pair;
  a.emulator.routeOrigin(PUB, a.url);
  let other = '';
  let cardAnsweredAt = 0;
  const c = await a.emulator.placeCall({
    from: '+15550007777',
    to: NUMBER,
    voiceUrl: a.voiceUrl,
    statusCallback: a.statusUrl,
    onGather: async (g) => {
      const prompt = g.prompt.join(' ');
      if (prompt === MENU_PROMPT) {
        // another application records the call from the menu on
        await waitFor(async () => (await a.app.services.calls.get(c.sid))?.recording.sid, "the flow's recording SID");
        other = await appRecording(a, c.sid, 'mono');
        return '1#';
      }
      if (prompt === CARD_PROMPT) {
        // the card's resumes: the flow's own answered, the other application's answered past its
        // bound and carried out then
        a.emulator.faults.recordingResume = { delayMs: 4_000, times: 1, after: 1 };
        cardAnsweredAt = a.emulator.now();
        return `${CARD}#`;
      }
      // the menu after the card, answered at once, reaches B
      a.emulator.routeOrigin(PUB, b.url);
      return '2#';
    },
  });
  const caller = await c.legReady;
  const session = await waitFor(
    async () => {
      const s = await b.app.services.calls.get(c.sid);
      return s?.state === 'bridged' && s.handoff.agentCallSid ? s : null;
    },
    'bridged on B',
    15_000,
  );
  expect(session.instanceId).toBe(b.config.instanceId);
  const agentCall = await waitFor(() => a.emulator.calls.get(session.handoff.agentCallSid!), 'the agent call');
  const agent = await agentCall.legReady;
  // past the moment Twilio carried out A's late resume: the bridge holds the recording paused
  await sleep(Math.max(0, cardAnsweredAt + 4_500 - a.emulator.now()));
  expect(a.emulator.recordingStatusAt(c.sid, a.emulator.now(), other)).toBe('paused');
  await caller.sendAudio(keyed(BRIDGE_KEYS));
  await relayedThrough(b, caller, agent);
  const rec = c.recordings.find((r) => r.sid === other)!;
  const heard = rec.channels().map((ch) => multimon(ch));
  for (const keys of heard) {
    expect(keys).not.toMatch(/[45]/);
  }
  await c.hangup();
}, 40_000);
