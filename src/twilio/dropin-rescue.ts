/**
 * What a failed webhook of a drop-in capture answers (issue 13): not the safe apology and hangup,
 * which would hang up the app's customer, but the call back to the app with
 * `Result=internal-error`, as Twilio's <Pay> does (dropin/service.ts `returnAfterFailure`).
 * routes.ts calls a rescue when the replay guard or the handler fails; undefined means the safe
 * apology after all.
 *
 * A rescue works from the request alone, as the store may be what failed: the capture route from
 * its `return` query parameter, a gather from its action's query (dropin/action-query.ts), both
 * signed by Twilio with the URL and checked before this runs. The return URL is checked against
 * CAPTURE_RETURN_URLS again all the same, and without CAPTURE_RESULT_SECRET nothing can be signed:
 * the apology, as the capture route refuses such a capture up front.
 */
import { CALL_SID } from '../sids';
import type { Logger } from 'pino';
import type { Config } from '../config';
import { decodeActionQuery } from '../dropin/action-query';
import { allowedReturnUrl } from '../dropin/return-urls';
import type { DropinService } from '../dropin/service';
import { errFields } from '../log';
import type { AuditSink } from '../recording/controller';
import type { FlowRegistry } from '../flows/load';
import { captureFlow, captureReturn } from './capture-route';

/** the TwiML that returns the call to its app, or undefined for the safe apology */
export type Rescue = (params: Record<string, string>, query: unknown, log: Logger) => Promise<string | undefined>;

export interface RescueDeps {
  config: Config;
  flows: FlowRegistry;
  dropin: DropinService;
  audit: AuditSink;
}

/** a CallSid as Twilio issues them: a rescue runs before any parser has read the request */
export { CALL_SID } from '../sids';

/** the capture route failed: a capture it would have started goes back (nothing asked yet, or what it paused resumed) */
export function captureRescue(d: RescueDeps, flowId: string): Rescue {
  return async (params, query, log) => {
    const flow = captureFlow(d.flows, flowId);
    const returnUrl = captureReturn(query, d.config);
    const callSid = params.CallSid;
    if (!flow || !returnUrl || !d.dropin.configured || typeof callSid !== 'string' || !CALL_SID.test(callSid)) return undefined;
    return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), [], log, { flowId: flow.id });
  };
}

/** a gather failed: a drop-in capture's (its action carries the query) goes back; a plain call's gets the apology */
export function gatherRescue(d: RescueDeps): Rescue {
  return async (params, query, log) => {
    const ctx = decodeActionQuery(query);
    const callSid = params.CallSid;
    if (!ctx || !d.dropin.configured || typeof callSid !== 'string' || !CALL_SID.test(callSid)) return undefined;
    const returnUrl = allowedReturnUrl(ctx.returnUrl, d.config.capture.returnUrls);
    if (!returnUrl) {
      // signed by Twilio, so written by this service under another allow-list, or by whoever holds the auth token
      log.warn({ reason: 'return-url-not-allowed' }, 'drop-in return refused');
      await d.audit
        .append(callSid, { type: 'dropin.refused', reason: 'return-url-not-allowed' })
        .catch((err: unknown) => log.error({ err: errFields(err) }, 'drop-in audit entry not written'));
      return undefined;
    }
    // keys that ended on no '#' may go on past the Gather's end: the resume waits for them
    const keyedOn = typeof params.Digits === 'string' && params.Digits !== '' && !params.FinishedOnKey;
    return d.dropin.returnAfterFailure(callSid, returnUrl.toString(), ctx.paused, log, { keyedOn });
  };
}
