/**
 * The Redis store's pub/sub when its Redis goes and comes back (a private redis-server, stopped
 * and started again empty): a subscription made before is made again by the client, and one
 * refused while Redis was away is refused, not recorded as live, so asking again subscribes. An
 * unsubscribe Redis does not answer fails within the store's command bound, as every command.
 */
import { waitFor } from '../../support/harness';
import { RedisStore } from '../../../src/store';
import { privateRedisStore } from '../../support/private-redis';

const s = privateRedisStore();

/** Redis answering again, to this store's commands and its subscriber's */
const back = () =>
  waitFor(
    () =>
      s.store.ping().then(
        () => true,
        () => false,
      ),
    'the store to answer again',
    10_000,
  );

/** publishes on `channel` until `got` holds a message (a subscription may be made again a moment after the client is) */
async function heard(channel: string, got: string[]): Promise<void> {
  await waitFor(
    async () => {
      await s.store.publish(channel, 'm').catch(() => undefined);
      return got.length > 0;
      // as long as the file's other waits on a Redis coming back: the clean-clone CI on f06e25c, its two workers busy, outlasted 5 s
    },
    `a message on ${channel}`,
    10_000,
  );
}

test('a subscription made before Redis restarted empty hears messages after it', async () => {
  const got: string[] = [];
  await s.store.subscribe('ps:before', (m) => got.push(m));
  // the subscriber's connection made first: a channel subscribed after the restart is on it
  await s.redis.stop();
  await s.redis.up();
  await back();
  await heard('ps:before', got);
});

test('a subscription refused while Redis is away is made when asked again, once it is back', async () => {
  const got: string[] = [];
  await s.store.subscribe('ps:other', () => undefined);
  await s.redis.stop();
  await expect(s.store.subscribe('ps:refused', (m) => got.push(m))).rejects.toMatchObject({ code: 'TW_ERR_STORE_UNAVAILABLE' });
  await s.redis.up();
  await back();
  // its subscriber connection comes back on its own time: asked until it takes the subscription
  await waitFor(
    () =>
      s.store
        .subscribe('ps:refused', (m) => got.push(m))
        .then(
          () => true,
          () => false,
        ),
    'the subscription',
    10_000,
  );
  await heard('ps:refused', got);
});

test('two subscriptions asked at once on a store whose subscriber connection is not made yet are both made', async () => {
  const store = new RedisStore(s.redis.url);
  try {
    await store.connect();
    const got: string[] = [];
    await Promise.all([store.subscribe('ps:first', (m) => got.push(`first ${m}`)), store.subscribe('ps:second', (m) => got.push(`second ${m}`))]);
    await waitFor(
      async () => {
        await store.publish('ps:first', 'm');
        await store.publish('ps:second', 'm');
        return got.includes('first m') && got.includes('second m');
      },
      'a message on each channel',
      10_000,
    );
  } finally {
    await store.close();
  }
});

test("an unsubscribe Redis does not answer fails within the store's bound, not after ioredis's 5 s backstop, unnoted", async () => {
  const store = new RedisStore(s.redis.url);
  try {
    await store.connect();
    const unsubscribe = await store.subscribe('ps:frozen', () => undefined);
    s.redis.freeze();
    try {
      // a failure the caller can note (a stopping instance logs it once); before, it waited 5 s and said nothing
      await expect(unsubscribe()).rejects.toMatchObject({
        code: 'TW_ERR_STORE_UNAVAILABLE',
        message: 'the store is unreachable: Redis did not answer within 500 ms',
      });
    } finally {
      s.redis.thaw();
    }
  } finally {
    await store.close();
  }
  await back();
});
