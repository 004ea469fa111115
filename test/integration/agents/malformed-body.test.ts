/**
 * A JSON body that does not parse, on the agent and privacy routes: the route's 401, 404 and 403
 * come first (CONTRACT §5: "a missing or bad token answers 401", "a call the token may not see
 * answers 404, before any other check"; §7: "other roles get 403"), and only then the 400. Fastify's
 * own parser answered 400 before the route ran, so a stranger, or an agent asking of another's
 * call, was told about their body rather than refused. Nothing is done on a malformed body: a
 * capture or accept is not started, an erasure not made.
 */
import { waitFor, type Harness } from '../../support/harness';
import { api, bridgeSuite, CALLER, OFFER_NUMBER, placeCall, token } from '../../support/agents';

const suite = bridgeSuite();
let h: Harness;
let alice: string;
let bob: string;
beforeAll(() => {
  h = suite.h;
  alice = suite.alice;
  bob = token(h, 'bob');
});

const MALFORMED = ['{not json', '{"__proto__":{"admin":true}}'];

async function send(method: 'POST' | 'DELETE', p: string, tok: string | null, body: string): Promise<{ status: number; body: any }> {
  const res = await fetch(h.url + p, {
    method,
    headers: { 'content-type': 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

it.each(MALFORMED)('a call route with the body %s: 401 without a token, 404 for a call not the token\u2019s, then 400', async (body) => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const unseen = 'CA' + 'e'.repeat(32);
  for (const p of [`/v1/calls/${call.sid}/accept`, `/v1/calls/${call.sid}/captures`, `/v1/calls/${call.sid}/payments`]) {
    expect([p, (await send('POST', p, null, body)).status]).toEqual([p, 401]);
    expect([p, (await send('POST', p, 'not-a-token', body)).status]).toEqual([p, 401]);
    expect([p, (await send('POST', p.replace(call.sid, unseen), alice, body)).status]).toEqual([p, 404]);
  }
  expect((await send('DELETE', `/v1/calls/${unseen}/captures/cap_x`, alice, body)).status).toBe(404);
  // the call's agent is told of the body, and nothing is done: the offer still stands
  const refused = await send('POST', `/v1/calls/${call.sid}/accept`, alice, body);
  expect(refused).toMatchObject({ status: 400, body: { error: 'TW_ERR_REQUEST_INVALID' } });
  expect((await h.app.services.calls.get(call.sid))?.state).toBe('offered');
  // accepted by alice, the call is hers: bob's malformed request is 404, hers 400
  expect((await api(h, 'POST', `/v1/calls/${call.sid}/accept`, alice)).status).toBe(200);
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged');
  expect((await send('POST', `/v1/calls/${call.sid}/captures`, bob, body)).status).toBe(404);
  expect((await send('POST', `/v1/calls/${call.sid}/captures`, alice, body)).status).toBe(400);
  expect((await h.app.services.calls.get(call.sid))?.capture).toBeUndefined();
  await call.hangup();
});

it.each(MALFORMED)('an erasure with the body %s: 401 without a token, 403 for an agent, then 400, nothing erased', async (body) => {
  const p = `/v1/subjects/${encodeURIComponent(CALLER)}`;
  expect((await send('DELETE', p, null, body)).status).toBe(401);
  expect((await send('DELETE', p, alice, body)).status).toBe(403);
  expect((await send('DELETE', p, token(h, 'sue', 'supervisor'), body)).status).toBe(403);
  const admin = token(h, 'root', 'admin');
  const held = async () => ((await api(h, 'GET', p, admin)).body as { calls: { callSid: string }[] }).calls.map((c) => c.callSid).sort();
  const before = await held();
  expect(before.length).toBeGreaterThan(0);
  expect((await send('DELETE', p, admin, body)).status).toBe(400);
  expect(await held()).toEqual(before);
});
