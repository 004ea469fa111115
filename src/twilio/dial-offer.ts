/**
 * A dial handoff without `to` (CONTRACT §3, §5): the call is offered to the connected agents as a
 * bridge call is (state `offered`, `handoff.offered`, the first accept wins: agents/offers.ts),
 * and the caller waits in a hold loop: a <Pause>, then a <Redirect> to `/twilio/dial-hold/:hop`,
 * signed by Twilio like every webhook, answered here by whichever instance it reaches, from the
 * record alone. Nothing dequeues a Twilio queue, so no <Enqueue>.
 *
 * - An accept moves the caller's call at once (Twilio's "modify a call in progress": the call is
 *   in progress, answered by the hold loop's first verb) to a plain <Dial> of the accepting
 *   token's endpoint, with the dial handoff's own action (dial-status.ts): a dial that does not
 *   connect ends in the no-agent apology. No masking and no recording change: a dial is plain,
 *   and the call's own recording runs on as with a dial to `to`.
 * - An accept whose move did not reach the call (Twilio refused or did not answer it) is carried
 *   out by the hold loop's next ask, once the accept has had ACCEPT_GRACE_MS to do it itself (a
 *   loop that dialled at once would race the accept's own move, and the agent be rung twice).
 * - No accept within the hold timeout (the bridge's, HOLD_TIMEOUT_MS): the offer is closed by
 *   taking its key (an accept then loses, as against another agent), the call's record ended, and
 *   the caller hears the no-agent apology and is hung up, as a bridge caller on hold does.
 */
import type { AuditTrail } from '../audit';
import type { EventBus } from '../bus';
import type { CallControl } from '../calls/control';
import type { CallRepository } from '../calls/repository';
import { CALL_TTL_SECONDS, endSession } from '../calls/session';
import type { FlowRegistry } from '../flows/load';
import { errFields, type Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Keys, Store } from '../store';
import { DIAL_HOLD_CHECK_SECONDS, dialAgentTwiml, dialHoldTwiml, emptyTwiml, sayAndHangUpTwiml } from './twiml';

/** how long the hold loop leaves an accepted call to the accept's own move before dialling the agent itself */
export const ACCEPT_GRACE_MS = 10_000;

/** what an offer's key holds once the hold timeout closed it (an accept's holds the agent's `sub`) */
const CLOSED_OFFER = '-no-agent';

export interface DialOfferDeps {
  calls: CallRepository;
  store: Store;
  keys: Keys;
  audit: Pick<AuditTrail, 'append'>;
  events: EventBus;
  flows: Pick<FlowRegistry, 'byId'>;
  metrics: Pick<Metrics, 'callsActive' | 'callsEnded'>;
  twilio: CallControl;
  publicUrl: string;
  /** how long a caller waits for an accept before the apology; the bridge's HOLD_TIMEOUT_MS */
  holdTimeoutMs: number;
  /** the clock the offer's time was taken by (the runner's); an accept's time is the wall clock's */
  now?: () => number;
}

export class DialOffers {
  constructor(private readonly d: DialOfferDeps) {}

  private now(): number {
    return this.d.now?.() ?? Date.now();
  }

  /**
   * An accepted offer's caller moved to a <Dial> of `endpoint`. A failure is logged and audited,
   * not thrown: the accept has won, and the hold loop dials the agent itself after ACCEPT_GRACE_MS.
   */
  async dialCaller(callSid: string, endpoint: string, log: Logger): Promise<void> {
    try {
      await this.d.twilio.calls(callSid).update({ twiml: dialAgentTwiml(this.d.publicUrl, endpoint) });
      await this.d.audit.append(callSid, { type: 'handoff.agent-dialed' });
      log.info({ callSid }, 'accepted dial offer: the caller is dialling the agent');
    } catch (err) {
      log.warn({ callSid, err: errFields(err) }, "accepted dial offer: the caller's call could not be moved; the hold loop dials the agent");
      await this.d.audit
        .append(callSid, { type: 'handoff.agent-dial-deferred' })
        .catch((e: unknown) => log.warn({ callSid, err: errFields(e) }, 'audit append failed'));
    }
  }

  /** the hold loop's `hop`-th ask (`/twilio/dial-hold/:hop`) */
  async hold(callSid: string, hop: number, log: Logger): Promise<string> {
    const s = await this.d.calls.get(callSid);
    if (!s || s.state === 'ended') return emptyTwiml();
    const flow = this.d.flows.byId(s.flowId);
    const now = this.now();
    if (s.handoff.mode !== 'dial' || s.handoff.to) {
      log.warn({ state: s.state }, 'dial hold for a call not offered in dial mode: ending it');
      return sayAndHangUpTwiml('no-agent', flow);
    }
    if (s.handoff.agentSub && s.handoff.agentEndpoint) {
      // accepted: the accept moves the call itself; only one that did not reach it is done here
      if (Date.now() - (s.handoff.acceptedAt ?? 0) < ACCEPT_GRACE_MS) return dialHoldTwiml(this.d.publicUrl, hop + 1, 1);
      log.warn('accepted dial offer still on hold: dialling the agent from the hold loop');
      return dialAgentTwiml(this.d.publicUrl, s.handoff.agentEndpoint);
    }
    if (s.state !== 'offered') return sayAndHangUpTwiml('no-agent', flow);
    const left = (s.handoff.offeredAt ?? now) + this.d.holdTimeoutMs - now;
    if (left > 0) return dialHoldTwiml(this.d.publicUrl, hop + 1, Math.min(DIAL_HOLD_CHECK_SECONDS, Math.ceil(left / 1000)));
    // the offer closed as an accept takes it: an accept made meanwhile wins, and moves the call
    if (!(await this.d.store.setIfAbsent(this.d.keys.offer(callSid), CLOSED_OFFER, CALL_TTL_SECONDS))) {
      return dialHoldTwiml(this.d.publicUrl, hop + 1, 1);
    }
    return this.noAgent(callSid, flow, log);
  }

  /** the hold ran out with no accept: the record ended, `handoff.no-agent` audited, the caller told and hung up */
  private async noAgent(callSid: string, flow: ReturnType<FlowRegistry['byId']>, log: Logger): Promise<string> {
    log.warn('no agent accepted the dial offer in time: apologising and ending the call');
    let endedNow = false;
    let left = false;
    await this.d.calls.update(callSid, (s) => {
      const end = endSession(s, this.now());
      [endedNow, left] = [end !== null, end?.left ?? false];
      if (!end) return false;
    });
    if (left) this.d.metrics.callsActive.dec();
    if (endedNow) this.d.metrics.callsEnded.inc({ status: 'completed' });
    try {
      await this.d.audit.append(callSid, { type: 'handoff.no-agent' });
    } finally {
      // the one publish of the call's end: whoever moved the record to ended publishes it, no other
      if (endedNow) await this.d.events.publish({ type: 'call.ended', callSid, status: 'completed' });
    }
    return sayAndHangUpTwiml('no-agent', flow);
  }
}
