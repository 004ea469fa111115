import { TokenAuth } from '../../../src/agents/auth';
import { AuditTrail, auditRoutes } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import type { CallSession } from '../../../src/calls/session';
import type { RedisStore } from '../../../src/store';
import { makeSession, newCallSid, redisFixture } from '../processors/fixtures';
import { type TinyApp, tinyApp } from '../../support/tiny-app';

const SECRET = 'x'.repeat(40);

describe('GET /v1/calls/:callSid/audit', () => {
  let store: RedisStore;
  let app: TinyApp;
  let audit: AuditTrail;
  let calls: CallRepository;
  const auth = new TokenAuth(SECRET);
  const bearer = (role: 'agent' | 'supervisor' | 'admin', sub = 'alice', endpoint = 'client:alice') => ({
    authorization: `Bearer ${auth.sign({ sub, endpoint, role })}`,
  });

  beforeEach(async () => {
    const f = await redisFixture('auditroutes');
    store = f.store;
    calls = new CallRepository(store, f.keys);
    audit = new AuditTrail(store, f.keys);
    app = await tinyApp(auditRoutes({ auth, calls, audit }));
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
});
