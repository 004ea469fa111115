import type { FastifyPluginAsync } from 'fastify';
import { timingSafeEqual } from 'node:crypto';
import { Errors } from '../errors';
import type { FlowRegistry } from '../flows/load';
import type { Store } from '../store';
import type { Metrics } from '../metrics';

/** the bearer token, compared in constant time */
function bearerMatches(header: string | undefined, token: string): boolean {
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!m) return false;
  const got = Buffer.from(m[1], 'utf8');
  const want = Buffer.from(token, 'utf8');
  return got.length === want.length && timingSafeEqual(got, want);
}

/**
 * /healthz: the process is alive. /readyz: the store answers, the flows are loaded and the
 * Twilio REST configuration was verified (twilio/rest-check.ts: until then a pause fails closed
 * on a 404, so an instance Twilio could not be asked at start is kept out of rotation).
 * /metrics (Prometheus text) on this port only with METRICS_TOKEN set and presented as a bearer
 * token; otherwise it lives on METRICS_PORT (metrics-server.ts).
 */
export function opsRoutes(d: {
  store: Store;
  flows: FlowRegistry;
  metrics: Metrics;
  isDraining: () => boolean;
  /** the REST check's state: 'verified', or 'unverified' / 'refused' (not ready) */
  twilioRest: () => string;
  metricsToken?: string;
}): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const twilio = d.twilioRest();
      const checks: Record<string, string> = { flows: `${d.flows.size} loaded`, store: 'ok', twilio };
      let ready = !d.isDraining() && twilio === 'verified';
      if (!ready) checks.process = 'draining';
      try {
        await d.store.ping();
      } catch {
        checks.store = 'unreachable';
        ready = false;
      }
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', store: d.store.kind, checks });
    });
    const token = d.metricsToken;
    if (token) {
      app.get('/metrics', async (req, reply) => {
        if (!bearerMatches(req.headers.authorization, token)) throw Errors.unauthorized();
        return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
      });
    }
  };
}
