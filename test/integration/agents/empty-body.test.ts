/**
 * Bodiless routes sent `content-type: application/json` and no body (as many HTTP clients do):
 * the route runs, so its 401 and 404 come first (CONTRACT §5) and a valid request is served.
 * Fastify's own parser answered 400 to the empty body before any of that. Its protections stay:
 * a poisoned or oversized JSON body is still refused.
 */
import { waitFor, type Harness } from '../../support/harness';
import { acceptedCall, api, bridgeSuite, CALLER, OFFER_NUMBER, placeCall, token } from '../../support/agents';

const suite = bridgeSuite();
let h: Harness;
let alice: string;
let bob: string;
beforeAll(() => {
  h = suite.h;
  alice = suite.alice;
  bob = token(h, 'bob');
});

/** the request with `content-type: application/json` and an empty body (content-length: 0) */
async function emptyJson(method: 'POST' | 'DELETE', p: string, tok: string | null, body = ''): Promise<{ status: number; body: any }> {
  const res = await fetch(h.url + p, {
    method,
    headers: { 'content-type': 'application/json', ...(tok ? { authorization: `Bearer ${tok}` } : {}) },
    body,
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

it('answers an accept with an empty JSON body: 401 without a token, 404 for a call not the token\u2019s, 200 for its agent', async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  expect((await emptyJson('POST', `/v1/calls/${call.sid}/accept`, null)).status).toBe(401);
  const accepted = await emptyJson('POST', `/v1/calls/${call.sid}/accept`, alice);
  expect(accepted.status).toBe(200);
  await waitFor(async () => (await h.app.services.calls.get(call.sid))?.state === 'bridged', 'bridged');
  // assigned to alice now: bob may not see it
  expect((await emptyJson('POST', `/v1/calls/${call.sid}/accept`, bob)).status).toBe(404);
  await call.hangup();
});

it('answers a capture cancel with an empty JSON body the same way', async () => {
  const { call } = await acceptedCall(h, alice);
  const started = await api(h, 'POST', `/v1/calls/${call.sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  expect(started.status).toBe(201);
  const p = `/v1/calls/${call.sid}/captures/${(started.body as { captureId: string }).captureId}`;
  expect((await emptyJson('DELETE', p, null)).status).toBe(401);
  expect((await emptyJson('DELETE', p, bob)).status).toBe(404);
  const cancelled = await emptyJson('DELETE', p, alice);
  expect(cancelled.status).toBe(200);
  expect((await api(h, 'GET', p, alice)).body).toMatchObject({ status: 'cancelled' });
  // a route that needs a body still says so, after 401 and 404
  expect((await emptyJson('POST', `/v1/calls/${call.sid}/captures`, bob)).status).toBe(404);
  expect((await emptyJson('POST', `/v1/calls/${call.sid}/captures`, alice)).status).toBe(400);
  await call.hangup();
});

it('answers an erasure with an empty JSON body: 401, 403 for an agent, the receipt for an admin', async () => {
  const p = `/v1/subjects/${encodeURIComponent(CALLER)}`;
  expect((await emptyJson('DELETE', p, null)).status).toBe(401);
  expect((await emptyJson('DELETE', p, alice)).status).toBe(403);
  const erased = await emptyJson('DELETE', p, token(h, 'root', 'admin'));
  expect(erased.status).toBe(200);
  expect(erased.body).toMatchObject({ subject: '+*******4567' });
});

it('still refuses a poisoned or oversized JSON body, on a route that reads none', async () => {
  const p = `/v1/subjects/${encodeURIComponent('+15550001111')}`;
  const admin = token(h, 'root', 'admin');
  for (const poisoned of ['{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{not json'])
    expect([poisoned, (await emptyJson('DELETE', p, admin, poisoned)).status]).toEqual([poisoned, 400]);
  expect((await emptyJson('DELETE', p, admin, JSON.stringify({ pad: 'x'.repeat(65 * 1024) }))).status).toBe(413);
  expect((await emptyJson('DELETE', p, admin, '{"pad":1}')).status).toBe(200);
});
