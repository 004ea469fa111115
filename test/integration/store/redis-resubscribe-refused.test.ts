/**
 * A resubscribe Redis refuses with the connection up is tried again. An operator tightening the
 * store user's ACL (channels no longer allowed) ends its subscribed connections; the reconnect's
 * SUBSCRIBE is refused (NOPERM) and the connection stays. Once the ACL is mended, the instance
 * must hear its channels again, not stay deaf to events and commands until some later reconnect.
 */
import Redis from 'ioredis';
import { RedisStore } from '../../../src/store';
import { waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';

let redis: PrivateRedis;
let admin: Redis;
let store: RedisStore | undefined;

beforeAll(async () => {
  redis = await PrivateRedis.start();
  admin = new Redis(redis.url);
  await admin.call('ACL', 'SETUSER', 'tw', 'on', '>tw-password', '~*', '&*', '+@all');
});

afterAll(async () => {
  await store?.close();
  admin?.disconnect();
  await redis?.close();
});

test('a channel whose resubscribe was refused with the connection up is heard once Redis allows it again', async () => {
  store = new RedisStore(`redis://tw:tw-password@127.0.0.1:${redis.port}`);
  const got: string[] = [];
  await store.subscribe('acl:chan', (m) => got.push(m));
  await admin.publish('acl:chan', 'before');
  await waitFor(() => got.includes('before'), 'the message before the ACL change');

  // channels taken from the user: Redis ends its subscribed connection, and the store's
  // reconnect is refused its SUBSCRIBE (NOPERM) on a connection that stays up
  await admin.call('ACL', 'SETUSER', 'tw', 'resetchannels');
  await waitFor(async () => {
    const clients = String(await admin.call('CLIENT', 'LIST'));
    return clients.split('\n').some((l) => l.includes(' user=tw ') && / sub=0 /.test(l) && / cmd=subscribe /.test(l));
  }, 'the reconnected subscriber refused its SUBSCRIBE, its connection up');

  await admin.call('ACL', 'SETUSER', 'tw', 'allchannels');
  await waitFor(
    async () => {
      await admin.publish('acl:chan', 'after');
      return got.includes('after');
    },
    'a message on the channel once the ACL allows it again',
    10_000,
  );
}, 30_000);
