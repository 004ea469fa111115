/**
 * Whose recording `agentRecording` is, whichever lands first: the new agent call's recording
 * status callback or the write that names the call (calls/agent-call.ts).
 */
import { agentRecordingOf, nameAgentCall } from '../../../src/calls/agent-call';
import type { CallSession } from '../../../src/calls/session';

const A = 'CA' + 'a'.repeat(32);
const B = 'CA' + 'b'.repeat(32);
const RA = 'RE' + 'a'.repeat(32);
const RB = 'RE' + 'b'.repeat(32);

const bridged = (): CallSession => ({ handoff: { mode: 'bridge' } }) as unknown as CallSession;

/** a recording status callback of `callSid`'s recording `sid`, as status-routes.ts applies it */
function reported(s: CallSession, callSid: string, sid: string, status: 'in-progress' | 'stopped'): boolean {
  const rec = agentRecordingOf(s, callSid);
  if (!rec || (rec.sid && rec.sid !== sid)) return false;
  rec.sid = sid;
  rec.status = status;
  return true;
}

describe('the agent recording and its call', () => {
  it('the first call: its callback before or after the record names it, the recording is kept', () => {
    const early = bridged();
    expect(reported(early, A, RA, 'in-progress')).toBe(true);
    nameAgentCall(early, A);
    expect(early.agentRecording).toEqual({ sid: RA, status: 'in-progress', callSid: A });

    const late = bridged();
    nameAgentCall(late, A);
    expect(reported(late, A, RA, 'in-progress')).toBe(true);
    expect(late.agentRecording).toEqual({ sid: RA, status: 'in-progress', callSid: A });
  });

  it.each(['before', 'after'])('a call dialled again, its callback %s the record names it: the new recording, and the old call is past', (order) => {
    const s = bridged();
    nameAgentCall(s, A);
    reported(s, A, RA, 'in-progress');
    if (order === 'before') expect(reported(s, B, RB, 'in-progress')).toBe(true);
    nameAgentCall(s, B);
    if (order === 'after') {
      expect(s.agentRecording).toBeUndefined();
      expect(reported(s, B, RB, 'in-progress')).toBe(true);
    }
    expect(s.agentRecording).toEqual({ sid: RB, status: 'in-progress', callSid: B });
    expect(s.handoff.pastAgentCallSids).toEqual([A]);
    // the old call's recording ends late: nothing changes
    expect(reported(s, A, RA, 'stopped')).toBe(false);
    expect(s.agentRecording).toEqual({ sid: RB, status: 'in-progress', callSid: B });
  });

  it("the old call's late callback between the new call's and the write that names the new call changes nothing", () => {
    const s = bridged();
    nameAgentCall(s, A);
    reported(s, A, RA, 'in-progress');
    expect(reported(s, B, RB, 'in-progress')).toBe(true);
    expect(reported(s, A, RA, 'stopped')).toBe(false);
    nameAgentCall(s, B);
    expect(s.agentRecording).toEqual({ sid: RB, status: 'in-progress', callSid: B });
  });

  it("a recording stored before recordings kept their call is the named call's: kept for it, cleared for a new one", () => {
    const s = bridged();
    nameAgentCall(s, A);
    s.agentRecording = { sid: RA, status: 'paused' };
    nameAgentCall(s, A);
    expect(s.agentRecording).toEqual({ sid: RA, status: 'paused' });
    nameAgentCall(s, B);
    expect(s.agentRecording).toBeUndefined();
  });
});
