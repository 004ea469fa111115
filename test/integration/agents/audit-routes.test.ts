import { TokenAuth } from '../../../src/auth/tokens';
import { auditRoutes } from '../../../src/agents/audit-routes';
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import type { Keys, RedisStore } from '../../../src/store';
import { makeSession, newCallSid, redisFixture } from '../../support/fixtures';
import { type TinyApp, tinyApp } from '../../support/tiny-app';
import { TEST_AUDIT_KEY } from '../../support/audit';

const SECRET = 'x'.repeat(40);

describe('GET /v1/calls/:callSid/audit', () => {
  let store: RedisStore;
  let app: TinyApp;
  let audit: AuditTrail;
  let calls: CallRepository;
  let keys: Keys;
  const auth = new TokenAuth(SECRET);
  const bearer = (role: 'agent' | 'supervisor' | 'admin', sub = 'alice', endpoint = 'client:alice') => ({
    authorization: `Bearer ${auth.sign({ sub, endpoint, role })}`,
  });

  beforeEach(async () => {
    const f = await redisFixture('auditroutes');
    store = f.store;
    keys = f.keys;
    calls = new CallRepository(store, f.keys, { vaultTtlSeconds: 900 });
    audit = new AuditTrail(store, f.keys, { key: TEST_AUDIT_KEY });
    app = await tinyApp(auditRoutes({ auth, calls, audit, retentionDays: 400 }));
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  async function callWithTrail(handoff: CallSession['handoff'] = { mode: 'bridge', agentSub: 'alice' }) {
    const s = makeSession({ handoff, state: 'bridged' });
    await calls.create(s);
    await audit.append(s.callSid, { type: 'call.started' });
    await audit.append(s.callSid, { type: 'capture.started', captureId: 'c1' });
    return s.callSid;
  }

  test('a supervisor and an admin get the entries and verified', async () => {
    const sid = await callWithTrail();
    for (const role of ['supervisor', 'admin'] as const) {
      const res = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer(role, 'sam', 'client:sam') });
      expect(res.statusCode).toBe(200);
      const body = res.json();
      expect(body.verified).toBe(true);
      expect(body.entries.map((e: { type: string }) => e.type)).toEqual(['call.started', 'capture.started']);
    }
  });

  test('no or a bad token answers 401', async () => {
    const sid = await callWithTrail();
    expect((await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit` })).statusCode).toBe(401);
    const res = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: { authorization: 'Bearer nope' } });
    expect(res.statusCode).toBe(401);
    expect(res.json().error).toBe('TW_ERR_AUTH_UNAUTHORIZED');
  });

  test('an agent who may see the call gets 403; one who may not gets 404 first', async () => {
    const sid = await callWithTrail({ mode: 'bridge', agentSub: 'alice' });
    const own = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer('agent', 'alice') });
    expect(own.statusCode).toBe(403);
    expect(own.json().error).toBe('TW_ERR_AUTH_FORBIDDEN');
    const other = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer('agent', 'bob', 'client:bob') });
    expect(other.statusCode).toBe(404);
    expect(other.json().error).toBe('TW_ERR_CALL_NOT_FOUND');
  });

  test('unknown calls answer 404; a trail whose call record is gone stays readable to supervisors only', async () => {
    const unknown = newCallSid();
    expect((await app.request({ method: 'GET', url: `/v1/calls/${unknown}/audit`, headers: bearer('supervisor') })).statusCode).toBe(404);
    expect((await app.request({ method: 'GET', url: `/v1/calls/${unknown}/audit`, headers: bearer('agent') })).statusCode).toBe(404);
    expect((await app.request({ method: 'GET', url: `/v1/calls/bad%20sid/audit`, headers: bearer('admin') })).statusCode).toBe(404);

    const sid = await callWithTrail();
    const s = (await calls.get(sid))!;
    await calls.remove(s);
    await audit.append(sid, { type: 'subject.erased', receiptId: 'r-1' });
    const sup = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer('supervisor') });
    expect(sup.statusCode).toBe(200);
    expect(sup.json().entries).toHaveLength(3);
    expect((await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer('agent') })).statusCode).toBe(404);
  });

  test('a trail edited in the store answers verified: false and names the first broken entry', async () => {
    const sid = await callWithTrail();
    await audit.append(sid, { type: 'capture.completed', captureId: 'c1', valid: true });
    const stored = JSON.parse((await store.get(keys.audit(sid)))!) as Record<string, unknown>[];
    stored[1].captureId = 'c2';
    await store.set(keys.audit(sid), JSON.stringify(stored), 600);
    const res = await app.request({ method: 'GET', url: `/v1/calls/${sid}/audit`, headers: bearer('supervisor', 'sam', 'client:sam') });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ verified: false, brokenAt: { seq: 2, reason: 'mac' } });
  });

  describe('GET /v1/audit/export', () => {
    const exportAs = (headers: Record<string, string> = {}, query = '') => app.request({ method: 'GET', url: `/v1/audit/export${query}`, headers });

    test('admin: NDJSON, one line per entry of every trail in range, each with its call and chain state', async () => {
      const a = await callWithTrail();
      const b = await callWithTrail();
      const stored = JSON.parse((await store.get(keys.audit(b)))!) as Record<string, unknown>[];
      stored[0].type = 'call.forged';
      await store.set(keys.audit(b), JSON.stringify(stored), 600);
      const res = await exportAs(bearer('admin', 'root', 'client:root'));
      expect(res.statusCode).toBe(200);
      expect(String(res.headers['content-type'])).toContain('application/x-ndjson');
      const lines = res.body
        .trim()
        .split('\n')
        .map((l: string) => JSON.parse(l) as { callSid: string; verified: boolean; entry: { seq: number; type: string } });
      const mine = lines.filter((l) => l.callSid === a || l.callSid === b);
      expect(mine.filter((l) => l.callSid === a).map((l) => [l.entry.seq, l.entry.type, l.verified])).toEqual([
        [1, 'call.started', true],
        [2, 'capture.started', true],
      ]);
      expect(mine.filter((l) => l.callSid === b).every((l) => l.verified === false)).toBe(true);
    });

    test("a broken trail's lines carry brokenAt; an unreadable trail gets one verified:false line", async () => {
      const good = await callWithTrail();
      const broken = await callWithTrail();
      const unreadable = await callWithTrail();
      const stored = JSON.parse((await store.get(keys.audit(broken)))!) as Record<string, unknown>[];
      stored[1].captureId = 'c2';
      await store.set(keys.audit(broken), JSON.stringify(stored), 600);
      await store.set(keys.audit(unreadable), '{not json', 600);
      const res = await exportAs(bearer('admin', 'root', 'client:root'));
      expect(res.statusCode).toBe(200);
      const lines = res.body
        .trim()
        .split('\n')
        .map((l: string) => JSON.parse(l) as { callSid: string; verified: boolean; brokenAt?: unknown; entry?: { seq: number } });
      const of = (sid: string) => lines.filter((l) => l.callSid === sid);
      expect(of(good).every((l) => l.verified && !('brokenAt' in l))).toBe(true);
      expect(of(broken).map((l) => [l.entry?.seq, l.verified, l.brokenAt])).toEqual([
        [1, false, { seq: 2, reason: 'mac' }],
        [2, false, { seq: 2, reason: 'mac' }],
      ]);
      expect(of(unreadable)).toEqual([{ callSid: unreadable, verified: false, brokenAt: { seq: 1, reason: 'unreadable' } }]);
    });

    test('a range of days is honoured; before today nothing of today shows', async () => {
      const a = await callWithTrail();
      const res = await exportAs(bearer('admin', 'root', 'client:root'), '?from=2020-01-01&to=2020-01-02');
      expect(res.statusCode).toBe(200);
      expect(res.body).not.toContain(a);
      expect((await exportAs(bearer('admin', 'root', 'client:root'), '?from=yesterday')).statusCode).toBe(400);
    });

    test('supervisors and agents get 403, no token 401', async () => {
      expect((await exportAs()).statusCode).toBe(401);
      for (const role of ['agent', 'supervisor'] as const) {
        expect((await exportAs(bearer(role, 'sam', 'client:sam'))).statusCode).toBe(403);
      }
    });
  });
});
