/**
 * The service's own idle limit (PCI DSS 8.2.8, auth/idle.ts): a token unused for
 * AGENT_IDLE_TIMEOUT_SECONDS is refused on every instance, as an expired one is (401 on the API,
 * 4401 at a socket's auth), and the sockets it holds open close 4401 at the next re-check of
 * their tokens. A request, and a socket's client message (`activity` among them), is a use; an
 * event the service pushes to a socket is none. Two instances on one real Redis, whose clock for
 * the idle limit is the test's own (BuildOptions.now): time passes only as the test moves it.
 */
import fs from 'node:fs';
import { AgentSocket, api, makeFlowsDir, refusedAt, stillServed } from '../../support/agents';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { scanRedis } from '../../support/redis';
import { CLOCK_TOLERANCE_MS } from '../../../src/auth/tokens';
import { tokenDigest } from '../../../src/auth/revocations';

const IDLE_S = 60;
let clockMs = Date.now();
const later = (seconds: number) => (clockMs += seconds * 1000);

let a: Harness;
let b: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  // both instances re-read their open sockets' tokens every 100 ms (socket-limits.ts REVOCATION_CHECK_MS)
  const build = { now: () => new Date(clockMs), agentSocketLimits: { revocationCheckMs: 100 } };
  const env = { AGENT_IDLE_TIMEOUT_SECONDS: String(IDLE_S) };
  a = await startHarness({ flowsDir, env, build });
  b = await startHarness({ flowsDir, env, build, emulator: a.emulator, keyPrefix: a.keyPrefix });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  if (flowsDir) fs.rmSync(flowsDir, { recursive: true, force: true });
});

const sign = (sub: string, ttlSeconds = 3600, role: 'agent' | 'supervisor' = 'agent') =>
  a.app.services.auth.sign({ sub, endpoint: `client:${sub}`, role }, ttlSeconds);

it('refuses a token used on A and then left idle past the limit on B, as an expired one is; a token never used yet starts its clock at its first use', async () => {
  const tok = sign('ada-idle-subject');
  const unused = sign('abe');
  expect((await api(a, 'GET', '/v1/calls', tok)).status).toBe(200);
  later(IDLE_S - 1);
  // just inside the limit: good, and this use starts the clock again
  expect((await api(b, 'GET', '/v1/calls', tok)).status).toBe(200);
  later(IDLE_S - 1);
  expect((await api(a, 'GET', '/v1/calls', tok)).status).toBe(200);
  const from = b.logs.lines.length;
  later(IDLE_S + 1);

  const refused = await api(b, 'GET', '/v1/calls', tok);
  const expired = await api(b, 'GET', '/v1/calls', sign('ada-idle-subject', -CLOCK_TOLERANCE_MS / 1000 - 60));
  expect(refused.status).toBe(401);
  expect(refused.body).toEqual(expired.body);
  expect((await api(a, 'GET', `/v1/calls/CA${'e'.repeat(32)}`, tok)).status).toBe(401);
  expect(await refusedAt(b, tok)).toEqual({ code: 4401, reason: 'unauthorized' });
  expect(await refusedAt(a, tok)).toEqual({ code: 4401, reason: 'unauthorized' });
  // a refusal is no use: still refused after it
  expect((await api(b, 'POST', '/v1/session/signout', tok)).status).toBe(401);
  // logged by actor, never the sub (PCI DSS 10.2.1)
  const actor = a.app.services.audit.actor({ role: 'agent', sub: 'ada-idle-subject' });
  const lines = b.logs.lines.slice(from).map((l) => JSON.parse(l) as { msg: string });
  expect(lines.filter((l) => l.msg === 'idle token refused')[0]).toEqual(expect.objectContaining({ actor, role: 'agent' }));
  expect(b.logs.text).not.toContain('ada-idle-subject');

  // minted as long ago, never used: its first use is good, and the limit counts from it
  expect((await api(b, 'GET', '/v1/calls', unused)).status).toBe(200);
  later(IDLE_S + 1);
  expect((await api(a, 'GET', '/v1/calls', unused)).status).toBe(401);
});

it('keeps a token used every so often over REST good on both instances, while one unused as long is refused; the store holds a digest and a time, never the token', async () => {
  const busy = sign('bea-busy-subject');
  const quiet = sign('cal');
  for (const tok of [busy, quiet]) expect((await api(a, 'GET', '/v1/calls', tok)).status).toBe(200);
  for (let i = 0; i < 6; i++) {
    later(IDLE_S / 3);
    expect([i, (await api(i % 2 ? a : b, 'GET', '/v1/calls', busy)).status]).toEqual([i, 200]);
  }
  expect((await api(a, 'GET', '/v1/calls', quiet)).status).toBe(401);
  expect((await api(b, 'GET', '/v1/calls', busy)).status).toBe(200);

  const keys = await scanRedis(a.keyPrefix);
  const record = keys.find((k) => k.key.endsWith(`:active:${tokenDigest(busy)}`));
  expect(record?.content).toBe(String(clockMs));
  // until the token's exp (and the tolerance) as the instance's clock has it, not the idle limit: an idle token must not look unused
  const [header, payload, signature] = busy.split('.');
  const { exp } = JSON.parse(Buffer.from(payload, 'base64url').toString()) as { exp: number };
  const ttl = Math.ceil((exp * 1000 + CLOCK_TOLERANCE_MS - clockMs) / 1000);
  expect(record!.ttl).toBeGreaterThan(ttl - 10);
  expect(record!.ttl).toBeLessThanOrEqual(ttl);
  expect(ttl).toBeGreaterThan(10 * IDLE_S);
  for (const k of keys) {
    for (const part of [busy, payload, signature, 'bea-busy-subject', header + '.' + payload])
      expect([k.key, k.content.includes(part) || k.key.includes(part)]).toEqual([k.key, false]);
  }
});

it('closes a socket that only hears events once its token is idle, on any instance, and keeps one whose client sends activity', async () => {
  const talker = sign('dot');
  const listener = sign('eve', 3600, 'supervisor');
  const talks = await AgentSocket.open(a, talker);
  const listens = await AgentSocket.open(b, listener);
  const { store, keys } = a.app.services;
  const heard = (n: number) => listens.events.filter((e) => e.type === 'handoff.offered').length >= n;
  for (let i = 1; i <= 4; i++) {
    // an event pushed to the listener (a supervisor hears every call's) is not a use of its token
    await a.app.services.events.publish({ type: 'handoff.offered', callSid: `CA${String(i).repeat(32)}`, from: '+*******4567', fields: {} });
    await waitFor(() => heard(i), `event ${i} heard`);
    later(IDLE_S / 3);
    talks.send({ type: 'activity' });
    await waitFor(async () => (await store.get(keys.tokenActive(tokenDigest(talker)))) === String(clockMs), `activity ${i} noted`);
  }
  // 80 s since the listener's last use: closed at the next re-check, as a signed-out socket is
  expect(await listens.closed).toEqual({ code: 4401, reason: 'idle' });
  expect((await api(a, 'GET', '/v1/calls', listener)).status).toBe(401);
  // the talker's socket stayed through the re-checks since (its last activity 0 s ago on the test's clock), served as before
  await new Promise((r) => setTimeout(r, 500));
  expect(talks.isOpen).toBe(true);
  expect(talks.events.filter((e) => e.type === 'error')).toEqual([]);
  await stillServed(talks);
  talks.close();
});
