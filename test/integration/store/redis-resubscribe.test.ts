/**
 * The subscriber connection's channels are subscribed again after a reconnect by the store, not
 * by ioredis's own resubscribe, whose SUBSCRIBE promise nothing handles: a Redis that goes away
 * again just as it answered the reconnect's ready check (its reply and its FIN together, here
 * through a TCP proxy) rejected it, and the unhandled rejection ended the process (Node's
 * default), every instance at once as Redis flapped. Seen in a CI run, a store-outage test.
 */
import { RedisStore } from '../../../src/store';
import { waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { TcpProxy } from '../../support/tcp-proxy';

let redis: PrivateRedis;
let proxy: TcpProxy;
let store: RedisStore | undefined;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  redis = await PrivateRedis.start();
  proxy = await TcpProxy.start(redis.port);
  process.on('unhandledRejection', onUnhandled);
});

afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await store?.close();
  await proxy?.close();
  await redis?.close();
});

test('a reconnect cut off just after its ready check leaves no unhandled rejection, and the channel is heard once Redis stays', async () => {
  store = new RedisStore(proxy.url);
  const got: string[] = [];
  await store.subscribe('rs:chan', (m) => got.push(m));

  // every reconnect's ready check (INFO) answered, and the connection ended with the answer
  let cuts = 0;
  proxy.cutAfter = (reply) => reply.includes('redis_version') && ++cuts > 0;
  proxy.dropAll();
  await waitFor(() => cuts >= 4, 'reconnects cut off after their ready check', 15_000);
  proxy.cutAfter = undefined;

  // Redis stays: the channel is subscribed again, and heard
  await waitFor(
    async () => {
      await store!.publish('rs:chan', 'm').catch(() => undefined);
      return got.length > 0;
    },
    'a message on the channel after the reconnects',
    15_000,
  );
  expect(unhandled).toEqual([]);
}, 40_000);
