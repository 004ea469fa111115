/**
 * A bridge's stream ended with its call still up: Twilio follows the <Redirect> the
 * service wrote after its <Connect> (twilio/twiml.ts `bridgeLostUrl`). The service ends a bridge on purpose by
 * ending the other call and the record first (media/registry.ts `end`), so a call that comes
 * here still live lost its bridge with the instance that held it: drained at a deploy, stopped,
 * or cut off. Whichever instance this request reaches takes the call up:
 *
 * - the caller gets their next stream, to this instance, where the new bridge holds them (the
 *   hold sound) and calls their agent's call back in (media/failover.ts `rejoinAgent`), every
 *   key masked as before; the record names this instance, so an accept still reaches the bridge;
 * - the agent's call waits in silence (twilio/twiml.ts `agentWaitTwiml`) until that happens,
 *   asking again every few seconds, so that it ends soon after a caller who hung up meanwhile.
 *
 * Nothing of the caller reaches the agent but through a bridge, and no recording is started or
 * resumed here: the caller's own was stopped before the first bridge, other applications' on the
 * caller's call stay paused for the bridge (the record's `handoff.recordingsHeld`), the agent's goes
 * on as it was. A call whose record says it is over, or that is not the bridge's, is simply ended;
 * one whose record is gone (Redis restarted empty, the caller erased: neither said anything to
 * the caller) gets the safe apology first, as any call the service cannot serve.
 */
import type { AuditTrail } from '../audit';
import type { CallRepository } from '../calls/repository';
import type { CallSession, CallState } from '../calls/session';
import type { FlowRegistry } from '../flows/load';
import type { Logger } from '../log';
import type { StreamTokens } from '../media/tokens';
import type { Metrics } from '../metrics';
import { TERMINAL_CALL_STATUSES } from './params';
import { AGENT_REJOIN_CHECKS, agentWaitTwiml, callerStreamTwiml, emptyTwiml, passOnTwiml, safeTwiml, sayAndHangUpTwiml } from './twiml';

/**
 * A call's caller streams at most: a call lost this many times is not taken up again (each loss
 * costs the caller a moment of silence and a hold; past this, something is wrong with every
 * instance, and an apology is kinder than another).
 */
export const MAX_CALLER_STREAMS = 5;

/**
 * A draining instance passes a caller's action on (a second's silence, then the same action
 * again) this many times at most, while its load balancer takes it out of rotation; then it
 * takes the call up itself, as the next stream's refusal sends the caller on again.
 */
export const MAX_DRAINING_HOPS = 8;

/** the states of a call handed to a bridge and not over */
const BRIDGE_STATES: ReadonlySet<CallState> = new Set(['offered', 'bridging', 'bridged']);

export interface BridgeLostDeps {
  calls: CallRepository;
  audit: Pick<AuditTrail, 'append'>;
  tokens: Pick<StreamTokens, 'issue'>;
  flows: Pick<FlowRegistry, 'byId' | 'byNumber'>;
  metrics: Pick<Metrics, 'bridgesResumed'>;
  instanceId: string;
  publicUrl: string;
  /** the call was taken up here: a capture its lost instance ran is settled (LiveCalls `settleLostCapture`) */
  onTakenUp?: (callSid: string) => void;
  /** this instance is stopping (SIGTERM): a stream to it would be refused, so the caller is passed on */
  draining?: () => boolean;
}

export class BridgeLost {
  constructor(private readonly d: BridgeLostDeps) {}

  /**
   * The caller's `n`-th stream ended with their call up: their next stream, to this instance; or,
   * this instance draining, the same action again (`hop`) for the load balancer to send elsewhere.
   * `to`: the number the caller called (Twilio's `To`), whose flow's safe apology a call whose
   * record is gone gets.
   */
  async caller(callSid: string, n: number, callStatus: string | undefined, log: Logger, hop = 0, to?: string): Promise<string> {
    if (callStatus && TERMINAL_CALL_STATUSES.has(callStatus)) return emptyTwiml();
    if (this.d.draining?.() && hop < MAX_DRAINING_HOPS) {
      log.info({ n, hop: hop + 1 }, 'lost bridge reached a draining instance: passed on');
      return passOnTwiml(this.d.publicUrl, n, hop + 1);
    }
    const session = await this.d.calls.get(callSid);
    if (!session) {
      // the record went under a live call (Redis restarted empty, or the caller's erasure, which
      // says nothing to the caller: privacy/service.ts): the safe apology, as a store outage gets
      // (serving.ts), never a hangup in silence; by the number called, as no record names the flow
      log.warn("caller stream ended and the call's record is gone: the safe apology");
      return safeTwiml(this.d.publicUrl, to ? this.d.flows.byNumber(to) : undefined);
    }
    if (!live(session)) {
      log.info({ state: session.state }, 'caller stream ended with no bridge to take up: the call ends');
      return emptyTwiml();
    }
    const flow = this.d.flows.byId(session.flowId);
    if ((session.handoff.streams ?? 1) !== n || n >= MAX_CALLER_STREAMS) {
      log.warn({ n, streams: session.handoff.streams ?? 1 }, 'caller stream lost again, or not the current one: apology and hang-up');
      return sayAndHangUpTwiml('apology-goodbye', flow);
    }
    const next = n + 1;
    const { url } = await this.d.tokens.issue({ callSid, leg: 'caller', instanceId: this.d.instanceId });
    let taken = false;
    await this.d.calls.update(callSid, (s) => {
      taken = live(s) && (s.handoff.streams ?? 1) === n;
      if (!taken) return false;
      s.handoff.streams = next;
      s.instanceId = this.d.instanceId;
    });
    if (!taken) {
      log.warn('call ended, or taken up elsewhere, while its lost bridge was being taken up: apology and hang-up');
      return sayAndHangUpTwiml('apology-goodbye', flow);
    }
    await this.d.audit.append(callSid, { type: 'bridge.resumed', stream: next });
    this.d.metrics.bridgesResumed.inc();
    this.d.onTakenUp?.(callSid);
    log.warn({ stream: next }, 'bridge lost with another instance: taken up here');
    return callerStreamTwiml(this.d.publicUrl, url, next);
  }

  /**
   * The agent's stream of `callerSid`'s bridge ended with their call up, or (`check` > 0) their
   * wait for it to be called back in ended: wait (again), unless the caller's call is over.
   */
  async agent(agentCallSid: string, n: number, callerSid: string | undefined, callStatus: string | undefined, log: Logger, check = 0): Promise<string> {
    if (callStatus && TERMINAL_CALL_STATUSES.has(callStatus)) return emptyTwiml();
    const session = callerSid ? await this.d.calls.get(callerSid) : null;
    if (!session || !live(session) || session.handoff.agentCallSid !== agentCallSid) {
      log.info({ check }, "agent's stream ended with no bridge to rejoin: the agent's call ends");
      return emptyTwiml();
    }
    if (check >= AGENT_REJOIN_CHECKS) log.warn({ check }, "agent's call not called back in: it ends");
    return agentWaitTwiml(this.d.publicUrl, n, callerSid!, check);
  }
}

function live(s: CallSession): boolean {
  return s.handoff.mode === 'bridge' && BRIDGE_STATES.has(s.state);
}
