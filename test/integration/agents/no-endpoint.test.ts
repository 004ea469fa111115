/**
 * Supervisor and admin tokens without an `endpoint` (CONTRACT §5: the endpoint is what the
 * service dials for the holder's audio, which reading calls, audits and erasures never need):
 * they are taken for all of that, and an accept with one answers 422 and dials nothing.
 */
import { sleep, type Harness } from '../../support/harness';
import { AgentSocket, api, bridgeSuite, CALLER, OFFER_NUMBER, placeCall } from '../../support/agents';

const suite = bridgeSuite();
let h: Harness;
let supervisor: string;
let admin: string;
beforeAll(() => {
  h = suite.h;
  supervisor = h.app.services.auth.sign({ sub: 'sup-1', role: 'supervisor' });
  admin = h.app.services.auth.sign({ sub: 'root', role: 'admin' });
});

it('serves a supervisor and an admin without an endpoint: calls, a call, its audit trail, a subject', async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  for (const tok of [supervisor, admin]) {
    expect(((await api(h, 'GET', '/v1/calls', tok)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid)).toContain(call.sid);
    expect((await api(h, 'GET', `/v1/calls/${call.sid}`, tok)).status).toBe(200);
    expect((await api(h, 'GET', `/v1/calls/${call.sid}/audit`, tok)).body).toMatchObject({ verified: true });
  }
  expect((await api(h, 'GET', `/v1/subjects/${encodeURIComponent(CALLER)}`, admin)).status).toBe(200);
  await call.hangup();
});

it('answers 422 to an accept by a token with no endpoint, over REST and the socket, dials nothing and leaves the offer to others', async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const before = h.emulator.calls.size;
  const refused = await api(h, 'POST', `/v1/calls/${call.sid}/accept`, supervisor);
  expect(refused).toMatchObject({ status: 422, body: { error: 'TW_ERR_AGENT_NO_ENDPOINT' } });

  const sock = await AgentSocket.open(h, admin);
  sock.send({ type: 'handoff.accept', callSid: call.sid });
  const error = await sock.next((e) => e.type === 'error' && e.request === 'handoff.accept', 'error');
  expect(error).toMatchObject({ callSid: call.sid, code: 'TW_ERR_AGENT_NO_ENDPOINT' });
  expect(sock.isOpen).toBe(true);
  sock.close();

  await sleep(300);
  expect(h.emulator.calls.size).toBe(before);
  const s = await h.app.services.calls.get(call.sid);
  expect(s).toMatchObject({ state: 'offered' });
  expect(s?.handoff.agentSub).toBeUndefined();
  // the offer is still there for an agent to take
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, suite.alice)).status).toBe(200);
  await call.hangup();
});
