/**
 * A subject access report and an erasure receipt are about one caller (CONTRACT §7): like the
 * audit export and the actor lookup, they are answered `cache-control: no-store`, so no browser
 * or proxy cache keeps them once the admin has read them. Real app, real HTTP, a real call.
 */
import { startHarness, type Harness } from '../../support/harness';
import { agentFlows, api, CALLER, OFFER_NUMBER, placeCall, token } from '../../support/agents';

let h: Harness;
beforeAll(async () => {
  h = await startHarness({ flows: agentFlows() });
});
afterAll(async () => h?.close());

it("answers a caller's access report and erasure receipt with cache-control: no-store", async () => {
  const { call } = await placeCall(h, OFFER_NUMBER, 'offered');
  const url = `${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`;
  const headers = { authorization: `Bearer ${token(h, 'dpo', 'admin')}` };
  const report = await fetch(url, { headers });
  expect(report.status).toBe(200);
  expect(((await report.json()) as { calls: { callSid: string }[] }).calls.map((c) => c.callSid)).toContain(call.sid);
  expect(report.headers.get('cache-control')).toBe('no-store');
  const receipt = await fetch(url, { method: 'DELETE', headers });
  expect(receipt.status).toBe(200);
  expect(await receipt.json()).toMatchObject({ subject: '+*******4567', calls: 1 });
  expect(receipt.headers.get('cache-control')).toBe('no-store');
  // an agent is still refused, before the subject is read
  expect((await api(h, 'GET', `/v1/subjects/${encodeURIComponent(CALLER)}`, token(h, 'alice'))).status).toBe(403);
  await call.hangup();
}, 30_000);
