/**
 * A bridged conversation outlives the instance that holds it. Two instances behind one
 * PUBLIC_URL (the emulator's proxy plays the load balancer), each with its own media origin.
 * When the holding instance drains (a deploy), its streams close with the calls still up, and
 * Twilio asks each leg's <Redirect> after <Connect>: the caller gets a stream to the instance that answers,
 * whose bridge calls the agent's call back in. Keys stay masked there, and no recording starts
 * twice. A bridge ended on purpose (a hang-up) is never taken up again.
 */
import fs from 'node:fs';
import type { MediaLeg } from '../../tools/emulator';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { expectNoStreamErrors } from '../support/streams';
import { atAgent, relayedThrough } from '../support/relay';
import { MAX_DRAINING_HOPS } from '../../src/twilio/bridge-lost';
import { agentSide, ALICE_NUMBER, api, keyed, makeFlowsDir, multimon, OFFER_NUMBER, placeCall, silence, token, nextLeg } from '../support/agents';
import { speech } from '../support/audio';
import { bridgedOn, capturePaused, resumeCarriedOut } from '../support/failover';
import { systemMessage } from '../../src/flows/prompt-defaults';

const PUB = 'https://ivr.failover.test';

let flowsDir: string;
let a: Harness;
let b: Harness;

beforeAll(async () => {
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
    // no message either instance sent on any stream is one Twilio refuses (31924)
    expectNoStreamErrors(a.emulator);
  } finally {
    await b.close();
    await a.close();
  }
});

/** a call to alice's flow (dialled at once, recorded), bridged on A, Twilio's requests routed to A */
const bridgedOnA = () => bridgedOn(a, PUB);

const bridgedAgain = (h: Harness, callSid: string) => waitFor(() => h.app.services.bridges.get(callSid)?.state === 'bridged', 'bridged again', 10_000);

/** the caller keys `keys`, then `tail` bytes of silence; the agent (bridged by `h`) hears it all, and not one key */
async function keysUnheard(h: Harness, caller: MediaLeg, agent: MediaLeg, keys: string, tail: number): Promise<void> {
  const from = caller.sentBytes;
  await caller.sendAudio(keyed(keys));
  await caller.sendAudio(silence(tail));
  await relayedThrough(h, caller, agent);
  expect(multimon(agent.received.subarray(atAgent(h, caller, from)))).toBe('');
}

const lostRedirects = (h: Harness, callSid: string) =>
  h.emulator
    .timelineFor(callSid)
    .filter((e) => e.type === 'webhook' && e.purpose === 'redirect' && new URL(e.url).pathname.startsWith('/twilio/bridge-lost/')) as {
    url: string;
    status: number;
  }[];

async function metric(h: Harness, name: string): Promise<number> {
  const text = await (await fetch(h.metricsUrl)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

it('an instance drained mid-conversation: the call goes on through another, keys masked, one recording', async () => {
  const { call, caller } = await placeCall(a, ALICE_NUMBER, 'bridged');
  const { agentCall, agent } = await agentSide(a, call.sid);
  expect(a.app.services.bridges.get(call.sid)?.state).toBe('bridged');

  // the load balancer takes A out of rotation, then A drains (SIGTERM)
  a.emulator.routeOrigin(PUB, b.url);
  await a.app.close();

  const caller2 = await nextLeg(call, caller, "the caller's stream to B");
  const agent2 = await nextLeg(agentCall, agent, "the agent's stream to B");
  await waitFor(() => b.app.services.bridges.get(call.sid)?.state === 'bridged', 'bridged again on B', 10_000);
  expect(caller2.url.startsWith(b.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(agent2.url.startsWith(b.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);

  const session = await b.app.services.calls.get(call.sid);
  expect(session).toMatchObject({ state: 'bridged', instanceId: b.config.instanceId, handoff: { streams: 2, agentCallSid: agentCall.sid } });
  expect(call.status).toBe('in-progress');
  expect(agentCall.status).toBe('in-progress');
  // the caller's <Redirect> after <Connect>, and the agent's, reached B (A was out of rotation)
  expect(lostRedirects(a, call.sid).map((e) => [new URL(e.url).pathname, e.status])).toEqual([['/twilio/bridge-lost/1', 200]]);
  expect(lostRedirects(a, agentCall.sid).map((e) => e.status)).toEqual([200]);

  // keys through B's bridge: the agent hears none, and the one recording of the agent's call,
  // still running across the redirect (as Twilio's <Start><Recording> does), holds none
  expect(agentCall.recordingStatus).toBe('in-progress');
  const recordedBefore = agentCall.recordingAudio.length;
  await keysUnheard(b, caller2, agent2, '4111111111111111', 8000);
  expect(agentCall.recordings).toHaveLength(1);
  expect(agentCall.recordingAudio.length - recordedBefore).toBeGreaterThanOrEqual(8000);
  expect(call.recordings.every((r) => r.status !== 'in-progress')).toBe(true);

  const trail = (await b.app.services.audit.list(call.sid)).map((e) => e.type);
  expect(trail).toEqual(expect.arrayContaining(['bridge.lost', 'bridge.resumed', 'bridge.agent-rejoining']));
  expect(trail.filter((t) => t === 'call.bridged')).toHaveLength(2);
  expect(await metric(b, 'tonewall_bridges_resumed_total')).toBe(1);

  // the caller hangs up: B ends the agent's call
  await call.hangup();
  await agentCall.ended;
  expect(multimon(agentCall.recordingAudio)).toBe('');
});

it('a caller on hold for an offer when their instance drains: held by another, whose bridge an accept then reaches', async () => {
  const { call, caller } = await placeCall(a, OFFER_NUMBER, 'offered');
  a.emulator.routeOrigin(PUB, b.url);
  await a.app.close();
  const caller2 = await nextLeg(call, caller, "the caller's stream to B");
  await waitFor(() => b.app.services.bridges.get(call.sid)?.state === 'holding', 'on hold on B', 10_000);
  expect(await b.app.services.calls.get(call.sid)).toMatchObject({ state: 'offered', instanceId: b.config.instanceId, handoff: { streams: 2 } });
  // the chime again, from B
  const chimed = caller2.received.length;
  await caller2.sendAudio(silence(1600));
  await waitFor(() => caller2.received.length > chimed, 'the hold sound from B');

  // accepted on B: the dial-agent command reaches the instance the record names now
  expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, token(b, 'bob'))).status).toBe(200);
  const { agentCall } = await agentSide(b, call.sid);
  expect(agentCall.to).toBe('client:bob');
  expect(b.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  await call.hangup();
  await agentCall.ended;
});

/** the agent calls placed over REST to `to` (as Twilio's calls, whichever instance placed them) */
const agentCallsTo = (h: Harness, to: string) => [...h.emulator.calls.values()].filter((c) => c.to === to);

it('an offer accepted while its lost bridge waits to be taken up: the dial-agent finds no bridge, the instance that takes the caller up dials the agent', async () => {
  a.emulator.routeOrigin(PUB, a.url);
  const { call, caller } = await placeCall(a, OFFER_NUMBER, 'offered');
  // the caller's stream to A cut off, A alive; B, which Twilio reaches now, draining: the caller is passed on, not yet taken up
  a.emulator.routeOrigin(PUB, b.url);
  b.app.services.draining = true;
  try {
    await caller.drop();
    await waitFor(() => !a.app.services.bridges.get(call.sid) && lostRedirects(a, call.sid).length >= 1, 'the bridge lost on A, the caller passed on', 10_000);
    // accepted meanwhile: the record still names A, which no longer holds the call's bridge
    expect(await a.app.services.calls.get(call.sid)).toMatchObject({ state: 'offered', instanceId: a.config.instanceId });
    expect((await api(a, 'POST', `/v1/calls/${call.sid}/accept`, token(a, 'bob'))).status).toBe(200);
  } finally {
    b.app.services.draining = false;
  }
  // B takes the caller up, and dials the agent the record says accepted: not a hold until the timeout
  await nextLeg(call, caller, "the caller's stream to B");
  const { agentCall } = await agentSide(b, call.sid);
  expect(agentCall.to).toBe('client:bob');
  expect(b.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  expect(await b.app.services.calls.get(call.sid)).toMatchObject({ instanceId: b.config.instanceId, handoff: { streams: 2, agentCallSid: agentCall.sid } });
  expect(agentCallsTo(a, 'client:bob')).toHaveLength(1);
  await call.hangup();
  await agentCall.ended;
});

it("an accept's dial under way when the caller's stream is cut off: the call that dial placed is ended, the instance that takes the caller up dials the agent", async () => {
  a.emulator.routeOrigin(PUB, a.url);
  const { call, caller } = await placeCall(a, OFFER_NUMBER, 'offered');
  a.emulator.routeOrigin(PUB, b.url);
  // Twilio slow to create A's agent call: the take-up on B reads the record before A could name that call in it
  a.emulator.faults.callsCreate = { delayMs: 2_000, times: 1 };
  expect((await api(a, 'POST', `/v1/calls/${call.sid}/accept`, token(a, 'bob'))).status).toBe(200);
  await waitFor(() => a.app.services.bridges.get(call.sid)?.state === 'dialing', 'A dialling the agent');
  await caller.drop();
  await nextLeg(call, caller, "the caller's stream to B");
  const { agentCall, agent } = await agentSide(b, call.sid);
  expect(agent.url.startsWith(b.config.mediaPublicUrl.replace(/^https/, 'wss'))).toBe(true);
  expect(b.app.services.bridges.get(call.sid)?.state).toBe('bridged');
  // the call A placed for a bridge it no longer held: ended, not left to ring or to wait for a rejoin
  const placedByA = await waitFor(() => agentCallsTo(a, 'client:bob').find((c) => c !== agentCall), "A's agent call, created late", 10_000);
  await placedByA.ended;
  expect(agentCallsTo(a, 'client:bob')).toHaveLength(2);
  expect(b.app.services.bridges.get(call.sid)?.agentCallSid).toBe(agentCall.sid);
  expect((await b.app.services.calls.get(call.sid))?.handoff.agentCallSid).toBe(agentCall.sid);
  await call.hangup();
  await agentCall.ended;
});

it('an agent call placed for a bridge the record says was taken up elsewhere meanwhile is ended, not named in the record', async () => {
  a.emulator.routeOrigin(PUB, a.url);
  const { call } = await placeCall(a, OFFER_NUMBER, 'offered');
  a.emulator.faults.callsCreate = { delayMs: 1_000, times: 1 };
  expect((await api(a, 'POST', `/v1/calls/${call.sid}/accept`, token(a, 'bob'))).status).toBe(200);
  await waitFor(() => a.app.services.bridges.get(call.sid)?.state === 'dialing', 'A dialling the agent');
  // a take-up A has not heard of yet (Twilio left its stream, whose close A has not seen): the
  // record written as twilio/bridge-lost.ts writes it, naming B and the caller's next stream
  await a.app.services.calls.update(call.sid, (s) => {
    s.handoff.streams = 2;
    s.instanceId = b.config.instanceId;
  });
  const placedByA = await waitFor(() => agentCallsTo(a, 'client:bob')[0], "A's agent call, created late", 10_000);
  await placedByA.ended;
  expect(a.app.services.bridges.get(call.sid)).toBeUndefined();
  const session = await a.app.services.calls.get(call.sid);
  expect(session?.handoff.agentCallSid).toBeUndefined();
  expect(session).toMatchObject({ instanceId: b.config.instanceId, handoff: { agentEndpoint: 'client:bob' } });
  expect(await a.app.services.audit.list(call.sid)).toEqual(
    expect.arrayContaining([expect.objectContaining({ type: 'bridge.lost', reason: 'taken-up-elsewhere' })]),
  );
  // the stream A closed is not the caller's current one: Twilio's <Redirect> after it is told so, and the call ends
  await call.ended;
});

it("the caller's stream cut off (no stop) on a live instance: taken up again there, the agent called back in", async () => {
  const { call, caller, agentCall, agent } = await bridgedOnA();

  await caller.drop();
  const caller2 = await nextLeg(call, caller, "the caller's next stream");
  const agent2 = await nextLeg(agentCall, agent, "the agent's next stream");
  await bridgedAgain(a, call.sid);
  expect((await a.app.services.calls.get(call.sid))?.handoff.streams).toBe(2);

  await keysUnheard(a, caller2, agent2, '1234#', 4000);
  expect(agentCall.recordings).toHaveLength(1);
  await call.hangup();
  await agentCall.ended;
});

it('a capture on a bridge whose caller stream is cut off ends at once (bridge-lost), its recording resumed; the next runs', async () => {
  const { call, caller, agentCall } = await bridgedOnA();
  const alice = token(a, 'alice');
  const first = await capturePaused(a, call.sid, agentCall, { name: 'card', kind: 'card-number' });
  await caller.drop();
  const ended = await waitFor(async () => {
    const r = (await api(a, 'GET', `/v1/calls/${call.sid}/captures/${first.body.captureId}`, alice)).body as { status: string; reason?: string };
    return r.status === 'failed' ? r : null;
  }, 'the capture ended');
  expect(ended.reason).toBe('bridge-lost');
  await waitFor(() => agentCall.recordingStatus === 'in-progress', 'the recording resumed');
  const caller2 = await nextLeg(call, caller, "the caller's next stream");
  await bridgedAgain(a, call.sid);
  const second = await api(a, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(second.status).toBe(201);
  await caller2.sendAudio(keyed('4111111111111111#'));
  await waitFor(
    async () => (await api(a, 'GET', `/v1/calls/${call.sid}/captures/${second.body.captureId}`, alice)).body.status === 'completed',
    'the next capture',
  );
  await call.hangup();
  await agentCall.ended;
  expect(multimon(agentCall.recordingAudio)).toBe('');
});

it("a capture's resume Twilio answers late on the instance that lost the bridge does not undo the next capture's pause on the instance that took it up", async () => {
  const { call, caller, agentCall } = await bridgedOnA();
  const alice = token(a, 'alice');
  const first = await capturePaused(a, call.sid, agentCall, { name: 'cvv', kind: 'security-code' });
  // the caller's stream to A cut off (A alive), Twilio reaching B now; A's resume at the capture's
  // end is answered past its bound and carried out then, after A has let the capture go
  a.emulator.routeOrigin(PUB, b.url);
  a.emulator.faults.recordingResume = { delayMs: 4_000, times: 1 };
  const droppedAt = a.emulator.now();
  await caller.drop();
  await waitFor(
    async () => (await api(a, 'GET', `/v1/calls/${call.sid}/captures/${first.body.captureId}`, alice)).body.status === 'failed',
    'the first capture ended',
  );
  const caller2 = await nextLeg(call, caller, "the caller's stream to B");
  await bridgedAgain(b, call.sid);
  // the agent starts the next capture at once, on B, which holds the bridge now
  const second = await api(b, 'POST', `/v1/calls/${call.sid}/captures`, token(b, 'alice'), { name: 'card', kind: 'card-number' });
  expect(second.status).toBe(201);
  // once Twilio carried out A's late resume (on the emulator's timeline, not after a sleep): the recording is paused for B's capture
  await resumeCarriedOut(a, agentCall.sid, droppedAt + 4_000, "A's late resume carried out");
  expect(a.emulator.recordingStatusAt(agentCall.sid, a.emulator.now())).toBe('paused');
  await caller2.sendAudio(keyed('4111111111111111#'));
  await waitFor(
    async () => (await api(b, 'GET', `/v1/calls/${call.sid}/captures/${second.body.captureId}`, token(b, 'alice'))).body.status === 'completed',
    'the next capture',
  );
  await call.hangup();
  await agentCall.ended;
  for (const channel of agentCall.recordings.flatMap((r) => r.channels())) expect(multimon(channel)).toBe('');
});

it("an agent's call that cannot be called back in is dialled again: a capture then pauses the new call's recording, not the old one's", async () => {
  const { call, caller, agentCall } = await bridgedOnA();
  await waitFor(() => agentCall.recordingStatus === 'in-progress', "the agent call's recording");
  // Twilio will not redirect the agent's call: it is ended and the agent dialled again
  a.emulator.faults.callsUpdate = { status: 500, times: 1 };
  await caller.drop();
  await nextLeg(call, caller, "the caller's next stream");
  const session = await waitFor(
    async () => {
      const s = await a.app.services.calls.get(call.sid);
      return s?.state === 'bridged' && s.handoff.agentCallSid && s.handoff.agentCallSid !== agentCall.sid ? s : null;
    },
    'bridged to a new agent call',
    10_000,
  );
  const agentCall2 = await waitFor(() => a.emulator.calls.get(session.handoff.agentCallSid!), 'the new agent call');
  await waitFor(() => agentCall2.recordingStatus === 'in-progress', "the new agent call's recording");
  const [rec] = agentCall.recordings;
  const [rec2] = agentCall2.recordings;
  // whether or not Twilio's report of it came before the record named the new call, the old recording is not this call's
  expect((await a.app.services.calls.get(call.sid))?.agentRecording?.sid).not.toBe(rec.sid);

  const alice = token(a, 'alice');
  const capture = await api(a, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(capture.status).toBe(201);
  expect(agentCall2.recordingStatus).toBe('paused');
  const pauses = a.emulator.timelineFor(agentCall2.sid).filter((e) => e.type === 'recording' && e.recordingSid === rec2.sid && e.status === 'paused');
  expect(pauses).toHaveLength(1);
  expect(a.emulator.timelineFor(agentCall.sid).some((e) => e.type === 'recording' && e.status === 'paused')).toBe(false);
  await call.hangup();
  await agentCall2.ended;
});

it("the agent's stream cut off alone: the caller on hold, the same agent call back in", async () => {
  const { call, caller, agentCall, agent } = await bridgedOnA();

  await agent.drop();
  const agent2 = await nextLeg(agentCall, agent, "the agent's next stream");
  await bridgedAgain(a, call.sid);
  expect(call.leg).toBe(caller);
  expect(caller.isOpen).toBe(true);
  expect((await a.app.services.calls.get(call.sid))?.handoff).toMatchObject({ agentCallSid: agentCall.sid });
  // the agent's call waited (its <Redirect> after <Connect>) and was redirected back; no second recording
  expect(lostRedirects(a, agentCall.sid)).toHaveLength(1);
  expect(agentCall.recordings).toHaveLength(1);
  // the caller's stream bridged twice: where its audio lands is not countable (support/relay.ts),
  // so its speech is looked for as it is (the relay passes speech byte for byte)
  const talk = speech(1);
  await caller.sendAudio(talk);
  await waitFor(() => Buffer.from(agent2.received).includes(Buffer.from(talk)), 'the caller audio at the agent again', 10_000);
  await call.hangup();
  await agentCall.ended;
});

it("a caller who hangs up while their lost bridge is not yet taken up: the agent's wait ends at its next check, not its end", async () => {
  const { call, agentCall } = await bridgedOnA();
  // A drains; B, which every request reaches now, is draining too: the caller is passed on, not taken up
  a.emulator.routeOrigin(PUB, b.url);
  b.app.services.draining = true;
  try {
    await a.app.close();
    await waitFor(() => lostRedirects(a, agentCall.sid).length === 1 && lostRedirects(a, call.sid).length >= 2, 'both legs waiting', 10_000);
    // the agent waits (a notice, then a check a few seconds on); the caller hangs up meanwhile
    expect(agentCall.status).toBe('in-progress');
    await call.hangup();
    await agentCall.ended;
  } finally {
    b.app.services.draining = false;
  }
  // the agent's call asked once more, found its caller gone, and ended: not at the wait's end
  const agentWaits = lostRedirects(a, agentCall.sid).map((e) => new URL(e.url).search);
  expect(agentWaits).toEqual([`?leg=agent&call=${call.sid}`, `?leg=agent&call=${call.sid}&hop=1`]);
  expect(agentCall.status).toBe('completed');
  expect((await b.app.services.calls.get(call.sid))?.state).toBe('ended');
});

it('a bridge ended on purpose is not taken up: the agent hangs up, the caller is cut off, no <Redirect> after <Connect>', async () => {
  const { call, agentCall } = await bridgedOnA();
  // Twilio slow to end the caller's call: a stream closed before that (the bridge's old order)
  // would send the caller to the <Redirect> after <Connect>, and back to a bridge, meanwhile
  a.emulator.faults.callsUpdate = { delayMs: 300, times: 1 };
  await agentCall.hangup();
  await call.ended;
  expect(call.status).toBe('completed');
  expect(lostRedirects(a, call.sid)).toEqual([]);
  expect((await a.app.services.calls.get(call.sid))?.state).toBe('ended');
  expect(a.app.services.bridges.size).toBe(0);
});

it("a caller's stream lost after the call's record went (Redis restarted empty, an erasure): the safe apology, then the hangup, never silence", async () => {
  const { call, caller, agentCall } = await bridgedOnA();
  const saysOf = () => call.transcript.flatMap((t) => (t.verb === 'Say' ? [t.text] : []));
  const before = saysOf();
  expect(await a.redisStore!.del(`${a.keyPrefix}call:${call.sid}`)).toBe(1);
  await caller.drop();
  await call.ended;
  expect(lostRedirects(a, call.sid).map((e) => [new URL(e.url).pathname, e.status])).toEqual([['/twilio/bridge-lost/1', 200]]);
  expect(saysOf().slice(before.length)).toEqual([systemMessage('apology-goodbye')]);
  expect(call.status).toBe('completed');
  await agentCall.ended;
});

it('a <Redirect> after <Connect> for a call that is over, or not bridged, ends it; unsigned is refused', async () => {
  const { call, caller, agentCall } = await bridgedOnA();
  const url = `${PUB}/twilio/bridge-lost/1`;
  const params = { AccountSid: a.config.twilio.accountSid, CallSid: call.sid, CallStatus: 'in-progress' };
  expect((await a.emulator.signedPost(url, params, { signature: null })).status).toBe(400);
  // a stream number that is not the call's current one: an apology, nothing taken up
  const stale = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/2`, params);
  expect(stale.status).toBe(200);
  expect(stale.body).toMatch(/<Say[^>]*>We're sorry.*<Hangup\/>/s);
  expect((await a.app.services.calls.get(call.sid))?.handoff.streams ?? 1).toBe(1);
  // the agent's action for a call that is not this bridge's agent: the call just ends
  const other = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/1?leg=agent&call=${call.sid}`, { ...params, CallSid: 'CA' + 'f'.repeat(32) });
  expect(other.body).not.toMatch(/Pause|Connect/);
  expect(caller.isOpen).toBe(true);

  await call.hangup();
  await agentCall.ended;
  // once the call is over: nothing to take up
  const after = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/1`, { ...params, CallStatus: 'in-progress', ApiVersion: '2010-04-01' });
  expect(after.status).toBe(200);
  expect(after.body).not.toMatch(/Connect|Stream/);
});

it('a draining instance passes a lost caller on (a second, then the same action again) until one that is not takes the call up', async () => {
  const { call, agentCall } = await bridgedOnA();
  const params = { AccountSid: a.config.twilio.accountSid, CallSid: call.sid, CallStatus: 'in-progress' };
  a.app.services.draining = true;
  try {
    const passed = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/1`, params);
    expect(passed.body).toContain(`<Pause length="1"/><Redirect method="POST">${PUB}/twilio/bridge-lost/1?hop=1</Redirect>`);
    expect((await a.app.services.calls.get(call.sid))?.handoff.streams ?? 1).toBe(1);
    const again = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/1?hop=1`, params);
    expect(again.body).toContain(`bridge-lost/1?hop=2`);
    // passed on as often as a load balancer could need: then taken up even here
    const last = await a.emulator.signedPost(`${PUB}/twilio/bridge-lost/1?hop=${MAX_DRAINING_HOPS}`, params);
    expect(last.body).toContain(`<Redirect method="POST">${PUB}/twilio/bridge-lost/2</Redirect>`);
  } finally {
    a.app.services.draining = false;
  }
  // an instance that is not draining takes the passed-on action up
  const next = await b.emulator.signedPost(`${PUB}/twilio/bridge-lost/2?hop=1`, params);
  expect(next.body).toContain(`<Redirect method="POST">${PUB}/twilio/bridge-lost/3</Redirect>`);
  expect((await a.app.services.calls.get(call.sid))?.handoff.streams).toBe(3);
  await call.hangup();
  await agentCall.ended;
});

it('on the embedded store (one instance, no other to take a bridge up) no <Redirect> after <Connect> is written: a lost stream ends the call', async () => {
  const solo = await startHarness({ flowsDir, store: 'embedded' });
  try {
    const { call, caller } = await placeCall(solo, ALICE_NUMBER, 'bridged');
    const { agentCall } = await agentSide(solo, call.sid);
    const create = solo.emulator.timeline.find((e) => e.type === 'rest' && e.method === 'POST' && /\/Calls\.json$/.test(e.path));
    expect(create && create.type === 'rest' && String(create.params.Twiml)).not.toContain('Redirect');
    // with a <Redirect> after the <Connect>, the emulator (as Twilio) would follow it here
    await caller.drop();
    await agentCall.ended;
    expect(lostRedirects(solo, call.sid)).toEqual([]);
    await waitFor(async () => (await solo.app.services.calls.get(call.sid))?.state === 'ended', 'the call ended', 10_000);
  } finally {
    await solo.close();
  }
});
