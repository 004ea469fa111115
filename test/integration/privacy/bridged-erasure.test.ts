/**
 * A caller erased while bridged to an agent: the live call is not hung up (docs/contract.md), its
 * record goes at once. When the call then ends, no record is left to say so, yet the agent's
 * panel that shows the call must hear that it is over: the bridge's end publishes `call.ended`,
 * and a socket that was told of the call is told of its end. An agent never told of it hears
 * nothing; the event names no one.
 */
import { AgentSocket, ALICE_NUMBER, CALLER, agentFlows, agentSide, placeCall, token } from '../../support/agents';
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
