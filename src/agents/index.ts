/**
 * The agents area as one plugin: REST, WebSocket and panel, over the capture service that
 * routes captures to the instance holding each call's bridge (built with the bridges in
 * live-calls.ts, not here).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { EventBus } from '../bus';
import type { CallRepository } from '../calls/repository';
import type { CaptureService } from '../captures';
import type { Keys, Store } from '../store';
import { AgentActions } from './actions';
import type { TokenAuth } from './auth';
import type { OfferDeps } from './offers';
import { panelRoutes } from './panel';
import { agentRoutes } from './routes';
import { agentSocket } from './socket';

export { agentDocs } from './docs';

export interface AgentsDeps {
  auth: TokenAuth;
  store: Store;
  keys: Keys;
  calls: CallRepository;
  events: EventBus;
  log: Logger;
  audit: OfferDeps['audit'];
  captures: CaptureService;
  sendCommand: OfferDeps['sendCommand'];
  /** tests lower the bound on unauthenticated agent sockets */
  maxPendingSockets?: number;
}

export function agents(d: AgentsDeps): FastifyPluginAsync {
  return async (app) => {
    const actions = new AgentActions({ store: d.store, keys: d.keys, calls: d.calls, audit: d.audit, sendCommand: d.sendCommand, captures: d.captures });
    await app.register(agentRoutes({ auth: d.auth, calls: d.calls, actions }));
    await app.register(agentSocket({ auth: d.auth, calls: d.calls, events: d.events, actions, log: d.log, maxPendingSockets: d.maxPendingSockets }));
    await app.register(panelRoutes());
  };
}
