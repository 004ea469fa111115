/**
 * A bridged call outliving the instance that holds it (a shared store only: RegistryDeps
 * `failover`). Two halves, on two instances:
 *
 * - where the bridge is lost (shutdown, or the caller's stream cut off with no `stop`): its
 *   streams are closed and the record left as it is (`lose`). Twilio follows each leg's <Redirect>
 *   after its <Connect> (twilio/bridge-lost.ts), which gives the caller a stream to the instance it reaches;
 * - where the caller's next stream starts: the agent's call, placed for the bridge by whichever
 *   instance, is called back in (`rejoinAgent`): its TwiML replaced over REST by a stream to this
 *   instance, with no second recording. An agent's stream cut off alone is called back in the
 *   same way, the caller on hold meanwhile (`agentLost`).
 *
 * The registry (registry.ts) keeps the bridges and their lifecycle; it lends this what it needs
 * of them (FailoverHost).
 */
import { performance } from 'node:perf_hooks';
import type { CallSession } from '../calls/session';
import { isTonewallError, StoreErrors } from '../errors';
import { errFields } from '../log';
import type { Bridge } from './bridge';
import type { RegistryDeps } from './registry';
import type { MediaStream } from './stream';

/** what the registry lends the failover of its bridges and their lifecycle */
export interface FailoverHost {
  shuttingDown(): boolean;
  /** the bridge's traces on this instance (map entries, hold timer, key listeners) gone */
  forget(bridge: Bridge): void;
  /** the agent's call `agentCallSid` belongs to `callerSid`'s bridge here (its `call.ended` ends it) */
  bindAgent(agentCallSid: string, callerSid: string): void;
  unbindAgent(agentCallSid: string): void;
  /** the caller on hold again: the hold timeout armed */
  holdAgain(callSid: string): void;
  end(callSid: string, endedBy: 'caller' | 'agent', reason: string): Promise<void>;
  startAgentLeg(callSid: string, endpoint: string, agentSub?: string, agentActor?: string): Promise<void>;
  completeCall(callSid: string): Promise<void>;
}

/** why a bridge was lost here: shutdown, its caller's stream cut off, or its call taken up by another instance before this one heard */
export type LostReason = 'shutdown' | 'caller-stream-lost' | 'taken-up-elsewhere';

type FailoverDeps = Pick<RegistryDeps, 'instanceId' | 'publicUrl' | 'log' | 'store' | 'keys' | 'calls' | 'audit' | 'twilio' | 'twiml' | 'tokens' | 'failover'>;

export class BridgeFailover {
  constructor(
    private readonly d: FailoverDeps,
    private readonly host: FailoverHost,
  ) {}

  /** the URL Twilio asks when a stream of this call's bridge ends with its call up: the caller's current stream's */
  lostUrl(callSid: string, session: CallSession): { publicUrl: string; n: number; callerSid: string } | undefined {
    return this.d.failover ? { publicUrl: this.d.publicUrl, n: session.handoff.streams ?? 1, callerSid: callSid } : undefined;
  }

  /**
   * A bridge (marked ended) lost to this instance while its calls go on: the streams closed, the
   * record left as it is. Twilio follows the caller's <Redirect> after <Connect> (twilio/bridge-lost.ts), and
   * the agent's, so the call is taken up on whichever instance that reaches.
   */
  async lose(bridge: Bridge, reason: LostReason): Promise<void> {
    const callSid = bridge.callSid;
    const log = this.d.log.child({ callSid });
    log.warn({ reason, tonesMasked: bridge.tonesMaskedTotal }, 'bridge lost here: its call goes on where Twilio takes it up');
    // a capture on it hears nothing more here: it ends now (its recording resumed), not at its timeout
    bridge.emit('lost');
    this.host.forget(bridge);
    try {
      if (bridge.agentToken) await this.d.store.del(this.d.keys.streamToken(bridge.agentToken));
      await this.d.audit.append(callSid, { type: 'bridge.lost', reason, tonesMasked: bridge.tonesMaskedTotal });
    } catch (err) {
      log.warn({ err: errFields(err) }, 'lost bridge not recorded');
    }
    bridge.caller.close();
    bridge.agent?.close();
  }

  /**
   * Calls the agent's call (placed for this call's bridge, perhaps by another instance) back into
   * the bridge here: its TwiML replaced by a stream to this instance, with no second recording
   * (the one it began with goes on). If Twilio will not redirect it (it ended, or never
   * answered), it is ended and the agent dialled again; with no agent known, the caller stays on
   * hold for whoever accepts. A failure before the redirect (the store unreachable for the token)
   * leaves the agent's call where it was, and the caller holding (`rejoinNotBegun`).
   */
  async rejoinAgent(bridge: Bridge, session: CallSession): Promise<void> {
    const callSid = bridge.callSid;
    const agentCallSid = session.handoff.agentCallSid!;
    const log = this.d.log.child({ callSid });
    if (bridge.state !== 'holding') return;
    bridge.state = 'dialing';
    bridge.agentCallSid = agentCallSid;
    bridge.agentActor = session.handoff.agentActor;
    this.host.bindAgent(agentCallSid, callSid);
    let token: string;
    let agentTwiml: string;
    try {
      const issued = await this.d.tokens.issue({
        callSid,
        leg: 'agent',
        instanceId: this.d.instanceId,
        bridgeCallSid: callSid,
        ...(session.handoff.agentSub ? { agentSub: session.handoff.agentSub } : {}),
      });
      token = issued.token;
      bridge.agentToken = token;
      agentTwiml = this.d.twiml.agentLeg(issued.url, this.lostUrl(callSid, session));
    } catch (err) {
      await this.rejoinNotBegun(bridge, agentCallSid, err);
      return;
    }
    bridge.dialedAt = performance.now();
    try {
      await this.d.twilio.calls(agentCallSid).update({ twiml: agentTwiml });
      await this.d.audit.append(callSid, { type: 'bridge.agent-rejoining' });
      log.info({ agentCallSid }, "agent's call called back into the bridge");
    } catch (err) {
      if ((bridge.state as string) === 'ended') return;
      log.warn({ agentCallSid, err: errFields(err) }, "agent's call not redirected: dialling the agent again");
      this.host.unbindAgent(agentCallSid);
      bridge.agentCallSid = undefined;
      bridge.agentToken = undefined;
      // the redirect that would have used it never went: a token the store cannot withdraw now (down
      // too) expires unused, and must not end the call the dial below would save
      await this.d.store
        .del(this.d.keys.streamToken(token))
        .catch((delErr: unknown) => log.warn({ err: errFields(delErr) }, "unsent redirect's stream token not withdrawn: it expires unused"));
      await this.host.completeCall(agentCallSid);
      // holding only once the old call is being ended: a reread of the record in between would call it back in again
      if ((bridge.state as string) !== 'dialing') return;
      bridge.state = 'holding';
      if (session.handoff.agentEndpoint)
        await this.host.startAgentLeg(callSid, session.handoff.agentEndpoint, session.handoff.agentSub, session.handoff.agentActor);
    }
  }

  /**
   * rejoinAgent failed before its REST redirect, so the agent's call was not touched: it waits in
   * its <Redirect> after <Connect> (twilio/bridge-lost.ts), still this bridge's (its `call.ended`
   * ends the bridge, as when it is bridged). The bridge goes back to `holding` (unless it ended
   * meanwhile), its token withdrawn, for the held caller's next reread of the record (held-caller.ts
   * `recheck`) to call it back in again; the caller is not hung up for a store that was briefly
   * unreachable. A token that cannot be withdrawn now was never sent anywhere, and expires.
   */
  private async rejoinNotBegun(bridge: Bridge, agentCallSid: string, err: unknown): Promise<void> {
    const log = this.d.log.child({ callSid: bridge.callSid });
    const token = bridge.agentToken;
    bridge.agentToken = undefined;
    if (bridge.state === 'dialing') {
      bridge.state = 'holding';
      log.warn(
        { agentCallSid, err: errFields(err) },
        "agent's call not called back in (failed before its redirect): the caller holds, called back in again from the record",
      );
    } else
      log.warn(
        { agentCallSid, err: errFields(err), state: bridge.state },
        "agent's call not called back in (failed before its redirect), its bridge past dialing",
      );
    if (!token) return;
    try {
      await this.d.store.del(this.d.keys.streamToken(token));
    } catch (delErr) {
      log.warn({ err: errFields(delErr) }, "unsent redirect's stream token not withdrawn: it expires unused");
    }
  }

  /**
   * The agent's stream cut off with no `stop` (their call still up, and sent by Twilio to its
   * <Redirect> after <Connect> to wait): the caller back on hold, the agent's call called back in.
   */
  async agentLost(bridge: Bridge, stream: MediaStream): Promise<void> {
    if (bridge.state !== 'bridged' || bridge.agent !== stream || this.host.shuttingDown()) return;
    const log = this.d.log.child({ callSid: bridge.callSid });
    log.warn("agent's stream cut off: caller on hold, calling the agent's call back in");
    bridge.disconnectAgent();
    try {
      this.host.holdAgain(bridge.callSid);
      const session = await this.d.calls.get(bridge.callSid);
      if (!session || session.state === 'ended' || !session.handoff.agentCallSid)
        return void (await this.host.end(bridge.callSid, 'agent', 'agent-stream-lost'));
      await this.rejoinAgent(bridge, session);
    } catch (err) {
      // the store out of reach for a moment: the caller holds, and the held caller's reread of the
      // record (held-caller.ts `recheck`) calls the agent's call back in once it answers, as rejoinNotBegun's
      if (isTonewallError(err) && err.code === StoreErrors.unavailable.code && (bridge.state as string) === 'holding') {
        log.warn({ err: errFields(err) }, "agent's call not called back in yet (the store unreachable): the caller holds, called back in from the record");
        return;
      }
      log.error({ err: errFields(err) }, "agent's call not called back in");
      await this.host.end(bridge.callSid, 'agent', 'agent-stream-lost');
    }
  }
}
