/**
 * VAULT_TTL_SECONDS longer than a call's record (a day here, against CALL_TTL_SECONDS' four
 * hours and an ended call's fifteen minutes): the subject index that access and erasure walk
 * must live as long as anything of the call it leads to. Through the real app, the project's
 * Twilio emulator and a processor: a caller keys a date of birth, it is delivered, they hang up;
 * then every key of the call's expires as time would make it (Redis PEXPIRE) but those that live
 * as long as the vault values, and access and erasure still find the call. Redis is scanned
 * whole afterwards.
 */
import Redis from 'ioredis';
import { TokenAuth } from '../../../src/auth/tokens';
import { CALL_TTL_SECONDS } from '../../../src/calls/session';
import { redisUrl } from '../../support/redis';
import { gatewayProcessorsFile, startGateway, type Gateway } from '../../support/gateway';
import { startHarness, waitFor, type Harness } from '../../support/harness';
import { dobBridgeFlow } from '../../support/card-flows';

const NUMBER = '+15005550042';
const CALLER = '+15551237788';
const DOB = '02021985';
const SECRET = 'gateway-secret-for-long-vault-ttl';
const VAULT_TTL_SECONDS = 24 * 60 * 60;

describe('VAULT_TTL_SECONDS longer than the call record', () => {
  let h: Harness;
  let gw: Gateway;
  let redis: Redis;
  let admin: string;

  beforeAll(async () => {
    gw = await startGateway();
    const file = gatewayProcessorsFile(gw, ['dob']);
    h = await startHarness({
      env: { PROCESSORS_FILE: file, GATEWAY_SECRET: SECRET, VAULT_TTL_SECONDS: String(VAULT_TTL_SECONDS) },
      flows: {
        longvault: dobBridgeFlow('longvault', NUMBER),
      },
    });
    redis = new Redis(redisUrl());
    admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  });
  afterAll(async () => {
    redis.disconnect();
    await h.close();
    await gw.close();
  });

  const subjectRequest = (method: 'GET' | 'DELETE') =>
    fetch(`${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`, { method, headers: { authorization: `Bearer ${admin}` } });

  /** a call that keys its date of birth, is delivered to the processor and hung up: its SID */
  async function call(): Promise<string> {
    const c = await h.emulator.placeCall({ from: CALLER, to: NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl, onGather: () => `${DOB}#` });
    await waitFor(() => c.transcript.some((t) => t.verb === 'Connect/Stream'), 'the bridge handoff', 10000);
    await waitFor(() => gw.received.some((r) => r.path === '/charge' && r.body.includes(c.sid)), 'the delivery', 10000);
    await waitFor(async () => (await h.app.services.store.get(h.app.services.keys.delivery(c.sid, 'gateway')))?.includes('"delivered"'), 'the delivery record');
    await c.hangup();
    await waitFor(async () => (await h.app.services.calls.get(c.sid))?.state === 'ended', 'the end of the call');
    return c.sid;
  }

  /** the keys that are the call's (new since `before`), but its audit trail (kept by design) and the indexes every call shares */
  async function keysOfCall(before: Set<string>, callSid: string): Promise<string[]> {
    const { keys } = h.app.services;
    const shared = [keys.callIndex(), keys.deliveries(), keys.offers(), keys.dropinWatches(), keys.dropinResults()];
    return (await h.scan())
      .map(({ key }) => key)
      .filter((key) => !before.has(key) && !shared.includes(key) && key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')));
  }

  test('the subject index outlives every key of the call; access and erasure find the call once only its long-lived keys are left', async () => {
    const { keys, calls } = h.app.services;
    const before = new Set((await h.scan()).map(({ key }) => key));
    const sid = await call();
    const session = (await calls.get(sid))!;
    const subjectKey = keys.subject(session.subject!);
    const tokens = [session.fromToken!, session.fields.dob.token!];
    const own = await keysOfCall(before, sid);
    // what the erasure must take is there, so the scan afterwards can fail
    expect(own).toEqual(
      expect.arrayContaining([subjectKey, keys.call(sid), keys.vaultIndex(sid), keys.delivery(sid, 'gateway'), ...tokens.map((t) => keys.vault(t))]),
    );

    // the index lives at least as long as anything it leads to, the vault's day included
    const subjectTtl = await redis.ttl(subjectKey);
    expect(subjectTtl).toBeGreaterThan(CALL_TTL_SECONDS);
    const ttls = await Promise.all(own.map(async (key) => ({ key, ttl: await redis.ttl(key) })));
    expect(ttls.filter(({ ttl }) => ttl < 1 || ttl > subjectTtl)).toEqual([]);

    // five hours on: every key that lives shorter than the vault's values has expired, as time
    // would make it (the record first of all); the values, the sealed caller, the call's vault
    // index, its delivery record and the subject index are left
    const longLived: string[] = [];
    for (const key of own) {
      if ((await redis.ttl(key)) > CALL_TTL_SECONDS) longLived.push(key);
      else await redis.pexpire(key, 1);
    }
    await waitFor(async () => (await redis.exists(keys.call(sid))) === 0, 'the record expired');
    expect(longLived.sort()).toEqual([subjectKey, keys.vaultIndex(sid), keys.delivery(sid, 'gateway'), ...tokens.map((t) => keys.vault(t))].sort());

    // access reports the call, what the vault still holds of it
    const access = await subjectRequest('GET');
    expect(access.status).toBe(200);
    const report = (await access.json()) as { subject: string; calls: unknown[] };
    // the processor it reached is named (its recipient), by its delivery record, which outlives the call record too
    expect(report).toEqual({
      subject: '+*******7788',
      calls: [
        {
          callSid: sid,
          createdAt: expect.any(String),
          state: 'expired',
          fields: {},
          values: 2,
          deliveries: [{ processor: 'gateway', status: 'delivered', attempts: 1, at: expect.any(String) }],
          // added: each value is said to exist, and until when; what it was, the expired record said
          sealed: [
            { of: 'unnamed', expiresAt: expect.any(String) },
            { of: 'unnamed', expiresAt: expect.any(String) },
          ],
          audit: expect.any(Array),
        },
      ],
    });
    expect(JSON.stringify(report)).not.toContain(DOB);

    // erasure removes it all, and says so
    const erased = await subjectRequest('DELETE');
    expect(erased.status).toBe(200);
    expect(await erased.json()).toMatchObject({ calls: 1, values: 2, processors: [{ name: 'gateway', status: 'forwarded' }] });
    const left = (await h.scan()).filter(({ key, content }) =>
      [sid, session.subject!, ...tokens, CALLER.slice(1)].some((f) => `${key}\n${content}`.includes(f)),
    );
    expect(left.map(({ key }) => key).filter((key) => key !== keys.audit(sid) && !key.startsWith(keys.auditDay('')))).toEqual([]);
    for (const key of longLived) expect(await redis.exists(key)).toBe(0);
    expect(((await (await subjectRequest('GET')).json()) as { calls: unknown[] }).calls).toEqual([]);
  }, 60000);
});
