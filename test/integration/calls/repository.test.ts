/**
 * The call repository on a real Redis: an update based on a session read earlier goes straight
 * to compare-and-set with what was read, and a change made in between is neither lost nor
 * overwritten; every write of a record renews its subject index entry's TTL with its own.
 */
import Redis from 'ioredis';
import { CallRepository } from '../../../src/calls/repository';
import { CALL_TTL_SECONDS, ENDED_CALL_TTL_SECONDS, type CallSession } from '../../../src/calls/session';
import { makeKeys, RedisStore, type Keys } from '../../../src/store';
import { redisUrl, uniquePrefix } from '../../support/redis';

let store: RedisStore;
beforeAll(async () => {
  store = new RedisStore(redisUrl());
  await store.connect();
});
afterAll(async () => store.close());

const fresh = (callSid: string): CallSession => ({
  callSid,
  accountSid: 'AC' + '0'.repeat(32),
  flowId: 'f',
  to: '+15005550006',
  fromMasked: '+*******4567',
  subject: 's',
  state: 'ivr',
  step: 0,
  attempt: 1,
  recording: { status: 'none' },
  fields: {},
  handoff: { mode: 'bridge' },
  createdAt: 1,
  updatedAt: 1,
});

it('an update on the basis of a stale read still sees, and keeps, what changed since', async () => {
  const calls = new CallRepository(store, makeKeys(uniquePrefix('repo')), { vaultTtlSeconds: 900 });
  const sid = 'CA' + '9'.repeat(32);
  await calls.create(fresh(sid));
  const read = (await calls.get(sid))!;
  // another writer (a status callback) ends the call after our read
  await calls.update(sid, (s) => {
    s.state = 'ended';
  });
  const seen: string[] = [];
  const after = await calls.update(
    sid,
    (s) => {
      seen.push(s.state);
      s.step = 2;
    },
    { basis: read },
  );
  // tried first on what was read ('ivr'), refused, then applied to what is stored
  expect(seen).toEqual(['ivr', 'ended']);
  expect(after).toMatchObject({ state: 'ended', step: 2 });
  expect(await calls.get(sid)).toMatchObject({ state: 'ended', step: 2 });

  // with nothing in between, the read is right the first time
  const again = (await calls.get(sid))!;
  const once: number[] = [];
  await calls.update(sid, (s) => void once.push(s.step), { basis: again });
  expect(once).toEqual([2]);
});

it('readers of the call list at once share loads, each one that started after it asked', async () => {
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  // the store as it is, but a load's read of the index, once made, waits for the gate
  const gated = Object.assign(Object.create(store) as RedisStore, {
    smembers: async (key: string) => {
      loads++;
      const members = await store.smembers(key);
      await gate;
      return members;
    },
  });
  const calls = new CallRepository(gated, makeKeys(uniquePrefix('repo')), { vaultTtlSeconds: 900 });
  const first = 'CA' + '1'.repeat(32);
  const second = 'CA' + '2'.repeat(32);
  await calls.create(fresh(first));

  const early = calls.listFresh();
  await waitForLoads(() => loads === 1);
  // a call created while the first load is under way, then three readers: the first load's
  // answer (read before) would not show it, so they wait for the next, and share it
  await calls.create(fresh(second));
  const late = [calls.listFresh(), calls.listFresh(), calls.listFresh()];
  release();
  const sids = (list: CallSession[]) => list.map((s) => s.callSid).sort();
  expect(sids(await early)).toEqual([first]);
  const answers = await Promise.all(late);
  for (const a of answers) expect(sids(a)).toEqual([first, second]);
  expect(loads).toBe(2);
  // nothing under way: the next reader starts a load of its own
  expect(sids(await calls.listFresh())).toEqual([first, second]);
  expect(loads).toBe(3);
});

describe("a record's subject index entry outlives it, however long the call", () => {
  const sid = 'CA' + '7'.repeat(32);
  let calls: CallRepository;
  let keys: Keys;
  let redis: Redis;
  beforeEach(async () => {
    keys = makeKeys(uniquePrefix('repo'));
    calls = new CallRepository(store, keys, { vaultTtlSeconds: 900 });
    redis = new Redis(redisUrl());
    await calls.create(fresh(sid));
    // hours into a long call: the index's TTL, set at creation, runs out with the record's as it was then
    for (const key of [keys.call(sid), keys.subject('s')]) await redis.expire(key, 600);
  });
  afterEach(() => redis.disconnect());

  /** read one after the other, and a set's TTL grown in whole seconds (store/scripts.ts) */
  const TTL_SLACK_MS = 1_000;
  /** the record's and the index's TTLs (ms) after a write */
  const ttls = async () => ({ record: await redis.pttl(keys.call(sid)), index: await redis.pttl(keys.subject('s')) });

  test('update', async () => {
    await calls.update(sid, (s) => void (s.step = 1));
    const t = await ttls();
    expect(t.record).toBeGreaterThan(CALL_TTL_SECONDS * 1000 - 60_000);
    expect(t.index).toBeGreaterThanOrEqual(t.record - TTL_SLACK_MS);
  });

  test('a webhook write (writeOf, in its own compare-and-set)', async () => {
    const raw = (await redis.get(keys.call(sid)))!;
    const stored = calls.fromStored(raw);
    const { record, ops } = calls.writeOf(raw, stored, { ...stored, step: 1 });
    expect((await store.compareAndSetAll([record!], ops)).ok).toBe(true);
    const t = await ttls();
    expect(t.record).toBeGreaterThan(CALL_TTL_SECONDS * 1000 - 60_000);
    expect(t.index).toBeGreaterThanOrEqual(t.record - TTL_SLACK_MS);
  });

  test('save', async () => {
    await calls.save({ ...fresh(sid), step: 1 });
    const t = await ttls();
    expect(t.record).toBeGreaterThan(CALL_TTL_SECONDS * 1000 - 60_000);
    expect(t.index).toBeGreaterThanOrEqual(t.record - TTL_SLACK_MS);
  });

  test("an ended call's shorter TTL never shortens the index another call of the caller's may need", async () => {
    await calls.update(sid, (s) => void (s.state = 'ended'));
    expect(await redis.pttl(keys.call(sid))).toBeLessThanOrEqual(ENDED_CALL_TTL_SECONDS * 1000);
    expect(await redis.pttl(keys.subject('s'))).toBeGreaterThan(CALL_TTL_SECONDS * 1000 - 60_000);
  });
});

it("with a link TTL (ERASE_RECORDINGS: the audit trail's retention), the subject index lives that long past each write, the record no longer than before", async () => {
  const keys = makeKeys(uniquePrefix('repo'));
  const linkTtlSeconds = 400 * 86400;
  const calls = new CallRepository(store, keys, { vaultTtlSeconds: 900, linkTtlSeconds });
  expect(calls.subjectTtlSeconds).toBe(linkTtlSeconds);
  const sid = 'CA' + '8'.repeat(32);
  const redis = new Redis(redisUrl());
  try {
    await calls.create(fresh(sid));
    expect(await redis.ttl(keys.subject('s'))).toBeGreaterThan(linkTtlSeconds - 60);
    await calls.update(sid, (s) => void (s.state = 'ended'));
    expect(await redis.ttl(keys.call(sid))).toBeLessThanOrEqual(ENDED_CALL_TTL_SECONDS);
    expect(await redis.ttl(keys.subject('s'))).toBeGreaterThan(linkTtlSeconds - 60);
    // one shorter than the call's own data (VAULT_TTL_SECONDS here) is not taken: the index outlives what it leads to
    expect(new CallRepository(store, keys, { vaultTtlSeconds: 86400, linkTtlSeconds: 3600 }).subjectTtlSeconds).toBe(86400);
  } finally {
    redis.disconnect();
  }
});

async function waitForLoads(done: () => boolean): Promise<void> {
  while (!done()) await new Promise((r) => setImmediate(r));
}
