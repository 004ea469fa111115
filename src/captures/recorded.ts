/** Which recordings a capture pauses and resumes. */
import type { Logger } from 'pino';
import type { CallSession } from '../calls/session';
import { errFields } from '../log';
import { knownRecordings, type RecordingList, type RecordingRef } from '../recording/stretch';
import type { ExecutorDeps } from './deps';
import type { CaptureRecord } from './types';

export interface RecordedCall {
  callSid: string;
  recordingSid?: string;
}

/**
 * In a bridge the caller's own recording was stopped before the bridge (it would hold every key
 * in the clear); the agent's call records the masked audio, and that recording is the one a
 * capture pauses, so that not even the flat tones of the value are kept.
 */
export function recordedCall(s: CallSession): RecordedCall {
  if (s.handoff.agentCallSid) return { callSid: s.handoff.agentCallSid, recordingSid: s.agentRecording?.sid };
  return { callSid: s.callSid, recordingSid: s.recording.sid };
}

/**
 * Everything a capture pauses: the bridge's own recording (recordedCall), and every other one
 * in progress on either of its calls (on the caller's call, those the bridge holds are listed
 * paused, so not among them: one found there is new since the handoff). Another application
 * may record the caller's call or the agent's over Twilio's REST API (a compliance recorder),
 * and the caller's call is not masked: such a recording hears every key the caller presses. Each call's recordings are listed once,
 * both at the same time; the bridge's own comes first. Undefined when either list cannot be
 * read (recording/stretch.ts knownRecordings): a recording nobody saw would hear the value, so
 * the capture is refused as after a failed pause, as a flow's stretch is.
 */
export async function captureRecordings(list: RecordingList, s: CallSession, log: Logger): Promise<RecordingRef[] | undefined> {
  const own = recordedCall(s);
  const calls = [...new Set([own.callSid, s.callSid, ...(s.handoff.agentCallSid ? [s.handoff.agentCallSid] : [])])];
  const held = (c: string) => (s.heldRecordings ?? []).filter((r) => r.callSid === c).map((r) => r.recordingSid);
  const each = await Promise.all(calls.map((c) => knownRecordings(list, c, c === own.callSid ? { sid: own.recordingSid } : undefined, log, held(c))));
  return each.every((r) => r !== undefined) ? each.flat() : undefined;
}

/**
 * What a capture resumes, and what it leaves to the bridge. Nothing on the caller's call
 * runs in a bridge: other applications' recordings there are paused for the whole bridge
 * (CallSession `handoff.recordingsHeld`, twilio/bridge-hold.ts `holdForBridge`), as the call
 * is not masked. One a capture found running there (started, or resumed by its owner, since
 * the handoff) is taken into that hold (`hold`), never resumed, at the capture's end and on a
 * refused or failed start alike; the rest (the bridge's own, first, and the agent call's
 * others) are resumed (`resume`). Those the bridge held already were listed paused, so the
 * capture never paused them; one the bridge's guard (recording/bridge-guard.ts) lists and
 * holds while the capture pauses it too is in `hold`, so no order of the two resumes it.
 */
export function bridgeHolds(callerSid: string, recordings: readonly RecordingRef[]): { resume: RecordingRef[]; hold: string[] } {
  const own = recordings[0];
  const held = recordings.filter((r) => r !== own && r.callSid === callerSid && r.recordingSid !== undefined);
  return { resume: recordings.filter((r) => !held.includes(r)), hold: held.map((r) => r.recordingSid!) };
}

/** the bridge's hold with `hold` taken in (bridgeHolds), each SID once */
export function heldByBridge(s: CallSession, hold: readonly string[]): string[] | undefined {
  if (hold.length === 0) return s.handoff.recordingsHeld;
  return [...new Set([...(s.handoff.recordingsHeld ?? []), ...hold])];
}

/**
 * What a resume of a capture's recordings leaves paused that is not the bridge's own: other
 * applications' recordings whose resume failed, for the next capture to take in (heldRecordings).
 * Unknown (the resume did not complete): every other one it named.
 */
export function heldAfter(
  resume: { ok: boolean; failed?: readonly RecordingRef[] },
  recordings: readonly RecordingRef[],
): { callSid: string; recordingSid: string }[] {
  if (resume.ok) return [];
  const own = recordings[0];
  return (resume.failed ?? recordings).flatMap((r) => (r.recordingSid && !sameRecording(r, own) ? [{ callSid: r.callSid, recordingSid: r.recordingSid }] : []));
}

/**
 * The bridge's own recording (the first a capture pauses: captureRecordings, or recordedCall
 * alone) runs again after a resume of them all: every resume went through, or the ones that
 * failed were other applications'. Unknown (the resume did not complete): not taken as running.
 */
export function ownResumed(resume: { ok: boolean; failed?: readonly RecordingRef[] }, recordings: readonly RecordingRef[]): boolean {
  if (resume.ok) return true;
  const own = recordings[0];
  return own !== undefined && resume.failed !== undefined && !resume.failed.some((r) => sameRecording(r, own));
}

/**
 * Until when a resume of a capture's recordings may still be carried out (epoch ms): one Twilio
 * did not answer is over once the REST client gave up on it; undefined when each was answered.
 */
export function lateResumeUntil(resume: { ok: boolean; unansweredSentMsAgo?: number }, now: Date, restTimeoutMs: number): number | undefined {
  return !resume.ok && resume.unansweredSentMsAgo !== undefined ? now.getTime() + restTimeoutMs - resume.unansweredSentMsAgo : undefined;
}

/**
 * A capture's end, wherever it ends (executor.ts endRun, or lost.ts for one lost with its
 * instance): resumes what it paused, named for `actor`, but what the bridge holds from now on
 * (the caller's call's others: bridgeHolds, audited as held); then writes on the call until
 * when that resume may still land, whether the bridge's own recording runs again, and what is
 * left paused. `outcome`: the capture's status, written on the call's record while it names the
 * capture; none where the end's claim wrote it already (lost.ts). Nothing here throws: a resume,
 * write or audit that fails is logged, and the capture's end goes on.
 */
export async function resumeCapture(
  d: Pick<ExecutorDeps, 'calls' | 'recording' | 'audit' | 'restTimeoutMs'>,
  callSid: string,
  recordings: readonly RecordingRef[],
  o: { actor?: string; now: () => Date; log: Logger; outcome?: Pick<CaptureRecord, 'captureId' | 'status'> },
): Promise<void> {
  const { resume: resumed, hold } = bridgeHolds(callSid, recordings);
  const resume = await d.recording.resumeAll(resumed, callSid, o.actor).catch((err: unknown) => {
    o.log.warn({ err: errFields(err) }, 'recording resume after the capture did not complete');
    return { ok: false, twilioStatus: 'network' } as const;
  });
  const lateUntil = lateResumeUntil(resume, o.now(), d.restTimeoutMs);
  const outcome = o.outcome;
  await d.calls
    .update(callSid, (s) => {
      if (outcome && s.capture?.id === outcome.captureId) s.capture.status = outcome.status;
      s.captureResumeLateUntil = lateUntil;
      if (ownResumed(resume, resumed) && s.agentRecording?.status === 'paused') s.agentRecording.status = 'in-progress';
      const held = heldAfter(resume, resumed);
      s.heldRecordings = held.length ? held : undefined;
      s.handoff.recordingsHeld = heldByBridge(s, hold);
    })
    .catch((err: unknown) => o.log.warn({ err: errFields(err) }, 'call not updated with the capture outcome'));
  if (hold.length)
    await d.audit
      .append(callSid, { type: 'recording.held', where: 'bridge', recordingSids: hold.join(','), actor: o.actor })
      .catch((err: unknown) => o.log.warn({ err: errFields(err) }, 'recordings held for the bridge not audited'));
}

/** the same recording: on the same call, by the same SID (or both Twilio.CURRENT) */
function sameRecording(a: RecordingRef, b: RecordingRef | undefined): boolean {
  return b !== undefined && a.callSid === b.callSid && a.recordingSid === b.recordingSid;
}
