/**
 * Whether a token was signed out is the store's to say (auth/revocations.ts): with the store
 * down, a good token is neither let in nor told it is bad. The API answers 503 (not 200, not
 * 401), and the agent socket closes 1013 (try again: the panel reconnects), not 4401 (which signs
 * the panel out). On a Redis of the test's own, stopped.
 */
import { AgentSocket, api, token } from '../../support/agents';
import { privateRedisHarness } from '../../support/private-redis';

const onRedis = privateRedisHarness();

test('a good token meets a store that cannot answer: 503 on the API, 1013 on the socket', async () => {
  const tok = token(onRedis.h, 'ida');
  expect((await api(onRedis.h, 'GET', '/v1/calls', tok)).status).toBe(200);
  await onRedis.redis.stop();
  const r = await api(onRedis.h, 'GET', '/v1/calls', tok);
  expect([r.status, r.body.error]).toEqual([503, 'TW_ERR_STORE_UNAVAILABLE']);
  const s = await AgentSocket.open(onRedis.h);
  s.send({ type: 'auth', token: tok });
  expect(await s.closed).toEqual({ code: 1013, reason: 'try again later' });
  const line = onRedis.h.logs.lines.find((l) => l.includes('"reason":"store"') && l.includes('agent socket refused'));
  expect(line).toBeDefined();
  expect(line).not.toContain(tok.split('.')[2]);
}, 30_000);
