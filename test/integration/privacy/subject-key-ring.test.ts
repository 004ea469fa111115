/**
 * SUBJECT_KEY is a ring: new calls are filed under its first key, and access and erasure look a
 * caller up under every key, and under the key derived from AGENT_JWT_SECRET (the index's key
 * without SUBJECT_KEY), so rotating SUBJECT_KEY, or setting it on a running deployment, orphans no
 * caller indexed before. Two real apps one after the other on one Redis and one key prefix (the
 * restart of a deployment), real HTTP, the caller's first webhook signed as Twilio signs it.
 */
import Redis from 'ioredis';
import { TokenAuth } from '../../../src/auth/tokens';
import { generateKeyRingText } from '../../../src/vault';
import { newCallSid } from '../../support/fixtures';
import { PAYMENTS_NUMBER, WEBHOOK_CALLER, startHarness, webhookParams, type Harness } from '../../support/harness';
import { redisUrl, uniquePrefix } from '../../support/redis';

const A = 'subject-key-a-0123456789abcdef-0123456789';
const B = 'subject-key-b-0123456789abcdef-0123456789';

let redis: Redis;
const open: Harness[] = [];

beforeAll(() => {
  redis = new Redis(redisUrl());
});
afterAll(async () => {
  await redis.quit();
});
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
});

/** an instance of one deployment (its Redis prefix and VAULT_KEYS) with this SUBJECT_KEY ('' for none) */
async function instance(keyPrefix: string, vaultKeys: string, subjectKey: string): Promise<Harness> {
  const h = await startHarness({ keyPrefix, env: { VAULT_KEYS: vaultKeys, SUBJECT_KEY: subjectKey } });
  open.push(h);
  return h;
}

/** a call of the caller's: its first webhook, which files it in the subject index */
async function call(h: Harness): Promise<string> {
  const sid = newCallSid();
  expect((await h.emulator.signedPost(h.voiceUrl, webhookParams(sid, PAYMENTS_NUMBER))).status).toBe(200);
  return sid;
}

async function subjectRequest(h: Harness, method: 'GET' | 'DELETE'): Promise<{ calls: unknown }> {
  const admin = new TokenAuth(h.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  const res = await fetch(`${h.url}/v1/subjects/${encodeURIComponent(WEBHOOK_CALLER)}`, { method, headers: { authorization: `Bearer ${admin}` } });
  expect(res.status).toBe(200);
  return (await res.json()) as { calls: unknown };
}

async function close(h: Harness): Promise<void> {
  open.splice(open.indexOf(h), 1);
  await h.close();
}

test('a caller filed under key A is found and erased after a restart with SUBJECT_KEY=B,A, with a call filed under B since, each call once', async () => {
  const keyPrefix = uniquePrefix('subject-ring');
  const vaultKeys = generateKeyRingText('k1');
  const first = await instance(keyPrefix, vaultKeys, A);
  const before = await call(first);
  const underA = first.app.services.keys.subject(first.app.services.subjectHash(WEBHOOK_CALLER));
  expect(await redis.smembers(underA)).toEqual([before]);
  await close(first);

  const second = await instance(keyPrefix, vaultKeys, `${B},${A}`);
  const after = await call(second);
  // the webhook files the new call under B alone
  const underB = second.app.services.keys.subject(second.app.services.subjectHash(WEBHOOK_CALLER));
  expect(underB).not.toBe(underA);
  expect(await redis.smembers(underB)).toEqual([after]);
  expect(await redis.smembers(underA)).toEqual([before]);

  const access = (await subjectRequest(second, 'GET')) as { calls: { callSid: string }[] };
  expect(access.calls.map((c) => c.callSid).sort()).toEqual([before, after].sort());

  const receipt = (await subjectRequest(second, 'DELETE')) as { calls: number };
  expect(receipt.calls).toBe(2);
  // both records gone, and the caller's entries under every key of the ring
  expect(await second.app.services.calls.get(before)).toBeNull();
  expect(await second.app.services.calls.get(after)).toBeNull();
  expect(await redis.exists(underA, underB)).toBe(0);
  expect(((await subjectRequest(second, 'GET')) as { calls: unknown[] }).calls).toEqual([]);
});

test('a caller filed with no SUBJECT_KEY (the key derived from AGENT_JWT_SECRET) is found and erased once SUBJECT_KEY is set', async () => {
  const keyPrefix = uniquePrefix('subject-ring-set');
  const vaultKeys = generateKeyRingText('k1');
  const first = await instance(keyPrefix, vaultKeys, '');
  expect(first.config.subjectKeys).toBeUndefined();
  const before = await call(first);
  const derived = first.app.services.keys.subject(first.app.services.subjectHash(WEBHOOK_CALLER));
  expect(await redis.smembers(derived)).toEqual([before]);
  await close(first);

  const second = await instance(keyPrefix, vaultKeys, A);
  // SUBJECT_KEY now files new calls: the derived key is looked up, never written
  expect(second.app.services.keys.subject(second.app.services.subjectHash(WEBHOOK_CALLER))).not.toBe(derived);
  const access = (await subjectRequest(second, 'GET')) as { calls: { callSid: string }[] };
  expect(access.calls.map((c) => c.callSid)).toEqual([before]);

  const receipt = (await subjectRequest(second, 'DELETE')) as { calls: number };
  expect(receipt.calls).toBe(1);
  expect(await second.app.services.calls.get(before)).toBeNull();
  expect(await redis.exists(derived)).toBe(0);
});

test('while the ring is rotated, an erasure running on an instance of the old ring (A) refuses one on the new (B,A), and the new leaves no lock behind', async () => {
  const keyPrefix = uniquePrefix('subject-ring-lock');
  const vaultKeys = generateKeyRingText('k1');
  const old = await instance(keyPrefix, vaultKeys, A);
  await call(old);
  // the old instance's erasure holds its lock, under the caller's digest by A, its only key
  const oldLock = old.app.services.keys.erasure(old.app.services.subjectHash(WEBHOOK_CALLER));
  const rotated = await instance(keyPrefix, vaultKeys, `${B},${A}`);
  const newLock = rotated.app.services.keys.erasure(rotated.app.services.subjectHash(WEBHOOK_CALLER));
  expect(newLock).not.toBe(oldLock);
  await redis.set(oldLock, 'running', 'EX', 60);
  const admin = new TokenAuth(rotated.config.agentJwtSecret).sign({ sub: 'dpo', endpoint: 'client:dpo', role: 'admin' });
  const res = await fetch(`${rotated.url}/v1/subjects/${encodeURIComponent(WEBHOOK_CALLER)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${admin}` },
  });
  expect(res.status).toBe(409);
  expect(await redis.exists(newLock)).toBe(0);
  // the old one done, the new one runs
  await redis.del(oldLock);
  expect(((await subjectRequest(rotated, 'DELETE')) as { calls: number }).calls).toBe(1);
});
