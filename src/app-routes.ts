/**
 * The routes of buildApp (app.ts), registered in order after the hooks and plugins every route
 * goes through (app-http.ts): ops, the Twilio webhooks, the rate limit and the answer to a path
 * no route serves, the agents' API and socket, the audit and privacy routes, the media streams.
 */
import type { FastifyInstance } from 'fastify';
import { agents, auditRoutes, privacyRoutes } from './agents';
import type { DropinService } from './dropin/service';
import { RequestErrors } from './errors';
import { redactUrl } from './log';
import { opsRoutes } from './ops/routes';
import { notFoundRateLimit, registerRateLimit } from './ops/rate-limit';
import type { BuildOptions, Services } from './services';
import { BridgeLost } from './twilio/bridge-lost';
import type { DialOffers } from './twilio/dial-offer';
import { FirstWebhook } from './twilio/first-webhook';
import { mediaRoutes } from './twilio/media-routes';
import { twilioRoutes } from './twilio/routes';
import { WebhookWrite } from './twilio/webhook-write';

/** what the routes take besides the services: built by buildApp, not reached through `app.services` */
export interface RouteDeps {
  dropin: DropinService;
  dialOffers: DialOffers;
  /** a call's end, told to its drop-in capture (DropinService.callEnded) */
  dropinEnded: (callSid: string, status?: string) => Promise<void>;
}

export async function registerRoutes(app: FastifyInstance, services: Services, d: RouteDeps, opts: BuildOptions): Promise<void> {
  const {
    config,
    log,
    store,
    keys,
    metrics,
    flows,
    calls,
    vault,
    audit,
    events,
    sessions,
    recording,
    tokens,
    runner,
    auth,
    privacy,
    commands,
    bridges,
    live,
    replay,
    restCheck,
  } = services;
  const { dropin, dialOffers, dropinEnded } = d;
  await app.register(
    opsRoutes({ store, flows, metrics, isDraining: () => services.draining, twilioRest: () => restCheck.state, metricsToken: config.metrics.token }),
  );
  const firstWebhook = new FirstWebhook({ store, runner, calls, audit, replay });
  const webhookWrite = new WebhookWrite({ store, calls, audit, replay, vault, tokens, dropin });
  await app.register(
    twilioRoutes({
      config,
      flows,
      runner,
      calls,
      replay,
      firstWebhook,
      webhookWrite,
      metrics,
      audit,
      events,
      log,
      dropin,
      recording,
      now: opts.now,
      onCallEnded: dropinEnded,
      bridgeLost: new BridgeLost({
        calls,
        audit,
        tokens,
        flows,
        metrics,
        instanceId: config.instanceId,
        publicUrl: config.publicUrl,
        onTakenUp: (callSid) => live.settleLostCapture(callSid),
        draining: () => services.draining,
      }),
      dialOffers,
      draining: () => services.draining,
    }),
  );
  await registerRateLimit(app, { store, keyPrefix: keys.prefix, maxPerMinute: config.rateLimitMax });
  // Fastify's own 404 logged `Route <method>:<url> not found` with the URL as sent, query and all
  // (a Voice URL set to GET carries the caller's number there) and repeated it in the answer.
  // A request for no route counts against its client's rate like an agent route's: a prober of paths is limited too.
  app.setNotFoundHandler({ preHandler: notFoundRateLimit(app) }, (req) => {
    req.log.info({ ip: req.ip, method: req.method, url: redactUrl(req.url) }, 'route not found');
    throw RequestErrors.notFound();
  });
  await app.register(
    agents({
      auth,
      store,
      keys,
      calls,
      events,
      sessions,
      log,
      audit,
      captures: live.captures,
      payments: live.payments,
      sendCommand: (instanceId, command) => commands.send(instanceId, command),
      dialCaller: (callSid, endpoint, log) => dialOffers.dialCaller(callSid, endpoint, log),
      metrics,
      idleTimeoutSeconds: config.agentIdleTimeoutSeconds,
      draining: () => services.draining,
      maxPendingSockets: opts.maxPendingAgentSockets,
      socketLimits: { ...(config.agentSocketsPerAgent ? { maxPerAgent: config.agentSocketsPerAgent } : {}), ...opts.agentSocketLimits },
    }),
  );
  await app.register(auditRoutes({ auth, calls, audit, retentionDays: config.auditRetentionDays, now: opts.now }));
  await app.register(privacyRoutes({ auth, privacy }));
  await app.register(mediaRoutes({ config, tokens, bridges, metrics, log, idleTimeoutMs: opts.mediaIdleTimeoutMs, isDraining: () => services.draining }));
}
