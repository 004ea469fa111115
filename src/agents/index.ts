/**
 * The agents area as one plugin: REST, WebSocket and panel, over the capture service that
 * routes captures to the instance holding each call's bridge (built with the bridges in
 * live-calls.ts, not here).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { EventBus, SessionBus } from '../bus';
import type { CallRepository } from '../calls/repository';
import type { CaptureService } from '../captures';
import type { PaymentSessions } from '../captures/payments';
import type { Keys, Store } from '../store';
import { AgentActions } from './actions';
import type { TokenAuth } from '../auth/tokens';
import type { OfferDeps } from './offers';
import { panelRoutes } from './panel';
import { agentRoutes } from './routes';
import { agentSocket, type AgentSocketDeps } from './socket';
import { sessionRoutes } from './session-routes';

export { agentDocs } from './docs';
// the audit trail's and privacy's HTTP routes live at this edge: audit/ (base) and privacy/ (domain) hold no HTTP
export { auditRoutes } from './audit-routes';
export { privacyRoutes } from './privacy-routes';

export interface AgentsDeps {
  auth: TokenAuth;
  store: Store;
  keys: Keys;
  calls: CallRepository;
  events: EventBus;
  /** tokens signed out, told to every instance (bus/sessions.ts) */
  sessions: SessionBus;
  log: Logger;
  audit: OfferDeps['audit'];
  captures: CaptureService;
  /** agent-assisted payment sessions, over the same captures */
  payments: PaymentSessions;
  sendCommand: OfferDeps['sendCommand'];
  /** dial mode: an accepted offer's caller moved to a <Dial> of the agent (twilio/dial-offer.ts) */
  dialCaller: OfferDeps['dialCaller'];
  metrics: AgentSocketDeps['metrics'];
  /** PCI DSS 8.2.8: the panel signs itself out after this long with no input (AGENT_IDLE_TIMEOUT_SECONDS) */
  idleTimeoutSeconds: number;
  /** whether the instance is draining (SIGTERM, server.ts): a new agent socket is refused 1013 */
  draining: AgentSocketDeps['draining'];
  /** tests lower the bound on unauthenticated agent sockets */
  maxPendingSockets?: number;
  /** tests change one of an agent socket's limits (socket-limits.ts) */
  socketLimits?: AgentSocketDeps['limits'];
}

export function agents(d: AgentsDeps): FastifyPluginAsync {
  return async (app) => {
    const actions = new AgentActions({
      store: d.store,
      keys: d.keys,
      calls: d.calls,
      audit: d.audit,
      log: d.log,
      publish: (event) => d.events.publish(event),
      sendCommand: d.sendCommand,
      dialCaller: d.dialCaller,
      captures: d.captures,
      payments: d.payments,
    });
    await app.register(agentRoutes({ auth: d.auth, calls: d.calls, actions }));
    await app.register(sessionRoutes({ auth: d.auth, sessions: d.sessions, actor: (p) => d.audit.actor(p) }));
    await app.register(
      agentSocket({
        auth: d.auth,
        actor: (p) => d.audit.actor(p),
        calls: d.calls,
        events: d.events,
        sessions: d.sessions,
        actions,
        log: d.log,
        metrics: d.metrics,
        draining: d.draining,
        maxPendingSockets: d.maxPendingSockets,
        limits: d.socketLimits,
      }),
    );
    await app.register(panelRoutes({ idleTimeoutSeconds: d.idleTimeoutSeconds }));
  };
}
