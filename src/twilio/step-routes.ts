/**
 * A call's steps in its IVR (CONTRACT §2): a gather's answer (`/twilio/gather/:step/:attempt`,
 * with its `/confirm` and `/again` forms) and a guard's end (`/twilio/guard/:step`, and
 * `/failed`, the guard a failed stretch's gather answered). Each step's writes and its answer go
 * in one store write (webhook-write.ts); a failure of a drop-in capture's step returns the call
 * to its app (dropin-rescue.ts), and a sensitive stretch's resumes its recordings before the
 * apology (stretch-rescue.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { StepWrites } from './runner';
import type { CallSession } from '../calls/session';
import { copySession } from '../flows/copy';
import { gatherParams, guardParams } from './params';
import type { StoredAnswer } from './replay';
import { gatherIdentity, guardIdentity, type Identify } from './replay-identity';
import type { AlsoRead, ReadCall } from './webhook-write';
import { gatherRescue, type Rescue } from './dropin-rescue';
import { afterFailedGuard, firstRescue, stretchRescue, type StretchWebhook } from './stretch-rescue';
import type { Claimed, Handler } from './serving';
import { decodeActionQuery } from '../dropin/action-query';
import { TwilioErrors } from '../errors';
import { ROUTE_OPTIONS, send, type RouteGroup } from './route-group';

export function stepRoutes({ app, d, serve, observeLatency, now, rescueDeps }: RouteGroup): void {
  // a drop-in capture's gather or guard (its action's query says so) that fails goes back to its app
  const dropinGather = (at: StretchWebhook): Rescue | undefined => (rescueDeps ? gatherRescue(rescueDeps, at) : undefined);
  // a sensitive stretch's (its action's query says so) resumes the recordings it holds paused before the apology
  const stretchDeps = { flows: d.flows, recording: d.recording, publicUrl: d.config.publicUrl, now };
  const stepRescue = (at: StretchWebhook): Rescue => firstRescue(dropinGather(at), stretchRescue(stretchDeps, at));
  const guardRescue = stepRescue({ route: 'guard' });

  /**
   * A step of a call in the IVR (a gather's answer, a guard's end) on the call its claim read:
   * the step's writes and its answer go in one write (webhook-write.ts); without an identity
   * (no claim), each write as the step comes to it.
   */
  const callStep = async (
    callSid: string,
    { identity, reads }: Claimed,
    also: AlsoRead,
    step: (session: CallSession, read: ReadCall, writes?: StepWrites) => Promise<string>,
  ): Promise<string | { remembered: StoredAnswer }> => {
    const read = await d.webhookWrite.load(callSid, reads, also);
    if (!read.session) throw TwilioErrors.gatherUnknownCall();
    const session = d.calls.fromStored(read.session);
    if (!identity) return step(session, read);
    // the step's write starts from the session as read: a copy of it, which the step never sees, not a second parse
    const writes = d.webhookWrite.deferred(read, identity, copySession(session));
    const body = await step(session, read, writes);
    return writes.answer ? { remembered: writes.answer } : body;
  };

  /** a route of a call's IVR steps: signed, replay-guarded by `identify`, its claim reading the call and `also`; a drop-in capture's, or a stretch's, rescued */
  const serveStep = async (
    req: FastifyRequest,
    reply: FastifyReply,
    name: string,
    identify: Identify,
    also: (callSid: string) => AlsoRead,
    handler: Handler,
    rescue: Rescue,
  ) => {
    const started = process.hrtime.bigint();
    const answer = await serve(req, name, 'voice', handler, {
      identify,
      rescue,
      reads: (identity) => d.webhookWrite.reads(identity.callSid, also(identity.callSid)),
    });
    observeLatency(name, answer.status, started);
    return send(reply, answer);
  };
  /** a drop-in capture's step (its action's query says so): the claim reads its hang-up watch too */
  const isCapture = (req: FastifyRequest) => Boolean(d.dropin) && decodeActionQuery(req.query) !== undefined;

  // `/confirm`: the second entry of a requireMatchingInputs pair; `/again`: a Gather asked again
  // after a stray key (CallSession.strayKey); each a request of its own for the replay guard
  const gatherRoute =
    (confirm: boolean, again = false) =>
    async (req: FastifyRequest<{ Params: { step: string; attempt: string } }>, reply: FastifyReply) => {
      const step = Number.parseInt(req.params.step, 10);
      const attempt = Number.parseInt(req.params.attempt, 10);
      // the second entry of a matching pair: the claim reads the first with the call (flows/matching.ts matchToken)
      const watch = isCapture(req);
      const also = (callSid: string) => ({ sealed: confirm ? [d.webhookWrite.matchToken(callSid, step, attempt)] : [], watch });
      return serveStep(
        req,
        reply,
        'gather',
        gatherIdentity(String(step), String(attempt), confirm, again),
        also,
        async (raw, log, _req, claimed) => {
          const p = gatherParams.parse(raw);
          return callStep(p.CallSid, claimed, also(p.CallSid), (session, read, writes) =>
            d.runner.digits(session, { step, attempt, digits: p.Digits, finishedOnKey: p.FinishedOnKey, confirm, again, sealed: read.sealed }, log, writes),
          );
        },
        stepRescue({ route: 'gather', step: Number.isSafeInteger(step) && step >= 0 ? step : 0 }),
      );
    };
  app.post<{ Params: { step: string; attempt: string } }>('/twilio/gather/:step/:attempt', ROUTE_OPTIONS, gatherRoute(false));
  app.post<{ Params: { step: string; attempt: string } }>('/twilio/gather/:step/:attempt/confirm', ROUTE_OPTIONS, gatherRoute(true));
  app.post<{ Params: { step: string; attempt: string } }>('/twilio/gather/:step/:attempt/again', ROUTE_OPTIONS, gatherRoute(false, true));
  app.post<{ Params: { step: string; attempt: string } }>('/twilio/gather/:step/:attempt/confirm/again', ROUTE_OPTIONS, gatherRoute(true, true));

  // a guard after a sensitive field that ended on a timeout (flows/steps/collect.ts guardAfter): the call goes on from where it stands
  app.post<{ Params: { step: string } }>('/twilio/guard/:step', ROUTE_OPTIONS, async (req, reply) => {
    const also = { sealed: [], watch: isCapture(req) };
    return serveStep(
      req,
      reply,
      'guard',
      guardIdentity(req.params.step),
      () => also,
      async (raw, log, _req, claimed) => {
        const p = guardParams.parse(raw);
        return callStep(p.CallSid, claimed, also, (session, _read, writes) => d.runner.guarded(session, log, writes));
      },
      guardRescue,
    );
  });

  // the guard a failed stretch's gather answered (stretch-rescue.ts): its recordings resumed, then the apology, the store back or not;
  // a drop-in capture's (dropin-rescue.ts): its recordings resumed, then the call back to its app with internal-error
  const dropinFailedGuard = dropinGather({ route: 'guard' });
  app.post<{ Params: { step: string } }>('/twilio/guard/:step/failed', ROUTE_OPTIONS, async (req, reply) => {
    const started = process.hrtime.bigint();
    const answer = await serve(
      req,
      'guard',
      'voice',
      async (raw, log, _req, { replayed }) =>
        (await dropinFailedGuard?.(raw, req.query, log, { replayed })) ?? afterFailedGuard(stretchDeps, raw, req.query, log, { replayed }),
      {
        identify: guardIdentity(req.params.step, true),
        rescue: guardRescue,
      },
    );
    observeLatency('guard', answer.status, started);
    return send(reply, answer);
  });
}
