/**
 * A dial handoff without `to` (CONTRACT §3 `handoff.to` absent: offer to connected agents; §5
 * accept): the call is offered to the connected agents as a bridge call is (state `offered`,
 * `handoff.offered` with the masked caller, visible to every agent), the caller waits in a hold
 * loop (no <Enqueue> that nothing dequeues), and the first accept, over REST or the socket, wins:
 * the caller's call is moved over REST to a plain <Dial> of the accepting token's endpoint, with
 * the dial handoff's own action (a dial that does not connect ends in the no-agent apology). An
 * offer no one accepts ends, after the hold timeout, in the apology as a bridge caller's hold does.
 */
import { systemMessage } from '../../src/flows/prompt-defaults';
import { holdsValue } from '../support/values';
import { startHarness, waitFor, webhookParams, type Harness } from '../support/harness';
import { AgentSocket, api, CALLER, token } from '../support/agents';
import type { EmulatedCall } from '../../tools/emulator';

const DIAL_OFFER_NUMBER = '+15005550131';
const HOLD_MS = 1500;

/** a recorded flow that hands off in dial mode to no endpoint: offered to the connected agents */
const dialOfferFlow = [
  'id: dial-offer',
  `numbers: ["${DIAL_OFFER_NUMBER}"]`,
  'record: true',
  'steps:',
  '  - say: "Thanks for calling."',
  'handoff:',
  '  mode: dial',
].join('\n');

const APOLOGY = systemMessage('no-agent');

let h: Harness;
let alice: string;
let bob: string;
beforeAll(async () => {
  h = await startHarness({ flows: { 'dial-offer': dialOfferFlow }, build: { holdTimeoutMs: HOLD_MS } });
  alice = token(h, 'alice');
  bob = token(h, 'bob');
});
afterAll(async () => h?.close());
afterEach(() => {
  delete h.emulator.faults.dialOutcome;
  delete h.emulator.faults.callsUpdate;
});

/** a call to the dial-offer flow, once the service offered it */
async function offeredCall(): Promise<EmulatedCall> {
  const call = await h.emulator.placeCall({ from: CALLER, to: DIAL_OFFER_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'offered', 'the call offered', 10_000);
  return call;
}

/** the REST updates of the caller's call that gave it new TwiML */
const twimlUpdates = (callSid: string) =>
  h.emulator
    .timelineFor(callSid)
    .flatMap((e) => (e.type === 'rest' && e.method === 'POST' && e.path.endsWith(`/Calls/${callSid}.json`) && e.params.Twiml ? [e] : []));

const dials = (call: EmulatedCall) => call.transcript.filter((t) => t.verb === 'Dial');
/** how the call's view names the agent who accepted it (`handoff.agent`): their actor, never their sub */
const actorOf = (sub: string) => h.app.services.audit.actor({ sub, role: 'agent' });
const auditTypes = async (callSid: string) => (await h.app.services.audit.list(callSid)).map((e) => e.type);

test('offered to every connected agent; the first REST accept wins and the caller is dialled to its endpoint; the call ends cleanly', async () => {
  const [aliceSock, bobSock] = [await AgentSocket.open(h, alice), await AgentSocket.open(h, bob)];
  // the agent answers after a second and talks two: the call is seen dialled meanwhile
  h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 2, secondMs: 500 };
  const call = await offeredCall();
  for (const s of [aliceSock, bobSock]) {
    const offer = await s.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'handoff.offered');
    expect(offer.from).toBe('+*******4567');
  }
  for (const t of [alice, bob]) expect((await api(h, 'GET', `/v1/calls/${call.sid}`, t)).body).toMatchObject({ state: 'offered', from: '+*******4567' });
  expect(((await api(h, 'GET', '/v1/calls', bob)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid)).toContain(call.sid);
  // the caller waits in the hold loop: no queue, no media stream
  expect(call.transcript.map((t) => t.verb)).toEqual(expect.arrayContaining(['Start/Recording', 'Say', 'Pause']));
  expect(call.transcript.some((t) => t.verb === 'Enqueue' || t.verb === 'Connect/Stream')).toBe(false);
  expect(dials(call)).toEqual([]);

  const [a, b] = await Promise.all([api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice), api(h, 'POST', `/v1/calls/${call.sid}/accept`, bob)]);
  expect([a.status, b.status].sort()).toEqual([200, 409]);
  const winner = a.status === 200 ? 'alice' : 'bob';
  const [winnerTok, loserTok] = winner === 'alice' ? [alice, bob] : [bob, alice];
  expect((a.status === 200 ? a : b).body).toMatchObject({ callSid: call.sid, state: 'dialed', handoff: { mode: 'dial', agent: actorOf(winner) } });

  // the caller's call moved over REST to a plain <Dial> of the winner's endpoint, the dial handoff's action on it
  await waitFor(() => dials(call).length > 0 || null, 'the caller dialled');
  expect(dials(call)).toEqual([{ verb: 'Dial', target: winner, targetKind: 'Client' }]);
  // the caller's recording runs on through the dial, as a dial to `to` leaves it (a plain dial, no masking)
  expect(call.recordings).toHaveLength(1);
  expect(call.recordingStatus).toBe('in-progress');
  const updates = twimlUpdates(call.sid);
  expect(updates).toHaveLength(1);
  expect(updates[0].status).toBe(200);
  expect(String(updates[0].params.Twiml)).toContain(
    `<Dial action="${h.publicUrl}/twilio/dial-status" method="POST"><Client statusCallbackEvent="answered" statusCallback="${h.publicUrl}/twilio/dial-answered" statusCallbackMethod="POST">${winner}</Client></Dial>`,
  );

  expect((await api(h, 'GET', `/v1/calls/${call.sid}`, winnerTok)).body).toMatchObject({ state: 'dialed', handoff: { agent: actorOf(winner) } });
  expect((await api(h, 'GET', `/v1/calls/${call.sid}`, loserTok)).status).toBe(404);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, loserTok)).status).toBe(404);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, winnerTok)).status).toBe(409);

  await call.ended;
  const winnerSock = winner === 'alice' ? aliceSock : bobSock;
  await winnerSock.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended');
  expect((await api(h, 'GET', `/v1/calls/${call.sid}`, winnerTok)).body).toMatchObject({ state: 'ended' });
  // a dial that connected: no apology
  expect(call.transcript.some((t) => t.verb === 'Say' && t.text === APOLOGY)).toBe(false);
  const trail = await h.app.services.audit.list(call.sid);
  expect(trail.map((e) => e.type)).toEqual(expect.arrayContaining(['handoff', 'agent.accepted', 'handoff.agent-dialed', 'handoff.dial-ended']));
  expect(trail.find((e) => e.type === 'handoff')).toMatchObject({ mode: 'dial', state: 'offered' });
  expect(trail.find((e) => e.type === 'handoff.dial-ended')).toMatchObject({ connected: true, twilioStatus: 'completed' });

  // no full caller number in an event or a log line
  for (const text of [...aliceSock.raw, ...bobSock.raw, h.logs.lines.join('\n'), JSON.stringify(trail)]) {
    for (const secret of [CALLER, CALLER.slice(1)]) expect(holdsValue(text, secret)).toBe(false);
  }
  aliceSock.close();
  bobSock.close();
});

test('accepted over the socket (handoff.accept): the caller is dialled to that agent; a later accept loses', async () => {
  const bobSock = await AgentSocket.open(h, bob);
  h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 2, secondMs: 500 };
  const call = await offeredCall();
  await bobSock.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'handoff.offered');
  bobSock.send({ type: 'handoff.accept', callSid: call.sid });
  await waitFor(() => dials(call).length > 0 || null, 'the caller dialled');
  expect(dials(call)).toEqual([{ verb: 'Dial', target: 'bob', targetKind: 'Client' }]);
  expect(bobSock.events.filter((e) => e.type === 'error')).toEqual([]);
  expect((await api(h, 'GET', `/v1/calls/${call.sid}`, bob)).body).toMatchObject({ state: 'dialed', handoff: { agent: actorOf('bob') } });
  // a hold redirect still on its way as the accept moved the call: held a second more, not a second dial
  const late = await h.emulator.signedPost(`${h.publicUrl}/twilio/dial-hold/4`, webhookParams(call.sid, DIAL_OFFER_NUMBER));
  expect(late.status).toBe(200);
  expect(late.body).toContain(`<Pause length="1"/><Redirect method="POST">${h.publicUrl}/twilio/dial-hold/5</Redirect>`);
  expect(late.body).not.toContain('<Dial');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(404);
  const supervisor = token(h, 'sue', 'supervisor');
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, supervisor)).status).toBe(409);
  await call.ended;
  expect(dials(call)).toHaveLength(1);
  bobSock.close();
});

test("an accepted dial that does not connect: the caller hears the dial handoff's apology and is hung up", async () => {
  h.emulator.faults.dialOutcome = { status: 'busy' };
  const call = await offeredCall();
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  await call.ended;
  const after = call.transcript.slice(call.transcript.findIndex((t) => t.verb === 'Dial'));
  expect(after).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }, { verb: 'Say', text: APOLOGY }, { verb: 'Hangup' }]);
  expect(await auditTypes(call.sid)).toEqual(expect.arrayContaining(['agent.accepted', 'handoff.dial-ended']));
});

test('an offer no one accepts within the hold timeout: the apology and a hang-up, and an accept then loses', async () => {
  const call = await offeredCall();
  await call.ended;
  expect(call.transcript.slice(-2)).toEqual([{ verb: 'Say', text: APOLOGY }, { verb: 'Hangup' }]);
  expect(dials(call)).toEqual([]);
  expect(await auditTypes(call.sid)).toContain('handoff.no-agent');
  // the hold route is Twilio's alone (signed), and holds no call that is over
  const hold = `${h.publicUrl}/twilio/dial-hold/9`;
  expect((await h.emulator.signedPost(hold, webhookParams(call.sid, DIAL_OFFER_NUMBER), { signature: null })).status).toBe(400);
  const over = await h.emulator.signedPost(hold, webhookParams(call.sid, DIAL_OFFER_NUMBER));
  expect(over.status).toBe(200);
  expect(over.body).not.toMatch(/Pause|Dial|Redirect/);
  const supervisor = token(h, 'sue', 'supervisor');
  expect((await api(h, 'GET', `/v1/calls/${call.sid}`, supervisor)).body).toMatchObject({ state: 'ended' });
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, supervisor)).status).toBe(409);
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(404);
}, 20_000);

test("an accept whose move of the caller's call Twilio refuses: the hold loop dials the agent itself", async () => {
  h.emulator.faults.callsUpdate = { status: 500, times: 1 };
  const call = await offeredCall();
  const accepted = await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice);
  expect(accepted.status).toBe(200);
  expect(twimlUpdates(call.sid).map((u) => u.status)).toEqual([500]);
  expect(await auditTypes(call.sid)).toContain('handoff.agent-dial-deferred');
  await call.ended;
  expect(dials(call)).toEqual([{ verb: 'Dial', target: 'alice', targetKind: 'Client' }]);
  expect(call.transcript.some((t) => t.verb === 'Say' && t.text === APOLOGY)).toBe(false);
}, 30_000);

test('two instances on one store: accepts on each at once, one wins, and the caller is dialled once', async () => {
  const b = await startHarness({ flows: { 'dial-offer': dialOfferFlow }, emulator: h.emulator, keyPrefix: h.keyPrefix, build: { holdTimeoutMs: HOLD_MS } });
  try {
    expect(b.config.instanceId).not.toBe(h.config.instanceId);
    h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 1, secondMs: 500 };
    const onB = await AgentSocket.open(b, token(b, 'bob'));
    const call = await offeredCall();
    await onB.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'handoff.offered on B');
    const [onA, viaB] = await Promise.all([
      api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice),
      api(b, 'POST', `/v1/calls/${call.sid}/accept`, token(b, 'bob')),
    ]);
    expect([onA.status, viaB.status].sort()).toEqual([200, 409]);
    const winner = onA.status === 200 ? 'alice' : 'bob';
    await call.ended;
    expect(dials(call)).toEqual([{ verb: 'Dial', target: winner, targetKind: 'Client' }]);
    expect(twimlUpdates(call.sid)).toHaveLength(1);
    expect((await auditTypes(call.sid)).filter((t) => t === 'agent.accepted')).toHaveLength(1);
    onB.close();
  } finally {
    await b.close();
  }
});

test('the end of a dial offer reaches the agents it was offered to: handoff.taken when another takes it, call.ended when it times out', async () => {
  const [aliceSock, bobSock] = [await AgentSocket.open(h, alice), await AgentSocket.open(h, bob)];
  h.emulator.faults.dialOutcome = { status: 'completed', ringSeconds: 1, talkSeconds: 1, secondMs: 500 };
  const taken = await offeredCall();
  for (const s of [aliceSock, bobSock]) await s.next((e) => e.type === 'handoff.offered' && e.callSid === taken.sid, 'handoff.offered');
  expect((await api(h, 'POST', `/v1/calls/${taken.sid}/accept`, alice)).status).toBe(200);
  expect(await bobSock.next((e) => e.type === 'handoff.taken' && e.callSid === taken.sid, 'handoff.taken at bob')).toEqual({
    type: 'handoff.taken',
    callSid: taken.sid,
  });
  await taken.ended;
  await aliceSock.next((e) => e.type === 'call.ended' && e.callSid === taken.sid, 'call.ended at alice');
  expect(aliceSock.events.filter((e) => e.type === 'handoff.taken')).toEqual([]);
  // bob was told the offer went: the end of alice's call is not his to hear
  expect(bobSock.events.filter((e) => e.callSid === taken.sid).map((e) => e.type)).toEqual(['handoff.offered', 'handoff.taken']);

  delete h.emulator.faults.dialOutcome;
  const untaken = await offeredCall();
  await untaken.ended;
  for (const s of [aliceSock, bobSock]) {
    expect(await s.next((e) => e.type === 'call.ended' && e.callSid === untaken.sid, 'call.ended of the offer no one took')).toEqual({
      type: 'call.ended',
      callSid: untaken.sid,
      status: 'completed',
    });
    expect(s.events.filter((e) => e.type === 'handoff.taken' && e.callSid === untaken.sid)).toEqual([]);
  }
  aliceSock.close();
  bobSock.close();
}, 20_000);
