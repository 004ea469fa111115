/**
 * `/metrics` off the public port (issue 11): its own small listener on METRICS_PORT, for a
 * Prometheus that reaches the instance from inside the network. With METRICS_TOKEN set it answers
 * only `Authorization: Bearer <token>` (a 401 with its challenge otherwise), as the public port
 * then does (ops/routes.ts); unset, it answers whoever reaches it, as it always has. server.ts
 * starts this listener after the public one; tests start it the same way.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { Errors } from '../errors';
import type { Metrics } from '../metrics';
import { bearerMatches, METRICS_CHALLENGE } from './bearer';

/**
 * An address that listens on every interface (0.0.0.0, ::): without METRICS_TOKEN the listener
 * answers whoever can reach the host there. The default, as METRICS_HOST falls back to HOST.
 */
export function isWildcardHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h) === 4) return h === '0.0.0.0';
  return isIP(h) === 6 && /^[0:]+$/.test(h);
}

export interface MetricsServerOptions {
  metrics: Metrics;
  host: string;
  port: number;
  /**
   * The operator set METRICS_PORT: a port that cannot be had stops the service (server.ts), as they
   * asked for it. Left at its default, a busy port (a second instance on the host, another
   * exporter) is warned and the service runs on without this listener.
   */
  required: boolean;
  /** METRICS_TOKEN: when set, /metrics answers that bearer token only */
  token?: string;
  /**
   * The public port's bounds on slow clients (app-http.ts REQUEST_TIMEOUT_MS, CONNECTION_TIMEOUT_MS):
   * without METRICS_TOKEN this listener answers whoever reaches it, on every interface by default,
   * and Fastify's own defaults bound nothing: a trickled body held a connection open for good.
   */
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  log: Pick<Logger, 'warn'>;
}

export class MetricsServer {
  private server?: FastifyInstance;
  /** `http://host:port`, once listening */
  url?: string;

  constructor(private readonly d: MetricsServerOptions) {}

  /** the listener's URL; undefined when the default port was busy and the listener is left out */
  async listen(): Promise<string | undefined> {
    if (this.url) return this.url;
    const requestTimeout = this.d.requestTimeoutMs;
    const app = Fastify({
      logger: false,
      requestTimeout,
      connectionTimeout: this.d.connectionTimeoutMs,
      http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(1_000, requestTimeout) },
    });
    app.addHook('onRequest', async (_req, reply) => {
      reply.header('x-content-type-options', 'nosniff').header('cache-control', 'no-store');
    });
    const token = this.d.token;
    app.get('/metrics', async (req, reply) => {
      if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
        const e = Errors.unauthorized();
        return reply
          .code(e.statusCode)
          .header('www-authenticate', METRICS_CHALLENGE)
          .send({ error: e.wireCode ?? e.code, message: e.message });
      }
      return reply.type(this.d.metrics.registry.contentType).send(await this.d.metrics.registry.metrics());
    });
    try {
      await app.listen({ port: this.d.port, host: this.d.host });
    } catch (e) {
      await app.close();
      if (this.d.required || (e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      this.d.log.warn(
        { variable: 'METRICS_PORT', port: this.d.port, host: this.d.host },
        'METRICS_PORT unset and its default port is in use (another instance or exporter on this host): running without the metrics listener; set METRICS_PORT (0 for a free port) to serve /metrics off the public port',
      );
      return undefined;
    }
    this.server = app;
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
