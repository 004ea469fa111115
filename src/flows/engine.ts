/**
 * The flow engine: a pure function of (flow, session, input) → (session', verbs, effect). It
 * never performs I/O; the flow runner at the Twilio edge carries out the effect it asks for
 * (pause, resume or stop the recording, and await Twilio's answer), then calls it again with the
 * outcome, until it has TwiML to return. Plain values it validates leave it only as `vaultWrites`
 * for the edge to encrypt; the session it returns holds masked views only.
 */
import type { CallSession } from '../calls/session';
import { copySession } from './copy';
import type { CollectStep, Flow } from './schema';
import { isCollect } from './schema';
import { askField, awaitingMatch, endingOf, failFields, guardAfter, receiveDigits, RESUME_HOLD_MS, type Ending } from './steps/collect';
import { handoffVerbs, refusedHandoffVerbs } from './steps/handoff';
import { playVerb, sayVerb } from './steps/say';
import type { EngineResult, Verb } from './verbs';

export type { Verb, EngineResult, Effect, VaultWrite } from './verbs';
export { RESUME_HOLD_MS } from './steps/collect';

export type EngineInput =
  /** `live`: the call was answered before its first webhook (twilio/opening.ts CallStart) */
  | { kind: 'start'; live?: boolean }
  | { kind: 'resume' }
  /**
   * A <Gather> answered. `confirm`: the answer to the second entry of a requireMatchingInputs
   * pair, with `first`, the first entry as the edge read it back from the vault (null: gone).
   * `finishedOnKey`: Twilio's FinishedOnKey, the key that ended the entry ('' when its count or
   * its timeout did; flows/steps/collect.ts endingOf). `again`: the answer to a Gather asked
   * again after a stray key (CallSession.strayKey).
   */
  | {
      kind: 'digits';
      step: number;
      attempt: number;
      digits: string;
      finishedOnKey?: string;
      confirm?: boolean;
      again?: boolean;
      first?: string | null;
    }
  /**
   * `lateUntil`: a resume that failed unanswered may still be carried out until then (epoch ms):
   * a failed resume's own, or the undo of the pauses a failed pause made before its failure.
   * `hold`: other applications' recordings on the caller's call paused for a bridge (the edge
   * put their SIDs on `handoff.recordingsHeld`)
   */
  | { kind: 'recording'; op: 'pause' | 'resume' | 'stop' | 'hold'; ok: boolean; lateUntil?: number };

export interface EngineContext {
  now: Date;
}

/**
 * The call's own recording (the flow's, or a drop-in capture's app's) runs, or may (a resume
 * that failed may yet have been carried out): a sensitive stretch's pause takes it with the rest.
 */
export const ownRecordingRuns = (s: CallSession): boolean =>
  s.recording.status === 'in-progress' || (s.recording.status === 'paused' && Boolean(s.recording.resumeFailed));

/**
 * A sensitive stretch is open: its pause took, and nothing has resumed since (a resume that
 * failed closes it: the next sensitive field is paused for again). The call's own recording
 * paused, or, on a call whose own does not run (a flow that does not record, or one whose
 * recording has not started), the other recordings found running on it (`othersPaused`).
 */
const stretchOpen = (s: CallSession): boolean => (s.recording.status === 'paused' || Boolean(s.recording.othersPaused)) && !s.recording.resumeFailed;

/**
 * A sensitive field waits for a pause: on any call, another application may be recording it. A
 * drop-in capture's are the app's, listed again before each stretch but its first (dropin/
 * app-recordings.ts): the app may start one during the capture, so a stretch is paused for even
 * when none ran as the capture began.
 */
const needsPause = (s: CallSession): boolean => !stretchOpen(s);

/** what the open stretch paused is to be resumed now: not after a resume that failed (asked again only by the next pause's success) */
const toResume = (s: CallSession): boolean => stretchOpen(s) && (s.recording.status === 'paused' || (s.recording.sids?.length ?? 0) > 0);

/**
 * A stretch whose pause found nothing to pause (no recording of the call's own runs, and none
 * other) has nothing to resume: it closes before the next thing the caller is asked that is not
 * sensitive, the handoff, or the call's own recording's start, with no resume, nor the hold or
 * guard that waits for one. Words alone do not close it: they go out in the same document as
 * what follows them, which that pause covered.
 */
function closeEmptyStretch(s: CallSession): void {
  if (s.recording.othersPaused && !s.recording.sids?.length) s.recording.othersPaused = undefined; // assigned, not deleted: the session is merged over the stored one
}

export function advance(flow: Flow, input: EngineInput, session: CallSession, ctx: EngineContext): EngineResult {
  const s: CallSession = copySession(session);
  const out: EngineResult = { session: s, verbs: [], vaultWrites: [] };
  /** a sensitive field this input ended, and how the caller's entry ended */
  let ended: { step: CollectStep; ending: Ending } | undefined;
  /** this input's entry ended on its count: keys pressed past it may reach a Gather asked at once */
  let countEnded = false;

  switch (input.kind) {
    case 'start':
      s.step = 0;
      s.attempt = 1;
      // the call's first webhook: Twilio asks for it while the call still rings, and takes no
      // recording on a ringing call (21220), so nothing can be recording it: a stretch opens
      // with nothing to pause (the call's own recording, if the flow records, starts in TwiML
      // later). Not so for a call answered before it came here (another application's
      // <Redirect>): its first sensitive field lists the call's recordings, as any other stretch does
      if (!s.dropin && !ownRecordingRuns(s) && !input.live) s.recording.othersPaused = true;
      break;
    case 'resume':
      if (s.state !== 'ivr') return noop(session);
      break;
    case 'digits': {
      // A call past the IVR (offered, bridged, ended...) takes no more keypad input: a stale or
      // replayed gather must not run the flow on, which would hand the call off a second time
      // and take it away from the agents it was offered to.
      if (s.state !== 'ivr') return noop(session);
      const step = flow.steps[s.step];
      if (
        !step ||
        !isCollect(step) ||
        input.step !== s.step ||
        input.attempt !== s.attempt ||
        Boolean(input.confirm) !== awaitingMatch(s) ||
        Boolean(input.again) !== (s.strayKey === 'asked-again')
      ) {
        // stale or out-of-order: ask the current step again, changing nothing
        return proceed(flow, s, out);
      }
      if (s.strayKey === 'possible' && input.digits === '' && input.finishedOnKey === '#') {
        // a '#' pressed past the last entry's count, taken by this Gather as it began: asked
        // again once, same attempt, no error said
        s.strayKey = 'asked-again';
        return proceed(flow, s, out);
      }
      s.strayKey = undefined; // assigned, not deleted: the session is merged over the stored one
      const ending = endingOf(step, s, input.digits, input.finishedOnKey);
      countEnded = ending === 'count';
      receiveDigits(step, s, { digits: input.digits, first: input.first }, ctx.now, out);
      // the field is done (valid or failed), not asked again nor awaiting its second entry
      if (step.sensitive && s.step !== input.step) ended = { step, ending };
      break;
    }
    case 'recording':
      if (input.op === 'pause') {
        if (input.ok) {
          // the call's own recording with the others it found, or, where its own does not run, those alone
          const own = ownRecordingRuns(s);
          if (own) s.recording.status = 'paused';
          s.recording.othersPaused = own ? undefined : true;
          s.recording.resumeFailed = undefined;
        } else {
          // fail closed: no sensitive field is asked for while the recording may be running
          s.recording.pauseFailed = true;
          // the undo of the pauses before the failure went unanswered: the next pause (the hold
          // before a bridge) waits until it can no longer be carried out, as after a failed resume
          const lateUntil = input.lateUntil ?? 0;
          if (lateUntil > (s.recording.resumeFailed?.lateUntil ?? 0)) s.recording.resumeFailed = { lateUntil };
          failFields(flow, s, 'recording-pause-failed', ctx.now);
          s.step = flow.steps.length;
        }
      } else if (input.op === 'stop') {
        if (input.ok) s.recording.status = 'stopped';
        else s.recording.stopFailed = true;
      } else if (input.op === 'hold') {
        if (input.ok) s.handoff.recordingsHeld ??= [];
        else s.handoff.holdFailed = true;
      } else if (input.ok) {
        if (s.recording.status === 'paused') s.recording.status = 'in-progress';
        s.recording.othersPaused = undefined;
        s.recording.resumeFailed = undefined;
      } else {
        // a failed resume: the call goes on, its recordings taken as paused but perhaps running,
        // so the next sensitive field is paused for again (needsPause); not asked again before that
        if (!s.recording.othersPaused) s.recording.status = 'paused';
        s.recording.resumeFailed = { lateUntil: input.lateUntil ?? 0 };
      }
      break;
  }
  // the call as the field left it, before the flow goes on: where a guard goes on from (afterSensitiveField)
  // (copied only where a guard may follow: a field that ended on the caller's silence, in a call with a recording to resume or start)
  const fieldEnded = ended?.ending === 'silence' && mayResume(flow, s) ? copySession(s) : undefined;
  const res = proceed(flow, s, out);
  if (countEnded && res.verbs.some((v) => v.verb === 'gather')) res.session.strayKey = 'possible';
  return ended ? afterSensitiveField(flow, res, ended.step, ended.ending, ctx, fieldEnded) : startRecordingIfDue(flow, s, res);
}

/**
 * Whether afterSensitiveField may find a recording to resume or start once the flow has gone on
 * from `s` (its `resumes`): a resume needs a stretch paused (`paused`, or other applications'
 * `sids`), a drop-in capture's end a capture, a start a flow that records. Going on (proceed)
 * changes none of these, so where none holds, no guard follows and the field's copy is not made
 * (a structured clone of the session, about a twentieth of a gather's own work).
 */
function mayResume(flow: Flow, s: CallSession): boolean {
  return flow.record || s.dropin !== undefined || s.recording.status === 'paused' || (s.recording.sids?.length ?? 0) > 0;
}

/**
 * The paused stretch ends after a sensitive field only once the caller's keys for it have: the
 * recording would run again from this step (its resume, its first start, or a drop-in capture's
 * end, when the field failed) while a caller who keyed past the field's count is still pressing
 * (held, RESUME_HOLD_MS) or one who fell silent mid-entry keys on (a guard first, guardAfter;
 * a recording due to start starts after it).
 */
function afterSensitiveField(
  flow: Flow,
  res: EngineResult,
  step: CollectStep,
  ending: Ending,
  ctx: EngineContext,
  fieldEnded: CallSession | undefined,
): EngineResult {
  const s = res.session;
  const endsCapture = s.dropin !== undefined && s.recording.status === 'paused' && !s.fields[step.collect]?.valid;
  const resumes = res.effect?.kind === 'resume-recording' || endsCapture || recordingDue(flow, s, res);
  if (!resumes || ending === 'key') return startRecordingIfDue(flow, s, res);
  // the guard's action goes on from where the field left the call: not from where the flow went
  // on to (words said, the handoff made: a guard that dropped them and left the call handed off
  // had its action answer nothing, and Twilio hung up on the caller)
  if (ending === 'silence' && fieldEnded)
    return {
      session: fieldEnded,
      verbs: [guardAfter(step, fieldEnded)],
      vaultWrites: res.vaultWrites,
      ...(res.vaultErases ? { vaultErases: res.vaultErases } : {}),
    };
  return { ...startRecordingIfDue(flow, s, res), resumeNotBefore: ctx.now.getTime() + RESUME_HOLD_MS };
}

/**
 * A recorded flow starts its recording with <Start><Recording> in the first document that asks
 * for nothing sensitive: Twilio takes no REST recording while an inbound call still rings
 * (error 21220), and a document that asks for a sensitive field must never run while a
 * recording does. A bridge handoff starts none: the agent's call is recorded instead, after
 * masking. Right after a sensitive field, that start waits as a resume would (afterSensitiveField).
 */
function startRecordingIfDue(flow: Flow, s: CallSession, out: EngineResult): EngineResult {
  if (!recordingDue(flow, s, out)) return out;
  closeEmptyStretch(s);
  s.recording.status = 'in-progress';
  out.verbs.unshift({ verb: 'start-recording' });
  return out;
}

/** `out` is the recorded flow's first document that may run with its recording (startRecordingIfDue) */
function recordingDue(flow: Flow, s: CallSession, out: EngineResult): boolean {
  if (!flow.record || s.recording.status !== 'none' || out.effect || (s.state !== 'ivr' && s.state !== 'handoff')) return false;
  if (out.verbs.some((v) => (v.verb === 'gather' && v.sensitive) || (v.verb === 'handoff' && v.handoff.mode === 'bridge'))) return false;
  return out.verbs.length > 0;
}

/** from `step` on the flow asks for nothing more and ends in a bridge handoff */
function onlyWordsToBridge(flow: Flow, step: number): boolean {
  return flow.handoff.mode === 'bridge' && !flow.steps.slice(step).some(isCollect);
}

/** nothing changes: the session as it was given, no verbs, no effect, no vault write */
function noop(session: CallSession): EngineResult {
  return { session, verbs: [], vaultWrites: [], noop: true };
}

function proceed(flow: Flow, s: CallSession, out: EngineResult): EngineResult {
  const verbs: Verb[] = out.verbs;
  while (s.step < flow.steps.length) {
    const step = flow.steps[s.step];
    if (!isCollect(step)) {
      // resumed for the words that follow the sensitive fields, unless only words and a bridge
      // follow: the call's own recording is stopped before the bridge anyway, and another
      // application's is paused for the whole bridge (one REST call each, not two; never stopped)
      if (toResume(s) && !s.recording.pauseFailed && !onlyWordsToBridge(flow, s.step)) {
        return { ...out, effect: { kind: 'resume-recording' } };
      }
      verbs.push('play' in step ? playVerb(step.play) : sayVerb(step));
      s.step++;
      continue;
    }
    if (step.sensitive && needsPause(s)) return { ...out, effect: { kind: 'pause-recording' } };
    if (!step.sensitive && toResume(s)) return { ...out, effect: { kind: 'resume-recording' } };
    if (!step.sensitive) closeEmptyStretch(s);
    verbs.push(askField(step, s, flow));
    return out;
  }
  if (flow.handoff.mode !== 'bridge') {
    // the stretch's recordings run again before a dial, the flow's own and other applications'
    if (toResume(s)) return { ...out, effect: { kind: 'resume-recording' } };
  } else if (!s.recording.stopFailed && !s.handoff.holdFailed) {
    const recording = s.recording.status === 'in-progress' || s.recording.status === 'paused';
    // the caller's recording ends before the bridge: in bridge mode the agent's call is
    // recorded instead, with the caller's keys already masked
    if (recording) return { ...out, effect: { kind: 'stop-recording' } };
    // the caller's call is not masked: every other recording on it is paused for the bridge
    // (those a stretch paused taken over, never resumed first)
    if (!s.handoff.recordingsHeld) return { ...out, effect: { kind: 'hold-recordings' } };
  }
  closeEmptyStretch(s);
  s.state = 'handoff';
  if (s.recording.stopFailed || s.handoff.holdFailed) {
    // fail closed: a recording that may still run must not hear the caller keying in the bridge
    verbs.push(...refusedHandoffVerbs(flow));
    return out;
  }
  verbs.push(...handoffVerbs(flow));
  return out;
}
