/**
 * A caller erased while their call is offered and waiting in hold (bridge mode, no agent on it
 * yet): the record goes at once, and no status callback or bridge end will find it to say the
 * call is over, so the erasure publishes the call's `call.ended` (callSid and status, nothing of
 * the caller) once: every agent it was offered to drops the offer at once, rather than at their
 * panel's next re-read, and an accept answers 404. The hold ends on that event without a second one.
 */
import { AgentSocket, CALLER, OFFER_NUMBER, agentFlows, api, placeCall, token, type AgentEvent } from '../../support/agents';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { systemMessage } from '../../../src/flows/prompt-defaults';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});
afterAll(async () => h.close());

const APOLOGY = systemMessage('apology-goodbye');
const endedOf = (s: AgentSocket, sid: string): AgentEvent[] => s.events.filter((e) => e.type === 'call.ended' && e.callSid === sid);

test('an offered call whose caller is erased while waiting: exactly one call.ended at each agent it was offered to, and an accept answers 404', async () => {
  const aliceTok = token(h, 'alice');
  const alice = await AgentSocket.open(h, aliceTok);
  const bob = await AgentSocket.open(h, token(h, 'bob'));
  const sue = await AgentSocket.open(h, token(h, 'sue', 'supervisor'));
  try {
    const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
    for (const s of [alice, bob, sue]) await s.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer');
    await waitFor(() => h.app.services.bridges.get(call.sid)?.state === 'holding', 'the caller held');

    expect((await h.app.services.privacy.erase(CALLER)).calls).toBe(1);
    expect(await h.app.services.calls.get(call.sid)).toBeNull();

    for (const s of [alice, bob, sue]) {
      const ended = await s.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
      // what call.ended carries, no more
      expect(ended).toEqual({ type: 'call.ended', callSid: call.sid, status: 'canceled' });
    }
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, aliceTok)).status).toBe(404);
    // the hold ended on that event, and said nothing more: a later offer, published after it, reaches every socket
    await waitFor(() => h.app.services.bridges.get(call.sid) === undefined, 'the hold ended');
    // no agent can take the call now: the caller's next webhook, with no record, gets the safe apology and the call ends
    await waitFor(() => call.status === 'completed', "the caller's call ended");
    // said once, by that webhook (twilio/bridge-lost.ts): the erasure itself says nothing to the caller
    expect(call.transcript.filter((t) => t.verb === 'Say' && t.text === APOLOGY)).toHaveLength(1);
    expect(call.transcript.at(-1)).toMatchObject({ verb: 'Hangup' });
    const { call: later } = await placeCall(h, OFFER_NUMBER, 'offered');
    for (const s of [alice, bob, sue]) await s.next((e) => e.type === 'handoff.offered' && e.callSid === later.sid, 'the later offer');
    for (const s of [alice, bob, sue]) expect(endedOf(s, call.sid)).toHaveLength(1);
    for (const s of [alice, bob, sue]) expect(s.raw.join('\n')).not.toContain(CALLER.slice(1));
    await later.hangup();
  } finally {
    alice.close();
    bob.close();
    sue.close();
  }
});
