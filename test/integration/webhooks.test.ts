/**
 * Issue 2 acceptance at the webhook edge: signatures (missing 400, wrong 403, no side effect;
 * checked against PUBLIC_URL whatever the Host header says), replays, unknown numbers, and a
 * Redis outage mid-call answered with safe TwiML within a second.
 */
import Redis from 'ioredis';
import { ACCOUNT_SID, metricValue, PAYMENTS_NUMBER, SUPPORT_NUMBER, startHarness, waitFor, type Harness } from '../support/harness';
import { PrivateRedis } from '../support/private-redis';
import { uniquePrefix } from '../support/redis';

const sid = (c: string) => 'CA' + c.repeat(32);

function voiceParams(callSid: string, to = SUPPORT_NUMBER) {
  return { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: 'ringing', Direction: 'inbound', From: '+15557654321', To: to };
}

describe('signed webhooks', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => h.close());

  const routes = [
    '/twilio/voice',
    '/twilio/status',
    '/twilio/recording-status',
    '/twilio/gather/1/1',
    '/twilio/gather/1/1/confirm',
    '/twilio/gather/1/1/again',
    '/twilio/guard/1',
    '/twilio/guard/1/failed',
    '/twilio/dial-status',
  ];

  test.each(routes)('%s: unsigned → 400, wrongly signed → 403, no state change and no REST call', async (path) => {
    const callSid = sid('1');
    const params = {
      ...voiceParams(callSid),
      CallStatus: 'completed',
      Digits: '4111111111111111',
      RecordingSid: 'RE' + '1'.repeat(32),
      RecordingStatus: 'completed',
    };
    const restBefore = h.emulator.timeline.filter((e) => e.type === 'rest').length;
    const keysBefore = (await h.scan()).length;
    const unsigned = await h.emulator.signedPost(`${h.url}${path}`, params, { signature: null });
    expect(unsigned.status).toBe(400);
    expect(unsigned.body).not.toContain('<Response');
    const wrong = await h.emulator.signedPost(`${h.url}${path}`, params, { signature: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' });
    expect(wrong.status).toBe(403);
    expect(wrong.body).not.toContain('<Response');
    // signed for another URL (the Host header's): refused too
    const otherUrl = await h.emulator.signedPost(`${h.url}${path}`, params, { signature: h.emulator.signature(`http://evil.example${path}`, params) });
    expect(otherUrl.status).toBe(403);
    expect(h.emulator.timeline.filter((e) => e.type === 'rest').length).toBe(restBefore);
    expect((await h.scan()).length).toBe(keysBefore);
    const metrics = await (await fetch(h.metricsUrl)).text();
    expect(metrics).toMatch(/tonewall_signatures_rejected_total\{reason="missing"\} [1-9]/);
    expect(metrics).toMatch(/tonewall_signatures_rejected_total\{reason="invalid"\} [1-9]/);
  });

  test('signed for PUBLIC_URL while the Host header says something else → accepted', async () => {
    const params = voiceParams(sid('2'));
    const signature = h.emulator.signature(`${h.publicUrl}/twilio/voice`, params);
    const r = await fetch(`${h.url}/twilio/voice`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-twilio-signature': signature,
        host: 'attacker.example',
        'x-forwarded-host': 'attacker.example',
      },
      body: new URLSearchParams(params).toString(),
    });
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/text\/xml/);
    expect(await r.text()).toContain('<Gather');
  });

  test('a replayed webhook gets the same TwiML and causes nothing twice', async () => {
    const params = voiceParams(sid('3'), PAYMENTS_NUMBER);
    const first = await h.emulator.signedPost(h.voiceUrl, params);
    expect(first.status).toBe(200);
    const restAfterFirst = h.emulator.timeline.filter((e) => e.type === 'rest').length;
    const auditAfterFirst = await h.app.services.audit.list(params.CallSid);
    const [again, third] = await Promise.all([h.emulator.signedPost(h.voiceUrl, params), h.emulator.signedPost(h.voiceUrl, params)]);
    expect(again.body).toBe(first.body);
    expect(third.body).toBe(first.body);
    // no second recording started, no second pause, no second audit entry
    expect(h.emulator.timeline.filter((e) => e.type === 'rest').length).toBe(restAfterFirst);
    expect(await h.app.services.audit.list(params.CallSid)).toHaveLength(auditAfterFirst.length);
    // a replayed gather answer does not count as another attempt
    const gather = { ...params, Digits: '4111111111111112' };
    // step 1 is the menu: '1' is a valid choice and moves the call on to step 2
    const g1 = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, { ...gather, Digits: '1' });
    const g2 = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, { ...gather, Digits: '1' });
    expect(g2.body).toBe(g1.body);
    const session = await h.app.services.calls.get(params.CallSid);
    expect(session?.step).toBe(2);
  });

  test('an unknown number hears "not in service" and a hangup', async () => {
    const r = await h.emulator.signedPost(h.voiceUrl, voiceParams(sid('4'), '+15559999999'));
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/not in service/);
    expect(r.body).toContain('<Hangup/>');
    expect(await h.app.services.calls.get(sid('4'))).toBeNull();
  });
});

describe('Redis outage during a call', () => {
  const redises: PrivateRedis[] = [];
  afterAll(async () => {
    for (const r of redises) await r.close();
  });
  const privateRedis = async () => {
    const r = await PrivateRedis.start();
    redises.push(r);
    return r;
  };

  test('the next webhook gets safe TwiML while the store is down, /readyz turns 503, both recover', async () => {
    const redis = await privateRedis();
    const h = await startHarness({ env: { REDIS_URL: redis.url }, keyPrefix: uniquePrefix('outage') });
    try {
      const params = voiceParams(sid('5'));
      const first = await h.emulator.signedPost(h.voiceUrl, params);
      expect(first.body).toContain('<Gather');
      await redis.stop();

      // the answers come while Redis is still down: a command that waited for it to come back
      // (an offline queue) would leave the caller in dead air until it did
      const during = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, { ...params, Digits: '01011990' });
      expect(redis.down).toBe(true);
      expect(during.status).toBe(200);
      expect(during.body).toMatch(/sorry/i);
      // the support flow dials its agent: the caller is handed off, not left in dead air
      expect(during.body).toMatch(/<Dial|<Hangup/);
      // a guard's end as well: the apology, not dead air
      const guard = await h.emulator.signedPost(`${h.publicUrl}/twilio/guard/2`, params);
      expect(guard.status).toBe(200);
      expect(guard.body).toMatch(/sorry/i);
      expect((await fetch(`${h.url}/readyz`)).status).toBe(503);

      await redis.up();
      await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'readiness to recover', 10000);
      const after = await h.emulator.signedPost(h.voiceUrl, voiceParams(sid('6')));
      expect(after.status).toBe(200);
      expect(after.body).toContain('<Gather');
    } finally {
      await h.close();
    }
  }, 30000);

  test('a Redis full at maxmemory with noeviction refuses the writes: each webhook gets the apology, counted as the store, and calls go on once it has room', async () => {
    const redis = await privateRedis();
    const h = await startHarness({ env: { REDIS_URL: redis.url }, keyPrefix: uniquePrefix('oom') });
    const admin = new Redis(redis.url);
    try {
      const params = voiceParams(sid('9'));
      expect((await h.emulator.signedPost(h.voiceUrl, params)).body).toContain('<Gather');
      const before = await metricValue(h, 'tonewall_safe_fallbacks_total', { reason: 'store' });
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      // mid-call and a new call alike: Redis answers each write OOM
      for (const [url, p] of [
        [`${h.publicUrl}/twilio/gather/1/1`, { ...params, Digits: '01011990' }],
        [h.voiceUrl, voiceParams(sid('a'))],
      ] as const) {
        const res = await h.emulator.signedPost(url, p);
        expect(res.status).toBe(200);
        expect(res.body).toMatch(/sorry/i);
        expect(res.body).toMatch(/<Dial|<Hangup/);
      }
      expect((await metricValue(h, 'tonewall_safe_fallbacks_total', { reason: 'store' })) - before).toBe(2);
      await admin.config('SET', 'maxmemory', '0');
      expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(sid('b')))).body).toContain('<Gather');
    } finally {
      admin.disconnect();
      await h.close();
    }
  }, 30000);

  test('a Redis that takes commands and answers none: the webhook is answered with the apology while it stays frozen', async () => {
    const redis = await privateRedis();
    const h = await startHarness({ env: { REDIS_URL: redis.url }, keyPrefix: uniquePrefix('frozen') });
    try {
      const params = voiceParams(sid('7'));
      expect((await h.emulator.signedPost(h.voiceUrl, params)).body).toContain('<Gather');
      redis.freeze();
      // the connection stays open and the command is sent: only the store's own command timeout
      // can end the wait, and Redis is thawed only after the answer came, so a webhook that
      // waited for Redis would never be answered and the test would fail on jest's timeout
      const during = await h.emulator.signedPost(`${h.publicUrl}/twilio/gather/1/1`, { ...params, Digits: '01011990' });
      expect(during.status).toBe(200);
      expect(during.body).toMatch(/sorry/i);
      expect(during.body).toMatch(/<Dial|<Hangup/);
      redis.thaw();
      await waitFor(async () => (await fetch(`${h.url}/readyz`)).status === 200, 'readiness after the thaw', 10000);
      expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(sid('8')))).body).toContain('<Gather');
    } finally {
      redis.thaw();
      await h.close();
    }
  }, 30000);
});
