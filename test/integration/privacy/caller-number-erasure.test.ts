/**
 * The caller's number, sealed in the vault by the call's first webhook, goes with an erasure
 * whether the call's record is still there or gone before it (an ended call's record expires
 * long before the number's envelope): through the real app and the project's Twilio emulator,
 * with Redis read directly afterwards for any key left of the caller.
 */
import Redis from 'ioredis';
import { subjectHash } from '../../../src/privacy';
import { redisUrl } from '../../support/redis';
import { startHarness, SUBJECT_KEY, SUPPORT_NUMBER, WEBHOOK_CALLER, webhookParams, type Harness } from '../../support/harness';

const CALLER = WEBHOOK_CALLER;

describe("an erasure and the caller's number in the vault", () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness();
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await h.close();
  });

  /** a call's first webhook; the vault token of the caller's number its record names */
  async function call(callSid: string): Promise<string> {
    const first = await h.emulator.signedPost(h.voiceUrl, webhookParams(callSid, SUPPORT_NUMBER, { CallStatus: 'ringing' }));
    expect(first.status).toBe(200);
    const fromToken = (await h.app.services.calls.get(callSid))?.fromToken;
    expect(fromToken).toMatch(/^vt_/);
    // the scan below can fail: the envelope is there until the erasure
    expect(await redis.exists(h.app.services.keys.vault(fromToken!))).toBe(1);
    return fromToken!;
  }

  /** every key left that names the call, the caller's subject or a vault value of theirs, but the audit trail (kept by design) */
  async function leftOf(callSid: string, fromToken: string): Promise<string[]> {
    const { keys } = h.app.services;
    const hash = subjectHash(SUBJECT_KEY, CALLER);
    return (await h.scan())
      .filter(({ key }) => key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')))
      .filter(({ key, content }) => [callSid, hash, fromToken, CALLER, CALLER.slice(1)].some((f) => `${key}\n${content}`.includes(f)))
      .map(({ key }) => key.slice(keys.prefix.length).replace(callSid, '<call>').replace(hash, '<subject>').replace(fromToken, '<token>'));
  }

  test('while the call record lives', async () => {
    const callSid = 'CA' + 'a1'.repeat(16);
    const fromToken = await call(callSid);
    expect((await h.app.services.privacy.erase(CALLER)).calls).toBe(1);
    expect(await leftOf(callSid, fromToken)).toEqual([]);
  });

  test('after the call record is gone: ended, and expired before the envelope', async () => {
    const callSid = 'CA' + 'b2'.repeat(16);
    const fromToken = await call(callSid);
    const { keys } = h.app.services;
    const ended = await h.emulator.signedPost(h.statusUrl, webhookParams(callSid, SUPPORT_NUMBER, { CallStatus: 'completed' }));
    expect(ended.status).toBe(204);
    // the ended record's TTL is the shorter one; the number's envelope keeps the call's
    expect(await redis.ttl(keys.call(callSid))).toBeLessThan(await redis.ttl(keys.vault(fromToken)));
    // its expiry, come early: the subject index still names the call, its record is gone
    await redis.pexpire(keys.call(callSid), 1);
    await new Promise((r) => setTimeout(r, 20));
    expect(await redis.exists(keys.call(callSid))).toBe(0);

    await h.app.services.privacy.erase(CALLER);
    expect(await redis.exists(keys.vault(fromToken))).toBe(0);
    expect(await leftOf(callSid, fromToken)).toEqual([]);
  });
});
