/**
 * A capture whose bridge is lost on a live instance (A) ends there at once and resumes its
 * recording, which Twilio answers late; meanwhile the instance that took the call up (B) settles
 * the same capture as lost (captures/lost.ts), and the agent starts the next capture on B. Only
 * one of the two ends may resume: the one that claimed the capture in the call's record before
 * sending anything, keeping the capture lock until its resume is over and until when it may
 * still land is on the call. A's end read the lock as its own, then B's settling released it:
 * the next capture paused on B, and A's late resume then ran the recording while the caller keyed.
 */
import type { MediaLeg } from '../../tools/emulator';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { agentSide, ALICE_NUMBER, api, keyed, makeFlowsDir, nextLeg, placeCall, token } from '../support/agents';
import fs from 'node:fs';

const PUB = 'https://ivr.late-end.test';
/** A's resume is answered this late: past its 3 s bound, within the REST client's 5 s, so carried out then */
const LATE_RESUME_MS = 4_000;

let flowsDir: string;
let a: Harness;
let b: Harness;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  a = await startHarness({ flowsDir, publicUrl: PUB, ownMediaUrl: true });
  // B settles a capture it took up soon after, while A's own end of it is still under way
  b = await startHarness({ flowsDir, publicUrl: PUB, ownMediaUrl: true, emulator: a.emulator, keyPrefix: a.keyPrefix, build: { lostCaptureGraceMs: 200 } });
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

it("a capture's end on the instance that lost the bridge, its resume late, and its settling on the instance that took it up: the next capture's pause is not undone", async () => {
  a.emulator.routeOrigin(PUB, a.url);
  const { call, caller } = await placeCall(a, ALICE_NUMBER, 'bridged');
  const { agentCall } = await agentSide(a, call.sid);
  await waitFor(() => agentCall.recordingStatus === 'in-progress', "the agent call's recording");
  const alice = token(a, 'alice');
  const first = await api(a, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  expect(first.status).toBe(201);
  await waitFor(() => agentCall.recordingStatus === 'paused', 'paused for the capture');

  // the caller's stream to A cut off (A alive), Twilio reaching B now; A ends the capture at once,
  // its resume answered late
  a.emulator.routeOrigin(PUB, b.url);
  a.emulator.faults.recordingResume = { delayMs: LATE_RESUME_MS, times: 1 };
  const droppedAt = a.emulator.now();
  await caller.drop();
  const caller2: MediaLeg = await nextLeg(call, caller, "the caller's stream to B");
  await waitFor(() => b.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged on B', 10_000);
  // B took the call up while A's resume was still unanswered: the case this test is about
  expect(a.emulator.now() - droppedAt).toBeLessThan(2_500);

  // the agent starts the next capture as soon as the call takes one (409 while the first holds it); it runs on B
  const second = await waitFor(
    async () => {
      const r = await api(b, 'POST', `/v1/calls/${call.sid}/captures`, token(b, 'alice'), { name: 'card', kind: 'card-number' });
      return r.status === 409 ? null : r;
    },
    'the next capture started',
    15_000,
  );
  expect(second.status).toBe(201);
  // A's late resume, carried out by Twilio
  await waitFor(
    () =>
      a.emulator
        .timelineFor(agentCall.sid)
        .some(
          (e) =>
            e.type === 'rest' && e.t >= droppedAt + LATE_RESUME_MS && e.method === 'POST' && /\/Recordings\//.test(e.path) && e.params.Status === 'in-progress',
        ),
    "A's late resume answered",
    10_000,
  );

  // the caller keys the card into the next capture: the recording is paused throughout
  const keysFrom = a.emulator.now();
  await caller2.sendAudio(keyed('4111111111111111#'));
  const keysTo = a.emulator.now();
  await waitFor(
    async () => (await api(b, 'GET', `/v1/calls/${call.sid}/captures/${second.body.captureId}`, token(b, 'alice'))).body.status === 'completed',
    'the next capture completed',
  );
  expect(a.emulator.recordingStatusAt(agentCall.sid, keysFrom)).toBe('paused');
  expect(a.emulator.timelineFor(agentCall.sid).filter((e) => e.type === 'recording' && e.t >= keysFrom && e.t <= keysTo)).toEqual([]);
  // one end of the first capture was told, the lost bridge's
  const ended = (await b.app.services.audit.list(call.sid)).filter((e) => e.type === 'capture.failed' && e.captureId === first.body.captureId);
  expect(ended).toEqual([expect.objectContaining({ reason: 'bridge-lost' })]);

  await call.hangup();
  await agentCall.ended;
}, 60_000);
