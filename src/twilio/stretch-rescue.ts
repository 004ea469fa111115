/**
 * What a failed webhook of an IVR call's sensitive stretch answers (a gather or a guard whose
 * action carries the recordings the stretch holds paused: recording/stretch-query.ts). The safe
 * apology (then the flow's fixed dial, or a hangup) asks nothing sensitive any more, so the
 * recordings are resumed first, or the call would go on with them paused to its end: the
 * operator's compliance recording would lose the conversation with the human it is handed to.
 * A step that fails in the webhook that paused resumes them itself (twilio/runner.ts `run`);
 * this is for the later webhooks of the stretch, whose session, where the pause is recorded, is
 * in the store that failed. It works from the request alone, signed by Twilio (query included)
 * and checked before this runs (twilio/serving.ts).
 *
 * No resume while a sensitive field could still be keyed into a running recording. Without the
 * session the ending of the failed entry can be told only from Twilio's `FinishedOnKey`:
 * - '#' (the key that says the caller is done; or a guard's webhook: the caller was silent for
 *   its time): the recordings are resumed at once, then the safe answer;
 * - anything else (the field's count, after which keys may follow, RESUME_HOLD_MS; or the caller's
 *   silence, after which they may key on; which of the two, only the session knows): the stricter
 *   rule of the two, the guard after silence (flows/steps/collect.ts `guardAfter`), at its longest
 *   (GUARD_MAX_SECONDS). Its action (`/twilio/guard/:step/failed`, the same query) resumes and
 *   answers the apology whether the store is back by then or not (`afterFailedGuard`): the
 *   stretch is over, and the flow never goes on from a failed step (its answer may be
 *   remembered, and the same gather asked again would get this guard again).
 */
import type { Logger } from 'pino';
import type { FlowRegistry } from '../flows/load';
import { GUARD_MAX_SECONDS } from '../flows/steps/collect';
import type { RecordingController } from '../recording/controller';
import { decodeStretchQuery, encodeStretchQuery, type StretchHold } from '../recording/stretch-query';
import { CALL_SID, type Rescue } from './dropin-rescue';
import { renderVerbs, safeTwiml } from './twiml';

export interface StretchRescueDeps {
  flows: FlowRegistry;
  recording: RecordingController;
  publicUrl: string;
}

/** the failed webhook: a gather's answer (`step`, from its path) or a guard's end */
export type StretchWebhook = { route: 'gather'; step: number } | { route: 'guard' };

export function stretchRescue(d: StretchRescueDeps, at: StretchWebhook): Rescue {
  return async (params, query, log) => {
    const hold = decodeStretchQuery(query);
    if (!hold || !callOf(params)) return undefined;
    if (at.route === 'gather' && !params.FinishedOnKey) {
      log.warn("a step of a sensitive stretch failed on an entry that did not end on '#': a guard before its recordings are resumed");
      const guard = { verb: 'guard' as const, step: at.step, timeoutSeconds: GUARD_MAX_SECONDS, failed: true as const };
      return renderVerbs([guard], { publicUrl: d.publicUrl, flow: d.flows.byNumber(params.To ?? ''), actionQuery: encodeStretchQuery(hold) });
    }
    return resumeAndApologise(d, params, hold, log);
  };
}

/**
 * The action of the guard a failed stretch's gather answered (`/twilio/guard/:step/failed`): the
 * caller was silent for its time, so the recordings its query names are resumed and the safe
 * apology answered, as its own failure would (stretchRescue), the store back or not. A query
 * this service did not write resumes nothing: the apology alone.
 */
export async function afterFailedGuard(d: StretchRescueDeps, params: Record<string, string>, query: unknown, log: Logger): Promise<string> {
  const hold = decodeStretchQuery(query);
  if (!hold || !callOf(params)) return safeTwiml(d.publicUrl, d.flows.byNumber(params.To ?? ''));
  return resumeAndApologise(d, params, hold, log);
}

async function resumeAndApologise(d: StretchRescueDeps, params: Record<string, string>, hold: StretchHold, log: Logger): Promise<string> {
  const sids = 'current' in hold ? [undefined] : hold.sids;
  const confirmed = await d.recording.resumeAfterFailure(params.CallSid, sids, log);
  log.warn({ recordings: sids.length, confirmed }, 'a step of a sensitive stretch failed: the recordings it held paused resumed before the safe answer');
  return safeTwiml(d.publicUrl, d.flows.byNumber(params.To ?? ''));
}

const callOf = (params: Record<string, string>): boolean => typeof params.CallSid === 'string' && CALL_SID.test(params.CallSid);

/** the first of `rescues` that answers (a drop-in capture's return, a stretch's resume), or undefined for the safe apology */
export function firstRescue(...rescues: (Rescue | undefined)[]): Rescue {
  return async (params, query, log) => {
    for (const rescue of rescues) {
      const body = rescue && (await rescue(params, query, log));
      if (body !== undefined) return body;
    }
    return undefined;
  };
}
