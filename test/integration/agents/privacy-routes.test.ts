import { TokenAuth } from '../../../src/auth/tokens';
import { AuditTrail } from '../../../src/audit';
import { CallRepository } from '../../../src/calls/repository';
import { privacyRoutes } from '../../../src/agents/privacy-routes';
import { CALLER_VAULT_FIELD, PrivacyService, subjectHash } from '../../../src/privacy';
import type { RedisStore } from '../../../src/store';
import { ReplayGuard } from '../../../src/twilio/replay';
import { type TinyApp, tinyApp } from '../../support/tiny-app';
import { captureLog, field, makeSession, redisFixture } from '../../support/fixtures';
import { TEST_AUDIT_KEY } from '../../support/audit';

const SECRET = 'y'.repeat(40);
const SUBJECT_SECRET = 'subject-secret';
const PHONE = '+15551234567';
const ENCODED = encodeURIComponent(PHONE);

describe('/v1/subjects/:phone', () => {
  let store: RedisStore;
  let app: TinyApp;
  let calls: CallRepository;
  const auth = new TokenAuth(SECRET);
  const bearer = (role: 'agent' | 'supervisor' | 'admin') => ({ authorization: `Bearer ${auth.sign({ sub: 'u1', endpoint: 'client:u1', role })}` });

  beforeEach(async () => {
    const f = await redisFixture('privacyroutes');
    store = f.store;
    calls = new CallRepository(store, f.keys, { vaultTtlSeconds: 900 });
    const privacy = new PrivacyService({
      calls,
      vault: f.vault,
      audit: new AuditTrail(store, f.keys, { key: TEST_AUDIT_KEY }),
      store,
      keys: f.keys,
      processors: [],
      replay: new ReplayGuard(store, f.keys, Buffer.alloc(32, 1)),
      subjectSecret: SUBJECT_SECRET,
      log: captureLog().log,
    });
    app = await tinyApp(privacyRoutes({ auth, privacy }));
    const s = makeSession({ subject: subjectHash(SUBJECT_SECRET, PHONE) });
    s.fromToken = await f.vault.put(s.callSid, CALLER_VAULT_FIELD, PHONE);
    s.fields.account = field('digits', await f.vault.put(s.callSid, 'account', '12345678'), { masked: '********' });
    await calls.create(s);
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  test('an admin reads, then erases, a caller', async () => {
    const got = await app.request({ method: 'GET', url: `/v1/subjects/${ENCODED}`, headers: bearer('admin') });
    expect(got.statusCode).toBe(200);
    expect(got.json().subject).toBe('+*******4567');
    expect(got.json().calls).toHaveLength(1);
    expect(JSON.stringify(got.json())).not.toContain('12345678');

    const del = await app.request({ method: 'DELETE', url: `/v1/subjects/${ENCODED}`, headers: bearer('admin') });
    expect(del.statusCode).toBe(200);
    expect(del.json()).toMatchObject({ subject: '+*******4567', calls: 1, values: 2, deliveriesCancelled: 0, processors: [] });

    const after = await app.request({ method: 'GET', url: `/v1/subjects/${ENCODED}`, headers: bearer('admin') });
    expect(after.json().calls).toEqual([]);
  });

  test('no token 401; agents and supervisors 403, before the number is even looked at', async () => {
    for (const method of ['GET', 'DELETE']) {
      expect((await app.request({ method, url: `/v1/subjects/${ENCODED}` })).statusCode).toBe(401);
      for (const role of ['agent', 'supervisor'] as const) {
        const res = await app.request({ method, url: `/v1/subjects/${ENCODED}`, headers: bearer(role) });
        expect(res.statusCode).toBe(403);
        expect(res.json().error).toBe('TW_ERR_AUTH_FORBIDDEN');
        expect((await app.request({ method, url: `/v1/subjects/not-a-number`, headers: bearer(role) })).statusCode).toBe(403);
      }
    }
    // nothing was erased by the refused requests
    const got = await app.request({ method: 'GET', url: `/v1/subjects/${ENCODED}`, headers: bearer('admin') });
    expect(got.json().calls).toHaveLength(1);
  });

  test.each([
    // a SIP URI or Client identity that is not well formed, or no caller ID at all
    'sip%3Aqwerty%40',
    'sip%3A%40example.com',
    'sip%3Aqwerty%40bob%40example.com',
    'sip%3Aqwerty%40example.com%3A99999',
    'client%3A',
    'client%3Aqw%20erty',
    'qwerty%0A5551234567',
  ])('an invalid subject (%s) answers 400, naming the forms a subject takes and not repeating it', async (p) => {
    for (const method of ['GET', 'DELETE']) {
      const res = await app.request({ method, url: `/v1/subjects/${p}`, headers: bearer('admin') });
      expect(res.statusCode).toBe(400);
      expect(res.json().error).toBe('TW_ERR_REQUEST_INVALID');
      expect(res.json().message).toMatch(/E\.164 number, a tel URI, a SIP URI or a Twilio Client identity, or a caller ID as Twilio sent it, URL-encoded/);
      expect(res.body).not.toMatch(/qwerty|5551234567/);
    }
  });

  test.each(['client%3AAnonymous', 'sip%3Aanonymous%40anonymous.invalid', 'sip%3A%2B266696687%40trunk.example.com'])(
    'a SIP URI or Client identity that names no one (%s) answers 422, as a withheld number does',
    async (p) => {
      for (const method of ['GET', 'DELETE']) {
        const res = await app.request({ method, url: `/v1/subjects/${p}`, headers: bearer('admin') });
        expect(res.statusCode).toBe(422);
        expect(res.json().error).toBe('TW_ERR_PRIVACY_SUBJECT_WITHHELD');
      }
    },
  );

  test("a SIP URI whose user part is the number finds the number's caller", async () => {
    const got = await app.request({
      method: 'GET',
      url: `/v1/subjects/${encodeURIComponent(`sip:${PHONE}@trunk.example.com;user=phone`)}`,
      headers: bearer('admin'),
    });
    expect(got.statusCode).toBe(200);
    expect(got.json()).toMatchObject({
      subject: '+*******4567',
      calls: [expect.objectContaining({ fields: { account: expect.objectContaining({ masked: '********' }) } })],
    });
  });
});
