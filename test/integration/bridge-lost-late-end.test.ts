/**
 * A capture whose bridge is lost on a live instance (A) ends there at once and resumes its
 * recording, which Twilio answers late; meanwhile the instance that took the call up (B) settles
 * the same capture as lost (captures/lost.ts), and the agent starts the next capture on B. Only
 * one of the two ends may resume: the one that claimed the capture in the call's record before
 * sending anything, keeping the capture lock until its resume is over and until when it may
 * still land is on the call. A's end read the lock as its own, then B's settling released it:
 * the next capture paused on B, and A's late resume then ran the recording while the caller keyed.
 */
import { bridgedOn, capturePaused, cardKeyed, instancePair, nextCapture, resumeCarriedOut, takenUpBy } from '../support/failover';

const PUB = 'https://ivr.late-end.test';
/** A's resume is answered this late: past its 3 s bound, within the REST client's 5 s, so carried out then */
const LATE_RESUME_MS = 4_000;

// B settles a capture it took up soon after, while A's own end of it is still under way
const pair = instancePair(PUB, { lostCaptureGraceMs: 200 });

it("a capture's end on the instance that lost the bridge, its resume late, and its settling on the instance that took it up: the next capture's pause is not undone", async () => {
  const { a, b } = pair;
  const { call, caller, agentCall } = await bridgedOn(a, PUB);
  const first = await capturePaused(a, call.sid, agentCall, { name: 'cvv', kind: 'security-code' });

  // the caller's stream to A cut off (A alive), Twilio reaching B now; A ends the capture at once,
  // its resume answered late
  a.emulator.routeOrigin(PUB, b.url);
  a.emulator.faults.recordingResume = { delayMs: LATE_RESUME_MS, times: 1 };
  const droppedAt = a.emulator.now();
  await caller.drop();
  const caller2 = await takenUpBy(b, call, caller, "the caller's stream to B");
  // B took the call up while A's resume was still unanswered: the case this test is about
  expect(a.emulator.now() - droppedAt).toBeLessThan(2_500);

  // the agent starts the next capture as soon as the call takes one (409 while the first holds it); it runs on B
  const second = await nextCapture(b, call.sid, { name: 'card', kind: 'card-number' });
  expect(second.status).toBe(201);
  // A's late resume, carried out by Twilio
  await resumeCarriedOut(a, agentCall.sid, droppedAt + LATE_RESUME_MS, "A's late resume answered");

  // the caller keys the card into the next capture: the recording is paused throughout
  const { keysFrom, keysTo } = await cardKeyed(b, caller2, call.sid, second.body.captureId);
  expect(a.emulator.recordingStatusAt(agentCall.sid, keysFrom)).toBe('paused');
  expect(a.emulator.timelineFor(agentCall.sid).filter((e) => e.type === 'recording' && e.t >= keysFrom && e.t <= keysTo)).toEqual([]);
  // one end of the first capture was told, the lost bridge's
  const ended = (await b.app.services.audit.list(call.sid)).filter((e) => e.type === 'capture.failed' && e.captureId === first.body.captureId);
  expect(ended).toEqual([expect.objectContaining({ reason: 'bridge-lost' })]);

  await call.hangup();
  await agentCall.ended;
}, 60_000);
