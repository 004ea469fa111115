/**
 * The agent API end to end (CONTRACT §5): the real app on a real port with Redis, the Twilio
 * emulator placing callers and answering agents, real Media Streams and real agent sockets.
 */
import fs from 'node:fs';
import { startHarness, sleep, waitFor, type Harness } from '../support/harness';
import { AgentSocket, ALICE_NUMBER, agentSide, api, keyed, makeFlowsDir, OFFER_NUMBER, agentRoutes as routes, placeCall, token } from '../support/agents';

let h: Harness;
let flowsDir: string;
let alice: string;
let bob: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  h = await startHarness({ flowsDir });
  alice = token(h, 'alice');
  bob = token(h, 'bob');
});

afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

const someSid = 'CA' + 'a'.repeat(32);

describe('authentication', () => {
  it('closes a socket with 4401 when no auth message comes within 5 s, or a bad token comes', async () => {
    const silent = await AgentSocket.open(h);
    const t0 = Date.now();
    expect((await silent.closed).code).toBe(4401);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(4500);

    const bad = await AgentSocket.open(h);
    bad.send({ type: 'auth', token: 'nope' });
    expect((await bad.closed).code).toBe(4401);

    const wrongFirst = await AgentSocket.open(h);
    wrongFirst.send({ type: 'handoff.accept', callSid: someSid });
    expect((await wrongFirst.closed).code).toBe(4401);
  }, 15_000);

  it('closes an authenticated socket with 4401 when its token expires', async () => {
    const short = h.app.services.auth.sign({ sub: 'alice', endpoint: 'client:alice', role: 'agent' }, 2);
    const s = await AgentSocket.open(h, short);
    expect(s.isOpen).toBe(true);
    expect((await s.closed).code).toBe(4401);
  });

  it('answers a malformed client message with an error event and keeps the connection', async () => {
    const s = await AgentSocket.open(h, alice);
    s.send('{not json');
    s.send({ type: 'capture.start', callSid: someSid });
    s.send({ type: 'capture.start', callSid: someSid, name: 'card', kind: 'pin' });
    s.send({ type: 'handoff.accept', callSid: someSid });
    s.send(JSON.stringify({ type: 'handoff.accept', callSid: someSid, pad: 'x'.repeat(64 * 1024) }));
    await waitFor(() => s.events.filter((e) => e.type === 'error').length >= 5, 'five errors');
    const errors = s.events.filter((e) => e.type === 'error');
    // the served message answers after a store read; the malformed ones at once
    expect(errors.filter((e) => e.message === 'malformed message')).toHaveLength(4);
    expect(errors.filter((e) => e.message === 'call not found')).toEqual([expect.objectContaining({ callSid: someSid, request: 'handoff.accept' })]);
    for (const e of s.events) expect(e).toHaveProperty('callSid');
    expect(s.isOpen).toBe(true);
    s.close();
  });
});

describe('the per-call rule', () => {
  it("gives bob 404 on alice's call on every route, and none of its events", async () => {
    const aliceSock = await AgentSocket.open(h, alice);
    const bobSock = await AgentSocket.open(h, bob);
    const { call, caller } = await placeCall(h, ALICE_NUMBER, 'bridged');
    await agentSide(h, call.sid);
    await aliceSock.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged at alice');

    const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
    expect(started.status).toBe(201);
    const { captureId } = started.body as { captureId: string };
    await caller.sendAudio(keyed('123'));
    await aliceSock.next((e) => e.type === 'capture.completed' && e.callSid === call.sid, 'capture.completed at alice');

    for (const [method, p] of routes(call.sid, captureId)) {
      const r = await api(h, method, p, bob, method === 'POST' ? { name: 'card', kind: 'card-number' } : undefined);
      expect([method, p, r.status]).toEqual([method, p, 404]);
      // a malformed body is still 404 first
      if (method === 'POST') expect((await api(h, method, p, bob, { nonsense: true })).status).toBe(404);
    }
    expect(((await api(h, 'GET', '/v1/calls', bob)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid)).not.toContain(call.sid);
    expect(((await api(h, 'GET', '/v1/calls', alice)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid)).toContain(call.sid);
    expect((await api(h, 'GET', `/v1/calls/${call.sid}/captures/${captureId}`, alice)).body).toMatchObject({ status: 'completed', masked: '***', valid: true });

    bobSock.send({ type: 'capture.start', callSid: call.sid, name: 'card', kind: 'card-number' });
    bobSock.send({ type: 'capture.cancel', callSid: call.sid, captureId });
    bobSock.send({ type: 'handoff.accept', callSid: call.sid });
    await waitFor(() => bobSock.events.filter((e) => e.type === 'error').length >= 3, 'three errors at bob');
    for (const e of bobSock.events.filter((x) => x.type === 'error')) expect(e.message).toBe('call not found');

    await call.hangup();
    await aliceSock.next((e) => e.type === 'call.ended' && e.callSid === call.sid, 'call.ended at alice');
    await sleep(200);
    expect(aliceSock.events.map((e) => e.type)).toEqual(
      expect.arrayContaining(['call.bridged', 'capture.started', 'capture.progress', 'capture.completed', 'call.ended']),
    );
    // bob heard nothing of alice's call but his own errors
    expect(bobSock.events.filter((e) => e.type !== 'error')).toEqual([]);
    aliceSock.close();
    bobSock.close();
  });

  it('offers a call to every agent; the first accept wins and the others then get 404', async () => {
    const aliceSock = await AgentSocket.open(h, alice);
    const bobSock = await AgentSocket.open(h, bob);
    const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
    for (const s of [aliceSock, bobSock]) {
      const offer = await s.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'offer');
      expect(offer.from).toBe('+*******4567');
    }
    expect((await api(h, 'GET', `/v1/calls/${call.sid}`, bob)).status).toBe(200);
    const [a, b] = await Promise.all([api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice), api(h, 'POST', `/v1/calls/${call.sid}/accept`, bob)]);
    expect([a.status, b.status].sort()).toEqual([200, 409]);
    const winner = a.status === 200 ? 'alice' : 'bob';
    const loser = winner === 'alice' ? bob : alice;
    expect((await api(h, 'GET', `/v1/calls/${call.sid}`, loser)).status).toBe(404);
    expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, loser)).status).toBe(404);
    const { agentCall } = await agentSide(h, call.sid);
    expect(agentCall.to).toBe(`client:${winner}`);
    await call.hangup();
    aliceSock.close();
    bobSock.close();
  });
});
