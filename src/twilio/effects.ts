/**
 * The effects the flow engine asks of the edge between two of its answers, carried out for the
 * runner (runner.ts `runSteps`), and the engine asked again with each one's outcome: a sensitive
 * stretch's pause and resume of the call's recordings (stretch-recordings.ts), or of a drop-in
 * capture's app's (dropin/), the stop of the flow's own recording, and the hold of the caller's
 * call's others before a bridge (bridge-hold.ts).
 */
import type { Logger } from 'pino';
import type { AuditInput } from '../audit';
import type { CallSession } from '../calls/session';
import type { PausingRequest } from '../dropin/held-pauses';
import type { DropinService } from '../dropin/service';
import { advance, type Effect, type EngineInput, type EngineResult } from '../flows/engine';
import type { Flow } from '../flows/schema';
import type { RecordingController } from '../recording/controller';
import { holdForBridge, type BridgeHoldDeps } from './bridge-hold';
import type { StretchRecordings } from './stretch-recordings';

export interface EffectDeps extends BridgeHoldDeps {
  recording: Pick<RecordingController, 'pauseAll' | 'stop'>;
  /** drop-in captures (issue 13): pause and resume the app's recordings */
  dropin?: DropinService;
  stretches: StretchRecordings;
  now: () => Date;
}

/** the step an effect belongs to (runner.ts `runSteps`) */
export interface EffectStep {
  flow: Flow;
  input: EngineInput;
  log: Logger;
  /** an audit entry of the step (StepWrites.audit) */
  audit: (callSid: string, entry: AuditInput) => Promise<void>;
  /** the session as this step's pause left it, until a resume: what to resume should the step fail */
  stretch: { paused?: CallSession };
  /** the request whose pauses of a drop-in capture's app recordings are held as its own (start) */
  pausedBy?: PausingRequest;
  /** no resume before then (epoch ms): keys pressed past a field's count (EngineResult.resumeNotBefore) */
  resumeNotBefore?: number;
}

/** `effect`, asked for with the session `s`, carried out: the engine's next answer, given its outcome */
export async function carryOut(d: EffectDeps, effect: Effect, s: CallSession, step: EffectStep): Promise<EngineResult> {
  const { flow, input, log, stretch, pausedBy, resumeNotBefore } = step;
  // a drop-in capture pauses and resumes the app's recordings, every one it found running
  const dropin = s.dropin ? d.dropin : undefined;
  if (effect.kind === 'pause-recording') {
    await d.stretches.afterLateResume(s);
    // named before it is sent: a pause whose audit entry cannot be written has paused all the same
    if (!dropin) stretch.paused = s;
    // a drop-in capture's first request listed the app's recordings as it began (capture-route.ts); a later stretch lists them again
    const outcome = dropin ? await dropin.pauseApp(s, log, pausedBy, input.kind === 'start') : await d.stretches.pauseRecordings(s, log);
    if (dropin || !outcome.ok || outcome.absent) stretch.paused = undefined;
    // failed part-way, its undo of the pauses before the failure unanswered: the hold before a
    // bridge, which lists the call's recordings, waits that out as it waits for a failed resume
    const res = advance(flow, { kind: 'recording', op: 'pause', ok: outcome.ok, lateUntil: d.stretches.lateUntil(outcome) }, s, { now: d.now() });
    // the app's recordings all ended before the pause (Twilio's 404): none in progress, none to resume
    if (dropin && outcome.absent) res.session.recording.status = 'none';
    return res;
  }
  if (effect.kind === 'stop-recording') {
    // the stop's fallback, a pause for good, would be undone by a late resume as a stretch's pause would
    await d.stretches.afterLateResume(s);
    const outcome = await d.recording.stop(s.callSid, s.recording.sid);
    return advance(flow, { kind: 'recording', op: 'stop', ok: outcome.ok }, s, { now: d.now() });
  }
  if (effect.kind === 'hold-recordings') {
    // a call still ringing at its first webhook cannot be recording (Twilio refuses it: 21220): nothing to list
    const ringing = input.kind === 'start' && !input.live;
    // a late resume of one the last stretch paused would run it again through the bridge
    await d.stretches.afterLateResume(s);
    const outcome = await holdForBridge(d, s, log, step.audit, ringing);
    return advance(flow, { kind: 'recording', op: 'hold', ok: outcome.ok }, s, { now: d.now() });
  }
  await d.stretches.untilHeld(resumeNotBefore);
  const outcome = dropin ? await dropin.resumeApp(s) : await d.stretches.resumeRecordings(s);
  stretch.paused = undefined;
  return advance(flow, { kind: 'recording', op: 'resume', ok: outcome.ok, lateUntil: d.stretches.lateUntil(outcome) }, s, { now: d.now() });
}
