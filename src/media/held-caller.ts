/**
 * A caller held for an agent (media/registry.ts holds the bridge), when one of its hold's timers
 * (holds.ts) fires: the reread of its record every HOLD_RECHECK_MS dials an agent no call was placed
 * to, or calls back in one whose redirect failed (`recheck`), and the hold's timeout apologises and
 * ends the bridge (`noAgent`). Apart from the registry because it works from the call's record, not
 * from the bridge's streams: it decides from what the record says who, if anyone, should be on the
 * line, and lends the registry's own dial, rejoin and end to act on it. `accepted` is also what the
 * caller's stream dials from when it starts (registry.ts `onCallerStarted`).
 */
import type { CallSession } from '../calls/session';
import type { Flow } from '../flows/schema';
import { errFields, type Logger } from '../log';
import type { Bridge } from './bridge';
import type { RegistryDeps } from './registry';

/** what the registry lends a held caller's rereads and timeout of its bridges and their lifecycle */
export interface HeldCallerHost {
  bridge(callSid: string): Bridge | undefined;
  shuttingDown(): boolean;
  /** the agent's call named in the record called back into the bridge here (failover.ts `rejoinAgent`) */
  rejoinAgent(bridge: Bridge, session: CallSession): Promise<void>;
  startAgentLeg(callSid: string, endpoint: string, agentSub?: string, agentActor?: string): Promise<void>;
  end(callSid: string, endedBy: 'caller' | 'agent', reason: string): Promise<void>;
}

type HeldCallerDeps = Pick<RegistryDeps, 'instanceId' | 'log' | 'calls' | 'audit' | 'twilio' | 'twiml' | 'flows'>;

export class HeldCallers {
  constructor(
    private readonly d: HeldCallerDeps,
    private readonly host: HeldCallerHost,
  ) {}

  /**
   * A caller held here whose record shows an accepted agent with no call placed to them (`accepted`):
   * the accept's `dial-agent` was lost on its way (the accepting instance gone before it published,
   * or pub/sub dropped it), so the agent is dialled as the command would have dialled them. The
   * bridge's own state keeps it to one dial: startAgentLeg dials only from `holding`, so a command
   * arriving late finds the bridge dialling and does nothing. A dial that failed before its call was
   * placed (startAgentLeg, back to `holding`) is dialled again the same way, and so is a flow's fixed
   * `handoff.to` with no call placed. A record naming an agent call (this bridge's, waiting to be
   * called back in: failover.ts `rejoinAgent` failed before its redirect and left the bridge
   * `holding`) has it called back in again, by the same `rejoinAgent`, which also starts only from
   * `holding`. A record naming another instance (this bridge taken up elsewhere, its loss not yet
   * seen here) is that instance's to dial.
   */
  async recheck(callSid: string): Promise<void> {
    const bridge = this.host.bridge(callSid);
    if (!bridge || bridge.state !== 'holding' || this.host.shuttingDown()) return;
    const log = this.d.log.child({ callSid });
    try {
      const session = await this.d.calls.get(callSid);
      if (!session || session.instanceId !== this.d.instanceId || bridge.state !== 'holding') return;
      if (session.handoff.agentCallSid && session.state !== 'ended') {
        log.warn(
          { agentCallSid: session.handoff.agentCallSid },
          "the agent's call not called back in (a redirect failed before it was sent): calling it back in from the record",
        );
        await this.host.rejoinAgent(bridge, session);
      } else if (fixedUndialled(session)) {
        log.warn("the flow's agent not dialled (a dial failed before its call was placed): dialling them from the record");
        await this.host.startAgentLeg(callSid, session.handoff.to);
      } else if (accepted(session)) {
        log.warn(
          "an accepted agent not dialled (the accept's dial-agent lost on its way, or a dial failed before its call was placed): dialling them from the record",
        );
        await this.host.startAgentLeg(callSid, session.handoff.agentEndpoint, session.handoff.agentSub, session.handoff.agentActor);
      }
    } catch (err) {
      log.warn({ err: errFields(err) }, "held caller's record not read again: tried again shortly");
    }
  }

  /** the hold ran out with no agent on the line: apologise to the caller, end the bridge */
  async noAgent(callSid: string): Promise<void> {
    const bridge = this.host.bridge(callSid);
    if (!bridge || bridge.state === 'bridged' || bridge.state === 'ended') return;
    const log = this.d.log.child({ callSid });
    log.warn({ state: bridge.state }, 'no agent took the call in time: apologising and ending it');
    this.d.audit.append(callSid, { type: 'bridge.no-agent' }).catch((err: unknown) => log.warn({ err: errFields(err) }, 'bridge audit entry not written'));
    try {
      // new TwiML for the caller's live call: the stream ends and the apology plays, in the flow's language
      const flow = await this.flowOf(callSid, log);
      await this.d.twilio.calls(callSid).update({ twiml: this.d.twiml.sayAndHangUp('no-agent', flow) });
    } catch (err) {
      log.warn({ err: errFields(err) }, 'could not redirect the caller to the apology');
    }
    // the agent's call, if one was dialled and never answered, is completed by end()
    await this.host.end(callSid, 'caller', 'no-agent');
  }

  /**
   * The call's flow, for the language and voice of what the caller is told. Without it (the
   * session unreadable or gone, the flow no longer loaded) the caller still hears the apology,
   * in English: an unreadable store is logged, not allowed to leave them on hold.
   */
  private async flowOf(callSid: string, log: Logger): Promise<Flow | undefined> {
    try {
      const session = await this.d.calls.get(callSid);
      return session ? this.d.flows.byId(session.flowId) : undefined;
    } catch (err) {
      log.warn({ err: errFields(err) }, 'session unreadable: the apology is said in English');
      return undefined;
    }
  }
}

/** a flow's fixed agent (`handoff.to`) with no call placed to them yet */
export function fixedUndialled(s: CallSession): s is CallSession & { handoff: { to: string } } {
  return s.state === 'bridging' && Boolean(s.handoff.to) && !s.handoff.agentCallSid;
}

/**
 * An offer an agent accepted (agents/offers.ts: `bridging`, their endpoint in the record) whose
 * agent no instance has placed a call to yet: the caller's stream dials it when it starts, and
 * a bridge holding its caller when it reads the record again (the accept's command lost)
 */
export function accepted(s: CallSession): s is CallSession & { handoff: { agentEndpoint: string } } {
  return s.state === 'bridging' && !s.handoff.to && Boolean(s.handoff.agentSub) && Boolean(s.handoff.agentEndpoint) && !s.handoff.agentCallSid;
}
