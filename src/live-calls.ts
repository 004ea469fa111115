/**
 * What this instance holds of live calls, started and stopped in one place: the media bridges,
 * the captures that run on them (records, executor, service), the bus endpoints through which
 * other instances reach both (`dial-agent` commands, `capture.*` requests), and the end of a
 * call ending both. buildApp builds it; the agent API and socket only use its capture service.
 */
import type { CommandBus, EventBus, InstanceRpc } from './bus';
import type { CallRepository } from './calls/repository';
import { CaptureExecutor, CaptureRecords, CaptureService } from './captures';
import type { ExecutorDeps } from './captures/deps';
import { PaymentSessions } from './captures/payments';
import { errFields, type Logger } from './log';
import type { BridgeRegistry } from './media';
import { REST_TIMEOUT_MS } from './twilio/rest';
import type { Keys, Store } from './store';

export interface LiveCallsDeps {
  instanceId: string;
  log: Logger;
  store: Store;
  keys: Keys;
  calls: CallRepository;
  events: EventBus;
  commands: CommandBus;
  rpc: InstanceRpc;
  bridges: BridgeRegistry;
  audit: ExecutorDeps['audit'];
  recording: ExecutorDeps['recording'];
  /** Twilio's list of a call's recordings: a capture pauses every one in progress on the bridge's calls */
  recordings: ExecutorDeps['recordings'];
  vault: ExecutorDeps['vault'];
  /** captures by outcome */
  captureMetrics: ExecutorDeps['metrics'];
  othersPaused?: ExecutorDeps['othersPaused'];
  /** told of the session once a capture stored a field (processor delivery) */
  onSessionChanged?: ExecutorDeps['onSessionChanged'];
  /** tests shorten the capture timeouts */
  captureTimings?: ExecutorDeps['timings'];
  /** how long after a take-up a capture left running by the lost instance is ended here; default LOST_CAPTURE_GRACE_MS */
  lostCaptureGraceMs?: number;
}

/**
 * An instance that lost a bridge but is alive ends its capture on it at once (recording resumed,
 * lock released) within a REST round trip or two; a capture still running after this long had
 * its instance go with it.
 */
export const LOST_CAPTURE_GRACE_MS = 10_000;

export class LiveCalls {
  readonly captures: CaptureService;
  /** agent-assisted payments: several captures of one call, completed or cancelled together */
  readonly payments: PaymentSessions;
  private readonly executor: CaptureExecutor;
  private unsubscribe: (() => Promise<void>) | null = null;

  constructor(private readonly d: LiveCallsDeps) {
    const records = new CaptureRecords(d.store, d.keys);
    this.executor = new CaptureExecutor({
      calls: d.calls,
      records,
      recording: d.recording,
      recordings: d.recordings,
      vault: d.vault,
      audit: d.audit,
      events: d.events,
      metrics: d.captureMetrics,
      othersPaused: d.othersPaused,
      bridges: (callSid) => d.bridges.get(callSid),
      log: d.log,
      instanceId: d.instanceId,
      timings: d.captureTimings,
      onSessionChanged: d.onSessionChanged,
      restTimeoutMs: REST_TIMEOUT_MS,
    });
    this.captures = new CaptureService({ instanceId: d.instanceId, executor: this.executor, rpc: d.rpc, records });
    this.payments = new PaymentSessions({
      calls: d.calls,
      captures: this.captures,
      vault: d.vault,
      audit: d.audit,
      publish: (view) => d.events.publish({ type: 'payment.updated', callSid: view.callSid, payment: view }),
      onCompleted: (session) => d.onSessionChanged?.(session),
      log: d.log,
    });
  }

  /**
   * A call taken up here after its bridge was lost with another instance (twilio/bridge-lost.ts):
   * a capture that instance was running, if it is gone with it, is ended here once the grace
   * has passed (an instance still alive ends its own at once).
   */
  settleLostCapture(callSid: string): void {
    const timer = setTimeout(() => {
      this.settling.delete(timer);
      this.executor.settleLost(callSid).catch((err: unknown) => this.d.log.warn({ callSid, err: errFields(err) }, 'lost capture not settled'));
    }, this.d.lostCaptureGraceMs ?? LOST_CAPTURE_GRACE_MS).unref();
    this.settling.add(timer);
  }

  /** the lost captures waiting for their grace to pass (settleLostCapture); a stopping instance leaves them to the store's TTLs */
  private readonly settling = new Set<NodeJS.Timeout>();

  /** handlers first, then the subscriptions that feed them */
  async start(): Promise<void> {
    this.captures.serve();
    await this.d.bridges.start();
    // a capture ends with its call (the bridge's listeners are gone by then)
    this.unsubscribe = await this.d.events.subscribe((e) => {
      if (e.type === 'call.ended' && this.executor.isRunning(e.callSid)) void this.executor.abort(e.callSid, 'call-ended');
    });
    await this.d.commands.start();
    await this.d.rpc.start();
  }

  /**
   * A drain's start (server.ts): captures end first, so each recording is resumed while its call
   * is still up; then the bridges close their streams (sending nothing more, no REST call), and
   * their calls' next requests find another instance. Again at `stop`, it ends nothing twice.
   */
  async drain(): Promise<void> {
    await this.captures.close();
    await this.d.bridges.shutdown();
  }

  /** Shutdown: the drain, if it has not run, then nothing more is taken from the bus. */
  async stop(): Promise<void> {
    for (const timer of this.settling) clearTimeout(timer);
    this.settling.clear();
    await this.drain();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = null;
    // together, each within the store's command bound: one after another, a stalled Redis held
    // the stop for each in turn. Shutting down, a channel left subscribed goes with its
    // connection (closed soon after), so what did not end is only noted, once.
    const left = await Promise.allSettled([unsubscribe?.(), this.d.commands.stop(), this.d.rpc.close()]);
    const failed = left.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0)
      this.d.log.warn({ failed: failed.length, err: errFields(failed[0].reason) }, 'bus unsubscribes not answered on shutdown: left to the connection close');
  }
}
