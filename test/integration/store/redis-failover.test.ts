/**
 * A Redis failover behind one endpoint (a DNS name or a virtual IP, here a TCP proxy): the
 * replica is promoted, the old primary demoted to its replica, and the endpoint moved. The
 * connections made before stay with the old primary, which now answers every write READONLY;
 * they must be given up for the endpoint's new primary, or the instance apologises to every
 * caller until it is restarted, while its pings (which a replica answers) say it is ready.
 */
import Redis from 'ioredis';
import { RedisStore } from '../../../src/store';
import { ACCOUNT_SID, SUPPORT_NUMBER, startHarness, waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';
import { uniquePrefix } from '../../support/redis';
import { TcpProxy } from '../../support/tcp-proxy';

let primary: PrivateRedis;
let replica: PrivateRedis;
let proxy: TcpProxy;
beforeEach(async () => {
  [primary, replica] = await Promise.all([PrivateRedis.start(), PrivateRedis.start()]);
  // replication straight from memory to memory: no dump.rdb written where the test runs, no 5 s wait
  for (const r of [primary, replica])
    await admin(r, async (c) => {
      await c.config('SET', 'repl-diskless-sync-delay', '0');
      await c.config('SET', 'repl-diskless-load', 'swapdb');
    });
  await admin(replica, (r) => r.replicaof('127.0.0.1', String(primary.port)));
  proxy = await TcpProxy.start(primary.port);
});
afterEach(async () => {
  await proxy?.close();
  await primary?.close();
  await replica?.close();
});

async function admin<T>(redis: PrivateRedis, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis(redis.url);
  try {
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** the replica promoted, the old primary its replica now, the endpoint moved to the new primary */
async function failover(): Promise<void> {
  await admin(replica, (r) => r.replicaof('NO', 'ONE'));
  await admin(primary, (r) => r.replicaof('127.0.0.1', String(replica.port)));
  proxy.target = replica.port;
}

test('the store gives up a connection its Redis answers READONLY and writes to the endpoint’s new primary', async () => {
  const store = new RedisStore(proxy.url);
  await store.connect();
  try {
    await store.set('fo:a', '1', 60);
    await waitFor(() => admin(replica, (r) => r.get('fo:a')), 'the write to reach the replica');
    await failover();
    // the write that meets the demoted primary fails, as an outage does (the caller's apology)
    await expect(store.set('fo:b', '2', 60)).rejects.toMatchObject({ code: 'TW_ERR_STORE_UNAVAILABLE' });
    // and the ones after it reach the new primary
    await waitFor(
      () =>
        store.claimField('fo:c', 'f', '1', 60).then(
          () => true,
          () => false,
        ),
      'a write to succeed after the failover',
      10_000,
    );
    expect(await admin(replica, (r) => r.get('fo:a'))).toBe('1');
    expect(await admin(replica, (r) => r.get('fo:c'))).toBe('{"f":1}');
  } finally {
    await store.close();
  }
}, 30_000);

test('with no write meanwhile, the store is not ready while its connection is on the demoted primary, and its ping moves it to the new one', async () => {
  const store = new RedisStore(proxy.url);
  await store.connect();
  try {
    await store.set('fo:d', '1', 60);
    await failover();
    // a replica answers PING: the ping asks the role, and a replica is not ready
    await expect(store.ping()).rejects.toMatchObject({ code: 'TW_ERR_STORE_UNAVAILABLE' });
    await waitFor(
      () =>
        store.ping().then(
          () => true,
          () => false,
        ),
      'the store ready again',
      10_000,
    );
    // on the new primary already: the first write after is taken
    await store.set('fo:e', '2', 60);
    expect(await admin(replica, (r) => r.get('fo:e'))).toBe('2');
  } finally {
    await store.close();
  }
}, 30_000);

test('a user Redis refuses HELLO (an ACL without it) is pinged: ready on a primary', async () => {
  await admin(primary, (r) => r.call('ACL', 'SETUSER', 'nohello', 'on', '>nohello-password-0123', '~*', '&*', '+@all', '-hello'));
  const store = new RedisStore(`redis://nohello:nohello-password-0123@127.0.0.1:${proxy.port}`);
  await store.connect();
  try {
    await expect(store.ping()).resolves.toBeUndefined();
  } finally {
    await store.close();
  }
});

test('calls after the failover reach their flow again, without a restart', async () => {
  const h = await startHarness({ env: { REDIS_URL: proxy.url }, keyPrefix: uniquePrefix('failover') });
  const params = (n: number) => ({
    AccountSid: ACCOUNT_SID,
    ApiVersion: '2010-04-01',
    CallSid: 'CA' + String(n).padStart(32, '0'),
    CallStatus: 'ringing',
    Direction: 'inbound',
    From: '+15557654321',
    To: SUPPORT_NUMBER,
  });
  try {
    expect((await h.emulator.signedPost(h.voiceUrl, params(1))).body).toContain('<Gather');
    await failover();
    // the first call may meet the demoted primary: the apology, not dead air
    const first = await h.emulator.signedPost(h.voiceUrl, params(2));
    expect(first.status).toBe(200);
    expect(first.body).toMatch(/<Gather|sorry/i);
    let n = 3;
    await waitFor(async () => (await h.emulator.signedPost(h.voiceUrl, params(n++))).body.includes('<Gather'), 'a call to reach its flow', 10_000);
  } finally {
    await h.close();
  }
}, 30_000);
