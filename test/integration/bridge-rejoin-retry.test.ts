/**
 * The agent's call called back into its bridge (media/failover.ts `rejoinAgent`) by a redirect
 * that fails before its REST call (the store unreachable as the agent's stream token is issued):
 * the agent's call is where it was, waiting in its <Redirect> after <Connect>, so the caller is not
 * hung up. The bridge goes back to holding and the held caller's next reread of the record
 * (media/holds.ts, registry `recheck`) calls the same agent call back in. Both ways a bridge calls
 * its agent back in: the agent's stream cut off alone (`agentLost`), and the caller's stream cut
 * off, taken up again by its next stream (`onCallerStarted`).
 */
import type { MediaLeg } from '../../tools/emulator';
import { Errors } from '../../src/errors';
import { waitFor, type Harness } from '../support/harness';
import { agentSide, ALICE_NUMBER, bridgeSuite, placeCall, nextLeg } from '../support/agents';
import { speech } from '../support/audio';

// the agent flows' harness, and after each test no stream message Twilio refuses (31924); the spies undone
const suite = bridgeSuite({ restoreMocks: true });
const { aliceCalls } = suite;
let h: Harness;
beforeAll(() => {
  h = suite.h;
});

const notCalledIn = () =>
  h.logs.lines.filter((l) => l.includes("agent's call not called back in (failed before") && l.includes('TW_ERR_STORE_UNAVAILABLE')).length;

/** the agent's stream token refused the first time it is issued (the store unreachable for a moment); the counter of agent tokens asked for */
function refuseAgentTokenOnce(): { asked: number } {
  const tokens = h.app.services.tokens;
  const original = tokens.issue.bind(tokens);
  const counter = { asked: 0 };
  jest.spyOn(tokens, 'issue').mockImplementation((grant) => {
    if (grant.leg !== 'agent' || counter.asked++ > 0) return original(grant);
    return Promise.reject(Errors.storeUnavailable());
  });
  return counter;
}

/** the call's latest <Connect><Stream> leg once it is another than `before` and open */
const bridgedAgain = (callSid: string) => waitFor(() => h.app.services.bridges.get(callSid)?.state === 'bridged', 'bridged again', 10_000);

/** the caller's speech reaches the agent's stream (a caller stream bridged twice is not countable: support/relay.ts) */
async function heard(caller: MediaLeg, agent: MediaLeg): Promise<void> {
  const talk = speech(1);
  await caller.sendAudio(talk);
  await waitFor(() => Buffer.from(agent.received).includes(Buffer.from(talk)), 'the caller audio at the agent again', 10_000);
}

test("the agent's stream cut off, its call's redirect back failing before it is sent: the caller holds, the same agent call called back in from the record", async () => {
  const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(h, call.sid);
  const placed = aliceCalls().length;
  const failed = notCalledIn();
  const refused = refuseAgentTokenOnce();

  await agent.drop();
  const agent2 = await nextLeg(agentCall, agent, "the agent's next stream");
  await bridgedAgain(call.sid);
  expect(refused.asked).toBe(2);
  expect(notCalledIn()).toBe(failed + 1);
  // the caller was held, not hung up: the same stream, the same agent call, no new one placed
  expect(call.status).toBe('in-progress');
  expect(call.leg).toBe(caller);
  expect(aliceCalls().length).toBe(placed);
  expect((await h.app.services.calls.get(call.sid))?.handoff.agentCallSid).toBe(agentCall.sid);
  expect(agentCall.recordings).toHaveLength(1);
  await heard(caller, agent2);
  await call.hangup();
  await agentCall.ended;
});

test("the caller's stream cut off, its take-up's redirect of the agent's call failing before it is sent: the caller holds, the agent call called back in from the record", async () => {
  const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(h, call.sid);
  const placed = aliceCalls().length;
  const failed = notCalledIn();
  const refused = refuseAgentTokenOnce();

  await caller.drop();
  const caller2 = await nextLeg(call, caller, "the caller's next stream");
  const agent2 = await nextLeg(agentCall, agent, "the agent's next stream");
  await bridgedAgain(call.sid);
  expect(refused.asked).toBe(2);
  expect(notCalledIn()).toBe(failed + 1);
  expect(call.status).toBe('in-progress');
  expect(aliceCalls().length).toBe(placed);
  const session = await h.app.services.calls.get(call.sid);
  expect(session?.handoff.streams).toBe(2);
  expect(session?.handoff.agentCallSid).toBe(agentCall.sid);
  expect(agentCall.recordings).toHaveLength(1);
  await heard(caller2, agent2);
  await call.hangup();
  await agentCall.ended;
});

test("the agent's stream cut off, Twilio refusing the redirect back while the store cannot withdraw its token: the agent dialled again, the caller never hung up", async () => {
  const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(h, call.sid);
  const placed = aliceCalls().length;
  // Twilio refuses the redirect, and the store fails the unsent token's withdrawal (down for that moment)
  h.emulator.faults.callsUpdate = { status: 500, times: 1 };
  const store = h.app.services.store;
  const del = store.del.bind(store);
  let refusedDel = 0;
  jest.spyOn(store, 'del').mockImplementation((...keys: string[]) => {
    if (refusedDel === 0 && keys.some((k) => k.startsWith(h.app.services.keys.streamToken('')))) {
      refusedDel++;
      return Promise.reject(Errors.storeUnavailable());
    }
    return del(...keys);
  });

  await agent.drop();
  // the old agent call ended, a new one placed and bridged: the caller held throughout
  await waitFor(() => aliceCalls().length === placed + 1, 'the agent dialled again', 10_000);
  await bridgedAgain(call.sid);
  expect(refusedDel).toBe(1);
  expect(h.logs.lines.some((l) => l.includes("unsent redirect's stream token not withdrawn"))).toBe(true);
  expect(call.status).toBe('in-progress');
  expect(call.leg).toBe(caller);
  await agentCall.ended;
  const [newCall] = aliceCalls().slice(placed);
  expect((await h.app.services.calls.get(call.sid))?.handoff.agentCallSid).toBe(newCall.sid);
  await call.hangup();
});

test("the agent's stream cut off while the store cannot read the call's record: the caller holds, the same agent call called back in once it can", async () => {
  const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(h, call.sid);
  const placed = aliceCalls().length;
  // the record unreadable for the first read after the agent's stream is cut off (the store down a moment)
  const calls = h.app.services.calls;
  const get = calls.get.bind(calls);
  let refusedReads = 0;
  jest.spyOn(calls, 'get').mockImplementation((sid: string) => {
    if (sid === call.sid && refusedReads === 0) {
      refusedReads++;
      return Promise.reject(Errors.storeUnavailable());
    }
    return get(sid);
  });

  await agent.drop();
  const agent2 = await nextLeg(agentCall, agent, "the agent's next stream");
  await bridgedAgain(call.sid);
  expect(refusedReads).toBe(1);
  expect(h.logs.lines.some((l) => l.includes("agent's call not called back in yet (the store unreachable)"))).toBe(true);
  // held, not hung up: the same stream, the same agent call, none new
  expect(call.status).toBe('in-progress');
  expect(call.leg).toBe(caller);
  expect(aliceCalls().length).toBe(placed);
  await heard(caller, agent2);
  await call.hangup();
  await agentCall.ended;
});
