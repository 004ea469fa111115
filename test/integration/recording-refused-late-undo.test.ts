/**
 * An IVR stretch's pause of several recordings that fails part-way is undone: the recording
 * controller resumes the ones it paused before the refusal (pauseAll). Twilio may answer such an
 * undo late, and carry it out then. The refusal fails closed, the flow asks nothing sensitive
 * and hands off, in the same webhook: before a bridge, the caller's call's other recordings are
 * listed and held paused (twilio/bridge-hold.ts). A recording whose undo is still pending is
 * listed paused, so the hold left it out; the late undo then ran it through the bridge, where the
 * caller keys to the agent (the bridge's guard pauses it only at a key: recording/bridge-guard.ts).
 * The failed pause now names on the call until when its undo may still be carried out
 * (`recording.resumeFailed.lateUntil`, as a failed resume does), and the hold waits that out.
 * Two instances behind one PUBLIC_URL: the IVR and the handoff on A, the caller's stream to A
 * then cut off and the bridge taken up by B, where the caller keys.
 */
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { multimon } from '../support/audio';
import { keyed, nextLeg } from '../support/agents';
import { CARD_STEPS, MENU_PROMPT, MENU_STEP } from '../support/card-flows';
import { appRecording, waitFor } from '../support/harness';
import { instancePair } from '../support/failover';

const PUB = 'https://ivr.refused-late-undo.test';
const NUMBER = '+15005550046';
/** the undo is answered this late: past its 3 s bound, within the REST client's 5 s, so carried out then */
const LATE_UNDO_MS = 4_500;
/** what the caller keys to the agent in the bridge */
const BRIDGE_KEYS = '5500#';
/** not recorded: the menu, the card, then a bridge to alice (the card's pause is the other applications' alone) */
const FLOW = `id: card-bridge-undo
numbers: ["${NUMBER}"]
steps:
${MENU_STEP}${CARD_STEPS.card}handoff:
  mode: bridge
  to: "client:alice"
`;

const pair = instancePair(PUB, undefined, { 'card-bridge-undo': FLOW });

beforeAll(() => expect(multimon(keyed(BRIDGE_KEYS))).toBe(BRIDGE_KEYS));

test("the card's pause refused for one of two other applications' recordings, the other's undo answered late: the bridge's hold waits it out, and neither recording hears a key the caller presses in the bridge", async () => {
  const { a, b } = pair;
  a.emulator.routeOrigin(PUB, a.url);
  const others: string[] = [];
  let c: EmulatedCall | undefined = undefined;
  c = await a.emulator.placeCall({
    from: '+15550008888',
    to: NUMBER,
    voiceUrl: a.voiceUrl,
    statusCallback: a.statusUrl,
    onGather: async (g) => {
      // the card is never asked (fail closed): the menu is the only prompt
      expect(g.prompt.join(' ')).toBe(MENU_PROMPT);
      // two other applications record the call from the menu on
      others.push(await appRecording(a, c!.sid, 'mono'), await appRecording(a, c!.sid, 'mono'));
      // the card's pauses: the first recording's paused, the second's refused; the first's undo answered late
      a.emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
      a.emulator.faults.recordingResume = { delayMs: LATE_UNDO_MS, times: 1 };
      return '1#';
    },
  });
  const caller = await c.legReady;
  await waitFor(async () => (await a.app.services.calls.get(c.sid))?.state === 'bridged', 'bridged on A', 15_000);
  expect((await a.app.services.calls.get(c.sid))?.fields.card).toMatchObject({ valid: false, reason: 'recording-pause-failed' });
  // the undo carried out by Twilio: the recording paused for the card ran again
  await waitFor(() => others.some((sid) => a.emulator.recordingStatuses(c.sid, sid).length >= 3), 'the late undo carried out', 10_000);

  // the caller's stream to A cut off (A alive), Twilio reaching B now: B takes the bridge up
  a.emulator.routeOrigin(PUB, b.url);
  await caller.drop();
  const caller2: MediaLeg = await nextLeg(c, caller, "the caller's stream to B");
  await waitFor(() => b.app.services.bridges.get(c.sid)?.state === 'bridged', 'bridged on B', 10_000);

  // the caller keys to the agent: every other recording is paused throughout
  const keysFrom = a.emulator.now();
  await caller2.sendAudio(keyed(BRIDGE_KEYS));
  const keysTo = a.emulator.now();
  for (const sid of others) {
    expect({ sid, status: a.emulator.recordingStatusAt(c.sid, keysFrom, sid) }).toEqual({ sid, status: 'paused' });
    expect(a.emulator.timelineFor(c.sid).filter((e) => e.type === 'recording' && e.recordingSid === sid && e.t >= keysFrom && e.t <= keysTo)).toEqual([]);
    const rec = c.recordings.find((r) => r.sid === sid)!;
    for (const audio of rec.channels()) expect(multimon(audio)).not.toMatch(/[05]/);
  }
  // both held for the bridge, named on the call
  expect([...((await b.app.services.calls.get(c.sid))?.handoff.recordingsHeld ?? [])].sort()).toEqual([...others].sort());

  await c.hangup();
}, 60_000);
