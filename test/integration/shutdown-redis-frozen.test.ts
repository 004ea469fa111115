/**
 * SIGTERM to the process as deployed (`src/server.ts`) with Redis frozen (it takes commands and
 * answers none) and SHUTDOWN_DRAIN_MS at its most (8 s), which leaves the close about 1 s of the
 * 10 s: the close leaves the bus's channels (instance commands, requests, replies; the agent
 * socket's events and sessions), each UNSUBSCRIBE within the store's 500 ms command bound and all
 * of them at once, what went unanswered noted once for each group, and the process exits 0.
 * Before, each waited on ioredis's 5 s backstop, one after another (and, bounded, LiveCalls'
 * and the agent socket's still came one after the other, 1 s): the close ran past its time and
 * the process exited 1, the close abandoned.
 */
import { logLines } from '../support/held-on-spawned';
import { spawnedPairSuite } from '../support/spawned-pair';

const pair = spawnedPairSuite();

it('SIGTERM with Redis frozen and the longest drain: the channels left within the store bound, together, noted once, exit 0', async () => {
  const started = await pair.start({ publicUrl: 'https://ivr.redis-frozen.test', logLevel: 'info', aEnv: { SHUTDOWN_DRAIN_MS: '8000' } });
  const { a: child, exited, redis } = started;

  redis.freeze();
  try {
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  } finally {
    redis.thaw();
  }
  const logged = logLines(started.output);
  expect(started.output).not.toContain('shutdown step did not end in its time');
  // each group of channels noted once, as unanswered within the store's bound
  for (const msg of [
    'bus unsubscribes not answered on shutdown: left to the connection close',
    'agent socket unsubscribes not answered on shutdown: left to the connection close',
  ]) {
    const lines = logged.filter((l) => l.msg === msg);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 40,
      err: { code: 'TW_ERR_STORE_UNAVAILABLE', message: 'the store is unreachable: Redis did not answer within 500 ms' },
    });
    expect(lines[0].failed).toBeGreaterThanOrEqual(1);
  }
  expect(logged.at(-1)).toMatchObject({ msg: 'shutdown: exiting', code: 0 });
}, 90_000);
