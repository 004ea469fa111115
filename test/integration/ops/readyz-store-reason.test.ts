/**
 * /readyz says which store outage it is. A Redis whose password changed under the running service
 * answers every reconnection WRONGPASS, and the client refuses each command with its own words
 * ("Stream isn't writeable"), so readiness said only `unreachable`, as for a Redis down: the
 * operator could not tell a rotated password from a network fault. The password never shows.
 */
import Redis from 'ioredis';
import { buildInjectedApp, type InjectedApp } from '../../support/app';
import { waitFor } from '../../support/harness';
import { PrivateRedis } from '../../support/private-redis';

const PASSWORD = 'the-deployed-redis-password-0123';
const ROTATED = 'a-rotated-redis-password-98765';

let redis: PrivateRedis;
let t: InjectedApp;
beforeAll(async () => {
  redis = await PrivateRedis.start({ password: PASSWORD });
  t = await buildInjectedApp({ REDIS_URL: `redis://:${PASSWORD}@127.0.0.1:${redis.port}` });
});
afterAll(async () => {
  await t?.close();
  await redis?.close();
});

async function readiness(): Promise<{ status: number; store: string }> {
  const res = await t.inject({ method: 'GET', url: '/readyz' });
  return { status: res.statusCode, store: (res.json() as { checks: { store: string } }).checks.store };
}

/** Redis's password set to `to`, every client's connection ended so each authenticates again */
async function rotate(from: string, to: string): Promise<void> {
  const admin = new Redis({ port: redis.port, password: from, lazyConnect: true });
  await admin.connect();
  await admin.config('SET', 'requirepass', to);
  await admin.client('KILL', 'TYPE', 'normal');
  admin.disconnect();
}

test('a password changed under the running service: not ready, naming the refused authentication and REDIS_URL; ready again once it matches', async () => {
  expect((await readiness()).status).toBe(200);
  await rotate(PASSWORD, ROTATED);
  const refused = await waitFor(
    async () => {
      const r = await readiness();
      return r.status === 503 && r.store.includes('authentication') ? r : undefined;
    },
    'readiness naming the refused password',
    10_000,
  );
  expect(refused.store).toBe('unreachable: authentication refused (WRONGPASS): check the password in REDIS_URL');
  expect(JSON.stringify(refused)).not.toContain(PASSWORD);

  await rotate(ROTATED, PASSWORD);
  await waitFor(async () => (await readiness()).status === 200, 'ready again', 15_000);
  expect((await readiness()).store).toBe('ok');
});

test('Redis down: not ready, the connection refused', async () => {
  await redis.stop();
  const down = await waitFor(
    async () => {
      const r = await readiness();
      // once the client has tried again (until then a command meets only its own refusal while it reconnects)
      return r.status === 503 && r.store === 'unreachable: connection refused' ? r : undefined;
    },
    'not ready, the connection refused',
    10_000,
  );
  expect(down.store).not.toContain('authentication');
  await redis.up();
  await waitFor(async () => (await readiness()).status === 200, 'ready again', 15_000);
});
