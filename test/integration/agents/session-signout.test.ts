/**
 * `POST /v1/session/signout` ends a token's session before its exp (PCI DSS 8.2.8), on every
 * instance: two instances on one real Redis, the token signed out on A is refused on both (401
 * on the API, 4401 on the socket), the sockets it held open on either are closed 4401, and the
 * store holds a digest of it until its exp, never the token or its `sub`. Another token of the
 * same agent goes on working.
 */
import fs from 'node:fs';
import { AgentSocket, api, makeFlowsDir, refusedAt, stillServed } from '../../support/agents';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { scanRedis } from '../../support/redis';
import { CLOCK_TOLERANCE_MS } from '../../../src/auth/tokens';
import { TokenRevocations, tokenDigest } from '../../../src/auth/revocations';

let a: Harness;
let b: Harness;
let flowsDir: string;

beforeAll(async () => {
  flowsDir = makeFlowsDir();
  a = await startHarness({ flowsDir });
  b = await startHarness({ flowsDir, emulator: a.emulator, keyPrefix: a.keyPrefix });
});
afterAll(async () => {
  await b?.close();
  await a?.close();
  if (flowsDir) fs.rmSync(flowsDir, { recursive: true, force: true });
});

const sign = (sub: string, ttlSeconds: number) => a.app.services.auth.sign({ sub, endpoint: `client:${sub}`, role: 'agent' }, ttlSeconds);

it('refuses the token on every instance from then on, closes its sockets there, and leaves the agent’s other token alone', async () => {
  const mine = sign('dana', 3600);
  // the same agent signed in elsewhere, with a token of its own
  const other = sign('dana', 7200);
  expect(other).not.toBe(mine);
  const onA = await AgentSocket.open(a, mine);
  const onB = await AgentSocket.open(b, mine);
  const otherOnB = await AgentSocket.open(b, other);
  for (const h of [a, b]) expect((await api(h, 'GET', '/v1/calls', mine)).status).toBe(200);

  const out = await api(a, 'POST', '/v1/session/signout', mine);
  expect(out.status).toBe(204);
  expect(out.body).toBe('');

  // its open sockets, on the instance signed out on and on the other
  expect(await onA.closed).toEqual({ code: 4401, reason: 'signed out' });
  expect(await onB.closed).toEqual({ code: 4401, reason: 'signed out' });
  for (const h of [a, b]) {
    expect((await api(h, 'GET', '/v1/calls', mine)).status).toBe(401);
    expect((await api(h, 'GET', `/v1/calls/CA${'e'.repeat(32)}`, mine)).status).toBe(401);
    expect(await refusedAt(h, mine)).toEqual({ code: 4401, reason: 'unauthorized' });
  }
  // signed out once: a second sign-out is a refused token too
  expect((await api(b, 'POST', '/v1/session/signout', mine)).status).toBe(401);

  // the other token: its socket still open and served, the API and a new socket still its own
  await stillServed(otherOnB);
  for (const h of [a, b]) expect((await api(h, 'GET', '/v1/calls', other)).status).toBe(200);
  const again = await AgentSocket.open(a, other);
  await stillServed(again);
  again.close();
  otherOnB.close();
});

it('signs out only the token signed out: another minted for the same claims in the same second still works, over REST and the socket', async () => {
  // both minted within one second (iat and exp the same): tried again if the second turned between them
  let first: string, second: string, second0: number;
  do {
    second0 = Math.floor(Date.now() / 1000);
    [first, second] = [sign('kim', 900), sign('kim', 900)];
  } while (Math.floor(Date.now() / 1000) !== second0);
  const open = await AgentSocket.open(b, second);
  expect((await api(a, 'POST', '/v1/session/signout', first)).status).toBe(204);
  expect((await api(a, 'GET', '/v1/calls', first)).status).toBe(401);
  for (const h of [a, b]) expect((await api(h, 'GET', '/v1/calls', second)).status).toBe(200);
  await stillServed(open);
  const again = await AgentSocket.open(a, second);
  await stillServed(again);
  again.close();
  open.close();
});

it('files a digest of the token until its exp (and the clock tolerance), never the token or its sub', async () => {
  const tok = sign('erin-0001', 600);
  const before = new Set((await scanRedis(a.keyPrefix)).map((k) => k.key));
  expect((await api(b, 'POST', '/v1/session/signout', tok)).status).toBe(204);
  const keys = await scanRedis(a.keyPrefix);
  const added = keys.filter((k) => !before.has(k.key));
  // besides the token's last use (auth/idle.ts: the sign-out was its first), by the same digest
  expect(added.filter((k) => !k.key.includes(':revoked:')).map((k) => k.key)).toEqual([expect.stringMatching(new RegExp(`:active:${tokenDigest(tok)}$`))]);
  const revoked = added.filter((k) => k.key.includes(':revoked:'));
  expect(revoked).toHaveLength(1);
  expect(revoked[0].key).toMatch(/:revoked:[A-Za-z0-9_-]{43}$/);
  const ttl = 600 + CLOCK_TOLERANCE_MS / 1000;
  expect(revoked[0].ttl).toBeGreaterThan(ttl - 10);
  expect(revoked[0].ttl).toBeLessThanOrEqual(ttl + 1);
  const [header, payload, signature] = tok.split('.');
  for (const k of keys) {
    for (const part of [tok, payload, signature, 'erin-0001', header + '.' + payload])
      expect([k.key, k.content.includes(part) || k.key.includes(part)]).toEqual([k.key, false]);
  }
});

it('answers 401 with no token or a bad one, and revokes nothing', async () => {
  const before = (await scanRedis(a.keyPrefix)).filter((k) => k.key.includes(':revoked:')).length;
  expect((await api(a, 'POST', '/v1/session/signout')).status).toBe(401);
  expect((await api(a, 'POST', '/v1/session/signout', 'not-a-jwt')).status).toBe(401);
  // a signature's first character changed: its bytes differ (the last one's spare bits would not, below)
  const good = sign('fay', 600);
  const at = good.lastIndexOf('.') + 1;
  const forged = good.slice(0, at) + (good[at] === 'A' ? 'B' : 'A') + good.slice(at + 1);
  expect((await api(a, 'POST', '/v1/session/signout', forged)).status).toBe(401);
  expect((await scanRedis(a.keyPrefix)).filter((k) => k.key.includes(':revoked:')).length).toBe(before);
});

it('refuses a socket on an instance that heard of the sign-out, even before the store would say so', async () => {
  // the news without the store's record: what an instance sees when a socket's token was read as
  // good from the store just before the sign-out filed it, and is let in just after the news came
  const tok = sign('gus', 900);
  const open = await AgentSocket.open(a, tok);
  await a.app.services.sessions.publish({ type: 'session.revoked', token: tokenDigest(tok) });
  expect(await open.closed).toEqual({ code: 4401, reason: 'signed out' });
  expect((await api(a, 'GET', '/v1/calls', tok)).status).toBe(200);
  expect(await refusedAt(a, tok)).toEqual({ code: 4401, reason: 'unauthorized' });
});

it("refuses the same token written another way: its signature's spare bits changed, a copy that still verifies", async () => {
  const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  const tok = sign('hal', 900);
  // 32 bytes of HS256 signature in 43 characters: the last one's two low bits are padding
  const respelled = tok.slice(0, -1) + B64URL[B64URL.indexOf(tok.slice(-1)) ^ 1];
  expect(respelled).not.toBe(tok);
  expect((await api(a, 'GET', '/v1/calls', respelled)).status).toBe(200);
  expect((await api(a, 'POST', '/v1/session/signout', tok)).status).toBe(204);
  for (const h of [a, b]) expect((await api(h, 'GET', '/v1/calls', respelled)).status).toBe(401);
  expect(await refusedAt(b, respelled)).toEqual({ code: 4401, reason: 'unauthorized' });
});

it('closes an open socket whose sign-out news it missed at its next request, unserved', async () => {
  // the store's record without the news: what an instance whose subscription was down while the
  // sign-out went out (or whose publish failed after the record was filed) is left with
  const tok = sign('ida', 900);
  const open = await AgentSocket.open(b, tok);
  await stillServed(open);
  const { store, keys } = a.app.services;
  await new TokenRevocations(store, keys, CLOCK_TOLERANCE_MS).revoke(tokenDigest(tok), Math.floor(Date.now() / 1000) + 900);
  open.send({ type: 'handoff.accept', callSid: 'CA' + 'f'.repeat(32) });
  expect(await open.closed).toEqual({ code: 4401, reason: 'signed out' });
  expect(open.events.filter((e) => e.type === 'error' && e.request === 'handoff.accept')).toHaveLength(1);
});

it('closes an open socket whose sign-out news its instance missed, though it sends nothing, within the re-check', async () => {
  // a third instance on the same store that re-reads its sockets' tokens often (socket-limits.ts REVOCATION_CHECK_MS)
  const c = await startHarness({ flowsDir, emulator: a.emulator, keyPrefix: a.keyPrefix, build: { agentSocketLimits: { revocationCheckMs: 100 } } });
  try {
    const tok = sign('jo', 900);
    const open = await AgentSocket.open(c, tok);
    const { store, keys } = a.app.services;
    await new TokenRevocations(store, keys, CLOCK_TOLERANCE_MS).revoke(tokenDigest(tok), Math.floor(Date.now() / 1000) + 900);
    expect(await open.closed).toEqual({ code: 4401, reason: 'signed out' });
  } finally {
    await c.close();
  }
});

it('logs the sign-out, and each use of the signed-out token refused, naming the holder as the audit trail does, never the sub (PCI DSS 10.2.1)', async () => {
  // letters and dashes: no hex digest in a log line can hold it by chance
  const sub = 'mona-signout-log-subject';
  const tok = sign(sub, 900);
  const actor = a.app.services.audit.actor({ role: 'agent', sub });
  expect(actor).toMatch(/^agent:[0-9a-f]{16}$/);
  const [fromA, fromB] = [a.logs.lines.length, b.logs.lines.length];
  const linesSince = (h: Harness, from: number) => h.logs.lines.slice(from).map((l) => JSON.parse(l) as { msg: string; actor?: string; role?: string });
  const said = (h: Harness, from: number, msg: string) => linesSince(h, from).filter((l) => l.msg === msg);

  expect((await api(a, 'POST', '/v1/session/signout', tok)).status).toBe(204);
  expect(said(a, fromA, 'agent signed out')).toEqual([expect.objectContaining({ actor, role: 'agent' })]);
  // then a copy of it used: over REST on the other instance, at a socket's auth, and signed out again
  expect((await api(b, 'GET', '/v1/calls', tok)).status).toBe(401);
  expect(await refusedAt(a, tok)).toEqual({ code: 4401, reason: 'unauthorized' });
  expect((await api(a, 'POST', '/v1/session/signout', tok)).status).toBe(401);
  await waitFor(() => said(a, fromA, 'signed-out token refused').length === 2, 'the refusals on A logged');
  expect(said(b, fromB, 'signed-out token refused')).toEqual([expect.objectContaining({ actor, role: 'agent' })]);
  expect(said(a, fromA, 'signed-out token refused')).toEqual([
    expect.objectContaining({ actor, role: 'agent' }),
    expect.objectContaining({ actor, role: 'agent' }),
  ]);
  for (const h of [a, b]) {
    const text = h.logs.lines.join('\n');
    expect(text).not.toContain(sub);
    expect(text).not.toContain(tok.slice(tok.lastIndexOf('.') + 1));
  }
});
