/**
 * Per-client-IP rate limiting of what people reach (issue 11): the agent API, the agent panel and
 * its WebSocket, and the admin routes (privacy, audit). Twilio's webhooks and media streams stay
 * unlimited: every one is signed, and a limit there would drop a caller's call. The count lives
 * in Redis when the store is Redis (every instance shares it), else in process memory. The
 * client IP is the peer's, or the one a TRUST_PROXY address forwarded.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Errors } from '../errors';
import { RedisStore, type Store } from '../store';

const WINDOW_MS = 60_000;

/** the paths a person (agent, supervisor, admin) calls; everything else is Twilio or probes */
const LIMITED = /^\/(v1\/|agent(\/|\?|$))/;

export function isRateLimited(url: string): boolean {
  return LIMITED.test(url);
}

export async function registerRateLimit(app: FastifyInstance, d: { store: Store; keyPrefix: string; maxPerMinute: number }): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: d.maxPerMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (req: FastifyRequest) => req.ip,
    allowList: (req: FastifyRequest) => !isRateLimited(req.url),
    ...(d.store instanceof RedisStore ? { redis: d.store.client, nameSpace: `${d.keyPrefix}ratelimit:` } : {}),
    // a store outage shows on the API's own reads; the limiter does not turn it into refusals
    skipOnError: true,
    errorResponseBuilder: () => Errors.rateLimited(),
  });
}
