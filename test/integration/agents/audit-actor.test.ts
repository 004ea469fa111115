/**
 * The audit trail names who acted (PCI DSS 10.2.1), never their `sub`: an agent's accept and
 * captures over REST and over the socket, a supervisor's, an admin's subject access and erasure.
 * Each `actor` is `<role>:<digest>`, checked against the admin lookup (POST /v1/audit/actors).
 */
import type { AuditEntry } from '../../../src/audit';
import { AuditErrors } from '../../../src/audit';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { acceptedCall, AgentSocket, agentFlows, agentSide, api, CALLER, OFFER_NUMBER, placeCall, token } from '../../support/agents';

let h: Harness;

// Digit runs long enough that a hash in the trail cannot hold one by chance: with four digits,
// one of the trail's ~1,500 hex characters' positions matched now and then (a CI failure).
const AGENT_SUB = 'agent-31415926';
const SUPERVISOR_SUB = 'supervisor-27182818';
const ADMIN_SUB = 'admin-16180339';

beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});

afterAll(async () => h?.close());

/** the actor naming `sub` in `role` on an entry sealed with `kid`, as an operator finds it */
async function actorOf(sub: string, role: string, kid: string): Promise<string> {
  const r = await api(h, 'POST', '/v1/audit/actors', token(h, ADMIN_SUB, 'admin'), { sub });
  expect(r.status).toBe(200);
  const found = (r.body as { digests: { kid: string; digest: string }[] }).digests.find((d) => d.kid === kid);
  expect(found).toBeDefined();
  return `${role}:${found!.digest}`;
}

async function trail(callSid: string): Promise<AuditEntry[]> {
  return h.app.services.audit.list(callSid);
}

function ofType(entries: AuditEntry[], type: string): AuditEntry[] {
  return entries.filter((e) => e.type === type);
}

function holdsNoSub(entries: AuditEntry[], ...subs: string[]): void {
  const text = JSON.stringify(entries);
  for (const sub of subs) {
    expect(text).not.toContain(sub);
    expect(text).not.toContain(sub.replace(/\D/g, ''));
  }
}

it("names the agent on the accept and on captures started and cancelled over REST and the socket, and a supervisor's as theirs", async () => {
  const agent = token(h, AGENT_SUB);
  const { call } = await acceptedCall(h, agent);
  const sid = call.sid;

  // REST
  const started = await api(h, 'POST', `/v1/calls/${sid}/captures`, agent, { name: 'cvv', kind: 'security-code' });
  expect(started.status).toBe(201);
  const restCapture = (started.body as { captureId: string }).captureId;
  expect((await api(h, 'DELETE', `/v1/calls/${sid}/captures/${restCapture}`, agent)).body).toMatchObject({ status: 'cancelled' });

  // the socket
  const sock = await AgentSocket.open(h, agent);
  sock.send({ type: 'capture.start', callSid: sid, name: 'pin', kind: 'digits' });
  const sockCapture = (await sock.next((e) => e.type === 'capture.started' && e.name === 'pin', 'capture.started')).captureId as string;
  sock.send({ type: 'capture.cancel', callSid: sid, captureId: sockCapture });
  await sock.next((e) => e.type === 'capture.failed' && e.captureId === sockCapture, 'capture.failed (cancelled)');
  sock.close();

  // a supervisor, who may act on every call
  const supervisor = token(h, SUPERVISOR_SUB, 'supervisor');
  const supStarted = await api(h, 'POST', `/v1/calls/${sid}/captures`, supervisor, { name: 'zip', kind: 'postal-code' });
  expect(supStarted.status).toBe(201);
  const supCapture = (supStarted.body as { captureId: string }).captureId;
  expect((await api(h, 'DELETE', `/v1/calls/${sid}/captures/${supCapture}`, supervisor)).body).toMatchObject({ status: 'cancelled' });

  const entries = await waitFor(async () => {
    const t = await trail(sid);
    return ofType(t, 'capture.cancelled').length === 3 ? t : null;
  }, 'three cancelled captures in the trail');
  const kid = entries[0].kid;
  const agentActor = await actorOf(AGENT_SUB, 'agent', kid);
  const supervisorActor = await actorOf(SUPERVISOR_SUB, 'supervisor', kid);
  expect(agentActor).toMatch(/^agent:[0-9a-f]{16}$/);
  expect(supervisorActor).not.toBe(`supervisor:${agentActor.slice('agent:'.length)}`);

  const byCapture = (type: string, captureId: string) => entries.find((e) => e.type === type && e.captureId === captureId)?.actor;
  expect(ofType(entries, 'agent.accepted').map((e) => e.actor)).toEqual([agentActor]);
  for (const c of [restCapture, sockCapture]) {
    expect(byCapture('capture.started', c)).toBe(agentActor);
    expect(byCapture('capture.cancelled', c)).toBe(agentActor);
  }
  expect(byCapture('capture.started', supCapture)).toBe(supervisorActor);
  expect(byCapture('capture.cancelled', supCapture)).toBe(supervisorActor);
  holdsNoSub(entries, AGENT_SUB, SUPERVISOR_SUB);
  expect((await h.app.services.audit.verify(sid)).verified).toBe(true);
}, 30_000);

it('names the agent on an accept over the socket', async () => {
  const agent = token(h, AGENT_SUB);
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const sock = await AgentSocket.open(h, agent);
  sock.send({ type: 'handoff.accept', callSid: call.sid });
  await agentSide(h, call.sid);
  sock.close();
  const entries = await trail(call.sid);
  expect(ofType(entries, 'agent.accepted').map((e) => e.actor)).toEqual([await actorOf(AGENT_SUB, 'agent', entries[0].kid)]);
  holdsNoSub(entries, AGENT_SUB);
}, 20_000);

it('still dials the agent when the accept cannot be audited', async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const append = jest.spyOn(h.app.services.audit, 'append').mockRejectedValueOnce(AuditErrors.personalData('actor'));
  try {
    const accepted = await api(h, 'POST', `/v1/calls/${call.sid}/accept`, token(h, AGENT_SUB));
    expect(accepted.status).toBe(200);
    await agentSide(h, call.sid);
  } finally {
    append.mockRestore();
  }
}, 20_000);

it("names the agent on a payment's entries and its captures", async () => {
  const agent = token(h, AGENT_SUB);
  const { call } = await acceptedCall(h, agent);
  const sid = call.sid;
  const created = await api(h, 'POST', `/v1/calls/${sid}/payments`, agent, {});
  expect(created.status).toBe(201);
  const paymentId = (created.body as { paymentId: string }).paymentId;
  expect((await api(h, 'POST', `/v1/calls/${sid}/payments/${paymentId}`, agent, { capture: 'card' })).status).toBe(200);
  expect((await api(h, 'POST', `/v1/calls/${sid}/payments/${paymentId}`, agent, { status: 'cancel' })).body).toMatchObject({ status: 'cancelled' });

  const entries = await trail(sid);
  const agentActor = await actorOf(AGENT_SUB, 'agent', entries[0].kid);
  for (const type of ['payment.created', 'capture.started', 'capture.cancelled', 'payment.cancelled']) {
    expect({ type, actors: ofType(entries, type).map((e) => e.actor) }).toEqual({ type, actors: [agentActor] });
  }
  holdsNoSub(entries, AGENT_SUB);
}, 20_000);

it('names the agent on a capture asked for on another instance than the one holding the bridge (over the bus)', async () => {
  const b = await startHarness({ flows: agentFlows(), emulator: h.emulator, keyPrefix: h.keyPrefix });
  try {
    const agent = token(h, AGENT_SUB);
    const { call } = await acceptedCall(h, agent, b);
    expect(b.app.services.bridges.get(call.sid)).toBeUndefined();
    const started = await api(b, 'POST', `/v1/calls/${call.sid}/captures`, agent, { name: 'cvv', kind: 'security-code' });
    expect(started.status).toBe(201);
    const captureId = (started.body as { captureId: string }).captureId;
    expect((await api(b, 'DELETE', `/v1/calls/${call.sid}/captures/${captureId}`, agent)).body).toMatchObject({ status: 'cancelled' });
    const entries = await trail(call.sid);
    const agentActor = await actorOf(AGENT_SUB, 'agent', entries[0].kid);
    expect(entries.find((e) => e.type === 'capture.started')).toMatchObject({ instanceId: h.app.services.config.instanceId, actor: agentActor });
    expect(ofType(entries, 'capture.cancelled').map((e) => e.actor)).toEqual([agentActor]);
    // the recordings the holding instance paused and resumed for it name the agent too (the actor came with the RPC)
    expect(ofType(entries, 'recording.paused').map((e) => e.actor)).toEqual([agentActor]);
    expect(ofType(entries, 'recording.resumed').map((e) => e.actor)).toEqual([agentActor]);
    holdsNoSub(entries, AGENT_SUB);
  } finally {
    await b.close();
  }
}, 30_000);

it("names the admin on each call's subject access and erasure", async () => {
  const { call } = await acceptedCall(h, token(h, 'alice'));
  const admin = token(h, ADMIN_SUB, 'admin');
  const subject = encodeURIComponent(CALLER);
  expect((await api(h, 'GET', `/v1/subjects/${subject}`, admin)).status).toBe(200);
  expect((await api(h, 'DELETE', `/v1/subjects/${subject}`, admin)).status).toBe(200);
  const entries = await trail(call.sid);
  const adminActor = await actorOf(ADMIN_SUB, 'admin', entries[0].kid);
  expect(ofType(entries, 'subject.accessed').map((e) => e.actor)).toEqual([adminActor]);
  expect(ofType(entries, 'subject.erased').map((e) => e.actor)).toEqual([adminActor]);
  holdsNoSub(entries, ADMIN_SUB);
}, 20_000);

it('answers the actor lookup to admins only, and never takes the sub in the URL', async () => {
  expect((await api(h, 'POST', '/v1/audit/actors', token(h, SUPERVISOR_SUB, 'supervisor'), { sub: AGENT_SUB })).status).toBe(403);
  expect((await api(h, 'POST', '/v1/audit/actors', token(h, ADMIN_SUB, 'admin'), { sub: '' })).status).toBe(400);
  expect((await api(h, 'POST', '/v1/audit/actors', null, { sub: AGENT_SUB })).status).toBe(401);
});

it('names the agent on the recording entries of their capture: the pause it asked for and the resume at its end', async () => {
  const agent = token(h, AGENT_SUB);
  const { call, own } = await acceptedCall(h, agent);
  const sid = call.sid;
  const started = await api(h, 'POST', `/v1/calls/${sid}/captures`, agent, { name: 'cvv', kind: 'security-code' });
  expect(started.status).toBe(201);
  const captureId = (started.body as { captureId: string }).captureId;
  expect((await api(h, 'DELETE', `/v1/calls/${sid}/captures/${captureId}`, agent)).body).toMatchObject({ status: 'cancelled' });

  const entries = await waitFor(async () => {
    const t = await trail(sid);
    return ofType(t, 'recording.resumed').length > 0 ? t : null;
  }, "the capture's resume in the trail");
  const agentActor = await actorOf(AGENT_SUB, 'agent', entries[0].kid);
  // the agent call's own recording, paused for the capture and resumed at its end
  const ofOwn = (type: string) => entries.filter((e) => e.type === type && e.recordingSid === own).map((e) => e.actor);
  expect(ofOwn('recording.paused')).toEqual([agentActor]);
  expect(ofOwn('recording.resumed')).toEqual([agentActor]);
  holdsNoSub(entries, AGENT_SUB);
  expect((await h.app.services.audit.verify(sid)).verified).toBe(true);
}, 20_000);
