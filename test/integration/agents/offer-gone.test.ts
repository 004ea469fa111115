/**
 * The end of an offer reaches everyone it was offered to (CONTRACT §5, docs/contract.md
 * "Added: the end of an offer"): two instances on one store and one emulator, agents' sockets on
 * both. An offer another agent takes is `handoff.taken` ({callSid} alone) to the agents who did not
 * take it; an offer that ends untaken is `call.ended` to every agent it was offered to; a
 * supervisor hears what they heard before; an agent a call was never offered to hears nothing of it.
 */
import { startHarness, sleep, waitFor, type Harness } from '../../support/harness';
import { AgentSocket, ALICE_NUMBER, agentFlows, agentSide, api, CALLER, OFFER_NUMBER, placeCall, token, type AgentEvent } from '../../support/agents';
import { holdsValue } from '../../support/values';

const IVR_NUMBER = '+15005550141';
/** a call that waits in the IVR for keys: never offered to anyone */
const ivrFlow = `id: ivr-only\nnumbers: ["${IVR_NUMBER}"]\nsteps:\n  - collect: account\n    kind: digits\n    prompt: "Key in your account number."\n`;
const flows = { ...agentFlows(), ivr: ivrFlow };

let a: Harness;
let b: Harness;

beforeAll(async () => {
  a = await startHarness({ flows });
  b = await startHarness({ flows, emulator: a.emulator, keyPrefix: a.keyPrefix });
});

afterAll(async () => {
  await b?.close();
  await a?.close();
});

/** the types of a call's events at a socket, in order (a call's end is published once, whatever reports it: call-ended-once.test.ts) */
const of = (s: AgentSocket, callSid: string) => s.events.filter((e) => e.callSid === callSid).map((e) => e.type);
const offered = (callSid: string) => (e: AgentEvent) => e.type === 'handoff.offered' && e.callSid === callSid;
const calls = async (h: Harness, tok: string) => ((await api(h, 'GET', '/v1/calls', tok)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid);

/** no event, on any socket, holds the caller's full number */
function expectNoCallerNumber(...sockets: AgentSocket[]): void {
  for (const s of sockets) for (const text of s.raw) for (const secret of [CALLER, CALLER.slice(1)]) expect(holdsValue(text, secret)).toBe(false);
}

it('an offer one agent takes: the agents who did not take it, on either instance, hear handoff.taken and nothing more of it', async () => {
  const alice = await AgentSocket.open(a, token(a, 'alice'));
  const bob = await AgentSocket.open(b, token(b, 'bob'));
  const sue = await AgentSocket.open(b, token(b, 'sue', 'supervisor'));
  const { call } = await placeCall(a, OFFER_NUMBER, 'offered');
  for (const s of [alice, bob, sue]) await s.next(offered(call.sid), 'the offer');
  // carol signs in after the offer went out: her panel reads it from the list, not from an event
  const carolTok = token(a, 'carol');
  const carol = await AgentSocket.open(a, carolTok);
  expect(await calls(a, carolTok)).toContain(call.sid);

  expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, token(b, 'alice'))).status).toBe(200);
  for (const s of [bob, carol]) {
    const gone = await s.next((e) => e.type === 'handoff.taken' && e.callSid === call.sid, 'handoff.taken');
    // the call alone: not who took it
    expect(gone).toEqual({ type: 'handoff.taken', callSid: call.sid });
  }
  expect(await calls(a, carolTok)).not.toContain(call.sid);
  await agentSide(a, call.sid);
  for (const s of [alice, sue]) await s.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged');
  await call.hangup();
  for (const s of [alice, sue]) await s.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
  await sleep(300);

  expect(of(bob, call.sid)).toEqual(['handoff.offered', 'handoff.taken']);
  expect(of(carol, call.sid)).toEqual(['handoff.taken']);
  // the one who took it, and the supervisor, hear the call as before: no handoff.taken
  expect(of(alice, call.sid)).toEqual(['handoff.offered', 'call.bridged', 'call.ended']);
  expect(of(sue, call.sid)).toEqual(['handoff.offered', 'call.bridged', 'call.ended']);
  expectNoCallerNumber(alice, bob, carol, sue);
  for (const s of [alice, bob, carol, sue]) s.close();
});

it('an offer whose caller hangs up before any accept: call.ended at every agent it was offered to, on either instance', async () => {
  const alice = await AgentSocket.open(a, token(a, 'alice'));
  const bobTok = token(b, 'bob');
  const bob = await AgentSocket.open(b, bobTok);
  const sue = await AgentSocket.open(a, token(a, 'sue', 'supervisor'));
  const { call } = await placeCall(a, OFFER_NUMBER, 'offered');
  for (const s of [alice, bob, sue]) await s.next(offered(call.sid), 'the offer');
  const carol = await AgentSocket.open(b, token(b, 'carol'));

  await call.hangup();
  for (const s of [alice, bob, carol, sue]) {
    const ended = await s.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
    // what call.ended carries, no more
    expect(ended).toEqual({ type: 'call.ended', callSid: call.sid, status: 'completed' });
  }
  await sleep(300);
  for (const s of [alice, bob, sue]) expect(of(s, call.sid)).toEqual(['handoff.offered', 'call.ended']);
  expect(of(carol, call.sid)).toEqual(['call.ended']);
  // the ended offer is still no agent's to read or take
  expect(await calls(b, bobTok)).not.toContain(call.sid);
  expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, bobTok)).status).toBe(404);
  expectNoCallerNumber(alice, bob, carol, sue);
  for (const s of [alice, bob, carol, sue]) s.close();
});

it('an agent a call was never offered to hears nothing of it: a call handed to another endpoint, a call that ends in the IVR', async () => {
  const dave = [await AgentSocket.open(a, token(a, 'dave')), await AgentSocket.open(b, token(b, 'dave'))];
  const alice = await AgentSocket.open(b, token(b, 'alice'));
  const sue = await AgentSocket.open(b, token(b, 'sue', 'supervisor'));

  // handoff.to client:alice: hers alone from the start
  const { call: assigned } = await placeCall(a, ALICE_NUMBER, 'bridged');
  await alice.next((e) => e.type === 'call.bridged' && e.callSid === assigned.sid, 'call.bridged at alice');
  await assigned.hangup();
  await alice.next((e) => e.type === 'call.ended' && e.callSid === assigned.sid, 'call.ended at alice');
  await sue.next((e) => e.type === 'call.ended' && e.callSid === assigned.sid, 'call.ended at sue');

  // a caller who hangs up in the IVR was never offered to an agent
  // the caller keys nothing and the Gather waits until they hang up: without a handler the emulator's
  // Gather ends at once, empty, and the flow could reach its handoff (an offer) before the hang-up
  const ivr = await a.emulator.placeCall({
    from: CALLER,
    to: IVR_NUMBER,
    voiceUrl: a.voiceUrl,
    statusCallback: a.statusUrl,
    onGather: () => new Promise<null>(() => undefined),
  });
  await waitFor(async () => (await a.app.services.calls.get(ivr.sid))?.state === 'ivr', 'the call in the IVR', 10_000);
  await ivr.hangup();
  await sue.next((e) => e.type === 'call.ended' && e.callSid === ivr.sid, 'call.ended of the IVR call at sue');
  await sleep(300);

  expect(of(alice, ivr.sid)).toEqual([]);
  for (const s of dave) expect(s.events).toEqual([]);
  for (const s of [...dave, alice, sue]) s.close();
}, 20_000);
