/**
 * A call's end is published once (CONTRACT §5 `call.ended`; docs/architecture.md "A call's end is
 * found and counted once, whatever reports it"): a bridged call's end is reported by its bridge
 * (the caller's stream stops) and by its status callback, here on two instances, and whichever
 * comes first, each socket that sees the call hears one `call.ended`, and the bridge's instance
 * still ends the bridge and the agent's call.
 */
import type { EmulatedCall } from '../../../tools/emulator';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { AgentSocket, agentFlows, agentSide, api, OFFER_NUMBER, token, type AgentEvent } from '../../support/agents';

let a: Harness;
let b: Harness;

beforeAll(async () => {
  a = await startHarness({ flows: agentFlows() });
  b = await startHarness({ flows: agentFlows(), emulator: a.emulator, keyPrefix: a.keyPrefix });
});

afterEach(() => {
  delete a.emulator.faults.statusCallbackDelayMs;
  delete a.emulator.faults.callsUpdate;
});

afterAll(async () => {
  await b?.close();
  await a?.close();
});

const ended = (callSid: string) => (e: AgentEvent) => e.type === 'call.ended' && e.callSid === callSid;
const offered = (callSid: string) => (e: AgentEvent) => e.type === 'handoff.offered' && e.callSid === callSid;

/** a call offered by `a` (its media there), its status callback to `b`, accepted by alice on `b` and bridged */
async function bridgedAcrossInstances(alice: AgentSocket): Promise<{ call: EmulatedCall; agentCall: EmulatedCall }> {
  const call = await a.emulator.placeCall({ from: '+15551234567', to: OFFER_NUMBER, voiceUrl: a.voiceUrl, statusCallback: b.statusUrl });
  await call.legReady;
  await alice.next(offered(call.sid), 'the offer');
  expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, token(b, 'alice'))).status).toBe(200);
  const { agentCall } = await agentSide(a, call.sid);
  await alice.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged');
  return { call, agentCall };
}

/** the call's status callback answered (its route has published whatever it publishes before answering) */
async function statusCallbackAnswered(callSid: string): Promise<void> {
  await waitFor(
    () => a.emulator.timelineFor(callSid).some((e) => e.type === 'webhook' && e.purpose === 'status-callback' && e.status === 204),
    'the status callback answered',
    10_000,
  );
}

/**
 * After both reporters ran: a later event (a new call's offer) reaches the sockets, so any second
 * `call.ended` published before it has reached them too (one bus, one ordered fan-out a socket)
 */
async function laterEventHeard(...sockets: AgentSocket[]): Promise<EmulatedCall> {
  const next = await a.emulator.placeCall({ from: '+15551234567', to: OFFER_NUMBER, voiceUrl: a.voiceUrl, statusCallback: a.statusUrl });
  for (const s of sockets) await s.next(offered(next.sid), 'the later offer');
  return next;
}

it("the bridge's end first, the status callback late on the other instance: one call.ended at the agent and the supervisor", async () => {
  const alice = await AgentSocket.open(b, token(b, 'alice'));
  const sue = await AgentSocket.open(a, token(a, 'sue', 'supervisor'));
  const { call, agentCall } = await bridgedAcrossInstances(alice);

  a.emulator.faults.statusCallbackDelayMs = 1000;
  const hungUp = call.hangup();
  for (const s of [alice, sue]) await s.next(ended(call.sid), 'call.ended');
  // the bridge's end moved the record: its status callback, still on its way, finds it ended
  await agentCall.ended;
  await hungUp;
  await statusCallbackAnswered(call.sid);
  const audit = await api(a, 'GET', `/v1/calls/${call.sid}/audit`, token(a, 'sue', 'supervisor'));
  const types = (audit.body as { entries: { type: string }[] }).entries.map((e) => e.type);
  expect(types.indexOf('bridge.ended')).toBeLessThan(types.indexOf('call.ended'));

  const next = await laterEventHeard(alice, sue);
  for (const s of [alice, sue]) expect(s.events.filter(ended(call.sid))).toEqual([{ type: 'call.ended', callSid: call.sid, status: 'completed' }]);
  await next.hangup();
  for (const s of [alice, sue]) s.close();
}, 30_000);

it("the status callback first, the bridge's end after it: one call.ended, and the bridge and the agent's call still end", async () => {
  const alice = await AgentSocket.open(b, token(b, 'alice'));
  const sue = await AgentSocket.open(a, token(a, 'sue', 'supervisor'));
  const { call, agentCall } = await bridgedAcrossInstances(alice);

  // the bridge's end waits for the agent's call to be ended over REST before it reads the record
  a.emulator.faults.callsUpdate = { delayMs: 1000, times: 1 };
  await call.hangup();
  await statusCallbackAnswered(call.sid);
  for (const s of [alice, sue]) await s.next(ended(call.sid), 'call.ended');
  await agentCall.ended;
  await waitFor(async () => {
    const audit = await api(a, 'GET', `/v1/calls/${call.sid}/audit`, token(a, 'sue', 'supervisor'));
    return (audit.body as { entries: { type: string }[] }).entries.some((e) => e.type === 'bridge.ended');
  }, 'the bridge ended');
  expect(a.app.services.bridges.get(call.sid)).toBeUndefined();

  const next = await laterEventHeard(alice, sue);
  for (const s of [alice, sue]) expect(s.events.filter(ended(call.sid))).toEqual([{ type: 'call.ended', callSid: call.sid, status: 'completed' }]);
  await next.hangup();
  for (const s of [alice, sue]) s.close();
}, 30_000);
