/**
 * An erasure asked for long after the call (docs/contract.md §7): a caller's recordings at Twilio
 * live there until deleted, while everything the call left in the store but its audit trail is gone
 * within hours. With ERASE_RECORDINGS the caller's link to the call (the subject index entry: an
 * HMAC of the caller and the call's SID) lives as long as the trail that names the recordings
 * (AUDIT_RETENTION_DAYS), so the erasure still finds the call, deletes its recordings and removes the
 * link, and access reports them meanwhile. Without it the index expires with the call's other
 * data, as before, and nothing is found.
 *
 * A year passes as time would make it pass: every key of the call's that lives less than a year
 * is expired (Redis PEXPIRE), as long-vault-ttl.test.ts does with five hours. Real app, real
 * Redis, the project's Twilio emulator, whose Recording resource is deleted as Twilio's is.
 */
import Redis from 'ioredis';
import { CALL_TTL_SECONDS } from '../../../src/calls/session';
import { CALLER, token } from '../../support/agents';
import { fetchedRecording, startHarness, waitFor, type Harness } from '../../support/harness';
import { redisUrl } from '../../support/redis';

const IVR_NUMBER = '+15005550128';
const YEAR_SECONDS = 365 * 86400;
/** AUDIT_RETENTION_DAYS' default, how long the call's trail lives past its last entry */
const AUDIT_RETENTION_SECONDS = 400 * 86400;

const flows = { ivr: `id: ivr\nnumbers: ["${IVR_NUMBER}"]\nrecord: true\nsteps:\n  - say: "Welcome."\nhandoff:\n  mode: dial\n  to: "client:alice"\n` };

const fetched = fetchedRecording;

/** a recorded call of the caller's, over, its recording processed: its SID, the recording's and the caller's subject index key */
async function recordedCall(h: Harness): Promise<{ callSid: string; recordingSid: string; subjectKey: string }> {
  const { calls, keys } = h.app.services;
  const c = await h.emulator.placeCall({ from: CALLER, to: IVR_NUMBER, voiceUrl: h.voiceUrl, statusCallback: h.statusUrl });
  await waitFor(async () => (await calls.get(c.sid))?.recording.sid, "the call's recording");
  await c.hangup();
  await c.ended;
  await waitFor(() => c.recordings[0]?.processed, 'the recording processed');
  await waitFor(async () => (await calls.get(c.sid))?.state === 'ended', 'the end of the call');
  const session = (await calls.get(c.sid))!;
  expect(c.recordings).toHaveLength(1);
  return { callSid: c.sid, recordingSid: c.recordings[0].sid, subjectKey: keys.subject(session.subject!) };
}

/** a year on: every key of the harness's that lives less than a year expires (its audit trails, AUDIT_RETENTION_DAYS, are left) */
async function aYearOn(h: Harness, redis: Redis): Promise<string[]> {
  const left: string[] = [];
  for (const { key } of await h.scan()) {
    if ((await redis.ttl(key)) > YEAR_SECONDS) left.push(key);
    else await redis.pexpire(key, 1);
  }
  await waitFor(async () => {
    for (const { key } of await h.scan()) if (!left.includes(key)) return false;
    return true;
  }, 'the shorter-lived keys expired');
  return left;
}

async function accessed(h: Harness): Promise<{ status: number; body: { subject: string; calls: Record<string, unknown>[] } }> {
  const res = await fetch(`${h.url}/v1/subjects/${encodeURIComponent(CALLER)}`, { headers: { authorization: `Bearer ${token(h, 'dpo', 'admin')}` } });
  return { status: res.status, body: (await res.json()) as { subject: string; calls: Record<string, unknown>[] } };
}

describe('ERASE_RECORDINGS=true: an erasure a year after the call', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness({ flows, env: { ERASE_RECORDINGS: 'true' } });
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await h.close();
  });

  test("the caller's link to the call lives as long as its trail: access reports the recordings, the erasure deletes them at Twilio and removes the link", async () => {
    const { keys, audit } = h.app.services;
    const { callSid, recordingSid, subjectKey } = await recordedCall(h);

    // the link lives as long as the trail that names the recording, no longer
    const indexTtl = await redis.ttl(subjectKey);
    expect(indexTtl).toBeGreaterThan(YEAR_SECONDS);
    expect(indexTtl).toBeLessThanOrEqual(AUDIT_RETENTION_SECONDS);
    expect(await redis.ttl(keys.audit(callSid))).toBeGreaterThanOrEqual(indexTtl);

    // a year on, the trail and the link are all that is left of the call (the audit-day index besides)
    const left = await aYearOn(h, redis);
    expect(left.filter((key) => !key.startsWith(keys.auditDay(''))).sort()).toEqual([keys.audit(callSid), subjectKey].sort());
    // the link holds the caller's HMAC and the call's SID, nothing of the caller in plain
    expect(await redis.smembers(subjectKey)).toEqual([callSid]);
    expect(subjectKey).not.toContain(CALLER.slice(1));
    expect(await fetched(h, recordingSid)).toBe(200);

    // access reports the call by its link, with the recording its trail names: held at Twilio for the operator
    const access = await accessed(h);
    expect(access.status).toBe(200);
    expect(access.body.calls).toEqual([
      {
        callSid,
        createdAt: expect.any(String),
        state: 'expired',
        fields: {},
        values: 0,
        recordings: [{ of: 'call', sids: [recordingSid] }],
        audit: expect.any(Array),
      },
    ]);

    // the erasure finds it, deletes the recording at Twilio and says so, as for a call erased the same day
    const receipt = await h.app.services.privacy.erase(CALLER);
    expect(receipt).toMatchObject({ calls: 1, values: 0, deliveriesCancelled: 0 });
    expect(receipt.recordings).toEqual([{ callSid, recordingSid, status: 'deleted' }]);
    expect(await fetched(h, recordingSid)).toBe(404);
    expect((await audit.list(callSid)).find((e) => e.type === 'subject.erased')).toMatchObject({ recordingsDeleted: recordingSid });

    // and the link is gone: nothing but the trail names the call
    expect(await redis.exists(subjectKey)).toBe(0);
    const named = (await h.scan()).filter(({ key, content }) => `${key}\n${content}`.includes(callSid));
    expect(named.map(({ key }) => key).filter((key) => key !== keys.audit(callSid) && !key.startsWith(keys.auditDay('')))).toEqual([]);
    expect((await accessed(h)).body.calls).toEqual([]);
  }, 60_000);
});

describe('ERASE_RECORDINGS unset: the index expires with the call as before', () => {
  let h: Harness;
  let redis: Redis;
  beforeAll(async () => {
    h = await startHarness({ flows });
    redis = new Redis(redisUrl());
  });
  afterAll(async () => {
    redis.disconnect();
    await h.close();
  });

  test('the link lives no longer than the call record; a year on nothing is found and the recording is left at Twilio', async () => {
    const { callSid, recordingSid, subjectKey } = await recordedCall(h);
    // the call record's 4 hours (VAULT_TTL_SECONDS is shorter here): not the trail's retention
    const indexTtl = await redis.ttl(subjectKey);
    expect(indexTtl).toBeGreaterThan(CALL_TTL_SECONDS - 60);
    expect(indexTtl).toBeLessThanOrEqual(CALL_TTL_SECONDS);

    const left = await aYearOn(h, redis);
    expect(left).not.toContain(subjectKey);
    expect(left).toContain(h.app.services.keys.audit(callSid));

    expect((await accessed(h)).body.calls).toEqual([]);
    const receipt = await h.app.services.privacy.erase(CALLER);
    expect(receipt).toMatchObject({ calls: 0, values: 0 });
    expect(receipt.recordings).toBeUndefined();
    expect(await fetched(h, recordingSid)).toBe(200);
    expect(h.emulator.timeline.filter((e) => e.type === 'rest' && e.method === 'DELETE')).toEqual([]);
  }, 60_000);
});
