/**
 * Bridge mode: which agent call the record names, and whose recording `agentRecording` is. The
 * agent leg's recording is named only by Twilio's status callback (twilio/status-routes.ts), and
 * that callback may land before the REST create of the agent's call has answered (an endpoint
 * that answers at once: Twilio starts the leg's <Start><Recording> while the create's answer is
 * still on its way), before the record names the new call (media/agent-dial.ts), or its agent
 * stream's start (media/registry.ts). So the recording keeps its own call's SID (the callback's
 * CallSid), and naming a new agent call clears only a recording of another call. A call dialled
 * again after a lost bridge leaves the one before in `pastAgentCallSids`, whose late callbacks
 * (its recording's `completed`) change nothing.
 */
import type { CallSession } from './session';

/** how many agent calls before the current one are remembered (each a redial after a lost bridge) */
const PAST_AGENT_CALLS = 8;

/** the record names `agentCallSid` as the bridge's agent call: the one before, if another, is past, and a recording not of this call is not this call's */
export function nameAgentCall(s: CallSession, agentCallSid: string): void {
  const before = s.handoff.agentCallSid;
  if (s.agentRecording && (s.agentRecording.callSid ?? before) !== agentCallSid) s.agentRecording = undefined;
  if (before && before !== agentCallSid) {
    s.handoff.pastAgentCallSids = [...(s.handoff.pastAgentCallSids ?? []).filter((sid) => sid !== before), before].slice(-PAST_AGENT_CALLS);
  }
  s.handoff.agentCallSid = agentCallSid;
}

/**
 * The agent recording a status callback of the agent call `callSid` changes, or none: a past
 * call's changes nothing; a recording of the call the record names (or one stored before
 * recordings kept their call) is replaced by the new call's (one not yet named: its callback
 * came first); one of a call the record does not name yet (a new call's, whose callback came
 * first) is not replaced by the named, older call's.
 */
export function agentRecordingOf(s: CallSession, callSid: string): NonNullable<CallSession['agentRecording']> | undefined {
  if (s.handoff.pastAgentCallSids?.includes(callSid)) return undefined;
  const rec = s.agentRecording;
  const named = s.handoff.agentCallSid;
  if (rec) {
    const owner = rec.callSid ?? named;
    if (owner === callSid || owner === undefined) {
      rec.callSid = callSid;
      return rec;
    }
    // the stored one is a call the record does not name yet, newer than any it names
    if (owner !== named) return undefined;
  }
  s.agentRecording = { status: 'none', callSid };
  return s.agentRecording;
}
