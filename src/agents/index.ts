/**
 * The agents area as one plugin: REST, WebSocket and panel, over the capture service that
 * routes captures to the instance holding each call's bridge.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import { CaptureExecutor, CaptureRecords, CaptureRpc, CaptureService, type BridgeLookup } from '../captures';
import type { ExecutorDeps } from '../captures/executor';
import { PaymentSessions } from '../captures/payments';
import type { EventBus } from '../events';
import type { Keys, MessageSigner, Store } from '../store';
import { AgentActions } from './actions';
import type { TokenAuth } from '../auth/tokens';
import type { OfferDeps } from './offers';
import { panelRoutes } from './panel';
import { agentRoutes } from './routes';
import { agentSocket } from './socket';

export { agentDocs } from './docs';
// the audit trail's and privacy's HTTP routes live at this edge: audit/ (base) and privacy/ (domain) hold no HTTP
export { auditRoutes } from './audit-routes';
export { privacyRoutes } from './privacy-routes';

export interface AgentsDeps {
  instanceId: string;
  auth: TokenAuth;
  store: Store;
  keys: Keys;
  calls: CallRepository;
  events: EventBus;
  log: Logger;
  audit: ExecutorDeps['audit'];
  recording: ExecutorDeps['recording'];
  vault: ExecutorDeps['vault'];
  metrics: { captures: { inc(labels: { outcome: string }): void } };
  bridges: BridgeLookup;
  sendCommand: OfferDeps['sendCommand'];
  /** signs and checks capture requests and replies between instances */
  signer: MessageSigner;
  /** told of the session once a capture stored a field (processor delivery) */
  onSessionChanged?: ExecutorDeps['onSessionChanged'];
  /** tests shorten the capture timeouts */
  captureTimings?: ExecutorDeps['timings'];
  /** tests lower the bound on unauthenticated agent sockets */
  maxPendingSockets?: number;
}

export function agents(d: AgentsDeps): FastifyPluginAsync {
  return async (app) => {
    const records = new CaptureRecords(d.store, d.keys);
    const executor = new CaptureExecutor({
      calls: d.calls,
      records,
      recording: d.recording,
      vault: d.vault,
      audit: d.audit,
      events: d.events,
      metrics: d.metrics.captures,
      bridges: d.bridges,
      log: d.log,
      instanceId: d.instanceId,
      timings: d.captureTimings,
      onSessionChanged: d.onSessionChanged,
    });
    const rpc = new CaptureRpc(d.store, d.keys, d.instanceId, d.log, d.signer);
    const captures = new CaptureService({ instanceId: d.instanceId, executor, rpc, records });
    await captures.listen();
    // a capture ends with its call (the bridge's listeners are gone by then)
    const unsubscribe = await d.events.subscribe((e) => {
      if (e.type === 'call.ended' && executor.isRunning(e.callSid)) void executor.abort(e.callSid, 'call-ended');
    });
    app.addHook('onClose', async () => {
      await unsubscribe();
      await captures.close();
    });

    const payments = new PaymentSessions({
      calls: d.calls,
      captures,
      vault: d.vault,
      audit: d.audit,
      publish: (view) => d.events.publish({ type: 'payment.updated', callSid: view.callSid, payment: view }),
      onCompleted: (session) => d.onSessionChanged?.(session),
    });
    const actions = new AgentActions({ store: d.store, keys: d.keys, calls: d.calls, audit: d.audit, sendCommand: d.sendCommand, captures, payments });
    await app.register(agentRoutes({ auth: d.auth, calls: d.calls, actions }));
    await app.register(agentSocket({ auth: d.auth, calls: d.calls, events: d.events, actions, log: d.log, maxPendingSockets: d.maxPendingSockets }));
    await app.register(panelRoutes());
  };
}
