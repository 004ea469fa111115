/**
 * One bridge per caller call, on the instance holding the caller's stream. Caller frames go
 * through the CallerPath (DTMF detection, look-ahead masking) to the agent; agent frames go to the
 * caller unchanged (the payload is passed on without decoding). Until the agent leg is up the
 * caller hears the hold sound, clocked by the caller's own frames so nothing queues up at Twilio.
 *
 * Captures use `on('key')`, `on('tone')`, `setBlanket()` and `state`; the recording guard `on('tone')` and
 * `once('ended')` (recording/bridge-guard.ts); the lifecycle (dialling, ending, cleanup)
 * is BridgeRegistry's.
 */
import { EventEmitter } from 'node:events';
import type { Metrics } from '../metrics';
import { CallerPath, type KeySource } from './dsp';
import { HoldPlayer } from './hold';
import { FRAME_BYTES } from './messages';
import type { MediaStream } from './stream';

export interface BridgeKey {
  digit: string;
  source: KeySource;
  /** position in the caller's audio, in samples from the start of the stream */
  atSample: number;
}

export type BridgeState = 'holding' | 'dialing' | 'bridged' | 'ended';

export interface BridgeEvents {
  key: [BridgeKey];
  /**
   * the caller sounded a tone the bridge masks: each stretch its masking net marks, as it is
   * marked, a key reported or not (the net is wider than the key tracker: a keypad off frequency
   * is masked, never reported), under a blanket too, told before the key it may be. What the
   * caller's own call holds in the clear (recording/bridge-guard.ts), and what holds a capture's
   * recordings paused past its end (captures/executor.ts onTone).
   */
  tone: [];
  bridged: [];
  ended: [string];
  /** lost to this instance while its call goes on (BridgeRegistry `lose`): a capture on it ends */
  lost: [];
}

export class Bridge extends EventEmitter<BridgeEvents> {
  state: BridgeState = 'holding';
  agent: MediaStream | null = null;
  agentCallSid: string | undefined;
  /** the agent who accepted, as the audit trail names them: what this bridge's events say (never the `sub`) */
  agentActor: string | undefined;
  /** the agent leg's pending stream token (deleted if the bridge ends before it is used) */
  agentToken: string | undefined;
  /** performance.now() when the agent call was requested, for the setup-time histogram */
  dialedAt = 0;
  readonly path: CallerPath;
  private readonly hold = new HoldPlayer();
  private readonly inFrame = Buffer.alloc(FRAME_BYTES);
  private readonly outFrame = Buffer.alloc(FRAME_BYTES);
  private tonesMasked = 0;
  /** the caller path's tonesMarked as last seen: each new one is told as a `tone` */
  private tonesMarked = 0;
  private blanket = false;
  /** tones masked outside a blanket: what metrics, logs and the audit trail may count */
  private tonesReported = 0;

  constructor(
    readonly callSid: string,
    readonly caller: MediaStream,
    lookaheadMs: number,
    private readonly metrics: Metrics,
  ) {
    super();
    this.path = new CallerPath({ lookaheadMs });
  }

  /** one caller frame (base64 of 160 μ-law bytes, already checked) */
  callerFrame(payload: string): void {
    if (this.state === 'ended') return;
    this.inFrame.write(payload, 'base64');
    const keys = this.path.process(this.inFrame, this.outFrame);
    // a tone before the key it may be: a capture's '#' clears the hold its own tone set (captures/executor.ts onTone)
    this.emitTone();
    if (keys > 0) this.emitKeys();
    const masked = this.path.stats.tonesMasked;
    if (masked !== this.tonesMasked) {
      // under a blanket the count and timing of key presses are hidden from /metrics too
      if (!this.blanket) {
        this.metrics.tonesMasked.inc(masked - this.tonesMasked);
        this.tonesReported += masked - this.tonesMasked;
      }
      this.tonesMasked = masked;
    }
    if (this.state === 'bridged') this.agent!.sendMedia(this.outFrame.toString('base64'));
    else this.caller.sendMedia(this.hold.frame());
  }

  /** one agent frame: to the caller as it came */
  agentFrame(payload: string): void {
    if (this.state === 'bridged') this.caller.sendMedia(payload);
  }

  callerDtmf(digit: string): void {
    if (this.state === 'ended') return;
    if (!this.blanket) this.metrics.dtmfEvents.inc();
    this.path.dtmfEvent(digit);
    // its burst is marked now, its key reported with the next frame
    this.emitTone();
  }

  /** blanket masking (a capture's choice): the agent hears one continuous flat tone while on */
  setBlanket(on: boolean): void {
    this.blanket = on;
    this.path.setBlanket(on);
  }

  /** the agent's stream started: from now on the caller's audio goes to the agent */
  connectAgent(agent: MediaStream): void {
    this.agent = agent;
    this.state = 'bridged';
    // drop whatever hold audio Twilio still has queued for the caller
    this.caller.sendClear();
    this.emit('bridged');
  }

  /** the agent's stream is gone while the call goes on: the caller back on hold until an agent stream connects again */
  disconnectAgent(): void {
    if (this.state !== 'bridged') return;
    this.agent = null;
    this.state = 'holding';
  }

  get tonesMaskedTotal(): number {
    return this.tonesReported;
  }

  markEnded(reason: string): boolean {
    if (this.state === 'ended') return false;
    this.state = 'ended';
    this.emit('ended', reason);
    return true;
  }

  /** a stretch the masking net marked since the last look: told as a `tone` */
  private emitTone(): void {
    const marked = this.path.stats.tonesMarked;
    if (marked === this.tonesMarked) return;
    this.tonesMarked = marked;
    this.emit('tone');
  }

  private emitKeys(): void {
    // takeKeys() reuses its objects: copy before handing them on
    for (const k of this.path.takeKeys()) this.emit('key', { digit: k.digit, source: k.source, atSample: k.atSample });
  }
}
