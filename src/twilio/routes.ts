/**
 * The Twilio-facing HTTP edge (CONTRACT §2): its routes, each served by serving.ts (signature
 * first, then the replay guard, then the handler; whatever fails inside a voice route answers
 * the safe apology TwiML). A drop-in capture's call is not the service's to end: it goes back to
 * its app with `internal-error` instead (dropin-rescue.ts); a sensitive stretch's recordings are
 * resumed before the apology (stretch-rescue.ts).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { Config } from '../config';
import type { EventBus } from '../bus';
import type { FlowRunner, StepWrites } from './runner';
import type { FlowRegistry } from '../flows/load';
import type { Metrics } from '../metrics';
import type { AuditSink, RecordingController } from '../recording/controller';
import { endSession, type CallSession, type RecordingStatus } from '../calls/session';
import {
  bridgeLostParams,
  bridgeLostQuery,
  dialHoldParams,
  formParams,
  gatherParams,
  guardParams,
  recordingStatusParams,
  recordingStatusQuery,
  statusParams,
  TERMINAL_CALL_STATUSES,
  voiceParams,
  voiceQuery,
} from './params';
import type { ReplayGuard, StoredAnswer } from './replay';
import {
  bridgeLostIdentity,
  callbackIdentity,
  dialAnsweredIdentity,
  dialHoldIdentity,
  dialStatusIdentity,
  gatherIdentity,
  guardIdentity,
  voiceIdentity,
  type Identify,
} from './replay-identity';
import { dialAnsweredHandler } from './dial-answered';
import { dialEndedTwiml, dialStatusHandler, dialStatusQuery, safeDialEndedHandler } from './dial-status';
import { MAX_DRAINING_HOPS, type BridgeLost } from './bridge-lost';
import type { DialOffers } from './dial-offer';
import type { FirstWebhook } from './first-webhook';
import type { AlsoRead, ReadCall, WebhookWrite } from './webhook-write';
import { fixedSecurityHeaders } from '../security-headers';
import { emptyTwiml, notInServiceTwiml, passOnCallTwiml } from './twiml';
import { captureAgain, captureHandler, captureIdentity } from './capture-route';
import { captureRescue, gatherRescue, type Rescue } from './dropin-rescue';
import { afterFailedGuard, firstRescue, stretchRescue, type StretchWebhook } from './stretch-rescue';
import { webhookServing, type Claimed, type Early, type Handler, type Reads, type Serving } from './serving';
import type { DropinService } from '../dropin/service';
import type { PausingRequest } from '../dropin/held-pauses';
import { decodeActionQuery } from '../dropin/action-query';
import { TwilioErrors } from '../errors';

export interface TwilioRouteDeps {
  config: Config;
  flows: FlowRegistry;
  runner: FlowRunner;
  calls: CallRepository;
  replay: ReplayGuard;
  /** a call's first webhook in one store round trip when its flow opens plainly */
  firstWebhook: FirstWebhook;
  /** a later webhook's step in one store write with its answer, its call read by the replay claim */
  webhookWrite: WebhookWrite;
  metrics: Metrics;
  audit: AuditSink;
  events: EventBus;
  log: Logger;
  /** a bridge's stream ended with its call up (its <Redirect> after <Connect>): the call taken up here */
  bridgeLost: BridgeLost;
  /** this instance is stopping (SIGTERM): a new call's first webhook is passed on */
  draining?: () => boolean;
  /** a dial handoff without `to`: its caller's hold loop (dial-offer.ts) */
  dialOffers: DialOffers;
  /** a drop-in capture's call ended (its hang-up watch and result: dropin/service.ts); no other call's end calls it */
  onCallEnded?: (callSid: string) => Promise<void>;
  /** drop-in captures (issue 13): POST /twilio/capture/:flowId */
  dropin?: DropinService;
  /** a failed webhook of a sensitive stretch resumes the recordings its action says it holds paused (stretch-rescue.ts) */
  recording: RecordingController;
  /** the clock the runner writes a stretch's or a drop-in capture's query time by, and its age is read by (BuildOptions.now) */
  now?: () => Date;
}

/**
 * Twilio's webhooks get the security headers from a set computed once (ops/access-log.ts), not
 * from @fastify/helmet's middleware rebuilt for every request: the same headers, made once.
 */
const ROUTE_OPTIONS = { helmet: false as const };

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

    /**
     * A call the service knew (its audit trail outlives it) whose record is gone, erased or
     * expired: it is over, and Twilio never sends an ended call a first webhook again, so one now
     * is a captured request resent. Its replay memory went with the record, so without this it
     * would open the call afresh (the caller's number stored again, the call offered to agents).
     */
    const outlived = async ({ identity, reads }: Claimed): Promise<boolean> => {
      if (!identity) return false;
      const read = await d.webhookWrite.load(identity.callSid, reads);
      return read.session === null && read.trail !== null;
    };
    const refuseOutlived = (log: Logger): string => {
      log.warn('first webhook of a call already over: refused as a replay');
      return emptyTwiml();
    };

    route(
      '/twilio/voice',
      'voice',
      'voice',
      async (raw, log, _req, claimed) => {
        const p = voiceParams.parse(raw);
        if (await outlived(claimed)) return refuseOutlived(log);
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

    const now = d.now ?? (() => new Date());
    const rescueDeps = d.dropin ? { config: d.config, flows: d.flows, dropin: d.dropin, audit: d.audit, now } : undefined;
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
      const writes = d.webhookWrite.deferred(read, identity);
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
          async (raw, log, _req, claimed) => capture(flowId, raw, req.query, log, await outlived(claimed), request),
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

    route(
      '/twilio/status',
      'status',
      'callback',
      async (raw, log, _req, { identity, reads }) => {
        const p = statusParams.parse(raw);
        if (!TERMINAL_CALL_STATUSES.has(p.CallStatus)) return '';
        let ended = false;
        // moved to ended here from a call still in tonewall's hands: counted out of the active calls
        // here. One returned to its app left them when it returned; one already ended was counted
        // out by what ended it (a drop-in hang-up watch, the bridge's cleanup)
        let left = false;
        // moved to ended here: counted as ended here, by Twilio's status (one already ended was counted by what ended it)
        let endedNow = false;
        // only a drop-in capture's call has a hang-up watch or a result to report (dropin/)
        let dropin = false;
        const answer = await d.webhookWrite.callback(p.CallSid, identity, reads, (s) => {
          ended = s !== null;
          left = false;
          endedNow = false;
          dropin = Boolean(s?.dropin);
          if (!s) return {};
          const audit = [{ type: 'call.ended', twilioStatus: p.CallStatus }];
          const end = endSession(s);
          if (!end) return { audit };
          left = end.left;
          endedNow = true;
          // the first entry of a matching pair, sealed while its second was awaited: gone with the call
          return { changed: true, audit, forget: end.sealed ? [end.sealed] : [] };
        });
        if (ended) {
          if (endedNow) d.metrics.callsEnded.inc({ status: p.CallStatus });
          if (left) d.metrics.callsActive.dec();
          // published by whichever end moved the record to ended (its bridge's end, the sweep, ...), once
          if (endedNow) await d.events.publish({ type: 'call.ended', callSid: p.CallSid, status: p.CallStatus });
          if (dropin) await d.onCallEnded?.(p.CallSid);
          log.info({ status: p.CallStatus }, 'call ended');
        }
        return answer;
      },
      undefined,
      undefined,
      // the claim reads the call it ends: its change, entry and answer go in one write (webhook-write.ts)
      (identity, req) => (TERMINAL_CALL_STATUSES.has(formParams(req.body).CallStatus ?? '') ? d.webhookWrite.reads(identity.callSid) : []),
    );

    route(
      '/twilio/recording-status',
      'recording-status',
      'callback',
      async (raw, log, req, { identity, reads }) => {
        const p = recordingStatusParams.parse(raw);
        const q = recordingStatusQuery.parse(req.query ?? {});
        const status = p.RecordingStatus;
        const callSid = recordingCall(q, p.CallSid);
        if (!callSid) throw TwilioErrors.recordingCallMissing();
        const answer = await d.webhookWrite.callback(callSid, identity, reads, (s) => ({
          changed:
            !!s &&
            !(q.leg === 'agent' && s.handoff.agentCallSid && s.handoff.agentCallSid !== p.CallSid) &&
            applyRecordingStatus(s, q.leg, p.RecordingSid, status),
          audit: [{ type: 'recording.status', leg: q.leg, recordingSid: p.RecordingSid, twilioStatus: status ?? 'unknown' }],
        }));
        // Twilio's reason for a recording it kept no file of (16101 too short, 16102 silent)
        log.info({ leg: q.leg, recordingStatus: status, ...(p.ErrorCode && p.ErrorCode !== '0' ? { twilioError: p.ErrorCode } : {}) }, 'recording status');
        return answer;
      },
      undefined,
      undefined,
      // the claim reads the call the recording belongs to (webhook-write.ts)
      (identity, req) => {
        const q = recordingStatusQuery.safeParse(req.query ?? {});
        const callSid = q.success ? recordingCall(q.data, identity.callSid) : undefined;
        return callSid ? d.webhookWrite.reads(callSid) : [];
      },
    );
  };
}

/** the call whose session a recording status callback changes: the caller's own, or for the agent's leg the caller's it bridges to */
function recordingCall(q: { leg: 'caller' | 'agent'; call?: string }, callSid: string): string | undefined {
  return q.leg === 'agent' ? q.call : callSid;
}

/** Twilio's final recording statuses, each as the call shows it (CallSession RecordingStatus) */
const FINAL_RECORDING_STATUS: Readonly<Record<string, RecordingStatus>> = { completed: 'stopped', absent: 'absent', failed: 'failed' };

/**
 * What a recording status callback changes on the call: `in-progress` names the recording
 * (its SID comes only from Twilio, as recordings start in TwiML); `completed`, `absent` (no file:
 * too short or silent) and `failed` (encryption failed) end it, each shown as what it is. A
 * callback for another recording than the one the call knows changes nothing.
 */
function applyRecordingStatus(s: CallSession, leg: 'caller' | 'agent', recordingSid: string | undefined, status: string | undefined): boolean {
  const rec = leg === 'agent' ? (s.agentRecording ??= { status: 'none' }) : s.recording;
  if (recordingSid && rec.sid && rec.sid !== recordingSid) return false;
  const next: RecordingStatus | undefined =
    status === 'in-progress'
      ? rec.status === 'none'
        ? 'in-progress'
        : rec.status
      : status && Object.hasOwn(FINAL_RECORDING_STATUS, status)
        ? FINAL_RECORDING_STATUS[status]
        : undefined;
  if (!next) return false;
  if (recordingSid) rec.sid = recordingSid;
  rec.status = next;
  return true;
}

function send(reply: FastifyReply, a: StoredAnswer): FastifyReply {
  return reply.code(a.status).type(a.contentType).send(a.body);
}
