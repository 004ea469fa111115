import type { FastifyPluginAsync } from 'fastify';
import { Errors, isTonewallError, StoreErrors } from '../errors';
import type { FlowRegistry } from '../flows/load';
import type { Store } from '../store';
import type { Metrics } from '../metrics';
import { bearerMatches, METRICS_CHALLENGE } from './bearer';

/**
 * /healthz: the process is alive. /readyz: the store answers, the flows are loaded and the
 * process is not draining (CONTRACT §8). The Twilio REST check's state is shown (`twilio`) but
 * does not make the instance unready: until it is verified a 404 on a pause is trusted only with
 * a list of the call's recordings (twilio/rest-check.ts), and every instance asks the same Twilio,
 * so taking one out of rotation would serve no caller better.
 * /metrics (Prometheus text) on this port only with METRICS_TOKEN set and presented as a bearer
 * token, as on METRICS_PORT then (metrics-server.ts); unset, it lives on METRICS_PORT alone.
 */
export function opsRoutes(d: {
  store: Store;
  flows: FlowRegistry;
  metrics: Metrics;
  isDraining: () => boolean;
  /** the REST check's state: 'verified' or 'unverified', shown only */
  twilioRest: () => string;
  metricsToken?: string;
}): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const twilio = d.twilioRest();
      const checks: Record<string, string> = { flows: `${d.flows.size} loaded`, store: 'ok', twilio };
      let ready = !d.isDraining();
      if (!ready) checks.process = 'draining';
      // no flow loaded (an empty FLOWS_DIR, warned at start): every call would hear "not in service" (CONTRACT §8: flows loaded)
      if (d.flows.size === 0) {
        checks.flows = 'none loaded';
        ready = false;
      }
      try {
        await d.store.ping();
      } catch (e) {
        // which outage, where the store says (a password refused, a connection refused): what the operator fixes
        checks.store = isTonewallError(e) && e.code === StoreErrors.unavailable.code ? e.message.replace(/^the store is /, '') : 'unreachable';
        ready = false;
      }
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', store: d.store.kind, checks });
    });
    const token = d.metricsToken;
    if (token) {
      app.get('/metrics', async (req, reply) => {
        if (!bearerMatches(req.headers.authorization, token)) {
          reply.header('www-authenticate', METRICS_CHALLENGE);
          throw Errors.unauthorized();
        }
        return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
      });
    }
  };
}
