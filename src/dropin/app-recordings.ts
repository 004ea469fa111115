/**
 * The recordings an app runs on a call it hands to a drop-in capture. Twilio allows several on
 * one call and `Twilio.CURRENT` names only one, so each is found by listing the call's
 * recordings as the capture starts, paused by its SID before a sensitive prompt, all or none,
 * and resumed after; the ones this process paused and has not resumed are held (HeldPauses) for
 * a step that fails after its pause.
 */
import type { Logger } from 'pino';
import type { CallControl } from '../calls/control';
import type { CallSession } from '../calls/session';
import { errFields } from '../log';
import type { AuditSink, RecordingController, RecordingOutcome } from '../recording/controller';
import { inProgress } from '../recording/stretch';
import { HeldPauses, type PausingRequest } from './held-pauses';

/** 14 SIDs of 34 characters, comma-joined, fit the audit trail's 512-character values */
const AUDIT_SIDS_PER_ENTRY = 14;

export interface AppRecordingsDeps {
  twilio: CallControl;
  audit: AuditSink;
  recording: RecordingController;
}

export class AppRecordings {
  /** the app's recordings this process paused and has not resumed */
  readonly held = new HeldPauses();

  constructor(private readonly d: AppRecordingsDeps) {}

  /**
   * The app's recordings on the call as the capture starts, from Twilio's list of them: every one
   * in progress is paused by its SID before a sensitive prompt and resumed after (Twilio allows
   * several on one call, and `Twilio.CURRENT` names only one of them); none in progress, nothing
   * to pause. A recording the app paused itself is left alone: never resumed by this capture.
   * When the list cannot be read, what runs is unknown: the capture asks nothing sensitive
   * (`unlisted`: its first pause fails closed) and touches no recording.
   */
  async found(callSid: string, log: Logger, held: readonly string[] = []): Promise<CallSession['recording']> {
    let running: string[];
    try {
      const listed = await this.d.twilio.calls(callSid).recordings.list();
      // `held`: paused by this capture, whose resume failed: still this capture's to resume, not the app's own pause
      running = [...inProgress(listed), ...listed.filter((r) => r.status === 'paused' && held.includes(r.sid)).map((r) => r.sid)];
    } catch (err) {
      log.warn({ err: errFields(err) }, "the call's recordings could not be listed: no sensitive field will be asked");
      await this.d.audit.append(callSid, { type: 'dropin.recording', running: 'unknown' });
      return { status: 'in-progress', unlisted: true };
    }
    const seen = running.length === 0 ? 'none' : running.length === 1 ? 'one' : 'several';
    if (running.length > 1) log.info({ recordings: running.length }, 'several recordings run on the call: each is paused');
    // for the assessor: which recordings the capture pauses (Twilio's SIDs, not personal data), or that none was running
    // an audit value holds at most AUDIT_SIDS_PER_ENTRY SIDs: a call running more gets an entry per group
    const groups = running.length === 0 ? [[]] : chunks(running, AUDIT_SIDS_PER_ENTRY);
    for (const [i, group] of groups.entries()) {
      await this.d.audit.append(callSid, {
        type: 'dropin.recording',
        running: seen,
        ...(running.length > 1 ? { recordings: running.length } : {}),
        ...(groups.length > 1 ? { part: i + 1, parts: groups.length } : {}),
        ...(group.length > 0 ? { recordingSids: group.join(',') } : {}),
        ...(running.length === 1 ? { recordingSid: running[0] } : {}),
      });
    }
    // none to pause: named as an empty list, so a pause asks Twilio nothing (never Twilio.CURRENT)
    if (running.length === 0) return { status: 'none', sids: [] };
    return { ...(running.length === 1 ? { sid: running[0] } : {}), sids: running, status: 'in-progress' };
  }

  /**
   * Pauses the app's recordings (each one in progress), all or none: a pause
   * that fails resumes those already paused, and the outcome is that failure (fail closed).
   * `by`: the request pausing, held with the pause (HeldPauses). `listed`: the session's list was
   * taken by this request (`found`, the capture route's); otherwise the call's recordings are
   * listed again (`found`) before this stretch, and the session takes that list: the app may have
   * started one since the capture began (between two stretches, say), and resumed ones run again;
   * one the last stretch paused and could not resume is taken in while Twilio lists it paused.
   */
  async pause(s: CallSession, log: Logger, by?: PausingRequest, listed = false): Promise<RecordingOutcome> {
    if (!listed) {
      // a recording the last stretch paused and could not resume is taken in while Twilio lists it paused
      const r = s.recording;
      const held = r.resumeFailed ? (r.sids ?? (r.sid ? [r.sid] : [])) : [];
      const now = await this.found(s.callSid, log, held);
      // assigned, not deleted: the session is merged over the stored one
      Object.assign(s.recording, { sid: now.sid, sids: now.sids ?? [], unlisted: now.unlisted, status: now.status });
    }
    const r = s.recording;
    if (r.unlisted) return this.d.recording.refuseUnlisted(s.callSid);
    // a session written before `sids` names its one recording in `sid` (or none: Twilio.CURRENT)
    const outcome = r.sids ? await this.d.recording.pauseEach(s.callSid, r.sids) : await this.d.recording.pause(s.callSid, r.sid);
    const sids = r.sids ?? (r.sid ? [r.sid] : []);
    if (outcome.ok && !outcome.absent && sids.length > 0) this.held.hold(s.callSid, sids, by);
    return outcome;
  }

  /** resumes each recording `pause` paused (none the app paused itself); ok when every one was */
  async resume(s: CallSession): Promise<RecordingOutcome> {
    const r = s.recording;
    const outcome = r.sids ? await this.d.recording.resumeEach(s.callSid, r.sids) : await this.d.recording.resume(s.callSid, r.sid);
    // one that failed stays paused: a failure after this still resumes it
    if (outcome.ok) this.held.forget(s.callSid);
    return outcome;
  }
}

function chunks<T>(all: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < all.length; i += size) out.push(all.slice(i, i + size));
  return out;
}
