/**
 * Two service instances on one Redis and one Twilio emulator (CONTRACT §5, issue 5): an offer
 * seen on A, accepted on B, a capture requested on B for the bridge A holds, its events on an
 * agent socket on B.
 */
import fs from 'node:fs';
import { startHarness, waitFor, type Harness } from '../support/harness';
import { AgentSocket, agentSide, api, keyed, makeFlowsDir, OFFER_NUMBER, placeCall, token } from '../support/agents';

let a: Harness;
let b: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  a = await startHarness({ flowsDir });
  b = await startHarness({ flowsDir, emulator: a.emulator, keyPrefix: a.keyPrefix });
  expect(a.config.instanceId).not.toBe(b.config.instanceId);
});

afterAll(async () => {
  await b?.close();
  await a?.close();
  fs.rmSync(flowsDir, { recursive: true, force: true });
});

it('offer on A, accept on B, capture on B for the bridge held by A, events on a socket on B', async () => {
  const alice = token(a, 'alice');
  const onA = await AgentSocket.open(a, alice);
  const onB = await AgentSocket.open(b, alice);
  const { call, caller } = await placeCall(a, OFFER_NUMBER, 'offered');
  const session = await a.app.services.calls.get(call.sid);
  expect(session?.instanceId).toBe(a.config.instanceId);
  await onA.next((e) => e.type === 'handoff.offered' && e.callSid === call.sid, 'offer on A');

  expect((await api(b, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  expect((await api(a, 'POST', `/v1/calls/${call.sid}/accept`, token(a, 'bob'))).status).toBe(404);
  const { agentCall } = await agentSide(a, call.sid);
  expect(agentCall.to).toBe('client:alice');
  expect(a.app.services.bridges.get(call.sid)).toBeDefined();
  expect(b.app.services.bridges.get(call.sid)).toBeUndefined();
  await onB.next((e) => e.type === 'call.bridged' && e.callSid === call.sid, 'call.bridged on B');

  const started = await api(b, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const { captureId } = started.body as { captureId: string };
  expect((await api(b, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' })).status).toBe(409);
  await onB.next((e) => e.type === 'capture.started' && e.captureId === captureId, 'capture.started on B');

  await caller.sendAudio(keyed('4111111111111111#'));
  const done = await onB.next((e) => e.type === 'capture.completed' && e.captureId === captureId, 'capture.completed on B');
  expect(done).toMatchObject({ callSid: call.sid, masked: '************1111', brand: 'visa', valid: true });
  expect(onB.events.filter((e) => e.type === 'capture.progress').map((e) => e.entered)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
  expect((await api(b, 'GET', `/v1/calls/${call.sid}/captures/${captureId}`, alice)).body).toMatchObject({ status: 'completed', masked: '************1111' });

  // a cancel asked on B reaches A as well
  const second = await api(b, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'cvv', kind: 'security-code' });
  expect(second.status).toBe(201);
  const cancel = await api(b, 'DELETE', `/v1/calls/${call.sid}/captures/${(second.body as { captureId: string }).captureId}`, alice);
  expect(cancel.body).toMatchObject({ status: 'cancelled' });

  await call.hangup();
  await waitFor(() => onB.events.find((e) => e.type === 'call.ended' && e.callSid === call.sid), 'call.ended on B');
  onA.close();
  onB.close();
});
