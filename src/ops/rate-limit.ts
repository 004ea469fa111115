/**
 * Per-client-IP rate limiting of what people reach (issue 11): the agent API, the agent panel and
 * its WebSocket, and the admin routes (privacy, audit). Twilio's webhooks and media streams stay
 * unlimited: every one is signed, and a limit there would drop a caller's call. A request for no
 * route counts too, so that a client probing paths is limited like one calling the API. The count lives
 * in Redis when the store is Redis (every instance shares it), else in process memory. The
 * client IP is the peer's, or the one a TRUST_PROXY address forwarded.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, preHandlerHookHandler } from 'fastify';
import { Errors } from '../errors';
import { RedisStore, type Store } from '../store';

const WINDOW_MS = 60_000;

/** the paths a person (agent, supervisor, admin) calls; everything else is Twilio or probes */
const LIMITED = /^\/(v1\/|agent(\/|\?|$))/;

/**
 * Whether a request is a person's, decided on the route it matched (its pattern, `/v1/calls/:callSid`):
 * the router reads the URL as sent more loosely than a pattern on it could (`/%761/calls` and
 * `http://host/v1/calls` are GET /v1/calls), and such a spelling went unlimited and unlogged. A
 * request that matched no route has only its URL as sent; the not-found handler counts it
 * (notFoundRateLimit) and logs it as 'route not found' with its client's address.
 */
export function isRateLimited(req: FastifyRequest): boolean {
  return LIMITED.test(req.routeOptions.url ?? req.url);
}

export async function registerRateLimit(app: FastifyInstance, d: { store: Store; keyPrefix: string; maxPerMinute: number }): Promise<void> {
  await app.register(rateLimit, {
    global: true,
    max: d.maxPerMinute,
    timeWindow: WINDOW_MS,
    keyGenerator: (req: FastifyRequest) => req.ip,
    // a request for no route reaches the limiter only through the not-found handler (notFoundRateLimit): counted
    allowList: (req: FastifyRequest) => req.routeOptions.url !== undefined && !isRateLimited(req),
    ...(d.store instanceof RedisStore ? { redis: d.store.client, nameSpace: `${d.keyPrefix}ratelimit:` } : {}),
    // a store outage shows on the API's own reads; the limiter does not turn it into refusals
    skipOnError: true,
    errorResponseBuilder: () => Errors.rateLimited(),
  });
}

/**
 * The limit for requests that match no route (the not-found handler's preHandler): a 404 has no
 * route hooks, so the global limit never sees one; this counts it in the agent API's per-IP count.
 */
export function notFoundRateLimit(app: FastifyInstance): preHandlerHookHandler {
  return app.rateLimit();
}
