/**
 * The call's capture lock (captures/records.ts) on both stores. A capture's end releases it only
 * if the capture still holds it (unlockIf): the lock may have expired (150 s after the capture
 * started) and been taken by the call's next capture while the end was under way. Read and then
 * deleted in two steps, the release could read its own capture's id, the lock expire and the next
 * capture take it, and then delete the next capture's lock: a third capture could start alongside
 * the second, and the recording resume under it.
 */
import { CaptureRecords } from '../../src/captures';
import { EmbeddedStore, RedisStore, makeKeys, type Keys, type Store } from '../../src/store';
import { redisUrl, scanRedis, uniquePrefix } from '../support/redis';

const SID = 'CA' + '1'.repeat(32);
const LOCK_SECONDS = 150;

interface Made {
  store: Store;
  keys: Keys;
  /** the first capture's lock gone as its expiry takes it, in the same turn of the event loop as the call */
  expire: () => void;
  done: () => Promise<void>;
}

const makers: [string, () => Promise<Made>][] = [
  [
    'embedded',
    async () => {
      // its own clock: the lock expires when the test says, and lazily, at the next capture's take
      let now = Date.now();
      const store = new EmbeddedStore(() => now);
      return { store, keys: makeKeys('t:'), expire: () => void (now += (LOCK_SECONDS + 1) * 1000), done: () => store.close() };
    },
  ],
  [
    'redis',
    async () => {
      const store = new RedisStore(redisUrl());
      await store.connect();
      const prefix = uniquePrefix('capture-lock');
      const keys = makeKeys(prefix);
      return {
        store,
        keys,
        // a DEL in Redis's order of commands where its expiry would be: sent in the same turn as
        // the release's first command and the next capture's take, Redis runs the three in the order sent
        expire: () => void store.del(keys.captureLock(SID)),
        done: async () => {
          expect((await scanRedis(prefix)).filter((k) => k.ttl < 0)).toEqual([]);
          await store.close();
        },
      };
    },
  ],
];

describe.each(makers)('capture lock: %s store', (_name, make) => {
  let m: Made;
  let records: CaptureRecords;
  beforeEach(async () => {
    m = await make();
    records = new CaptureRecords(m.store, m.keys);
  });
  afterEach(() => m.done());

  test("a capture's release of its lock, as the lock expires and the next capture takes it, leaves the next capture its lock", async () => {
    expect(await records.lock(SID, 'cap_first', LOCK_SECONDS)).toBe(true);
    // the first capture's end releases its lock; meanwhile the lock expires and the next capture takes it
    const releasing = records.unlockIf(SID, 'cap_first');
    m.expire();
    const next = records.lock(SID, 'cap_next', LOCK_SECONDS);
    await releasing;
    expect(await next).toBe(true);
    expect(await records.holder(SID)).toBe('cap_next');
    // so a third capture is refused while the next one runs
    expect(await records.lock(SID, 'cap_third', LOCK_SECONDS)).toBe(false);
    expect(await records.unlockIf(SID, 'cap_next')).toBe(true);
    expect(await records.holder(SID)).toBeNull();
  });

  test('a release by a capture that no longer holds the lock leaves it to the one that does', async () => {
    expect(await records.lock(SID, 'cap_next', LOCK_SECONDS)).toBe(true);
    expect(await records.unlockIf(SID, 'cap_first')).toBe(false);
    expect(await records.holder(SID)).toBe('cap_next');
    await records.unlockIf(SID, 'cap_next');
  });
});
