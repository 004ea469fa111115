/**
 * A caller erased while bridged to an agent: the live call is not hung up (docs/contract.md), its
 * record goes at once. When the call then ends, no record is left to say so, yet the agent's
 * panel that shows the call must hear that it is over: the bridge's end publishes `call.ended`,
 * and a socket that was told of the call is told of its end, as is the agent who accepted it. An
 * agent never told of it who did not accept it hears nothing.
 */
import { AgentSocket, ALICE_NUMBER, CALLER, OFFER_NUMBER, agentFlows, agentSide, api, placeCall, token } from '../../support/agents';
import { startHarness, waitFor, type Harness } from '../../support/harness';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});
afterAll(async () => h.close());

test("the agent's panel hears the end of a call whose caller was erased while it was bridged; another agent hears nothing", async () => {
  const alice = await AgentSocket.open(h, token(h, 'alice'));
  const bob = await AgentSocket.open(h, token(h, 'bob'));
  try {
    const { call } = await placeCall(h, ALICE_NUMBER, 'bridged');
    const { agentCall } = await agentSide(h, call.sid);
    await alice.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged at alice');

    expect((await h.app.services.privacy.erase(CALLER)).calls).toBe(1);
    expect(await h.app.services.calls.get(call.sid)).toBeNull();
    // the conversation goes on: the erasure hangs up no one
    expect(h.app.services.bridges.get(call.sid)?.state).toBe('bridged');

    await call.hangup();
    const ended = await alice.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended at alice');
    expect(ended).toEqual({ type: 'call.ended', callSid: call.sid, status: 'completed' });
    await waitFor(() => agentCall.status === 'completed', "the agent's call ended over REST");
    expect(bob.events.filter((e) => e.type !== 'error')).toEqual([]);
    expect(alice.raw.join('\n')).not.toContain(CALLER.slice(1));
  } finally {
    alice.close();
    bob.close();
  }
});

test('the agent who accepted a call erased while bridged hears its end on a panel opened after the erasure; another does not', async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, 'bob'))).status).toBe(200);
  const { agentCall } = await agentSide(h, call.sid);
  expect((await h.app.services.privacy.erase(CALLER)).calls).toBe(1);
  // both panels open only now: neither was told of the call, whose record is gone
  const bob = await AgentSocket.open(h, token(h, 'bob'));
  const carol = await AgentSocket.open(h, token(h, 'carol'));
  try {
    await call.hangup();
    const ended = await bob.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended at bob');
    expect(ended).toEqual({ type: 'call.ended', callSid: call.sid, status: 'completed', agent: h.app.services.audit.actor({ role: 'agent', sub: 'bob' }) });
    await waitFor(() => agentCall.status === 'completed', "the agent's call ended over REST");
    expect(carol.events.filter((e) => e.type !== 'error')).toEqual([]);
  } finally {
    bob.close();
    carol.close();
  }
});
