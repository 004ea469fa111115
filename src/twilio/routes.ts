/**
 * The Twilio-facing HTTP edge (CONTRACT §2): its routes, each served by serving.ts (signature
 * first, then the replay guard, then the handler; whatever fails inside a voice route answers
 * the safe apology TwiML). A drop-in capture's call is not the service's to end: it goes back to
 * its app with `internal-error` instead (dropin-rescue.ts); a sensitive stretch's recordings are
 * resumed before the apology (stretch-rescue.ts).
 *
 * Registered by group, each given the same RouteGroup (route-group.ts): a call's first webhook
 * (first-webhook-routes.ts), its IVR steps (step-routes.ts), a call handed off past the IVR
 * (handoff-routes.ts), and Twilio's status callbacks (status-routes.ts).
 */
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import { callbackIdentity, type Identify } from './replay-identity';
import { fixedSecurityHeaders } from '../security-headers';
import { webhookServing, type Early, type Handler, type Reads, type Serving } from './serving';
import { ROUTE_OPTIONS, send, type RouteGroup, type TwilioRouteDeps } from './route-group';
import { captureRoute, voiceRoute } from './first-webhook-routes';
import { stepRoutes } from './step-routes';
import { handoffRoutes } from './handoff-routes';
import { statusRoutes } from './status-routes';

export type { TwilioRouteDeps } from './route-group';

export function twilioRoutes(d: TwilioRouteDeps): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const securityHeaders = await fixedSecurityHeaders();
    // A request's child logger (Fastify's, naming its reqId) only where Fastify's request lines
    // (info) can print; the routes log through the call's own logger. Made for every webhook, it
    // was a pino child with its redaction run over the bindings: a tenth of a new call's garbage.
    app.setChildLoggerFactory((logger, bindings, opts) => (d.log.isLevelEnabled('info') ? logger.child(bindings, opts) : logger));
    app.addHook('onRequest', (_req, reply, done) => {
      reply.headers(securityHeaders);
      done();
    });

    const { serve, observeLatency } = webhookServing(d);

    const route = (
      path: string,
      name: string,
      kind: 'voice' | 'callback',
      handler: Handler,
      identify: Identify = callbackIdentity(name),
      early?: Early,
      reads?: Reads,
      passOn?: Serving['passOn'],
    ) => {
      app.post(path, ROUTE_OPTIONS, async (req, reply) => {
        const started = process.hrtime.bigint();
        const answer = await serve(req, name, kind, handler, { identify, early, reads, passOn });
        observeLatency(name, answer.status, started);
        return send(reply, answer);
      });
    };

    const now = d.now ?? (() => new Date());
    const rescueDeps = d.dropin ? { config: d.config, flows: d.flows, dropin: d.dropin, audit: d.audit, now } : undefined;
    const group: RouteGroup = { app, d, serve, observeLatency, route, now, rescueDeps };

    // in the order they always were registered
    voiceRoute(group);
    stepRoutes(group);
    captureRoute(group);
    handoffRoutes(group);
    statusRoutes(group);
  };
}
