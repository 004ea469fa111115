/**
 * The several-recordings operations of recording/controller.ts: a pause or a resume applied to a
 * set of recordings (those another application runs on a call, a bridge's two calls), with what
 * the set as a whole promises: all or none, a failure undone (pauseAll); each on its own and
 * never undone (holdEach); each tried (resumeAll); all at once, for a webhook that failed
 * (resumeAfterFailure). Every recording goes through the controller's own `pause` and `resume`,
 * so each is bounded, retried, kept behind the resumes before it and audited as one alone is;
 * RecordingController's methods of the same names call these.
 */
import type { Logger } from 'pino';
import { errFields } from '../log';
import type { RecordingOutcome } from './controller';
import type { RecordingRef } from './stretch';

/** the controller as these use it: one recording's pause and resume, each audited (RecordingController) */
export interface OneRecording {
  pause(callSid: string, recordingSid?: string, auditCallSid?: string, actor?: string): Promise<RecordingOutcome>;
  resume(callSid: string, recordingSid?: string, auditCallSid?: string, actor?: string): Promise<RecordingOutcome>;
}

/** holdEach's answer: the recordings it paused, and those it could not (or could not audit) with why */
export interface Held {
  paused: RecordingRef[];
  failed: { recording: RecordingRef; twilioStatus: string }[];
}

/**
 * Pauses every recording named (Twilio allows several on one call: a drop-in capture pauses each
 * the app runs; a bridge's capture those on the caller's call and on the agent's), all or none.
 * One after another, so that the first failure stops the rest and a webhook waits at most one
 * pause's bound beyond a round trip each; at that failure the ones already paused are resumed
 * (best effort) and the failure is the answer: the caller must not ask for the sensitive field.
 * Each audited on `auditCallSid` when given (a bridge is audited on the caller's call), else on
 * its own call. None named, or none active: ok and `absent`, with nothing asked of Twilio when
 * none was named. `actor`: whose capture it is, named on each entry (RecordingController.pause's).
 */
export async function pauseAll(
  one: OneRecording,
  log: Logger,
  recordings: readonly RecordingRef[],
  auditCallSid?: string,
  actor?: string,
): Promise<RecordingOutcome> {
  const paused: RecordingRef[] = [];
  let inHand: RecordingRef | undefined;
  try {
    for (const r of recordings) {
      inHand = r;
      const outcome = await one.pause(r.callSid, r.recordingSid, auditCallSid ?? r.callSid, actor);
      inHand = undefined;
      if (!outcome.ok) {
        const unansweredSentMsAgo = await undoPauses(one, log, paused, auditCallSid, actor);
        return unansweredSentMsAgo === undefined ? outcome : { ...outcome, unansweredSentMsAgo };
      }
      if (!outcome.absent) paused.push(r);
    }
  } catch (err) {
    // an audit write failed, perhaps after Twilio paused the recording in hand: that one is
    // resumed too (resuming one that runs changes nothing), so none is left paused behind it
    await undoPauses(one, log, inHand ? [...paused, inHand] : paused, auditCallSid, actor);
    throw err;
  }
  return paused.length > 0 ? { ok: true, twilioStatus: '200' } : { ok: true, twilioStatus: '404', absent: true };
}

/**
 * Pauses every recording named, each on its own, and resumes none whatever follows: a bridge's
 * hold on the caller's call (recording/bridge-guard.ts, and a capture in a bridge:
 * captures/pause.ts), where a recording found running is paused for the rest of the bridge.
 * Unlike pauseAll, a pause Twilio refuses neither stops the rest nor undoes those before it, and
 * an audit write that fails after Twilio answered leaves that recording as Twilio left it (it
 * is named `failed`: whether it is paused is unknown). An undo there would resume a recording
 * the bridge holds, for another pause to find paused at the same moment and count held.
 * `actor`: who caused it (a capture's person), named on each entry when given.
 */
export async function holdEach(one: OneRecording, log: Logger, recordings: readonly RecordingRef[], auditCallSid: string, actor?: string): Promise<Held> {
  const paused: RecordingRef[] = [];
  const failed: Held['failed'] = [];
  for (const r of recordings) {
    try {
      const outcome = await one.pause(r.callSid, r.recordingSid, auditCallSid, actor);
      if (!outcome.ok) failed.push({ recording: r, twilioStatus: outcome.twilioStatus });
      else if (!outcome.absent) paused.push(r);
    } catch (err) {
      log.warn({ callSid: auditCallSid, recordingSid: r.recordingSid, err: errFields(err) }, 'recording pause not audited: it is left as Twilio left it');
      failed.push({ recording: r, twilioStatus: 'unaudited' });
    }
  }
  return { paused, failed };
}

/** resumes every recording named, on one call or several (pauseAll's), each tried; ok only when all were (one that failed stays paused) */
export async function resumeAll(one: OneRecording, recordings: readonly RecordingRef[], auditCallSid?: string, actor?: string): Promise<RecordingOutcome> {
  let first: RecordingOutcome | undefined;
  const failed: RecordingRef[] = [];
  // the latest resume Twilio did not answer, on any of them (performance.now() when sent)
  let unansweredAt: number | undefined;
  for (const r of recordings) {
    const outcome = await one.resume(r.callSid, r.recordingSid, auditCallSid ?? r.callSid, actor);
    if (outcome.unansweredSentMsAgo !== undefined) unansweredAt = Math.max(unansweredAt ?? -Infinity, performance.now() - outcome.unansweredSentMsAgo);
    if (outcome.ok) continue;
    first ??= outcome;
    failed.push(r);
  }
  if (!first) return { ok: true, twilioStatus: '200' };
  return { ...first, failed, unansweredSentMsAgo: unansweredAt === undefined ? undefined : performance.now() - unansweredAt };
}

/**
 * What a webhook that failed held paused, resumed before its answer (a drop-in capture's return
 * to its app, an IVR stretch's safe apology): each by its SID (undefined: Twilio.CURRENT), all
 * at once, each bounded by PAUSE_ACK_TIMEOUT_MS. Twilio is asked first; the audit entry after
 * its answer may fail as the store did: that is logged, never thrown. True when every one was
 * resumed and audited.
 */
export async function resumeAfterFailure(one: OneRecording, callSid: string, recordingSids: readonly (string | undefined)[], log: Logger): Promise<boolean> {
  const resumed = await Promise.all(
    recordingSids.map((sid) =>
      one.resume(callSid, sid).then(
        (o) => o.ok,
        (err: unknown) => {
          // Twilio's answer came (it is asked first); its audit entry did not
          log.error({ err: errFields(err), recordingSid: sid }, 'recording resume after a failed step not confirmed');
          return false;
        },
      ),
    ),
  );
  return resumed.every(Boolean);
}

/**
 * The pauses of a pauseAll that failed, undone so the recordings are as they were found. Returns
 * how long ago the latest undo Twilio did not answer was sent (`unansweredSentMsAgo`), if one
 * was: it may still be carried out, after a pause another instance sends next (a capture's
 * caller writes until when: captures/pause.ts).
 */
async function undoPauses(
  one: OneRecording,
  log: Logger,
  recordings: readonly RecordingRef[],
  auditCallSid: string | undefined,
  actor: string | undefined,
): Promise<number | undefined> {
  // the latest undo Twilio did not answer (performance.now() when sent)
  let unansweredAt: number | undefined;
  for (const r of recordings) {
    const outcome = await one.resume(r.callSid, r.recordingSid, auditCallSid ?? r.callSid, actor).catch((err: unknown) => {
      log.warn(
        { callSid: auditCallSid ?? r.callSid, recordingSid: r.recordingSid, err: errFields(err) },
        'recording resume after a failed pause did not complete',
      );
      return undefined;
    });
    if (outcome?.unansweredSentMsAgo !== undefined) unansweredAt = Math.max(unansweredAt ?? -Infinity, performance.now() - outcome.unansweredSentMsAgo);
  }
  return unansweredAt === undefined ? undefined : performance.now() - unansweredAt;
}
