/**
 * A call's record is created with its audit trail, in one atomic write, on every path (the first
 * webhook's one write, twilio/first-webhook.ts, and the general path, runner.ts `start`, which
 * drop-in captures take too), and the record lives far shorter than the trail: a record whose
 * trail the store does not hold shows the trail was deleted. `GET /v1/calls/:callSid/audit` says
 * so (`verified: false`, `brokenAt: {seq: 1, reason: 'missing'}`), as the export does, and counts
 * it in tonewall_audit_trails_broken_total{reason="missing"}.
 */
import Redis from 'ioredis';
import { ACCOUNT_SID, metricValue, startHarness, type Harness } from '../../support/harness';
import { api, token } from '../../support/agents';
import { PrivateRedis } from '../../support/private-redis';
import { uniquePrefix } from '../../support/redis';

const sid = (c: string) => 'CA' + c.repeat(32);
/** a flow whose first step pauses the recording: its first webhook takes the general path (runner.ts start) */
const PAUSING_NUMBER = '+15005550019';
/** a flow that opens plainly: its first webhook is one write (twilio/first-webhook.ts) */
const PLAIN_NUMBER = '+15005550018';
const FLOWS = {
  'opens-plainly': [
    'id: opens-plainly',
    `numbers: ["${PLAIN_NUMBER}"]`,
    'steps:',
    '  - say: "Welcome."',
    '  - collect: menu',
    '    kind: digits',
    '    sensitive: false',
    '    minLength: 1',
    '    maxLength: 1',
    '    prompt: "Press 1."',
    'handoff:',
    '  mode: dial',
    '  to: "client:alice"',
  ].join('\n'),
  'opens-paused': [
    'id: opens-paused',
    `numbers: ["${PAUSING_NUMBER}"]`,
    'record: true',
    'steps:',
    '  - collect: card',
    '    kind: card-number',
    '    prompt: "Key in your card number, then hash."',
    'handoff:',
    '  mode: dial',
    '  to: "client:alice"',
  ].join('\n'),
};

function voiceParams(callSid: string, to: string, status = 'in-progress') {
  return { AccountSid: ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: callSid, CallStatus: status, Direction: 'inbound', From: '+15557654321', To: to };
}

describe('a call whose record is held and whose audit trail is not', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness({ flows: FLOWS });
  });
  afterAll(async () => h.close());

  test('answers verified: false, brokenAt {seq: 1, reason: missing}, and counts it', async () => {
    const callSid = sid('3');
    expect((await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid, PLAIN_NUMBER))).body).toContain('<Gather');
    const sup = token(h, 'sue', 'supervisor');
    const before = await api(h, 'GET', `/v1/calls/${callSid}/audit`, sup);
    expect(before.status).toBe(200);
    expect(before.body).toMatchObject({ verified: true, entries: [{ type: 'call.started' }] });

    // someone who can write Redis deletes the trail while the call's record is held
    const counted = await metricValue(h, 'tonewall_audit_trails_broken_total', { reason: 'missing' });
    expect(await h.redisStore!.del(`${h.keyPrefix}audit:${callSid}`)).toBe(1);
    expect(await h.app.services.calls.get(callSid)).not.toBeNull();
    const res = await api(h, 'GET', `/v1/calls/${callSid}/audit`, sup);
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ entries: [], verified: false, brokenAt: { seq: 1, reason: 'missing' } });
    expect(await metricValue(h, 'tonewall_audit_trails_broken_total', { reason: 'missing' })).toBe(counted + 1);
  });

  test('a call opened on the general path has its trail from the same write, and verifies', async () => {
    const callSid = sid('4');
    // ringing, as a call's first webhook is: no recording runs yet, so none is listed (the emulator
    // knows no call of this SID: a list would fail, and the card would not be asked, fail closed)
    const r = await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid, PAUSING_NUMBER, 'ringing'));
    expect(r.status).toBe(200);
    expect(r.body).toContain('<Gather');
    const res = await api(h, 'GET', `/v1/calls/${callSid}/audit`, token(h, 'sue', 'supervisor'));
    expect(res.body).toMatchObject({ verified: true });
    expect(res.body.entries[0]).toMatchObject({ seq: 1, type: 'call.started', flowId: 'opens-paused' });
  });
});

describe("a call's record on the general path", () => {
  let redis: PrivateRedis;
  beforeAll(async () => {
    redis = await PrivateRedis.start();
  });
  afterAll(async () => redis.close());

  test('is not created when its trail cannot be: no record is left without its trail', async () => {
    const prefix = uniquePrefix('trailrecord');
    // a Redis user that may write every key of the service's but the audit day index (a trail's
    // first entry is written with its day's index entry): the trail's first entry is refused
    const admin = new Redis(redis.url);
    try {
      await admin.call(
        'ACL',
        'SETUSER',
        'noday',
        'on',
        '>noday-password-0123',
        `%RW~${prefix}[^a]*`,
        `%RW~${prefix}audit:[^d]*`,
        `%R~${prefix}audit:day:*`,
        '&*',
        '+@all',
      );
    } finally {
      admin.disconnect();
    }
    const h = await startHarness({ flows: FLOWS, keyPrefix: prefix, env: { REDIS_URL: `redis://noday:noday-password-0123@127.0.0.1:${redis.port}` } });
    try {
      const callSid = sid('5');
      const r = await h.emulator.signedPost(h.voiceUrl, voiceParams(callSid, PAUSING_NUMBER));
      expect(r.status).toBe(200);
      expect(r.body).not.toContain('<Gather');
      expect(await h.app.services.calls.get(callSid)).toBeNull();
      expect(await h.app.services.audit.list(callSid)).toEqual([]);
    } finally {
      await h.close();
    }
  });
});
