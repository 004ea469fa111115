/**
 * A capture asked for on one instance and run on another (CONTRACT §5), when the instance that
 * holds the bridge takes longer than the requester's wait (bus/rpc.ts REQUEST_TIMEOUT_MS) to
 * answer: a start whose pauses Twilio is slow to acknowledge, and a cancel that answers once the
 * capture has ended, after its hold for a caller who keys on past the end and after resumes Twilio
 * is slow to answer. The instance asked says it is working, so the agent on the other instance
 * gets the truthful answer (201, `cancelled`), never a 504 for work that went through. Two
 * instances on one Redis and one Twilio emulator; the call's bridge on A, the agent on B.
 */
import fs from 'node:fs';
import type { EmulatedCall, MediaLeg } from '../../tools/emulator';
import { REQUEST_TIMEOUT_MS } from '../../src/bus/rpc';
import { MAX_HOLD_MS } from '../../src/captures/run';
import { PAUSE_ACK_TIMEOUT_MS } from '../../src/recording/controller';
import { appRecording, startHarness, waitFor, type Harness } from '../support/harness';
import { acceptedCall, AgentSocket, api, keyed, makeFlowsDir, token } from '../support/agents';

let a: Harness;
let b: Harness;
let flowsDir: string;
let alice: string;
let onB: AgentSocket;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  a = await startHarness({ flowsDir });
  b = await startHarness({ flowsDir, emulator: a.emulator, keyPrefix: a.keyPrefix });
  alice = token(a, 'alice');
  onB = await AgentSocket.open(b, alice);
});

afterEach(() => {
  a.emulator.faults.recordingPause = undefined;
  a.emulator.faults.recordingResume = undefined;
  a.emulator.faults.recordingsList = undefined;
});

afterAll(async () => {
  onB?.close();
  await b?.close();
  await a?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

interface Live {
  call: EmulatedCall;
  caller: MediaLeg;
  agentCall: EmulatedCall;
  /** the agent call's own recording, and another application's on it */
  own: string;
  other: string;
}

/** a call whose bridge A holds, accepted by alice on B, its agent's call recorded by the service and by another application */
async function bridgedOnA(): Promise<Live> {
  const { call, caller, agentCall, own } = await acceptedCall(a, alice, b);
  expect(a.app.services.bridges.get(call.sid)).toBeDefined();
  expect(b.app.services.bridges.get(call.sid)).toBeUndefined();
  const other = await appRecording(a, agentCall.sid);
  return { call, caller, agentCall, own, other };
}

/** when Twilio was asked to set the recording to `status` after `since`, on the emulator's timeline */
function setAt(live: Live, sid: string, status: string, since: number): number | undefined {
  return a.emulator.timelineFor(live.agentCall.sid).find((e) => e.type === 'recording' && e.recordingSid === sid && e.status === status && e.t > since)?.t;
}

test("a start on B whose pauses on A take Twilio longer than B's wait: 201, with every recording paused first", async () => {
  const live = await bridgedOnA();
  // the list and each of the two pauses slow, each within its own bound: together past the wait
  a.emulator.faults.recordingsList = { delayMs: 2_500 };
  a.emulator.faults.recordingPause = { delayMs: PAUSE_ACK_TIMEOUT_MS - 800 };
  const t0 = Date.now();
  const started = await api(b, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  const took = Date.now() - t0;
  expect(started.status).toBe(201);
  expect(took).toBeGreaterThan(REQUEST_TIMEOUT_MS);
  const { captureId } = started.body as { captureId: string };
  expect(a.emulator.recordingStatuses(live.agentCall.sid, live.own)).toEqual(['in-progress', 'paused']);
  expect(a.emulator.recordingStatuses(live.agentCall.sid, live.other)).toEqual(['in-progress', 'paused']);
  a.emulator.faults.recordingsList = undefined;
  a.emulator.faults.recordingPause = undefined;

  await onB.next((e) => e.type === 'capture.started' && e.captureId === captureId, 'capture.started on B');
  await live.caller.sendAudio(keyed('123#'));
  const done = await onB.next((e) => e.type === 'capture.completed' && e.captureId === captureId, 'capture.completed on B');
  expect(done).toMatchObject({ callSid: live.call.sid, valid: true });
  expect(b.logs.text).not.toContain('TW_ERR_BUS_TIMEOUT');
  await live.call.hangup();
});

test("a cancel on B while the caller keys on past the end: B answers cancelled after A's hold and resumes, longer than B's wait", async () => {
  const live = await bridgedOnA();
  const started = await api(b, 'POST', `/v1/calls/${live.call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  // each resume slow, within its bound; after the hold they take the cancel past B's wait
  a.emulator.faults.recordingResume = { delayMs: PAUSE_ACK_TIMEOUT_MS / 2 };
  // the caller keys for more than six seconds: well past the cancel, and past the hold's cap
  const keying = live.caller.sendAudio(keyed('4111111111111111111111111111111111111111'), { realtime: true });
  let enteredBefore = 0;
  await waitFor(async () => {
    enteredBefore = ((await api(b, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).body as { entered: number }).entered;
    return enteredBefore >= 3;
  }, 'three keys');
  const cancelAt = a.emulator.now();
  const t0 = Date.now();
  const cancelled = await api(b, 'DELETE', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice);
  const took = Date.now() - t0;
  expect(cancelled.status).toBe(200);
  expect(cancelled.body).toMatchObject({ captureId, status: 'cancelled', reason: 'cancelled' });
  expect(took).toBeGreaterThan(REQUEST_TIMEOUT_MS);
  // answered once the capture ended: its recordings run again, each only after the hold's cap
  // (the caller still keyed), and the agent has heard of the end
  for (const sid of [live.own, live.other]) {
    expect(a.emulator.recordingStatuses(live.agentCall.sid, sid)).toEqual(['in-progress', 'paused', 'in-progress']);
    expect(setAt(live, sid, 'in-progress', cancelAt)).toBeGreaterThanOrEqual(cancelAt + MAX_HOLD_MS);
  }
  const failed = await onB.next((e) => e.type === 'capture.failed' && e.captureId === captureId, 'capture.failed on B');
  expect(failed).toMatchObject({ callSid: live.call.sid, reason: 'cancelled' });
  // the keys counted stop at the cancel: those keyed while it crossed to A (a few on a loaded
  // host), never the dozens keyed after it, through the hold, until the caller stops
  const ended = (await api(b, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).body as { status: string; entered: number };
  expect(ended.status).toBe('cancelled');
  expect(ended.entered).toBeGreaterThanOrEqual(enteredBefore);
  expect(ended.entered).toBeLessThanOrEqual(enteredBefore + 5);
  await keying;
  expect((await api(b, 'GET', `/v1/calls/${live.call.sid}/captures/${captureId}`, alice)).body).toMatchObject({ status: 'cancelled', entered: ended.entered });
  expect(b.logs.text).not.toContain('TW_ERR_BUS_TIMEOUT');
  await live.call.hangup();
});
