/**
 * What a failed webhook of a drop-in capture answers (issue 13): not the safe apology and hangup,
 * which would hang up the app's customer, but the call back to the app with
 * `Result=internal-error`, as Twilio's <Pay> does (dropin/service.ts `returnAfterFailure`).
 * serving.ts calls a rescue when the replay guard or the handler fails; undefined means the safe
 * apology after all.
 *
 * A rescue works from the request alone, as the store may be what failed: the capture route from
 * its `return` query parameter, a gather from its action's query (dropin/action-query.ts), both
 * signed by Twilio with the URL and checked before this runs. The return URL is checked against
 * CAPTURE_RETURN_URLS again all the same, and without CAPTURE_RESULT_SECRET nothing can be signed:
 * the apology, as the capture route refuses such a capture up front.
 *
 * No resume from a gather's query older than one document of the capture can last
 * (DROPIN_QUERY_MAX_AGE_SECONDS), nor from one that holds no time (version 1): the signature
 * holds no time, and the replay guard, which would answer a resent request from the first one's
 * answer, is in the store that failed. A gather request captured earlier in the capture (a
 * proxy's log) and sent again while a later field is keyed would otherwise resume the app's
 * recordings under the caller's keys. Such a query still returns the call to its app with
 * `internal-error`, as any failure does, but resumes nothing (neither what it names nor what this
 * process holds paused for the call); that is logged. Within the bound, a request this process
 * received before (the same signature: seen-requests.ts, `Arrival.replayed`) is answered the same
 * way, reason `replayed`; its first arrival, failing, still resumes. A copy sent to another
 * instance is new there: with several instances, within the bound, only the store knows better.
 *
 * The capture route's request names no recording and holds no time, so it has no age to be read
 * by: its rescue resumes only what that request's own handling paused (the app's recordings,
 * paused before the capture could be written), held with the request (dropin/held-pauses.ts),
 * never what this process holds paused for the call by a later request of the capture. A copy of
 * it resent while the store is down, as a later field is keyed, fails at the replay guard having
 * paused nothing: the call's answer is the return to its app with `internal-error`, nothing is
 * resumed, and the held recordings left paused are logged. One this process received before
 * resumes nothing, whatever its handling paused (a capture is one per call: captureAgain).
 */
import { CALL_SID } from '../sids';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { decodeActionQuery, encodeActionQuery, type ActionQuery } from '../dropin/action-query';
import { allowedReturnUrl } from '../dropin/return-urls';
import type { PausingRequest } from '../dropin/held-pauses';
import type { DropinService } from '../dropin/service';
import { errFields } from '../log';
import type { AuditSink } from '../recording/controller';
import type { FlowRegistry } from '../flows/load';
import { GUARD_MAX_SECONDS } from '../flows/steps/collect';
import { ASK_MAX_SECONDS, staleQuery, TWILIO_WEBHOOK_TIMEOUT_SECONDS, type StaleQuery } from '../recording/query-time';
import { captureFlow, captureReturn } from './capture-route';
import { renderVerbs } from './twiml';

/** the TwiML that returns the call to its app, or undefined for the safe apology */
export type Rescue = (params: Record<string, string>, query: unknown, log: Logger, arrival: Arrival) => Promise<string | undefined>;

/**
 * What this process knows of the request itself: `replayed`, an earlier request with the same
 * signature arrived here within the bound a query may resume in (seen-requests.ts). Twilio sends a
 * request that reached the server once, so such a request is a copy someone resent: it resumes
 * nothing. The first arrival of a request is never `replayed`, so its own failure still resumes.
 */
export interface Arrival {
  replayed: boolean;
}

/** the warning a rescue logs when its request is such a copy */
export const REPLAYED = { reason: 'replayed' } as const;

export interface RescueDeps {
  config: Config;
  flows: FlowRegistry;
  dropin: DropinService;
  audit: AuditSink;
  /** the clock a gather query's age is read by: the one its writer (twilio/runner.ts) used */
  now: () => Date;
}

/**
 * A guard's document in a capture (after an entry that ended on the caller's silence, or one `*`
 * interrupted: twilio/runner.ts), from its TwiML written to its action's request given up by
 * Twilio: the guard at its longest, then Twilio's wait for the answer.
 */
const GUARD_DOCUMENT_SECONDS = GUARD_MAX_SECONDS + TWILIO_WEBHOOK_TIMEOUT_SECONDS;

/**
 * How long after its TwiML was written a drop-in capture's `dc=` query still resumes anything
 * (200 s). Every document of a capture writes its own (each attempt, each entry of a matching
 * pair, each guard: twilio/runner.ts), one Gather to a document, so this bounds one document,
 * not a capture: the longer of one ask (ASK_MAX_SECONDS: its prompt, entry, longest Gather
 * timeout and Twilio's wait) followed by the guard a failed gather's rescue answers, which carries
 * the gather's query on (GUARD_MAX_SECONDS, as the stretch's bound adds it), and one guard
 * (GUARD_DOCUMENT_SECONDS). A document slower than this whose webhook fails with the store down
 * returns the call to its app with the recordings left paused: a loss of recording, never keys
 * in one.
 */
export const DROPIN_QUERY_MAX_AGE_SECONDS = Math.max(ASK_MAX_SECONDS + GUARD_MAX_SECONDS, GUARD_DOCUMENT_SECONDS);

/** the failed webhook: a gather's answer (`step`, from its path) or a guard's end (twilio/stretch-rescue.ts StretchWebhook) */
export type CaptureWebhook = { route: 'gather'; step: number } | { route: 'guard' };

/** a CallSid as Twilio issues them: a rescue runs before any parser has read the request */
export { CALL_SID } from '../sids';

/**
 * The capture route failed: a capture it would have started goes back (nothing asked yet, or what
 * `request`, this request's handling, paused resumed: nothing another request of the call paused).
 */
export function captureRescue(d: RescueDeps, flowId: string, request: PausingRequest): Rescue {
  return async (params, query, log, arrival) => {
    const flow = captureFlow(d.flows, flowId);
    const returnUrl = captureReturn(query, d.config);
    const callSid = params.CallSid;
    if (!flow || !returnUrl || !d.dropin.configured || typeof callSid !== 'string' || !CALL_SID.test(callSid)) return undefined;
    if (arrival.replayed) {
      log.warn(REPLAYED, 'a drop-in capture request resumes nothing: the call returned to its app with its recordings left paused');
      return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), [], log, { flowId: flow.id, resumeNothing: true });
    }
    return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), [], log, { flowId: flow.id, pausedBy: request });
  };
}

/**
 * A gather or a guard failed: a drop-in capture's (its action carries the query) goes back; a
 * plain call's gets the apology. A gather whose entry did not end on '#' ended on its count, after
 * which keys may follow, or on the caller's silence, after which they may key on; which, only the
 * session knows. So, as a stretch's rescue does (stretch-rescue.ts), the stricter rule of the two:
 * a guard at its longest (GUARD_MAX_SECONDS) carrying the gather's query, time kept, before the
 * call goes back; its action (`/twilio/guard/:step/failed`) returns it, the recordings resumed at
 * once, the store back or not. A guard's end (the caller silent for its time) returns it at once.
 */
export function gatherRescue(d: RescueDeps, at: CaptureWebhook = { route: 'guard' }): Rescue {
  return async (params, query, log, arrival) => {
    const q = decodeActionQuery(query);
    const callSid = params.CallSid;
    if (!q || !d.dropin.configured || typeof callSid !== 'string' || !CALL_SID.test(callSid)) return undefined;
    const returnUrl = allowedReturnUrl(q.context.returnUrl, d.config.capture.returnUrls);
    if (!returnUrl) {
      // signed by Twilio, so written by this service under another allow-list, or by whoever holds the auth token
      log.warn({ reason: 'return-url-not-allowed' }, 'drop-in return refused');
      await d.audit
        .append(callSid, { type: 'dropin.refused', reason: 'return-url-not-allowed' })
        .catch((err: unknown) => log.error({ err: errFields(err) }, 'drop-in audit entry not written'));
      return undefined;
    }
    const stale = staleness(q, d.now()) ?? (arrival.replayed ? REPLAYED : undefined);
    if (stale) {
      log.warn(stale, 'a drop-in query resumes nothing: the call returned to its app with its recordings left paused');
      return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), [], log, { resumeNothing: true });
    }
    if (at.route === 'gather' && !params.FinishedOnKey && 'issuedAtSeconds' in q) {
      log.warn("a step of a drop-in capture failed on an entry that did not end on '#': a guard before its return");
      const guard = { verb: 'guard' as const, step: at.step, timeoutSeconds: GUARD_MAX_SECONDS, failed: true as const };
      // the gather's own query, its time kept: a rescue never makes a query younger
      const actionQuery = encodeActionQuery(q.context, new Date(q.issuedAtSeconds * 1000));
      return renderVerbs([guard], { publicUrl: d.config.publicUrl, actionQuery });
    }
    // keys that ended on no '#' may go on past the Gather's end: the resume waits for them
    const keyedOn = typeof params.Digits === 'string' && params.Digits !== '' && !params.FinishedOnKey;
    return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), q.context.paused, log, { keyedOn });
  };
}

/** why a query may resume nothing (untimed, too old, dated ahead), or undefined when it may (its request a copy: checked after this) */
function staleness(q: ActionQuery, now: Date): StaleQuery | { reason: 'untimed' } | undefined {
  return 'untimed' in q ? { reason: 'untimed' } : staleQuery(q.issuedAtSeconds, now, DROPIN_QUERY_MAX_AGE_SECONDS);
}
