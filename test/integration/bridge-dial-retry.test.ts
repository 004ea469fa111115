/**
 * A dial of the agent that fails before its call is placed (the store unreachable as the agent's
 * stream token is issued): no agent call exists, so the bridge goes back to holding and the held
 * caller's next reread of the record (media/holds.ts, registry `recheck`) dials the agent again,
 * once, instead of the caller holding to the timeout and the apology. Both ways a bridge's agent is
 * dialled: an agent's accept (its `dial-agent`), and a flow's fixed `handoff.to` as the caller's
 * stream starts.
 */
import { Errors } from '../../src/errors';
import { waitFor, type Harness } from '../support/harness';
import { agentSide, ALICE_NUMBER, CALLER, api, bridgeSuite, OFFER_NUMBER, placeCall, token } from '../support/agents';

// the agent flows' harness, and after each test no stream message Twilio refuses (31924); the spies undone
const suite = bridgeSuite({ restoreMocks: true });
const { aliceCalls } = suite;
let h: Harness;
beforeAll(() => {
  h = suite.h;
});

const notPlaced = () => h.logs.lines.filter((l) => l.includes("agent's call not placed") && l.includes('TW_ERR_STORE_UNAVAILABLE')).length;

async function hangUp(call: { sid: string; hangup(): Promise<void> }): Promise<void> {
  await call.hangup();
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'ended', 'the session to end');
}

test('an accepted agent whose dial fails before the call is placed is dialled again from the record: bridged, one agent call', async () => {
  const before = aliceCalls().length;
  const failed = notPlaced();
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const issue = jest.spyOn(h.app.services.tokens, 'issue').mockRejectedValueOnce(Errors.storeUnavailable());

  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, 'alice'))).status).toBe(200);
  await waitFor(() => issue.mock.calls.length > 0, "the agent's stream token refused");

  // the caller's next reread dials alice: her call placed, its stream bridged
  const { agentCall } = await agentSide(h, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(issue).toHaveBeenCalledTimes(2);
  expect(aliceCalls().length - before).toBe(1);
  expect(notPlaced()).toBe(failed + 1);
  expect(h.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  expect((await h.app.services.calls.get(call.sid))?.handoff.agentCallSid).toBe(agentCall.sid);
  await hangUp(call);
});

test("a flow's fixed agent whose dial fails before the call is placed is dialled again from the record: bridged, one agent call", async () => {
  const before = aliceCalls().length;
  const failed = notPlaced();
  // the agent's stream token, the first time, cannot be written (the caller's is issued as ever)
  const tokens = h.app.services.tokens;
  const original = tokens.issue.bind(tokens);
  let refused = 0;
  jest.spyOn(tokens, 'issue').mockImplementation((grant) => {
    if (grant.leg !== 'agent' || refused++ > 0) return original(grant);
    return Promise.reject(Errors.storeUnavailable());
  });
  const call = await h.emulator.placeCall({ from: CALLER, to: ALICE_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await call.legReady;

  const { agentCall } = await agentSide(h, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(refused).toBe(2);
  expect(notPlaced()).toBe(failed + 1);
  expect(aliceCalls().length - before).toBe(1);
  expect(h.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  await hangUp(call);
});
