/**
 * Twilio's status callbacks (CONTRACT §2): a call's (`/twilio/status`), whose end is applied to
 * the call's record once, whatever else reports it (calls/session.ts endSession), and a
 * recording's (`/twilio/recording-status`), which names the recording and ends it on the call.
 */
import { agentRecordingOf } from '../calls/agent-call';
import { endSession, type CallSession, type RecordingStatus } from '../calls/session';
import { formParams, recordingStatusParams, recordingStatusQuery, statusParams, TERMINAL_CALL_STATUSES } from './params';
import { TwilioErrors } from '../errors';
import type { RouteGroup } from './route-group';

export function statusRoutes({ d, route }: RouteGroup): void {
  route(
    '/twilio/status',
    'status',
    'callback',
    async (raw, log, _req, { identity, reads }) => {
      const p = statusParams.parse(raw);
      if (!TERMINAL_CALL_STATUSES.has(p.CallStatus)) return '';
      let ended = false;
      // moved to ended here from a call still in tonewall's hands: counted out of the active calls
      // here. One returned to its app left them when it returned; one already ended was counted
      // out by what ended it (a drop-in hang-up watch, the bridge's cleanup)
      let left = false;
      // moved to ended here: counted as ended here, by Twilio's status (one already ended was counted by what ended it)
      let endedNow = false;
      // only a drop-in capture's call has a hang-up watch or a result to report (dropin/)
      let dropin = false;
      const answer = await d.webhookWrite.callback(p.CallSid, identity, reads, (s) => {
        ended = s !== null;
        left = false;
        endedNow = false;
        dropin = Boolean(s?.dropin);
        if (!s) return {};
        const audit = [{ type: 'call.ended', twilioStatus: p.CallStatus }];
        const end = endSession(s);
        if (!end) return { audit };
        left = end.left;
        endedNow = true;
        // the first entry of a matching pair, sealed while its second was awaited: gone with the call
        return { changed: true, audit, forget: end.sealed ? [end.sealed] : [] };
      });
      if (ended) {
        if (endedNow) d.metrics.callsEnded.inc({ status: p.CallStatus });
        if (left) d.metrics.callsActive.dec();
        // published by whichever end moved the record to ended (its bridge's end, the sweep, ...), once
        if (endedNow) await d.events.publish({ type: 'call.ended', callSid: p.CallSid, status: p.CallStatus });
        if (dropin) await d.onCallEnded?.(p.CallSid);
        log.info({ status: p.CallStatus }, 'call ended');
      }
      return answer;
    },
    undefined,
    undefined,
    // the claim reads the call it ends: its change, entry and answer go in one write (webhook-write.ts)
    (identity, req) => (TERMINAL_CALL_STATUSES.has(formParams(req.body).CallStatus ?? '') ? d.webhookWrite.reads(identity.callSid) : []),
  );

  route(
    '/twilio/recording-status',
    'recording-status',
    'callback',
    async (raw, log, req, { identity, reads }) => {
      const p = recordingStatusParams.parse(raw);
      const q = recordingStatusQuery.parse(req.query ?? {});
      const status = p.RecordingStatus;
      const callSid = recordingCall(q, p.CallSid);
      if (!callSid) throw TwilioErrors.recordingCallMissing();
      const answer = await d.webhookWrite.callback(callSid, identity, reads, (s) => ({
        changed: !!s && applyRecordingStatus(s, q.leg, p.CallSid, p.RecordingSid, status),
        audit: [{ type: 'recording.status', leg: q.leg, recordingSid: p.RecordingSid, twilioStatus: status ?? 'unknown' }],
      }));
      // Twilio's reason for a recording it kept no file of (16101 too short, 16102 silent)
      log.info({ leg: q.leg, recordingStatus: status, ...(p.ErrorCode && p.ErrorCode !== '0' ? { twilioError: p.ErrorCode } : {}) }, 'recording status');
      return answer;
    },
    undefined,
    undefined,
    // the claim reads the call the recording belongs to (webhook-write.ts)
    (identity, req) => {
      const q = recordingStatusQuery.safeParse(req.query ?? {});
      const callSid = q.success ? recordingCall(q.data, identity.callSid) : undefined;
      return callSid ? d.webhookWrite.reads(callSid) : [];
    },
  );
}

/** the call whose session a recording status callback changes: the caller's own, or for the agent's leg the caller's it bridges to */
function recordingCall(q: { leg: 'caller' | 'agent'; call?: string }, callSid: string): string | undefined {
  return q.leg === 'agent' ? q.call : callSid;
}

/** Twilio's final recording statuses, each as the call shows it (CallSession RecordingStatus) */
const FINAL_RECORDING_STATUS: Readonly<Record<string, RecordingStatus>> = { completed: 'stopped', absent: 'absent', failed: 'failed' };

/**
 * What a recording status callback changes on the call: `in-progress` names the recording
 * (its SID comes only from Twilio, as recordings start in TwiML); `completed`, `absent` (no file:
 * too short or silent) and `failed` (encryption failed) end it, each shown as what it is. A
 * callback for another recording than the one the call knows changes nothing; for the agent's
 * leg, one of an agent call before the bridge's current one neither (calls/agent-call.ts: the
 * new call's may come before the record names it, `agentCallSid` the recording's CallSid).
 */
function applyRecordingStatus(
  s: CallSession,
  leg: 'caller' | 'agent',
  agentCallSid: string,
  recordingSid: string | undefined,
  status: string | undefined,
): boolean {
  const rec = leg === 'agent' ? agentRecordingOf(s, agentCallSid) : s.recording;
  if (!rec) return false;
  if (recordingSid && rec.sid && rec.sid !== recordingSid) return false;
  const next: RecordingStatus | undefined =
    status === 'in-progress'
      ? rec.status === 'none'
        ? 'in-progress'
        : rec.status
      : status && Object.hasOwn(FINAL_RECORDING_STATUS, status)
        ? FINAL_RECORDING_STATUS[status]
        : undefined;
  if (!next) return false;
  if (recordingSid) rec.sid = recordingSid;
  rec.status = next;
  return true;
}
