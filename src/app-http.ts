/**
 * The HTTP server every route of buildApp (app.ts) is served by: its bounds on slow clients and
 * on path parameters, the router's own answers, and what runs before any route is registered
 * (the services decorated, the body parsers, the connection closed while shutting down or
 * draining, the security headers and access log, WebSockets, the OpenAPI docs, and the one
 * error handler that turns a thrown error into the catalogue's answer).
 */
import formbody from '@fastify/formbody';
import websocket from '@fastify/websocket';
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { agentDocs } from './agents';
import type { Config } from './config';
import { isTonewallError, RequestErrors } from './errors';
import { errFields, type Logger } from './log';
import { bearerChallenge } from './ops/bearer';
import { registerAccessLog } from './ops/access-log';
import { registerJsonBody } from './ops/json-body';
import { fixedSecurityHeaders, registerSecurityHeaders } from './security-headers';
import type { Services } from './services';

/** Twilio sends 20 ms frames of a few hundred bytes; anything near this is dropped unread, but
 * must not close the stream (ws closes on maxPayload), so the socket limit sits well above the
 * 1 MB message the contract says must be survived. */
export const WS_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

/**
 * Slow clients (issue 11: a trickled body held a connection 130 s). Webhook and API bodies are
 * at most 64 KB, so a whole request gets 15 s; Node checks every second, so a request ends
 * within about 16 s. An idle connection closes after 60 s. Upgraded sockets (media, agents)
 * are out of both: ws clears the socket timeout on upgrade. The metrics listener (ops/metrics-server.ts)
 * takes the same bounds: without METRICS_TOKEN it answers anyone who reaches it.
 */
export const REQUEST_TIMEOUT_MS = 15_000;
export const CONNECTION_TIMEOUT_MS = 60_000;
const CONNECTIONS_CHECK_INTERVAL_MS = 1_000;
/** a path parameter's most characters: a 256-character subject, every character four UTF-8 bytes, each escaped (%XX) */
const MAX_PATH_PARAM_LENGTH = 256 * 4 * 3;

/**
 * The server, with its limits and the router's own answers (`routerAnswerHeaders`: the security
 * headers those carry, fixedSecurityHeaders)
 */
export function createHttp(config: Config, log: Logger, requestTimeout: number, routerAnswerHeaders: Awaited<ReturnType<typeof fixedSecurityHeaders>>) {
  return Fastify({
    loggerInstance: log as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    trustProxy: config.trustProxy,
    requestTimeout,
    connectionTimeout: CONNECTION_TIMEOUT_MS,
    http: { requestTimeout, headersTimeout: requestTimeout, connectionsCheckingInterval: Math.min(CONNECTIONS_CHECK_INTERVAL_MS, requestTimeout) },
    // a subject (`/v1/subjects/:phone`) may be any caller ID of up to 256 characters, each up to
    // four UTF-8 bytes percent-escaped: past Fastify's 100 it was answered 414 and never served
    routerOptions: { maxParamLength: MAX_PATH_PARAM_LENGTH },
    // Fastify's own answers to a path it cannot route (a malformed percent-escape, a parameter
    // past maxParamLength) quote the path, which may hold a caller's number or identity, and
    // skip every hook (the security headers): answered here in the catalogue's shape instead
    frameworkErrors: (err: FastifyError, _req: FastifyRequest, reply: FastifyReply) => {
      reply.headers(routerAnswerHeaders);
      const status = err.statusCode ?? 400;
      if (status >= 500) return reply.code(500).send({ error: RequestErrors.internal.code, message: RequestErrors.internal().message });
      return reply.code(status).send({ error: RequestErrors.invalid.code, message: RequestErrors.invalid().message });
    },
  });
}

/**
 * How long a WebSocket peer has, once the stop sent its close frame, to answer it before the
 * connection is cut. One that reads answers in a round trip (Twilio's media edge, a panel's
 * browser: tens of ms, a few hundred on a poor link); one that has not in this long is not
 * reading, and cutting it loses nothing it would have read. It runs beside the close's other
 * steps (the store's unsubscribes, each within its 500 ms bound), and the close has about 1 s of
 * the stop's 10 s when SHUTDOWN_DRAIN_MS is at its most (8 s; process-stop.ts): a longer grace
 * would take the close past its time for one unresponsive peer.
 */
export const STOP_CLOSE_GRACE_MS = 500;

/** what every route registered after it goes through, and the error handler */
export async function registerBeforeRoutes(app: FastifyInstance, services: Services): Promise<void> {
  const { audit } = services;
  app.decorate('services', services);
  // before every plugin: each route inherits it (an empty JSON body is no body, ops/json-body.ts)
  registerJsonBody(app);
  // Shutting down, every answer ends its connection. server.close() ends only the connections
  // idle at the moment it is called: a webhook answered after that (a Twilio callback in flight
  // when the media streams were closed) kept its keep-alive connection, and so the close itself,
  // open for the keep-alive timeout (72 s).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  // callback-style: an async hook costs a promise on every request
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (closing || services.draining) reply.header('connection', 'close');
    done(null, payload);
  });
  await registerSecurityHeaders(app);
  registerAccessLog(app, (p) => audit.actor(p));
  await app.register(formbody);
  await app.register(websocket, {
    options: { maxPayload: WS_MAX_PAYLOAD_BYTES },
    // Before any socket closes, the captures and bridges are told of the stop (LiveCalls.drain,
    // which a drain > 0 ran already): a media stream closed first, with no drain, was taken for one
    // cut off (the bridge lost 'caller-stream-lost' on Redis, taken up elsewhere while its capture
    // still ran here; on the embedded store ended 'stream-closed' with its call, the capture's
    // recordings then found ended and left paused). A drain that failed is logged; the sockets close.
    // Then every socket is told why (1001, going away: RFC 6455 §7.4.1), so a panel knows to
    // reconnect to another instance; the plugin's own close sends no code at all (1005). A peer
    // that has not answered its close frame (this one, or a media stream's sent at the drain's
    // start) within STOP_CLOSE_GRACE_MS is cut: ws waits 30 s for the answer, and the server's
    // close waits for the socket, so one panel or stream that stopped reading held the whole stop.
    preClose(done) {
      const closeAll = () => {
        for (const client of this.websocketServer.clients) {
          client.close(1001, 'shutting down');
          setTimeout(() => client.terminate(), STOP_CLOSE_GRACE_MS).unref();
        }
        this.websocketServer.close(() => undefined);
        done();
      };
      services.live.drain().then(closeAll, (err: unknown) => {
        services.log.error({ err: errFields(err) }, 'drain failed: closing');
        closeAll();
      });
    },
  });
  // OpenAPI at /docs: before every route, so swagger sees the agent API registered below
  await app.register(agentDocs);

  app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
    if (isTonewallError(err)) {
      if (err.statusCode >= 500) req.log.error({ err: errFields(err) }, 'request failed');
      // RFC 6750 §3: a 401 names the scheme it wants, and says a token that was sent did not hold
      // (a route that named its own realm, /metrics's, keeps it)
      if (err.statusCode === 401 && !reply.hasHeader('www-authenticate'))
        reply.header('www-authenticate', bearerChallenge(req.headers.authorization !== undefined));
      // the contract's name for an error where it has one (CONTRACT §5), else the catalogue's code
      return reply.code(err.statusCode).send({ error: err.wireCode ?? err.code, message: err.message });
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) return reply.code(status).send({ error: RequestErrors.invalid.code, message: err.message });
    req.log.error({ err: errFields(err) }, 'unexpected error');
    return reply.code(500).send({ error: RequestErrors.internal.code, message: RequestErrors.internal().message });
  });
}
