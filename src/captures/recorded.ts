/** Which call's recording a capture pauses and resumes. */
import type { CallSession } from '../calls/session';

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
