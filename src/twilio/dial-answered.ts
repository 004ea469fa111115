/**
 * A dial handoff's agent answered (CONTRACT §5 `call.bridged`): the <Dial> of the accepting
 * agent's endpoint (dial-offer.ts), or of the flow's `handoff.to`, names this route as its noun's
 * statusCallback for the `answered` event alone (twiml.ts `dialEndpoint`). Twilio posts it,
 * signed, when the party picks up: CallSid is the dialled call's own, ParentCallSid the caller's,
 * CallStatus `in-progress` (Twilio reports the `answered` event with the call's status). The
 * <Dial action> cannot say so: Twilio requests it only once the dial is over.
 *
 * The record of the caller's call takes the answer once, by compare-and-set (a `dialed` dial
 * call, not yet answered, not ended), and only that change publishes `call.bridged`, shaped as a
 * bridge's (`{callSid, agent?}`: the accepting agent's actor, none for a dial to `to`): so a
 * callback Twilio sends again, or a copy on another instance, publishes nothing more.
 */
import type { AuditSink } from '../recording/controller';
import type { EventBus } from '../bus';
import type { CallRepository } from '../calls/repository';
import type { Logger } from '../log';
import { dialAnsweredParams } from './params';

export interface DialAnsweredDeps {
  calls: CallRepository;
  audit: AuditSink;
  events: EventBus;
}

/** Twilio's status of a call it reports `answered` (its status callback's CallStatus) */
const ANSWERED_STATUS = 'in-progress';

export function dialAnsweredHandler(d: DialAnsweredDeps) {
  return async (raw: Record<string, string>, log: Logger): Promise<string> => {
    const p = dialAnsweredParams.parse(raw);
    // only `answered` is asked for; another event (a number's default `completed`) changes nothing
    if (p.CallStatus !== ANSWERED_STATUS) return '';
    const callSid = p.ParentCallSid;
    let answeredNow = false;
    const stored = await d.calls.update(callSid, (s) => {
      // run again on the record that won when another writer changed it first
      answeredNow = false;
      if (s.handoff.mode !== 'dial' || s.state !== 'dialed' || s.handoff.dialAnsweredAt !== undefined) return false;
      s.handoff.dialAnsweredAt = Date.now();
      answeredNow = true;
    });
    if (!stored || !answeredNow) {
      log.info({ parentCallSid: callSid, state: stored?.state ?? 'gone' }, 'dial answer reported again, or for a call not waiting for it: nothing to do');
      return '';
    }
    const agent = stored.handoff.agentActor;
    try {
      await d.audit.append(callSid, { type: 'handoff.dial-answered' });
    } finally {
      // the one publish: a callback again finds the answer taken, so a failed entry must not hold it back
      await d.events.publish({ type: 'call.bridged', callSid, ...(agent ? { agent } : {}) });
    }
    log.info({ parentCallSid: callSid }, 'dial handoff answered');
    return '';
  };
}
