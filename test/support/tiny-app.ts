/**
 * A tiny Fastify app for route-plugin tests: the plugin under test with real dependencies and
 * an error handler rendering coded errors as the real app does ({error: code, message}).
 * Requests go through Fastify's inject(): no port is opened, the route's answer is the point.
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { isTonewallError } from '../../src/errors';

export interface TinyApp {
  app: FastifyInstance;
  request(opts: {
    method: string;
    url: string;
    headers?: Record<string, string>;
  }): Promise<{ statusCode: number; headers: Record<string, unknown>; body: string; json(): any }>;
  close(): Promise<void>;
}

export async function tinyApp(...plugins: FastifyPluginAsync[]): Promise<TinyApp> {
  const app = Fastify({ logger: false });
  app.setErrorHandler((err, _request, reply) => {
    if (isTonewallError(err)) return reply.status(err.statusCode).send({ error: err.code, message: err.message });
    const status = (err as { statusCode?: number }).statusCode ?? 500;
    return reply.status(status).send({ error: 'TW_ERR_INTERNAL', message: 'internal error' });
  });
  for (const p of plugins) await app.register(p);
  await app.ready();
  return {
    app,
    async request({ method, url, headers }) {
      const res = await app.inject({ method: method as 'GET', url, headers });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, json: () => res.json() };
    },
    close: () => app.close(),
  };
}
