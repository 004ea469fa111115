/**
 * A call's first webhook (CONTRACT §2): `/twilio/voice`, a call to a flow's number, opened by the
 * flow runner (or, when its flow opens plainly, by first-webhook.ts in one store round trip), and
 * `/twilio/capture/:flowId`, a drop-in capture taking another app's call (capture-route.ts), its
 * failure returning the call to its app (dropin-rescue.ts). Neither opens a call already over.
 */
import type { Logger } from 'pino';
import { formParams, voiceParams, voiceQuery } from './params';
import { voiceIdentity } from './replay-identity';
import { MAX_DRAINING_HOPS } from './bridge-lost';
import { emptyTwiml, notInServiceTwiml, passOnCallTwiml } from './twiml';
import { captureAgain, captureHandler, captureIdentity } from './capture-route';
import { captureRescue } from './dropin-rescue';
import type { Claimed } from './serving';
import type { PausingRequest } from '../dropin/held-pauses';
import { ROUTE_OPTIONS, send, type RouteGroup, type TwilioRouteDeps } from './route-group';

/**
 * A call the service knew (its audit trail outlives it) whose record is gone, erased or
 * expired: it is over, and Twilio never sends an ended call a first webhook again, so one now
 * is a captured request resent. Its replay memory went with the record, so without this it
 * would open the call afresh (the caller's number stored again, the call offered to agents).
 */
async function outlived(d: TwilioRouteDeps, { identity, reads }: Claimed): Promise<boolean> {
  if (!identity) return false;
  const read = await d.webhookWrite.load(identity.callSid, reads);
  return read.session === null && read.trail !== null;
}
function refuseOutlived(log: Logger): string {
  log.warn('first webhook of a call already over: refused as a replay');
  return emptyTwiml();
}

export function voiceRoute({ d, route }: RouteGroup): void {
  route(
    '/twilio/voice',
    'voice',
    'voice',
    async (raw, log, _req, claimed) => {
      const p = voiceParams.parse(raw);
      if (await outlived(d, claimed)) return refuseOutlived(log);
      const flow = d.flows.byNumber(p.To);
      if (!flow) {
        log.info('call to a number with no flow');
        return notInServiceTwiml();
      }
      return d.runner.start(flow, { callSid: p.CallSid, accountSid: p.AccountSid, from: p.From, to: p.To, live: p.CallStatus === 'in-progress' }, log);
    },
    voiceIdentity,
    async (raw, identity) => {
      // a new call to a flow that opens plainly: answered, and remembered, as it is created
      const p = voiceParams.safeParse(raw);
      const flow = p.success ? d.flows.byNumber(p.data.To) : undefined;
      if (!p.success || !flow) return null;
      return d.firstWebhook.answer(identity, flow, {
        callSid: p.data.CallSid,
        accountSid: p.data.AccountSid,
        from: p.data.From,
        to: p.data.To,
        live: p.data.CallStatus === 'in-progress',
      });
    },
    // the claim reads the call and its trail: a call already over is not opened again (outlived)
    (identity) => d.webhookWrite.reads(identity.callSid),
    // a stopping instance takes no new call: passed on while its load balancer takes it out of
    // rotation (server.ts SHUTDOWN_DRAIN_MS), then, past the hops, taken, as a lost bridge is
    (req) => {
      if (!d.draining?.()) return null;
      const q = voiceQuery.safeParse(req.query ?? {});
      const hop = q.success ? (q.data.hop ?? 0) : 0;
      if (hop >= MAX_DRAINING_HOPS) return null;
      d.log.info({ callSid: formParams(req.body).CallSid, hop: hop + 1 }, 'new call reached a draining instance: passed on');
      return passOnCallTwiml(d.config.publicUrl, hop + 1);
    },
  );
}

export function captureRoute({ app, d, serve, observeLatency, rescueDeps }: RouteGroup): void {
  if (d.dropin && rescueDeps) {
    const capture = captureHandler({ config: d.config, flows: d.flows, runner: d.runner, dropin: d.dropin, audit: d.audit, calls: d.calls });
    app.post<{ Params: { flowId: string } }>('/twilio/capture/:flowId', ROUTE_OPTIONS, async (req, reply) => {
      const started = process.hrtime.bigint();
      const flowId = req.params.flowId;
      // this request's own: the handler's pauses are held with it, and its rescue resumes those alone (dropin-rescue.ts)
      const request: PausingRequest = { route: 'capture' };
      const answer = await serve(
        req,
        'capture',
        'voice',
        async (raw, log, _req, claimed) => capture(flowId, raw, req.query, log, await outlived(d, claimed), request),
        {
          identify: captureIdentity(flowId),
          early: captureAgain(d.calls, d.audit, d.log, d.flows.byId(flowId)),
          rescue: captureRescue(rescueDeps, flowId, request),
          reads: (identity) => d.webhookWrite.reads(identity.callSid),
        },
      );
      observeLatency('capture', answer.status, started);
      return send(reply, answer);
    });
  }
}
