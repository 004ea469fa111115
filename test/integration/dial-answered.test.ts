/**
 * A dial handoff's agent answering is `call.bridged` (CONTRACT §5), as a bridge's agent audio is:
 * the <Dial>'s noun asks Twilio for its `answered` event at /twilio/dial-answered (Twilio's docs,
 * <Client> statusCallbackEvent; the <Dial action> comes only at the dial's end), and when the
 * emulator's agent picks up, the accepting agent and supervisors hear `call.bridged` ({callSid,
 * agent}: the accepting agent's actor, no number), once, before the call's end. A dial to the
 * flow's `handoff.to` is told the same, with no agent (no one accepted it), as a bridge to `to` is.
 */
import { holdsValue } from '../support/values';
import { ACCOUNT_SID, startHarness, waitFor, type Harness } from '../support/harness';
import { AgentSocket, api, CALLER, token, type AgentEvent } from '../support/agents';
import type { EmulatedCall } from '../../tools/emulator';

const DIAL_OFFER_NUMBER = '+15005550161';
const DIAL_ALICE_NUMBER = '+15005550162';

const dialFlow = (id: string, number: string, to?: string) =>
  [`id: ${id}`, `numbers: ["${number}"]`, 'steps:', '  - say: "Thanks for calling."', 'handoff:', '  mode: dial', ...(to ? [`  to: "${to}"`] : [])].join('\n');

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: { offer: dialFlow('dial-offer', DIAL_OFFER_NUMBER), alice: dialFlow('dial-alice', DIAL_ALICE_NUMBER, 'client:alice') } });
});
afterAll(async () => h?.close());
afterEach(() => {
  delete h.emulator.faults.dialOutcome;
});

const bridged = (callSid: string) => (e: AgentEvent) => e.type === 'call.bridged' && e.callSid === callSid;
const ended = (callSid: string) => (e: AgentEvent) => e.type === 'call.ended' && e.callSid === callSid;
const answeredUrl = () => `${h.publicUrl}/twilio/dial-answered`;
/** the party's status callbacks the emulator sent for the call's <Dial>, with the service's answers */
const partyCallbacks = (call: EmulatedCall) =>
  h.emulator.timelineFor(call.sid).flatMap((e) => (e.type === 'webhook' && e.purpose === 'dial-status-callback' ? [e] : []));
const types = (s: AgentSocket, callSid: string) => s.events.filter((e) => e.callSid === callSid).map((e) => e.type);

/** no event and no log line holds the caller's full number (the party's callback carries it as From) */
function expectNoCallerNumber(...texts: string[]): void {
  for (const text of texts) for (const secret of [CALLER, CALLER.slice(1)]) expect(holdsValue(text, secret)).toBe(false);
}

it('an accepted dial offer: call.bridged to the accepting agent and supervisors when the agent answers, once, before call.ended; not to the others offered it', async () => {
  const alice = await AgentSocket.open(h, token(h, 'alice'));
  const bob = await AgentSocket.open(h, token(h, 'bob'));
  const sue = await AgentSocket.open(h, token(h, 'sue', 'supervisor'));
  // alice's panel rings a second (two emulated seconds), then she talks for three
  h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 2, talkSeconds: 6, secondMs: 500 };
  const call = await h.emulator.placeCall({ from: CALLER, to: DIAL_OFFER_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  for (const s of [alice, bob, sue]) await s.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'the offer');

  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, 'alice'))).status).toBe(200);
  await bob.next((e) => e.type === 'handoff.taken' && e.callSid === call.sid, 'handoff.taken');
  // accepted and dialled, not yet answered: nothing said of a connection
  await waitFor(() => call.transcript.some((t) => t.verb === 'Dial') || null, 'the caller dialled');
  expect(alice.events.some(bridged(call.sid))).toBe(false);

  const heard = await alice.next(bridged(call.sid), 'call.bridged at alice');
  const atSue = await sue.next(bridged(call.sid), 'call.bridged at sue');
  // a bridge's shape: the call and who accepted it, by the actor the audit trail names them by
  const trail = await h.app.services.audit.list(call.sid);
  const actor = (trail.find((e) => e.type === 'agent.accepted') as { actor?: string } | undefined)?.actor;
  expect(actor).toMatch(/^agent:/);
  expect(heard).toEqual({ type: 'call.bridged', callSid: call.sid, agent: actor });
  expect(atSue).toEqual(heard);
  // told by the party's own status callback, signed, asked for `answered` alone: one request, answered
  expect(partyCallbacks(call).map((e) => [e.url, e.status])).toEqual([[answeredUrl(), 204]]);
  expect((await h.app.services.calls.get(call.sid))?.state).toBe('dialed');
  expect(call.status).toBe('in-progress');

  // Twilio's callback again (a retry: the same request), and another copy with a later sequence number: nothing more
  const again = { AccountSid: ACCOUNT_SID, CallSid: 'CAagentleg0001', ParentCallSid: call.sid, CallStatus: 'in-progress', Direction: 'outbound-dial' };
  for (const seq of ['1', '1', '2']) expect((await h.emulator.signedPost(answeredUrl(), { ...again, SequenceNumber: seq })).status).toBe(204);

  await call.ended;
  for (const s of [alice, sue]) await s.next(ended(call.sid), 'call.ended');
  expect(types(alice, call.sid)).toEqual(['handoff.offered', 'call.bridged', 'call.ended']);
  expect(types(sue, call.sid)).toEqual(['handoff.offered', 'call.bridged', 'call.ended']);
  expect(types(bob, call.sid)).toEqual(['handoff.offered', 'handoff.taken']);
  expect((await h.app.services.audit.list(call.sid)).filter((e) => e.type === 'handoff.dial-answered')).toHaveLength(1);
  expectNoCallerNumber(...alice.raw, ...bob.raw, ...sue.raw, h.logs.lines.join('\n'));
  for (const s of [alice, bob, sue]) s.close();
}, 30_000);

it('a dial to handoff.to: call.bridged, naming no one, to the agent of that endpoint and supervisors once it answers', async () => {
  const alice = await AgentSocket.open(h, token(h, 'alice'));
  const sue = await AgentSocket.open(h, token(h, 'sue', 'supervisor'));
  h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 4, secondMs: 500 };
  const call = await h.emulator.placeCall({ from: CALLER, to: DIAL_ALICE_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  for (const s of [alice, sue]) expect(await s.next(bridged(call.sid), 'call.bridged')).toEqual({ type: 'call.bridged', callSid: call.sid });
  expect(call.status).toBe('in-progress');
  await call.ended;
  for (const s of [alice, sue]) await s.next(ended(call.sid), 'call.ended');
  expect(types(alice, call.sid)).toEqual(['call.bridged', 'call.ended']);
  for (const s of [alice, sue]) s.close();
}, 30_000);

it('a dial no one answers: no call.bridged, and no party callback (only `answered` was asked for)', async () => {
  const sue = await AgentSocket.open(h, token(h, 'sue', 'supervisor'));
  h.emulator.faults.dialOutcome = { status: 'no-answer', secondMs: 20 };
  const call = await h.emulator.placeCall({ from: CALLER, to: DIAL_ALICE_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await call.ended;
  await sue.next(ended(call.sid), 'call.ended');
  expect(types(sue, call.sid)).toEqual(['call.ended']);
  expect(partyCallbacks(call)).toEqual([]);
  sue.close();
});

it('the route is a Twilio webhook: unsigned 400, wrongly signed 403, and neither changes the call', async () => {
  const params = { AccountSid: ACCOUNT_SID, CallSid: 'CAagentleg0002', ParentCallSid: 'CAnotacall0002', CallStatus: 'in-progress' };
  expect((await h.emulator.signedPost(answeredUrl(), params, { signature: null })).status).toBe(400);
  expect((await h.emulator.signedPost(answeredUrl(), params, { signature: 'bm90IGEgc2lnbmF0dXJl' })).status).toBe(403);
  // signed, for a call the service does not hold: nothing to do
  expect((await h.emulator.signedPost(answeredUrl(), params)).status).toBe(204);
});
