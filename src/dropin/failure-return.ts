/**
 * A drop-in capture's return after a failed step, apart from service.ts, which returns a capture
 * that ended and reports a caller who hung up. This path has rules of its own: it works from what
 * the failed request carries, as the store may be what failed, and it decides which of the
 * recordings paused for the capture that request may resume (held-pauses.ts) before the call
 * goes back to the app with `Result=internal-error`. DropinService.returnAfterFailure is its one
 * caller, with the service's parts as `FailureReturnDeps`.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import twilio from 'twilio';
import type { Logger } from 'pino';
import type { CallControl } from '../calls/control';
import { RESUME_HOLD_MS } from '../flows/engine';
import { errFields } from '../log';
import type { RecordingController } from '../recording/controller';
import type { HeldPauses, PausingRequest } from './held-pauses';
import { signedReturnUrl } from './result-signature';
import { callOver } from './return-waits';
import type { UnsavedReturns } from './unsaved-returns';

/** the parts of DropinService a failed step's return uses */
export interface FailureReturnDeps {
  recording: Pick<RecordingController, 'resumeAfterFailure'>;
  twilio: CallControl;
  /** the app's recordings this process paused and has not resumed (AppRecordings.held) */
  held: HeldPauses;
  /** removes the call's hang-up watch (HangupWatch.remove) */
  unwatch: (callSid: string) => Promise<void>;
  unsaved: Pick<UnsavedReturns, 'save'>;
  /** CAPTURE_RESULT_SECRET; throws when it is not set */
  secret: () => string;
}

export interface FailureReturnOptions {
  flowId?: string;
  keyedOn?: boolean;
  resumeNothing?: boolean;
  pausedBy?: PausingRequest;
}

/**
 * A step of a capture failed (the capture route or a gather threw, or the store could not be
 * reached): the call goes back to the app with `Result=internal-error` and no field, as Twilio's
 * <Pay> answers an internal error, never hung up. It works from what the request carries, as
 * the store may be what failed: `returnUrl` (allow-listed by the caller of this) and `paused`,
 * the recordings the capture held paused (a gather's action query). Each of those, and each this
 * process paused since, is resumed first, by its SID, all at once (each bounded by
 * PAUSE_ACK_TIMEOUT_MS); a resume that fails is logged and audited where the store allows, and
 * never holds the call back. The session is marked returned, the hang-up watch removed and
 * `dropin.returned` audited; when the store is unreachable, this instance keeps the return and
 * saves it once the store answers again (unsaved-returns.ts), and reports no hang-up for the
 * call meanwhile: the app gets one result. The call's status is read once, after the resumes
 * (as service.ts `end` reads it): a call over by then (the caller hung up) gets no redirect from
 * Twilio, so its `internal-error` is POSTed to the return URL as a hang-up's result is (signed,
 * once per call: a hang-up already queued for it is the one the app gets), with the save.
 * `flowId`: the capture's flow when the request names it (the capture route). `resumeNothing`:
 * the request's query is one no recording may be resumed from (twilio/dropin-rescue.ts: too old,
 * untimed, dated ahead), perhaps a replay while a later field is keyed, so neither its
 * recordings nor those this process holds paused for the call are resumed, and those stay held
 * for the step that paused them. `pausedBy`: the request that failed, when only what it paused
 * itself may be resumed (the capture route's, whose request names no recording and holds no
 * time: twilio/dropin-rescue.ts), not what this process holds paused for the call by another
 * request, which also stays held (logged).
 */
export async function returnAfterFailure(
  d: FailureReturnDeps,
  callSid: string,
  returnUrl: string,
  paused: readonly string[],
  log: Logger,
  opts: FailureReturnOptions = {},
): Promise<string> {
  const { flowId } = opts;
  const secret = d.secret();
  // no more polls from now (the local timer at once); whether the store removed the watch is awaited below
  const unwatched = d.unwatch(callSid).then(
    () => true,
    (err: unknown) => {
      log.warn({ err: errFields(err) }, 'drop-in watch not removed');
      return false;
    },
  );
  const sids = toResume(d.held, callSid, paused, opts, log);
  // the failed step answered a Gather that ended without '#' (its count, or its timeout): the
  // caller may still be keying, so the resume waits as one after a field's count does
  if (opts.keyedOn && sids.length > 0) await sleep(RESUME_HOLD_MS);
  const resumed = await d.recording.resumeAfterFailure(callSid, sids, log);
  const params = { CallSid: callSid, Result: 'internal-error' };
  // the caller may have hung up (before or while the step failed): Twilio then drops the
  // redirect, so the app gets the result server to server, as service.ts `end` sends a hang-up's
  const over = await callOver(d.twilio, callSid, log);
  await d.unsaved.save({ callSid, flowId, resumed, unwatched: await unwatched, ...(over ? { post: { url: returnUrl, params } } : {}), log });
  log.warn({ result: 'internal-error', recordings: sids.length, callOver: over }, 'drop-in capture returned to the app after a failed step');
  return redirectTwiml(signedReturnUrl(returnUrl, params, secret));
}

/** what returnAfterFailure resumes (its `paused`, and what this process holds paused for the call that it may resume), no longer held */
function toResume(held: HeldPauses, callSid: string, paused: readonly string[], opts: FailureReturnOptions, log: Logger): string[] {
  if (opts.resumeNothing) return [];
  if (!opts.pausedBy) {
    const sids = [...new Set([...paused, ...held.of(callSid)])];
    held.forget(callSid);
    return sids;
  }
  const own = held.by(callSid, opts.pausedBy);
  const others = own.length === 0 ? held.of(callSid).length : 0;
  if (others > 0)
    log.warn({ reason: 'paused-by-another-request', recordings: others }, 'a failed step resumes no recording it did not pause: those held stay paused');
  held.forget(callSid, opts.pausedBy);
  return [...new Set([...paused, ...own])];
}

/** the TwiML that sends the call back to its app, a POST redirect to the signed return URL: here and at a capture's end (service.ts `end`) */
export function redirectTwiml(url: string): string {
  const r = new twilio.twiml.VoiceResponse();
  r.redirect({ method: 'POST' }, url);
  return r.toString();
}
