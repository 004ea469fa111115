/**
 * The bridges this instance holds, and their lifecycle:
 * - the caller's stream starts → a Bridge (caller on hold); with the flow's `handoff.to` the
 *   agent leg is dialled at once, otherwise a `dial-agent` command (sent by whoever accepted the
 *   offer, to this instance's channel) dials it, or, the accept being in the record before it is
 *   sent, the caller's stream dials the accepted agent when it starts here later (a take-up's
 *   included: a command sent to the instance that lost the bridge finds none there), and a
 *   bridge holding its caller reads the record every HOLD_RECHECK_MS (holds.ts, held-caller.ts) and dials an accepted agent
 *   no call was placed to (a command lost on its way: its sender gone before it published, or
 *   dropped by pub/sub); one dial only, the bridge's state being `dialing` from the first, so a
 *   command arriving late does nothing;
 * - the agent leg is a REST call whose TwiML streams back here with a single-use token (agent-dial.ts);
 * - its stream starts → bridged (session state, `call.bridged` event, audit, setup time);
 * - either side ends (its stream's `stop`, or the `call.ended` event of the caller's call) → the
 *   other call is completed over REST, every trace (map entry, pending token, session state)
 *   cleaned up, and only then the streams closed;
 * - a bridge lost to this instance while its calls go on (shutdown, or the caller's stream cut
 *   off with no `stop`) → its streams are closed and nothing else: Twilio follows the <Redirect>
 *   after <Connect>, which gives the caller a stream to whichever instance it reaches
 *   (twilio/bridge-lost.ts); there the new bridge calls the agent's call back in (failover.ts).
 *   An agent's stream cut off alone is called back in the same way, the caller on hold meanwhile;
 *   one that fails before its redirect is sent is tried again from the held caller's reread (held-caller.ts `recheck`).
 */
import { performance } from 'node:perf_hooks';
import type { AuditTrail } from '../audit';
import type { CallControl } from '../calls/control';
import { nameAgentCall } from '../calls/agent-call';
import type { CallRepository } from '../calls/repository';
import type { CommandBus, CommandOf, EventBus } from '../bus';
import type { FlowRegistry } from '../flows/load';
import type { SystemMessage } from '../flows/prompt-defaults';
import type { Flow } from '../flows/schema';
import { errFields, type Logger } from '../log';
import type { Metrics } from '../metrics';
import type { Keys, Store } from '../store';
import type { Vault } from '../vault';
import { AgentDial } from './agent-dial';
import { Bridge } from './bridge';
import { recordBridgeEnd } from './bridge-end';
import { BridgeFailover, type LostReason } from './failover';
import type { MediaStream } from './stream';
import type { StreamGrant, StreamTokens } from './tokens';
import { CallerHolds, HOLD_TIMEOUT_MS } from './holds';
import { accepted, HeldCallers } from './held-caller';

/**
 * TwiML for the calls the registry places or redirects. It is built at the Twilio edge
 * (twilio/twiml.ts `bridgeTwiml`) and handed in, so media/ needs neither the edge nor the
 * `twilio` package.
 */
export interface BridgeTwiml {
  /**
   * the agent leg: its media streams to `streamUrl` (leg=agent), its <Redirect> after <Connect> the `lost`
   * URL of the caller's `n`-th stream; recorded first when `recordingStatusUrl` is given
   */
  agentLeg(streamUrl: string, lost: { publicUrl: string; n: number; callerSid: string } | undefined, recordingStatusUrl?: string): string;
  /** one of the service's own messages said in the flow's language and voice (English without a flow), then the call hung up */
  sayAndHangUp(message: SystemMessage, flow?: Flow): string;
}

export interface RegistryDeps {
  instanceId: string;
  publicUrl: string;
  maskLookaheadMs: number;
  log: Logger;
  store: Store;
  keys: Keys;
  calls: CallRepository;
  audit: AuditTrail;
  events: EventBus;
  twilio: CallControl;
  twiml: BridgeTwiml;
  /** the loaded flows: a call's flow (its session's flowId) gives what the caller is told its language and voice */
  flows: Pick<FlowRegistry, 'byId'>;
  tokens: StreamTokens;
  metrics: Metrics;
  /** a value sealed for a call that ends here is erased with it */
  vault: Pick<Vault, 'erase'>;
  commands: CommandBus;
  /** how long a caller waits on hold for an agent before hearing an apology; default HOLD_TIMEOUT_MS */
  holdTimeoutMs?: number;
  /**
   * A bridge lost to this instance is taken up by another (a shared store): its streams carry a
   * <Redirect> after <Connect>, and a lost stream or a shutdown leaves the calls up. Without (the embedded
   * store's one instance): a stream that closes ends the bridge and both calls, a shutdown ends
   * the bridges where they stand.
   */
  failover?: boolean;
  /**
   * told of each bridge as its caller's stream starts (recording/bridge-guard.ts: another
   * application's recording started on the caller's call during the bridge is paused at a key)
   */
  onBridge?: (bridge: Bridge) => void;
}

export class BridgeRegistry {
  private readonly bridges = new Map<string, Bridge>();
  /** agent CallSid → caller CallSid */
  private readonly byAgentCall = new Map<string, string>();
  /** each held caller's hold timeout and the rereads of its record (holds.ts) */
  private readonly holds: CallerHolds;
  private unsubscribeEvents: (() => Promise<void>) | null = null;
  private shuttingDown = false;
  /** a bridge lost to this instance, and one taken up here (failover.ts) */
  private readonly failover: BridgeFailover;
  /** each bridge's agent dialled (agent-dial.ts) */
  private readonly dial: AgentDial;
  /** what a held caller's rereads and hold timeout do (held-caller.ts) */
  private readonly held: HeldCallers;

  constructor(private readonly d: RegistryDeps) {
    this.holds = new CallerHolds(d.holdTimeoutMs ?? HOLD_TIMEOUT_MS, {
      timedOut: (callSid) => this.held.noAgent(callSid),
      recheck: (callSid) => this.held.recheck(callSid),
    });
    this.failover = new BridgeFailover(d, {
      shuttingDown: () => this.shuttingDown,
      forget: (bridge) => this.forget(bridge),
      bindAgent: (agentCallSid, callerSid) => this.byAgentCall.set(agentCallSid, callerSid),
      unbindAgent: (agentCallSid) => this.byAgentCall.delete(agentCallSid),
      holdAgain: (callSid) => this.hold(callSid),
      end: (callSid, endedBy, reason) => this.end(callSid, endedBy, reason),
      startAgentLeg: (callSid, endpoint, agentSub, agentActor) => this.startAgentLeg(callSid, endpoint, agentSub, agentActor),
      completeCall: (callSid) => this.completeCall(callSid),
    });
    this.dial = new AgentDial(d, {
      bridge: (callSid) => this.bridges.get(callSid),
      lostUrl: (callSid, session) => this.failover.lostUrl(callSid, session),
      bindAgent: (agentCallSid, callerSid) => this.byAgentCall.set(agentCallSid, callerSid),
      lose: (callSid, reason) => this.lose(callSid, reason),
      end: (callSid, endedBy, reason) => this.end(callSid, endedBy, reason),
      completeCall: (callSid) => this.completeCall(callSid),
    });
    this.held = new HeldCallers(d, {
      bridge: (callSid) => this.bridges.get(callSid),
      shuttingDown: () => this.shuttingDown,
      rejoinAgent: (bridge, session) => this.failover.rejoinAgent(bridge, session),
      startAgentLeg: (callSid, endpoint, agentSub, agentActor) => this.startAgentLeg(callSid, endpoint, agentSub, agentActor),
      end: (callSid, endedBy, reason) => this.end(callSid, endedBy, reason),
    });
  }

  get(callSid: string): Bridge | undefined {
    return this.bridges.get(callSid);
  }

  get size(): number {
    return this.bridges.size;
  }

  async start(): Promise<void> {
    this.d.commands.register('dial-agent', (cmd) => this.onDialCommand(cmd));
    this.unsubscribeEvents = await this.d.events.subscribe((e) => {
      if (e.type !== 'call.ended') return;
      const callerSid = this.bridges.has(e.callSid) ? e.callSid : this.byAgentCall.get(e.callSid);
      if (!callerSid) return;
      const side = callerSid === e.callSid ? 'caller' : 'agent';
      void this.end(callerSid, side, 'call-ended');
    });
  }

  /** a caller stream was accepted: the bridge exists from its `start` */
  attachCaller(grant: StreamGrant, stream: MediaStream): void {
    const callSid = grant.callSid;
    let bridge: Bridge | undefined;
    let stopped = false;
    stream.attach({
      onStart: (msg) => {
        if (msg.start.callSid !== callSid || this.bridges.has(callSid) || this.shuttingDown) {
          stream.log.warn('caller stream start does not match its grant: closing');
          stream.close(1008, 'refused');
          return;
        }
        bridge = new Bridge(callSid, stream, this.d.maskLookaheadMs, this.d.metrics);
        this.bridges.set(callSid, bridge);
        this.d.onBridge?.(bridge);
        this.hold(callSid);
        stream.log.info('caller stream started: on hold');
        void this.onCallerStarted(bridge);
      },
      onMedia: (msg) => bridge?.callerFrame(msg.media.payload),
      onDtmf: (digit) => bridge?.callerDtmf(digit),
      onStop: () => {
        stopped = true;
        if (bridge) void this.end(callSid, 'caller', 'stream-stop');
      },
      // Twilio says `stop` when the call or the stream ends; a socket that closes without it was
      // cut off, with the call still up: Twilio goes to the <Redirect> after <Connect>, which resumes it
      onClose: () => {
        if (bridge && !stopped) void (this.d.failover ? this.lose(callSid, 'caller-stream-lost') : this.end(callSid, 'caller', 'stream-closed'));
      },
    });
  }

  /** an agent stream was accepted: it joins the bridge named by its grant */
  attachAgent(grant: StreamGrant, stream: MediaStream): void {
    const callerSid = grant.bridgeCallSid;
    const bridge = callerSid ? this.bridges.get(callerSid) : undefined;
    if (!bridge || bridge.state === 'ended' || this.shuttingDown) {
      stream.log.warn('agent stream for no live bridge: closing');
      // Twilio goes on after <Connect>: to its <Redirect> (twilio/bridge-lost.ts), which finds no bridge
      // of this agent's call to wait for, or, without one, to the end of its TwiML; either hangs it up
      stream.close(1000, 'no bridge');
      return;
    }
    let stopped = false;
    stream.attach({
      onStart: (msg) => {
        if (bridge.state === 'ended' || bridge.agent) {
          stream.close(1008, 'refused');
          return;
        }
        bridge.agentCallSid ??= msg.start.callSid;
        this.byAgentCall.set(msg.start.callSid, bridge.callSid);
        void this.onAgentStarted(bridge, stream);
      },
      onMedia: (msg) => bridge.agentFrame(msg.media.payload),
      onDtmf: () => undefined,
      onStop: () => {
        stopped = true;
        void this.end(bridge.callSid, 'agent', 'stream-stop');
      },
      // cut off with no `stop`: the agent's call is still up, and is called back in
      onClose: () => {
        if (!stopped) void (this.d.failover ? this.failover.agentLost(bridge, stream) : this.end(bridge.callSid, 'agent', 'stream-closed'));
      },
    });
  }

  /** dials the bridge's agent (agent-dial.ts): from `holding` only, one dial per bridge */
  startAgentLeg(callSid: string, endpoint: string, agentSub?: string, agentActor?: string): Promise<void> {
    return this.dial.startAgentLeg(callSid, endpoint, agentSub, agentActor);
  }

  /**
   * Ends a bridge on purpose: the other call over REST, then every trace of it, then its streams.
   * In that order: a caller's stream that closes while its call is up sends Twilio to the
   * <Redirect> after <Connect> (twilio/bridge-lost.ts), which must find the call ended, not a bridge lost.
   * Nothing is relayed meanwhile (the bridge is marked ended first).
   */
  async end(callSid: string, endedBy: 'caller' | 'agent', reason: string): Promise<void> {
    const bridge = this.bridges.get(callSid);
    if (!bridge || !bridge.markEnded(reason)) return;
    const log = this.d.log.child({ callSid });
    log.info({ endedBy, reason, tonesMasked: bridge.tonesMaskedTotal }, 'bridge ended');
    this.forget(bridge);
    if (!this.shuttingDown) {
      if (endedBy === 'caller' && bridge.agentCallSid) await this.completeCall(bridge.agentCallSid);
      if (endedBy === 'agent') await this.completeCall(callSid);
    }
    await recordBridgeEnd(this.d, bridge, reason, endedBy === 'caller' && reason === 'call-ended');
    bridge.caller.close();
    bridge.agent?.close();
  }

  /** a bridge lost to this instance while its calls go on (shutdown, the caller's stream cut off, its call taken up elsewhere): failover.ts `lose` */
  private async lose(callSid: string, reason: LostReason): Promise<void> {
    const bridge = this.bridges.get(callSid);
    if (!bridge || !bridge.markEnded(reason)) return;
    await this.failover.lose(bridge, reason);
  }

  /**
   * App shutdown: no REST call, every stream closed. With failover each bridge is lost to this
   * instance and its calls go on elsewhere; without, each is ended where it stands.
   */
  async shutdown(): Promise<void> {
    this.shuttingDown = true;
    await Promise.all([...this.bridges.keys()].map((sid) => (this.d.failover ? this.lose(sid, 'shutdown') : this.end(sid, 'caller', 'shutdown'))));
    // shutting down: a channel left subscribed goes with its connection, so a failure is only noted
    this.unsubscribeEvents?.().catch((err: unknown) => this.d.log.debug({ err: errFields(err) }, 'bridge events unsubscribe failed on shutdown'));
    this.unsubscribeEvents = null;
  }

  private async onCallerStarted(bridge: Bridge): Promise<void> {
    const callSid = bridge.callSid;
    try {
      const session = await this.d.calls.get(callSid);
      if (!session || session.state === 'ended') {
        await this.end(callSid, 'caller', 'no-session');
        return;
      }
      // a stream after the first (its bridge lost with another instance): the agent's call, if one was placed, is called back in
      if (session.handoff.agentCallSid) await this.failover.rejoinAgent(bridge, session);
      else if (session.handoff.to) await this.startAgentLeg(callSid, session.handoff.to);
      else if (accepted(session)) await this.startAgentLeg(callSid, session.handoff.agentEndpoint, session.handoff.agentSub, session.handoff.agentActor);
    } catch (err) {
      this.d.log.error({ callSid, err: errFields(err) }, 'bridge start failed');
      await this.end(callSid, 'caller', 'start-failed');
    }
  }

  private async onAgentStarted(bridge: Bridge, agent: MediaStream): Promise<void> {
    const callSid = bridge.callSid;
    this.clearHold(callSid);
    bridge.agentToken = undefined;
    bridge.connectAgent(agent);
    if (bridge.dialedAt) this.d.metrics.bridgeSetup.observe((performance.now() - bridge.dialedAt) / 1000);
    try {
      await this.d.calls.update(callSid, (s) => {
        if (s.state === 'ended') return false;
        s.state = 'bridged';
        // its stream may start before its call's REST create answered (agent-dial.ts)
        if (bridge.agentCallSid) nameAgentCall(s, bridge.agentCallSid);
      });
      if (bridge.state !== 'bridged') return; // ended while the session was being written
      await this.d.audit.append(callSid, { type: 'call.bridged' });
      await this.d.events.publish({ type: 'call.bridged', callSid, ...(bridge.agentActor ? { agent: bridge.agentActor } : {}) });
      this.d.log.info({ callSid }, 'call bridged');
    } catch (err) {
      this.d.log.error({ callSid, err: errFields(err) }, 'bridged state not recorded');
    }
  }

  /**
   * An accept's prompt to dial its agent into a bridge here. The accept itself is in the record,
   * written before this was sent, so a command for a bridge not (or no longer) here is dropped:
   * the caller's stream dials the accepted agent from the record when it starts, on whichever
   * instance (onCallerStarted), be it later here or on the instance that took a lost bridge up.
   */
  private onDialCommand(cmd: CommandOf<'dial-agent'>): Promise<void> | void {
    const { endpoint, agentSub, agentActor } = cmd;
    const bridge = this.bridges.get(cmd.callSid);
    if (!bridge) {
      this.d.log.info({ callSid: cmd.callSid }, 'dial-agent for no bridge here: its caller stream dials the accepted agent when it starts');
      return;
    }
    // late: the agent was dialled already (from the record, the command having been taken for lost)
    if (bridge.state !== 'holding') {
      this.d.log.info({ callSid: cmd.callSid, state: bridge.state }, 'dial-agent for a bridge past holding: its agent was dialled already');
      return;
    }
    return this.startAgentLeg(cmd.callSid, endpoint, agentSub, agentActor);
  }

  /** the caller is on hold: an apology and the end after the hold timeout, unless an agent's stream starts first (holds.ts) */
  private hold(callSid: string): void {
    this.holds.hold(callSid);
  }

  private clearHold(callSid: string): void {
    this.holds.clear(callSid);
  }

  private forget(bridge: Bridge): void {
    this.clearHold(bridge.callSid);
    this.bridges.delete(bridge.callSid);
    if (bridge.agentCallSid) this.byAgentCall.delete(bridge.agentCallSid);
    bridge.removeAllListeners('key');
    bridge.removeAllListeners('tone');
  }

  private async completeCall(callSid: string): Promise<void> {
    try {
      await this.d.twilio.calls(callSid).update({ status: 'completed' });
    } catch (err) {
      this.d.log.warn({ callSid, err: errFields(err) }, 'could not end the other call');
    }
  }
}
