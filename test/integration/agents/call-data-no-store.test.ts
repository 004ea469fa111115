/**
 * The agent API's answers hold calls as agents see them (a masked caller, masked fields with a
 * card's last 4 and brand, call SIDs, who took a call): like a subject's report and the audit
 * export, every one is answered `cache-control: no-store`, refusals too. Without it Chromium keeps
 * the panel's `GET /v1/calls` answers in its disk cache on the agent's desktop after the panel is
 * closed. Real app, real HTTP, a real bridged call.
 */
import { startHarness, type Harness } from '../../support/harness';
import { acceptedCall, agentFlows, agentRoutes, token } from '../../support/agents';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});
afterAll(async () => h?.close());

interface Answer {
  request: string;
  status: number;
  cacheControl: string | null;
  body: Record<string, unknown>;
}

async function send(method: string, path: string, tok: string | null, body?: unknown): Promise<Answer> {
  const res = await fetch(h.url + path, {
    method,
    headers: { ...(tok ? { authorization: `Bearer ${tok}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  // the audit export is NDJSON: its lines are not read here
  const json = res.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(text) as Record<string, unknown>) : {};
  return { request: `${method} ${path}`, status: res.status, cacheControl: res.headers.get('cache-control'), body: json };
}

it('answers every agent API request cache-control: no-store, what it shows and what it refuses', async () => {
  const alice = token(h, 'alice');
  const { call } = await acceptedCall(h, alice);
  const sid = call.sid;
  const capture = await send('POST', `/v1/calls/${sid}/captures`, alice, { name: 'card', kind: 'card-number' });
  const payment = await send('POST', `/v1/calls/${sid}/payments`, alice, {});
  const served = [
    capture,
    payment,
    await send('GET', '/v1/calls', alice),
    await send('GET', `/v1/calls/${sid}`, alice),
    await send('GET', `/v1/calls/${sid}/captures/${String(capture.body.captureId)}`, alice),
    await send('GET', `/v1/calls/${sid}/payments/${String(payment.body.paymentId)}`, alice),
    await send('GET', `/v1/calls/${sid}/audit`, token(h, 'sue', 'supervisor')),
    await send('DELETE', `/v1/calls/${sid}/captures/${String(capture.body.captureId)}`, alice),
    // an admin's: whose actor digests a sub has, and the audit export
    await send('POST', '/v1/audit/actors', token(h, 'dpo', 'admin'), { sub: 'alice' }),
    await send('GET', '/v1/audit/export', token(h, 'dpo', 'admin')),
  ];
  expect(served.map((a) => a.status)).toEqual([201, 201, 200, 200, 200, 200, 200, 200, 200, 200]);
  const refused = [
    // a second accept (409), another agent's every route (404), no token (401)
    await send('POST', `/v1/calls/${sid}/accept`, alice),
    ...(await Promise.all(agentRoutes(sid).map(([m, p]) => send(m, p, token(h, 'bob'), m === 'POST' ? {} : undefined)))),
    await send('GET', '/v1/calls', null),
  ];
  expect(refused.every((a) => a.status >= 400)).toBe(true);
  for (const a of [...served, ...refused]) expect([a.request, a.status, a.cacheControl]).toEqual([a.request, a.status, 'no-store']);
  await call.hangup();
}, 30_000);
