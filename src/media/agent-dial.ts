/**
 * Dialling a bridge's agent (media/registry.ts holds the bridge): an agent stream token, then
 * the REST call whose TwiML streams back to this instance with it. One dial per bridge: it dials
 * only from `holding`, and the bridge is `dialing` from the first, so a `dial-agent` command
 * arriving late, or a reread of the held caller's record, does nothing. A dial that fails before
 * its REST call places no call and leaves the bridge `holding` to be dialled again from the
 * record (`dialNotBegun`); a dial under way when the bridge was taken up by another instance
 * ends the call it placed.
 */
import { performance } from 'node:perf_hooks';
import { nameAgentCall } from '../calls/agent-call';
import type { CallSession } from '../calls/session';
import { errFields } from '../log';
import type { Bridge } from './bridge';
import type { LostReason } from './failover';
import type { RegistryDeps } from './registry';
import { MediaErrors } from '../errors';

/** what the registry lends the agent dial of its bridges and their lifecycle */
export interface DialHost {
  bridge(callSid: string): Bridge | undefined;
  /** the URL Twilio asks when a stream of this call's bridge ends with its call up (failover.ts `lostUrl`) */
  lostUrl(callSid: string, session: CallSession): { publicUrl: string; n: number; callerSid: string } | undefined;
  /** the agent's call `agentCallSid` belongs to `callerSid`'s bridge here (its `call.ended` ends it) */
  bindAgent(agentCallSid: string, callerSid: string): void;
  lose(callSid: string, reason: LostReason): Promise<void>;
  end(callSid: string, endedBy: 'caller' | 'agent', reason: string): Promise<void>;
  completeCall(callSid: string): Promise<void>;
}

type DialDeps = Pick<RegistryDeps, 'instanceId' | 'publicUrl' | 'log' | 'store' | 'keys' | 'calls' | 'audit' | 'twilio' | 'twiml' | 'tokens'>;

export class AgentDial {
  constructor(
    private readonly d: DialDeps,
    private readonly host: DialHost,
  ) {}

  /**
   * Dials the agent for a bridge on this instance: an agent stream token, then the REST call
   * whose TwiML streams back here. A failure before the REST call (the store unreachable for the
   * record or the token) places no call: the bridge goes back to `holding`, its token (if one was
   * issued) withdrawn, and the next reread of the held caller's record dials again (`recheck`).
   */
  async startAgentLeg(callSid: string, endpoint: string, agentSub?: string, agentActor?: string): Promise<void> {
    const bridge = this.host.bridge(callSid);
    if (!bridge) throw MediaErrors.noBridge();
    if (bridge.state !== 'holding') return;
    bridge.state = 'dialing';
    bridge.agentActor = agentActor;
    const log = this.d.log.child({ callSid });
    let session: CallSession | null;
    let agentTwiml = '';
    try {
      session = await this.d.calls.get(callSid);
      if (session) {
        const { token, url } = await this.d.tokens.issue({
          callSid,
          leg: 'agent',
          instanceId: this.d.instanceId,
          bridgeCallSid: callSid,
          ...(agentSub ? { agentSub } : {}),
        });
        bridge.agentToken = token;
        // The agent's call is what gets recorded in bridge mode: the agent on one channel, on the
        // other the audio this service sends them, where every key the caller presses is already
        // a flat tone. (The caller's own recording was stopped before the bridge.)
        const recordingStatusUrl = session.handoff.record
          ? `${this.d.publicUrl}/twilio/recording-status?leg=agent&call=${encodeURIComponent(callSid)}`
          : undefined;
        agentTwiml = this.d.twiml.agentLeg(url, this.host.lostUrl(callSid, session), recordingStatusUrl);
      }
    } catch (err) {
      await this.dialNotBegun(bridge, err);
      return;
    }
    if (!session) {
      log.warn('no session for a bridge: ending it');
      await this.host.end(callSid, 'caller', 'no-session');
      return;
    }
    bridge.dialedAt = performance.now();
    try {
      const call = await this.d.twilio.calls.create({
        to: endpoint,
        from: session.to,
        twiml: agentTwiml,
        statusCallback: `${this.d.publicUrl}/twilio/status`,
      });
      if ((bridge.state as string) === 'ended') {
        await this.host.completeCall(call.sid);
        return;
      }
      bridge.agentCallSid = call.sid;
      this.host.bindAgent(call.sid, callSid);
      let movedOn = false;
      await this.d.calls.update(callSid, (s) => {
        if (s.state === 'ended') return false;
        // taken up elsewhere while this dial was in flight (its stream gone before this bridge knew):
        // the instance holding the caller now read no agent call in the record, and dials the agent itself
        movedOn = s.instanceId !== this.d.instanceId;
        if (movedOn) return false;
        s.handoff.agentEndpoint = endpoint;
        // a new agent call (the first, or one dialled again after a lost bridge) records anew:
        // the recording of the call before is not this one's, and a capture must pause this one's;
        // this one's, its status callback come before this answer, is kept (calls/agent-call.ts)
        nameAgentCall(s, call.sid);
        if (agentSub) s.handoff.agentSub = agentSub;
        if (agentActor) s.handoff.agentActor = agentActor;
      });
      if (movedOn) {
        // this bridge is stale (Twilio left its stream for the other instance's): lost here first, so
        // the end of the agent call placed for it is no end of this bridge's caller
        log.warn({ agentCallSid: call.sid }, "bridge taken up elsewhere while its agent was dialled: its agent call ended, the caller's instance dials");
        await this.host.lose(callSid, 'taken-up-elsewhere');
        await this.host.completeCall(call.sid);
        return;
      }
      await this.d.audit.append(callSid, { type: 'bridge.agent-dialed' });
      log.info({ agentCallSid: call.sid }, 'agent leg dialled');
    } catch (err) {
      log.error({ err: errFields(err) }, 'agent call could not be created');
      await this.d.audit.append(callSid, { type: 'bridge.agent-dial-failed' });
      await this.host.end(callSid, 'agent', 'dial-failed');
    }
  }

  /**
   * startAgentLeg failed before its REST call, so no agent call exists: the bridge back to
   * `holding` (unless it ended meanwhile), its token withdrawn, for the held caller's next reread
   * to dial again. A token that cannot be withdrawn now was never sent anywhere, and expires.
   */
  private async dialNotBegun(bridge: Bridge, err: unknown): Promise<void> {
    const log = this.d.log.child({ callSid: bridge.callSid });
    const token = bridge.agentToken;
    bridge.agentToken = undefined;
    if (bridge.state === 'dialing') {
      bridge.state = 'holding';
      log.warn({ err: errFields(err) }, "agent's call not placed (failed before it was created): the caller holds, dialled again from the record");
    } else log.warn({ err: errFields(err), state: bridge.state }, "agent's call not placed (failed before it was created), its bridge past dialing");
    if (!token) return;
    try {
      await this.d.store.del(this.d.keys.streamToken(token));
    } catch (delErr) {
      log.warn({ err: errFields(delErr) }, "unplaced agent call's stream token not withdrawn: it expires unused");
    }
  }
}
