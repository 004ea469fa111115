/**
 * Logs and agent events name a user as the audit trail does (`<role>:<digest>`, AuditTrail.actor),
 * never by their token's `sub` (an employee number or email): read on the real log stream over a
 * real socket's authentication and close, an agent's REST requests and an admin's export, and on
 * the `call.bridged` event and the call's view (`handoff.agent`) a supervisor's panel is sent. An operator still follows one user's
 * lines by the digest and maps it back with POST /v1/audit/actors.
 */
import fs from 'node:fs';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { acceptedCall, AgentSocket, agentSide, api, makeFlowsDir, OFFER_NUMBER, placeCall, token } from '../../support/agents';

let h: Harness;
let flowsDir: string;

// recognisable in any line
const AGENT_SUB = 'agent-7781@example.com';
const ADMIN_SUB = 'admin-7782@example.com';
const SUPERVISOR_SUB = 'supervisor-7783@example.com';
// whole and in parts; not the digits alone: a 4-digit run turns up in any timestamp
const SUB_TOKENS = [AGENT_SUB, ADMIN_SUB, SUPERVISOR_SUB, 'agent-7781', 'admin-7782', 'supervisor-7783', 'example.com'];

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  // a small burst, so that a socket is closed for its rate by a few messages (the 'agent socket closed' line)
  h = await startHarness({ flowsDir, build: { agentSocketLimits: { messageBurst: 3, messagesPerSecond: 1 } } });
});

afterAll(async () => {
  await h?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

/** endpoints of their own: a token's endpoint is not its sub, and only the sub is looked for */
const agentToken = () => token(h, AGENT_SUB, 'agent', 'client:desk');
const adminToken = () => token(h, ADMIN_SUB, 'admin', 'client:office');

/** the actor naming `sub` in `role`, as an operator finds it (the harness seals with one key) */
async function actorOf(sub: string, role: string): Promise<string> {
  const r = await api(h, 'POST', '/v1/audit/actors', adminToken(), { sub });
  expect(r.status).toBe(200);
  const digests = (r.body as { digests: { kid: string; digest: string }[] }).digests;
  expect(digests).toHaveLength(1);
  return `${role}:${digests[0].digest}`;
}

function linesWith(msg: string): Record<string, unknown>[] {
  return h.logs.lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.msg === msg);
}

function holdsNoSub(text: string): void {
  for (const t of SUB_TOKENS) expect(text).not.toContain(t);
}

it("names the user by their actor, never their sub, on a socket's lines, REST requests and an admin's export", async () => {
  const agentActor = await actorOf(AGENT_SUB, 'agent');
  const adminActor = await actorOf(ADMIN_SUB, 'admin');
  const agent = agentToken();

  // a socket authenticated, then closed by the service for its rate
  const sock = await AgentSocket.open(h, agent);
  for (let i = 0; i < 10; i++) sock.send({ type: 'probe' });
  expect((await sock.closed).code).toBe(1008);
  // and one the agent closes
  const second = await AgentSocket.open(h, agent);
  second.close();
  await second.closed;

  // REST: an agent's request and an admin's export
  expect((await api(h, 'GET', '/v1/calls', agent)).status).toBe(200);
  const exported = await api(h, 'GET', '/v1/audit/export', adminToken());
  expect(exported.status).toBe(200);

  const authenticated = await waitFor(
    () => (linesWith('agent socket authenticated').length === 2 ? linesWith('agent socket authenticated') : null),
    'two sockets authenticated',
  );
  expect(authenticated.map((l) => l.actor)).toEqual([agentActor, agentActor]);
  expect(linesWith('agent socket closed').map((l) => [l.actor, l.reason])).toEqual([[agentActor, 'rate-limit']]);
  const requests = await waitFor(() => linesWith('agent request').filter((l) => l.url === '/v1/calls'), 'the agent request line');
  expect(requests.map((l) => l.actor)).toEqual([agentActor]);
  expect(linesWith('audit export').map((l) => l.actor)).toEqual([adminActor]);
  await waitFor(() => linesWith('agent request').some((l) => l.url === '/v1/audit/export'), "the export's request line");
  expect(linesWith('agent request').find((l) => l.url === '/v1/audit/export')?.actor).toBe(adminActor);

  holdsNoSub(h.logs.text);
}, 20_000);

it('names the agent who accepted a call by their actor on the call.bridged event other panels are sent', async () => {
  const supervisor = await AgentSocket.open(h, token(h, SUPERVISOR_SUB, 'supervisor', 'client:floor'));
  try {
    const { call } = await acceptedCall(h, agentToken());
    const bridged = await supervisor.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged at the supervisor');
    expect(bridged).toEqual({ type: 'call.bridged', callSid: call.sid, agent: await actorOf(AGENT_SUB, 'agent') });
    holdsNoSub(supervisor.raw.join('\n'));
    holdsNoSub(h.logs.text);
  } finally {
    supervisor.close();
  }
}, 30_000);

it("names the agent who accepted a call by their actor on the call's view: the accept's answer, and what a supervisor reads", async () => {
  const supervisor = token(h, SUPERVISOR_SUB, 'supervisor', 'client:floor');
  const agent = agentToken();
  const actor = await actorOf(AGENT_SUB, 'agent');
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const accepted = await api(h, 'POST', `/v1/calls/${call.sid}/accept`, agent);
  expect(accepted.status).toBe(200);
  await agentSide(h, call.sid);
  const views = [
    accepted.body,
    (await api(h, 'GET', `/v1/calls/${call.sid}`, agent)).body,
    (await api(h, 'GET', `/v1/calls/${call.sid}`, supervisor)).body,
    ((await api(h, 'GET', '/v1/calls', supervisor)).body as { calls: { callSid: string }[] }).calls.find((c) => c.callSid === call.sid),
  ];
  for (const view of views) {
    expect(view).toMatchObject({ callSid: call.sid, handoff: { mode: 'bridge', agent: actor } });
    holdsNoSub(JSON.stringify(view));
  }
  await call.hangup();
}, 30_000);
