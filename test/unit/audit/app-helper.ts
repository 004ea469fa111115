/**
 * A tiny Fastify app for route-plugin tests: the plugin under test with real dependencies and
 * an error handler rendering coded errors as the real app does ({error: code, message}),
 * listening on a real port (Fastify's inject pulls an ESM-only module jest cannot load here).
 */
import Fastify, { type FastifyInstance, type FastifyPluginAsync } from 'fastify';
import { isTonewallError } from '../../../src/errors';

export interface TinyApp {
  app: FastifyInstance;
  request(opts: { method: string; url: string; headers?: Record<string, string> }): Promise<{ statusCode: number; json(): any }>;
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
  const base = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    app,
    async request({ method, url, headers }) {
      const res = await fetch(base + url, { method, headers });
      const text = await res.text();
      return { statusCode: res.status, json: () => JSON.parse(text) };
    },
    close: () => app.close(),
  };
}
