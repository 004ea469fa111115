/**
 * `/metrics` off the public port (issue 11): its own small listener on METRICS_PORT, for a
 * Prometheus that reaches the instance from inside the network. The public port serves
 * `/metrics` only when METRICS_TOKEN is set, and only to `Authorization: Bearer <token>`
 * (ops/routes.ts). server.ts starts this listener after the public one; tests start it the same way.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { Metrics } from '../metrics';

/**
 * An address that listens on every interface (0.0.0.0, ::): the listener has no token, so there
 * it answers whoever can reach the host. The default, as METRICS_HOST falls back to HOST.
 */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h === '0.0.0.0';
  return isIP(h) === 6 && /^[0:]+$/.test(h);
}

export class MetricsServer {
  private server?: FastifyInstance;
  /** `http://host:port`, once listening */
  url?: string;

  constructor(private readonly d: { metrics: Metrics; host: string; port: number }) {}

  async listen(): Promise<string> {
    if (this.url) return this.url;
    const app = Fastify({ logger: false });
    app.addHook('onRequest', async (_req, reply) => {
      reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
    });
    app.get('/metrics', async (_req, reply) => reply.type(this.d.metrics.registry.contentType).send(await this.d.metrics.registry.metrics()));
    this.server = app;
    await app.listen({ port: this.d.port, host: this.d.host });
    const addr = app.server.address();
    const port = typeof addr === 'object' && addr ? addr.port : this.d.port;
    const host = this.d.host.includes(':') ? `[${this.d.host}]` : this.d.host;
    this.url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    return this.url;
  }

  async close(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    this.url = undefined;
    if (s) await s.close();
  }
}
