/**
 * A capture refused after some of its pauses went through resumes those (an undo) before it
 * lets the call's capture lock go: the recording controller's own undo of a pauseAll that failed
 * part-way (another application's recording on the agent's call refused its pause), or the
 * capture's resume of the agent call's after a recording on the caller's call refused its pause
 * (pauseForCapture). Twilio may answer that undo late, and carry it out then. On the instance
 * that sent it, the recording controller holds a next pause back until it is over; but the agent's
 * next capture may run on another instance, the one the call's bridge moved to meanwhile (the
 * caller's stream to the first cut off). It took the lock, read no late time on the call and
 * paused; the late undo then ran the agent call's recording while the caller keyed the card. The
 * refused start now names on the call until when its undo may still be carried out
 * (`captureResumeLateUntil`), as a capture's end does, before it releases the lock, and the next
 * capture pauses no sooner.
 */
import { appRecording, waitFor } from '../support/harness';
import { api, token } from '../support/agents';
import { bridgedOn, cardKeyed, instancePair, nextCapture, resumeCarriedOut, takenUpBy } from '../support/failover';

const PUB = 'https://ivr.refused-undo.test';
/** the undo is answered this late: past its 3 s bound, within the REST client's 5 s, so carried out then */
const LATE_UNDO_MS = 4_500;

const pair = instancePair(PUB);

const cases: [string, 'agent' | 'caller'][] = [
  // pauseAll: the agent call's own paused, then the other on the agent's call refused; the controller undoes the first
  ["another application's recording on the agent's call refuses its pause (the controller's undo of pauseAll)", 'agent'],
  // pauseForCapture: the agent call's own paused, then the other on the caller's call refused (holdEach); the capture resumes the first
  ["another application's recording on the caller's call refuses its pause (the capture's resume of the agent call's)", 'caller'],
];

it.each(cases)(
  'a capture refused after a pause: %s; its undo answered late; the next capture, on the instance the bridge moved to, pauses after it',
  async (_what, where) => {
    const { a, b } = pair;
    const { call, caller, agentCall } = await bridgedOn(a, PUB);
    await waitFor(() => agentCall.recordings[0]?.sid && agentCall.recordingStatus === 'in-progress', "the agent call's recording");
    const own = agentCall.recordings[0].sid;
    await appRecording(a, where === 'agent' ? agentCall.sid : call.sid);
    const alice = token(a, 'alice');

    // the agent call's own recording is paused first, the other's pause refused; the undo of the first answered late
    a.emulator.faults.recordingPause = { status: 500, after: 1, times: 1 };
    a.emulator.faults.recordingResume = { delayMs: LATE_UNDO_MS, times: 1 };
    const refused = api(a, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    await waitFor(async () => (await a.app.services.audit.list(call.sid)).some((e) => e.type === 'recording.pause-failed'), 'the refused pause');
    const undoneFrom = a.emulator.now();

    // the caller's stream to A cut off (A alive), Twilio reaching B now, while A's undo is unanswered
    a.emulator.routeOrigin(PUB, b.url);
    await caller.drop();
    const caller2 = await takenUpBy(b, call, caller, "the caller's stream to B");
    expect(a.emulator.now() - undoneFrom).toBeLessThan(LATE_UNDO_MS - 1_000);
    expect(await refused).toMatchObject({ status: 503, body: { error: 'recording-pause-failed' } });

    // the agent starts the next capture as soon as the call takes one (409 while the refused one holds the lock); it runs on B
    const next = await nextCapture(b, call.sid, { name: 'card', kind: 'card-number' });
    expect(next.status).toBe(201);
    // A's late undo, carried out by Twilio (the only resume of the agent call's recording before the caller keys)
    await resumeCarriedOut(a, agentCall.sid, undoneFrom, "A's late undo answered", own);

    // the caller keys the card into the next capture: the agent call's recording is paused throughout
    const { keysFrom, keysTo } = await cardKeyed(b, caller2, call.sid, next.body.captureId);
    expect(a.emulator.recordingStatusAt(agentCall.sid, keysFrom, own)).toBe('paused');
    expect(a.emulator.timelineFor(agentCall.sid).filter((e) => e.type === 'recording' && e.recordingSid === own && e.t >= keysFrom && e.t <= keysTo)).toEqual(
      [],
    );

    await call.hangup();
    await agentCall.ended;
  },
  60_000,
);
