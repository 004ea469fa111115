import type { FastifyPluginAsync } from 'fastify';
import type { FlowRegistry } from '../flows/load';
import type { Store } from '../store';
import type { Metrics } from './metrics';

/** /healthz: the process is alive. /readyz: the store answers and the flows are loaded. /metrics: Prometheus text. */
export function opsRoutes(d: { store: Store; flows: FlowRegistry; metrics: Metrics; isDraining: () => boolean }): FastifyPluginAsync {
  return async (app) => {
    app.get('/healthz', async () => ({ status: 'ok' }));
    app.get('/readyz', async (_req, reply) => {
      const checks: Record<string, string> = { flows: `${d.flows.size} loaded`, store: 'ok' };
      let ready = !d.isDraining();
      if (!ready) checks.process = 'draining';
      try {
        await d.store.ping();
      } catch {
        checks.store = 'unreachable';
        ready = false;
      }
      return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not ready', store: d.store.kind, checks });
    });
    app.get('/metrics', async (_req, reply) => {
      return reply.type(d.metrics.registry.contentType).send(await d.metrics.registry.metrics());
    });
  };
}
