/**
 * The recordings of a call's sensitive stretch, as the flow runner pauses and resumes them
 * (runner.ts, effects.ts): every one in progress on the call listed and paused by its SID, all
 * or none, and resumed after by the same rules; a pause after a resume Twilio did not answer
 * waits until that resume can no longer be carried out; a resume after a field that ended on its
 * count waits for keys pressed past it.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CallControl } from '../calls/control';
import type { CallSession } from '../calls/session';
import { ownRecordingRuns, RESUME_HOLD_MS } from '../flows/engine';
import type { Metrics } from '../metrics';
import type { RecordingController, RecordingOutcome } from '../recording/controller';
import { knownRecordings, recordingList } from '../recording/stretch';
import { REST_TIMEOUT_MS } from './rest';

export interface StretchDeps {
  recording: Pick<RecordingController, 'pause' | 'pauseAll' | 'resume' | 'resumeEach' | 'refuseUnlisted'>;
  /** Twilio's REST API on live calls: the recordings running on a call, listed before each sensitive stretch (pauseRecordings) */
  control?: CallControl;
  metrics: Pick<Metrics, 'otherRecordingsPaused'>;
  now: () => Date;
}

export class StretchRecordings {
  constructor(private readonly d: StretchDeps) {}

  /**
   * A pause after a resume that failed unanswered waits until that resume can no longer be
   * carried out: sent before, the pause could be overtaken by it, and the caller would key the
   * next field into a running recording (or, before a bridge, the caller's keys to the agent into
   * a recording the bridge holds: the hold, and the stop of the flow's own, wait too). The controller orders the requests it sends itself
   * (recording/controller.ts); this covers the resume another instance sent, as the session says,
   * and the undo of a stretch's pause that failed part-way, whose recordings the hold before a
   * bridge lists: one whose undo Twilio has yet to carry out is listed paused, so left out of the
   * hold, and would run through the bridge once it is carried out.
   */
  async afterLateResume(s: CallSession): Promise<void> {
    const wait = (s.recording.resumeFailed?.lateUntil ?? 0) - this.d.now().getTime();
    if (wait > 0) await sleep(Math.min(wait, REST_TIMEOUT_MS));
  }

  /**
   * The call's recordings paused before a sensitive stretch: the flow's own, if it runs, and
   * every other recording in progress on the call, which another application may have started
   * over REST (a compliance recorder) on any call, recorded by the flow or not. The call's
   * recordings are listed once (recording/stretch.ts); each is paused by its SID, all or none
   * (RecordingController.pauseAll; a failure fails closed), and each resumed after
   * (resumeRecordings). The flow's own alone is paused as before, by its SID, else
   * Twilio.CURRENT (its status callback still on its way: which listed one is it? Twilio refuses
   * CURRENT while several run, 16108, so the field is not asked). When the list cannot be read,
   * the field is not asked either, recorded flow or not: a recording nobody saw (another
   * application's) would hear it, so the stretch fails closed as after a failed pause, nothing
   * paused, and the drop-in capture's stretch does the same (dropin/app-recordings.ts).
   */
  async pauseRecordings(s: CallSession, log: Logger): Promise<RecordingOutcome> {
    // named still when their resume failed: paused by us, to be resumed by us
    const held = s.recording.sids ?? [];
    s.recording.sids = undefined;
    const own = ownRecordingRuns(s) ? { sid: s.recording.sid } : undefined;
    const list = this.d.control ? recordingList(this.d.control) : undefined;
    const recordings = await knownRecordings(list, s.callSid, own, log, held);
    if (!recordings) {
      // what the last stretch held stays named, for the next stretch's list to take in
      s.recording.sids = held.length ? [...held] : undefined;
      return this.d.recording.refuseUnlisted(s.callSid);
    }
    if (own && recordings.length < 2) return this.d.recording.pause(s.callSid, own.sid);
    const others = recordings.length - (own ? 1 : 0);
    if (others > 0) log.warn({ recordings: others }, 'another application records the call: each of its recordings is paused for the sensitive stretch');
    const outcome = await this.d.recording.pauseAll(recordings);
    if (outcome.ok && others > 0) this.d.metrics.otherRecordingsPaused.inc({ where: 'ivr' }, others);
    // each by its SID: the flow's own is listed with others only once its SID is known (stretchRecordings)
    if (outcome.ok && recordings.length > 0) s.recording.sids = recordings.map((r) => r.recordingSid!);
    return outcome;
  }

  /** what pauseRecordings paused, resumed: each recording it found running, else the flow's own */
  async resumeRecordings(s: CallSession): Promise<RecordingOutcome> {
    const sids = s.recording.sids;
    if (!sids) return this.d.recording.resume(s.callSid, s.recording.sid);
    const outcome = await this.d.recording.resumeEach(s.callSid, sids);
    // one that failed stays named: the next pause lists the call's recordings again
    if (outcome.ok) s.recording.sids = undefined;
    return outcome;
  }

  /**
   * Until when a resume Twilio did not answer (no HTTP status) may still be carried out: until the
   * REST client gives up on it (epoch ms; 0 when none went unanswered). A failed resume's own, or
   * a failed pause's undo of the pauses before its failure (RecordingController.pauseAll).
   */
  lateUntil(outcome: RecordingOutcome): number {
    const late = outcome.unansweredSentMsAgo;
    return !outcome.ok && late !== undefined ? this.d.now().getTime() + REST_TIMEOUT_MS - late : 0;
  }

  /** a resume held for keys pressed past a fixed-length field's end (flows/steps/collect.ts, RESUME_HOLD_MS) waits for its time */
  async untilHeld(notBefore: number | undefined): Promise<void> {
    const wait = (notBefore ?? 0) - this.d.now().getTime();
    if (wait > 0) await sleep(Math.min(wait, RESUME_HOLD_MS));
  }
}
