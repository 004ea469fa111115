import type { CallSession } from '../calls/session';
import { publicFields } from '../calls/public-fields';

/**
 * The call as an agent may see it (CONTRACT §5): masked caller, masked fields, no tokens.
 * `handoff.agent` names the agent who accepted it as the audit trail and `call.bridged` do
 * (`<role>:<digest>`, AuditTrail.actor), never by their token's `sub` (an employee number or
 * email): a supervisor reads every call, so the sub would reach every supervisor's panel.
 * `processorResults` holds what the processors' `processor.result` events carried (the
 * allow-listed summary, processors/summary.ts), nothing more.
 */
export function callView(s: CallSession) {
  return {
    callSid: s.callSid,
    from: s.fromMasked,
    state: s.state,
    flow: s.flowId,
    recording: { status: s.recording.status, ...(s.recording.pauseFailed ? { pauseFailed: true } : {}) },
    recordings: [
      { leg: 'caller' as const, ...(s.recording.sid ? { sid: s.recording.sid } : {}), status: s.recording.status },
      ...(s.agentRecording ? [{ leg: 'agent' as const, ...(s.agentRecording.sid ? { sid: s.agentRecording.sid } : {}), status: s.agentRecording.status }] : []),
    ],
    fields: publicFields(s),
    capture: s.capture ?? null,
    handoff: { mode: s.handoff.mode, ...(s.handoff.agentActor ? { agent: s.handoff.agentActor } : {}) },
    // each processor's latest `processor.result`, so a panel that reloads still shows it; absent until one came
    ...(s.processorResults?.length
      ? {
          processorResults: s.processorResults.map((o) => ({
            processor: o.processor,
            ok: o.ok,
            ...(o.status !== undefined ? { status: o.status } : {}),
            attempts: o.attempts,
            ...(o.result ? { result: o.result } : {}),
            at: new Date(o.at).toISOString(),
          })),
        }
      : {}),
    createdAt: new Date(s.createdAt).toISOString(),
    ...(s.endedAt ? { endedAt: new Date(s.endedAt).toISOString() } : {}),
  };
}
