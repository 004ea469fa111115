/**
 * The agent leg's recording is named only by Twilio's status callback, which may land before
 * the REST create of the agent's call has answered: an endpoint that answers at once has Twilio
 * start the leg's <Start><Recording> while the create's answer is on its way. Here the emulator
 * sends that answer late (`faults.callsCreateAnswer`), for an agent call dialled again after a
 * lost bridge, and the record still names the new call's recording, which a capture pauses by
 * its SID; the old call's recording is neither named nor paused (calls/agent-call.ts).
 */
import fs from 'node:fs';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { api, makeFlowsDir, nextLeg, token } from '../support/agents';
import { bridgedOn } from '../support/failover';

const PUB = 'https://ivr.callback-order.test';

let flowsDir: string;
let a: Harness;
let b: Harness;

beforeAll(() => {
  flowsDir = makeFlowsDir();
});

afterAll(() => {
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

beforeEach(async () => {
  a = await startHarness({ flowsDir, publicUrl: PUB, ownMediaUrl: true });
  b = await startHarness({ flowsDir, publicUrl: PUB, ownMediaUrl: true, emulator: a.emulator, keyPrefix: a.keyPrefix });
});

afterEach(async () => {
  try {
    expectNoStreamErrors(a.emulator);
  } finally {
    await b.close();
    await a.close();
  }
});

it("an agent call dialled again whose recording's status callback lands before the REST create's answer: the record names that recording, and a capture pauses it by its SID", async () => {
  const { call, caller, agentCall } = await bridgedOn(a, PUB);
  await waitFor(() => agentCall.recordingStatus === 'in-progress', "the agent call's recording");
  const [rec] = agentCall.recordings;
  await waitFor(async () => (await a.app.services.calls.get(call.sid))?.agentRecording?.sid === rec.sid, 'the first recording named');
  // Twilio will not redirect the agent's call: it is ended and the agent dialled again, the create answered late
  a.emulator.faults.callsUpdate = { status: 500, times: 1 };
  a.emulator.faults.callsCreateAnswer = { delayMs: 1_500, times: 1 };
  await caller.drop();
  await nextLeg(call, caller, "the caller's next stream");
  const agentCall2 = await waitFor(
    () => [...a.emulator.calls.values()].find((c) => c !== agentCall && c.recordings.length > 0 && c.to === agentCall.to),
    'the new agent call',
    10_000,
  );
  const [rec2] = agentCall2.recordings;
  // its recording's callback came while the create was still unanswered
  await waitFor(() => a.emulator.faults.callsCreateAnswer === undefined, 'the create asked');
  await waitFor(
    async () => {
      const s = await a.app.services.calls.get(call.sid);
      return s?.state === 'bridged' && s.handoff.agentCallSid === agentCall2.sid ? s : null;
    },
    'bridged to the new agent call',
    10_000,
  );
  // the create answered, and the record written from it
  await waitFor(
    async () => ((await a.app.services.audit.list(call.sid)) as unknown as { type: string }[]).filter((e) => e.type === 'bridge.agent-dialed').length === 2,
    'the second dial written',
    10_000,
  );
  // the recording's callback came before that answer: the create's answer was still on its way
  const entries = (await a.app.services.audit.list(call.sid)) as unknown as { type: string; recordingSid?: string }[];
  const dialed = entries.map((e, i) => (e.type === 'bridge.agent-dialed' ? i : -1)).filter((i) => i >= 0);
  const reported = entries.findIndex((e) => e.type === 'recording.status' && e.recordingSid === rec2.sid);
  expect(reported).toBeGreaterThan(dialed[0]);
  expect(reported).toBeLessThan(dialed[1]);
  const session = await a.app.services.calls.get(call.sid);
  expect(session?.agentRecording).toEqual({ sid: rec2.sid, status: 'in-progress', callSid: agentCall2.sid });
  expect(session?.handoff.pastAgentCallSids).toEqual([agentCall.sid]);

  const capture = await api(a, 'POST', `/v1/calls/${call.sid}/captures`, token(a, 'alice'), { name: 'card', kind: 'card-number' });
  expect(capture.status).toBe(201);
  expect(agentCall2.recordingStatus).toBe('paused');
  // by its SID, as listed (not Twilio.CURRENT, unlisted)
  const pauses = a.emulator.timelineFor(agentCall2.sid).filter((e) => e.type === 'recording' && e.recordingSid === rec2.sid && e.status === 'paused');
  expect(pauses).toHaveLength(1);
  expect(a.emulator.timelineFor(agentCall.sid).some((e) => e.type === 'recording' && e.status === 'paused')).toBe(false);
  expect((await a.app.services.calls.get(call.sid))?.agentRecording).toMatchObject({ sid: rec2.sid, status: 'paused', callSid: agentCall2.sid });
  await call.hangup();
  await agentCall2.ended;
});
