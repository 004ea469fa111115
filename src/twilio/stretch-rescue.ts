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
 *
 * No resume from a query older than one ask can last (STRETCH_QUERY_MAX_AGE_SECONDS), nor from
 * one that holds no time (version 1): the signature holds no time, and the replay guard, which
 * would answer a resent request from the first one's answer, is in the store that failed. A
 * gather request of the call captured earlier (a proxy's log) and sent again while a later
 * stretch asks for a card would otherwise resume the call's recordings under the caller's keys.
 * Such a query answers the apology, its recordings left paused (as before `rp=` existed); that
 * is logged. Within the bound, a request this process received before (the same signature:
 * seen-requests.ts, `Arrival.replayed`) resumes nothing either, reason `replayed`; its first
 * arrival, failing, still resumes. A copy sent to another instance is new there: with several
 * instances, within the bound, only the store knows better.
 *
 * The request's own CallSid names the call (signed with the query: it cannot be swapped), and
 * each recording is resumed under that call's path (`…/Calls/{CallSid}/Recordings/{Sid}`,
 * recording/controller.ts), where Twilio finds no other call's recording (its 20404).
 */
import type { Logger } from 'pino';
import type { FlowRegistry } from '../flows/load';
import { GUARD_MAX_SECONDS } from '../flows/steps/collect';
import type { RecordingController } from '../recording/controller';
import { ASK_MAX_SECONDS, QUERY_CLOCK_SKEW_SECONDS, staleQuery } from '../recording/query-time';
import { decodeStretchQuery, encodeStretchQuery, type StretchHold } from '../recording/stretch-query';
import { CALL_SID, REPLAYED, type Arrival, type Rescue } from './dropin-rescue';
import { renderVerbs, safeTwiml } from './twiml';

export interface StretchRescueDeps {
  flows: FlowRegistry;
  recording: RecordingController;
  publicUrl: string;
  /** the clock a query's age is read by: the one its writer (twilio/runner.ts) used */
  now: () => Date;
}

/**
 * How long after its TwiML was written an `rp=` query still resumes anything (200 s). Every
 * document that asks a sensitive field (each attempt, each entry of a matching pair, a guard
 * after silence: twilio/runner.ts) writes its own, so this bounds one ask, not a stretch, and a
 * stretch's attempts do not add up in it: the ask, from its TwiML to Twilio's giving up on the
 * failed webhook (ASK_MAX_SECONDS: its prompt, entry, longest Gather timeout and Twilio's wait),
 * then that step's guard at its longest (GUARD_MAX_SECONDS), which alone carries its gather's
 * query on. An ask slower than this whose webhook fails with the store down gets the apology
 * with its recordings left paused: a loss of recording, never keys in one.
 */
export const STRETCH_QUERY_MAX_AGE_SECONDS = ASK_MAX_SECONDS + GUARD_MAX_SECONDS;

/** how far ahead of this instance's clock a query's time may be (recording/query-time.ts) */
export const STRETCH_QUERY_CLOCK_SKEW_SECONDS = QUERY_CLOCK_SKEW_SECONDS;

/** the failed webhook: a gather's answer (`step`, from its path) or a guard's end */
export type StretchWebhook = { route: 'gather'; step: number } | { route: 'guard' };

export function stretchRescue(d: StretchRescueDeps, at: StretchWebhook): Rescue {
  return async (params, query, log, arrival) => {
    if (!callOf(params)) return undefined;
    const held = liveHold(d, query, log, arrival);
    if (!held) return undefined;
    const { hold, issuedAt } = held;
    if (at.route === 'gather' && !params.FinishedOnKey) {
      log.warn("a step of a sensitive stretch failed on an entry that did not end on '#': a guard before its recordings are resumed");
      const guard = { verb: 'guard' as const, step: at.step, timeoutSeconds: GUARD_MAX_SECONDS, failed: true as const };
      // the gather's own query, its time kept: a rescue never makes a query younger
      const actionQuery = encodeStretchQuery(hold, issuedAt);
      return renderVerbs([guard], { publicUrl: d.publicUrl, flow: d.flows.byNumber(params.To ?? ''), actionQuery });
    }
    return resumeAndApologise(d, params, hold, log);
  };
}

/**
 * The hold a query carries and when it was written, if it may still resume: undefined for none
 * or one not written here, and for one too old, untimed, or dated ahead, or whose request arrived
 * here before (logged: a replay, or an ask slower than the bound, answers the apology with its
 * recordings left paused)
 */
function liveHold(d: StretchRescueDeps, query: unknown, log: Logger, arrival: Arrival): { hold: StretchHold; issuedAt: Date } | undefined {
  const q = decodeStretchQuery(query);
  if (!q) return undefined;
  if ('untimed' in q) {
    log.warn({ reason: 'untimed' }, 'a stretch query resumes nothing: its recordings left paused for the safe answer');
    return undefined;
  }
  const stale = staleQuery(q.issuedAtSeconds, d.now(), STRETCH_QUERY_MAX_AGE_SECONDS) ?? (arrival.replayed ? REPLAYED : undefined);
  if (stale) {
    log.warn(stale, 'a stretch query resumes nothing: its recordings left paused for the safe answer');
    return undefined;
  }
  return { hold: q.hold, issuedAt: new Date(q.issuedAtSeconds * 1000) };
}

/**
 * The action of the guard a failed stretch's gather answered (`/twilio/guard/:step/failed`): the
 * caller was silent for its time, so the recordings its query names are resumed and the safe
 * apology answered, as its own failure would (stretchRescue), the store back or not. A query
 * this service did not write, one past its age, or one whose request arrived here before
 * (liveHold), resumes nothing: the apology alone.
 */
export async function afterFailedGuard(d: StretchRescueDeps, params: Record<string, string>, query: unknown, log: Logger, arrival: Arrival): Promise<string> {
  const held = callOf(params) ? liveHold(d, query, log, arrival) : undefined;
  if (!held) return safeTwiml(d.publicUrl, d.flows.byNumber(params.To ?? ''));
  return resumeAndApologise(d, params, held.hold, log);
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
  return async (params, query, log, arrival) => {
    for (const rescue of rescues) {
      const body = rescue && (await rescue(params, query, log, arrival));
      if (body !== undefined) return body;
    }
    return undefined;
  };
}
