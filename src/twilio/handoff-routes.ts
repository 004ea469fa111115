/**
 * A call handed off past the IVR (CONTRACT §2): a bridge's stream ended with its call still up
 * (`/twilio/bridge-lost/:n`, bridge-lost.ts), a caller on hold while an offered dial call waits
 * to be accepted (`/twilio/dial-hold/:hop`, dial-offer.ts), and a dial handoff's <Dial>: its end
 * (`/twilio/dial-status`, dial-status.ts) and its party answering (`/twilio/dial-answered`,
 * dial-answered.ts).
 */
import { bridgeLostParams, bridgeLostQuery, dialHoldParams } from './params';
import { bridgeLostIdentity, dialAnsweredIdentity, dialHoldIdentity, dialStatusIdentity } from './replay-identity';
import { dialAnsweredHandler } from './dial-answered';
import { dialEndedTwiml, dialStatusHandler, dialStatusQuery, safeDialEndedHandler } from './dial-status';
import { TwilioErrors } from '../errors';
import { ROUTE_OPTIONS, send, type RouteGroup } from './route-group';

export function handoffRoutes({ app, d, serve, observeLatency, route }: RouteGroup): void {
  // a bridge's stream ended with its call still up (bridge-lost.ts): the n-th of the caller's, or of its agent's call
  app.post<{ Params: { n: string } }>('/twilio/bridge-lost/:n', ROUTE_OPTIONS, async (req, reply) => {
    const started = process.hrtime.bigint();
    const n = Number.parseInt(req.params.n, 10);
    const q = bridgeLostQuery.safeParse(req.query ?? {});
    const leg = q.success ? q.data.leg : 'caller';
    const hop = q.success ? q.data.hop : undefined;
    const answer = await serve(
      req,
      'bridge-lost',
      'voice',
      async (raw, log) => {
        const p = bridgeLostParams.parse(raw);
        if (!q.success || !Number.isSafeInteger(n) || n < 1) throw TwilioErrors.bridgeLostMalformed();
        return leg === 'agent'
          ? d.bridgeLost.agent(p.CallSid, n, q.data.call, p.CallStatus, log, hop ?? 0)
          : d.bridgeLost.caller(p.CallSid, n, p.CallStatus, log, hop ?? 0, p.To);
      },
      { identify: bridgeLostIdentity(leg, String(n), hop) },
    );
    observeLatency('bridge-lost', answer.status, started);
    return send(reply, answer);
  });

  // a caller waiting for an offered dial call to be accepted (dial-offer.ts): on hold again, the agent dialled, or the apology
  app.post<{ Params: { hop: string } }>('/twilio/dial-hold/:hop', ROUTE_OPTIONS, async (req, reply) => {
    const started = process.hrtime.bigint();
    const hop = Number.parseInt(req.params.hop, 10);
    const answer = await serve(
      req,
      'dial-hold',
      'voice',
      async (raw, log) => {
        const p = dialHoldParams.parse(raw);
        if (!Number.isSafeInteger(hop) || hop < 1) throw TwilioErrors.dialHoldMalformed();
        return d.dialOffers.hold(p.CallSid, hop, log);
      },
      { identify: dialHoldIdentity(String(hop)) },
    );
    observeLatency('dial-hold', answer.status, started);
    return send(reply, answer);
  });

  // the <Dial> to the agent ended (dial-status.ts): nothing more to say, or, not connected, the apology;
  // `?fallback=1`, the safe answer's <Dial>: answered from the request alone, the store untouched
  const dialStatus = dialStatusHandler(d);
  const safeDialEnded = safeDialEndedHandler(d.flows);
  // a failure answers from the request too, never the safe answer's dial again (no loop)
  const dialEnded = (raw: Record<string, string>) => dialEndedTwiml(d.flows, raw);
  app.post('/twilio/dial-status', ROUTE_OPTIONS, async (req, reply) => {
    const started = process.hrtime.bigint();
    const answer = dialStatusQuery.parse(req.query ?? {}).fallback
      ? await serve(req, 'dial-status', 'voice', async (raw, log) => safeDialEnded(raw, log), { identify: () => null, safe: dialEnded })
      : await serve(req, 'dial-status', 'voice', async (raw, log, _req, claimed) => dialStatus(raw, log, claimed), {
          identify: dialStatusIdentity,
          // the claim reads the call it audits: the entry and the answer go in one write (webhook-write.ts)
          reads: (identity) => d.webhookWrite.reads(identity.callSid),
          safe: dialEnded,
        });
    observeLatency('dial-status', answer.status, started);
    return send(reply, answer);
  });

  // the party a dial handoff's <Dial> rang answered (dial-answered.ts): call.bridged, once
  route('/twilio/dial-answered', 'dial-answered', 'callback', dialAnsweredHandler(d), dialAnsweredIdentity);
}
