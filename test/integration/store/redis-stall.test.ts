/**
 * A stall of this process is not an outage of Redis (store/redis.ts `answered`). On a busy host
 * the process may not run for a while, or a long GC may hold its loop; the answer Redis sent in
 * time then waits in the socket, and a command timer that fires before the loop reads it (as
 * ioredis's own does, in the timers phase) would fail the command: a false "store unreachable",
 * an apology to the caller. And a Redis that truly answers nothing still fails within the bound.
 * A private redis-server, frozen with SIGSTOP for the second case.
 */
import { RedisStore } from '../../../src/store';
import { privateRedisStore } from '../../support/private-redis';

/** holds this process's event loop, as a stall of the host or a long GC would */
function stall(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    // busy on purpose
  }
}

const s = privateRedisStore();

test('answers Redis gave while the process stalled past the command bound are read, not failed', async () => {
  await s.store.set('stall:a', 'x', 60);
  for (let i = 0; i < 5; i++) {
    const replies = [s.store.get('stall:a'), s.store.update('stall:b', (cur) => String(Number(cur ?? 0) + 1), 60), s.store.ping()];
    // the commands leave on the next turn; Redis answers within a millisecond; the loop is held for 800 ms
    setImmediate(() => stall(800));
    await expect(Promise.all(replies)).resolves.toEqual(['x', String(i + 1), undefined]);
  }
});

test('a Redis that answers nothing still fails the command within the bound and a turn', async () => {
  s.redis.freeze();
  try {
    const began = Date.now();
    await expect(s.store.get('stall:a')).rejects.toMatchObject({ code: 'TW_ERR_STORE_UNAVAILABLE' });
    // well before ioredis's own backstop (5 s): the store's bound ended it
    expect(Date.now() - began).toBeLessThan(2_000);
  } finally {
    s.redis.thaw();
  }
  await expect(s.store.get('stall:a')).resolves.toBe('x');
});

test("a store given a longer bound (commandTimeoutMs) waits that long for Redis, not the default's 500 ms", async () => {
  // a bound of 3 s (test/integration/ivr.test.ts's 50 calls ask for it): a Redis that holds every
  // command for 800 ms (CLIENT PAUSE, as a Redis busy with a slow command) answers within it
  const patient = new RedisStore(s.redis.url, { commandTimeoutMs: 3_000 });
  const admin = new RedisStore(s.redis.url);
  await Promise.all([patient.connect(), admin.connect()]);
  try {
    await patient.set('stall:c', 'y', 60);
    await admin.client.call('CLIENT', 'PAUSE', '800', 'ALL');
    await expect(patient.get('stall:c')).resolves.toBe('y');
  } finally {
    await patient.close();
    await admin.close();
  }
});
