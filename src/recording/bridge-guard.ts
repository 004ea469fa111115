/**
 * A recording another application starts on the caller's call during a bridge (an agent's CRM
 * "record" button calling Twilio's REST API mid-call) is not in the bridge's hold: the hold was
 * listed at the handoff (twilio/bridge-hold.ts `holdForBridge`), and the caller's call is not
 * masked, so such a recording would hear, in the clear, every key the caller presses to the
 * agent. A key press is the moment that matters, and the bridge detects every one (it masks
 * them): on a tone it masks (a key it reports, or one its masking net, wider than the key
 * tracker, removes unreported: a keypad off frequency, still decodable in the clear on the
 * caller's call), the instance holding the bridge lists the caller's call's
 * recordings and pauses every one in progress, each taken into the bridge's hold
 * (`handoff.recordingsHeld`, compare-and-set), audited (`recording.held`, where bridge) and
 * counted. The key that set it off, and whatever the caller keys while Twilio lists and
 * pauses (a REST round trip or two), are heard: this narrows the gap, it does not close it.
 *
 * Nothing here fails closed (the call is mid-conversation): a list that cannot be read or a
 * pause Twilio refuses is logged (no digit: the key itself is never looked at) and the next key
 * after the throttle tries again. The REST work runs off the media path: the key listener only
 * starts it, never awaits it, so the relayed audio is neither delayed nor changed. A capture
 * lists and pauses the recordings itself as it starts (captures/recorded.ts), but one started
 * after that list would hear the card it takes: the guard goes on through a capture too. What
 * the capture paused is listed paused, so the guard leaves it to the capture.
 *
 * The rule both keep: nothing on the caller's call is resumed during the bridge, by any path. A
 * guard's list and a capture's may find the same recording running at the same moment, and both
 * pause it; which pause lands first, and which write of `handoff.recordingsHeld` lands first, is
 * anyone's. So no resume may depend on them: the guard's pauses are never undone
 * (RecordingController.holdEach, not pauseAll, whose undo would resume a recording another
 * pause just counted held), and a capture never resumes a recording of the caller's call, not
 * at its end, nor when it is refused or fails to start after pausing: each it paused there is
 * the bridge's to hold (captures/recorded.ts bridgeHolds, captures/pause.ts pauseForCapture).
 * Nothing else resumes a recording during a bridge (twilio/bridge-hold.ts, bridge-lost.ts).
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { AuditInput } from '../audit';
import type { CallRepository } from '../calls/repository';
import { errFields } from '../log';
import type { Metrics } from '../metrics';
import type { RecordingController } from './controller';
import { stretchRecordings, type RecordingList } from './stretch';

/**
 * At most one list of a call's recordings this often, whatever is keyed: a caller keying an
 * account number costs one REST request, not one per key. Keys pressed within it are answered
 * by one list when it has passed, so a recording started just after a list is found then.
 */
export const GUARD_INTERVAL_MS = 3_000;

/** what the guard needs of a bridge (media/bridge.ts): the tones it masks (each key press among them) and its end */
export interface GuardedBridge {
  readonly callSid: string;
  on(event: 'tone', listener: () => void): unknown;
  once(event: 'ended', listener: () => void): unknown;
}

export interface BridgeGuardDeps {
  list: RecordingList;
  recording: Pick<RecordingController, 'holdEach'>;
  calls: Pick<CallRepository, 'update'>;
  audit: { append(callSid: string, entry: AuditInput): Promise<void> };
  metrics: Pick<Metrics, 'otherRecordingsPaused'>;
  log: Logger;
  intervalMs?: number;
}

interface Watch {
  /** performance.now() when the latest list was started */
  lastAt: number;
  inFlight: boolean;
  /** a key came while a list was in flight or too recent: one more list once the interval has passed */
  pending: boolean;
  timer?: NodeJS.Timeout;
  over: boolean;
}

export class BridgeRecordingGuard {
  private readonly intervalMs: number;

  constructor(private readonly d: BridgeGuardDeps) {
    this.intervalMs = d.intervalMs ?? GUARD_INTERVAL_MS;
  }

  /** from the bridge's start to its end */
  watch(bridge: GuardedBridge): void {
    const w: Watch = { lastAt: -Infinity, inFlight: false, pending: false, over: false };
    bridge.on('tone', () => this.onKey(bridge.callSid, w));
    bridge.once('ended', () => {
      w.over = true;
      clearTimeout(w.timer);
    });
  }

  /** on the media path: only decides, never waits */
  private onKey(callSid: string, w: Watch): void {
    if (w.over) return;
    if (w.inFlight || performance.now() - w.lastAt < this.intervalMs) {
      w.pending = true;
      if (!w.inFlight) this.later(callSid, w);
      return;
    }
    this.run(callSid, w);
  }

  private later(callSid: string, w: Watch): void {
    if (w.timer || w.over) return;
    const wait = Math.max(0, w.lastAt + this.intervalMs - performance.now());
    w.timer = setTimeout(() => {
      w.timer = undefined;
      if (w.pending) this.run(callSid, w);
    }, wait).unref();
  }

  private run(callSid: string, w: Watch): void {
    w.pending = false;
    if (w.over) return;
    w.inFlight = true;
    w.lastAt = performance.now();
    const log = this.d.log.child({ callSid });
    this.holdNew(callSid, log)
      .catch((err: unknown) => log.warn({ err: errFields(err) }, "the caller's call's recordings were not checked during the bridge"))
      .finally(() => {
        w.inFlight = false;
        if (w.pending) this.later(callSid, w);
      });
  }

  /**
   * Every recording in progress on the caller's call, paused and held. One the bridge holds
   * already and its owner resumed runs too, and is paused again. Each is paused on its own and
   * never resumed (holdEach): one Twilio refuses leaves the others paused, as nothing fails
   * closed here, and an audit write refused after a pause undoes nothing.
   */
  private async holdNew(callSid: string, log: Logger): Promise<void> {
    // a list that cannot be read is logged there, and nothing is paused
    const running = (await stretchRecordings(this.d.list, callSid, undefined, log)).map((r) => r.recordingSid!);
    if (running.length === 0) return;
    log.warn(
      { recordings: running.length },
      "another application records the caller's call during the bridge: each of its recordings is paused for the rest of the bridge",
    );
    const outcome = await this.d.recording.holdEach(
      running.map((recordingSid) => ({ callSid, recordingSid })),
      callSid,
    );
    for (const { recording, twilioStatus } of outcome.failed)
      log.warn(
        { recordingSid: recording.recordingSid, twilioStatus },
        "a recording of the caller's call could not be paused during the bridge: it hears the caller's keys",
      );
    const paused = outcome.paused.map((r) => r.recordingSid!);
    if (paused.length === 0) return;
    this.d.metrics.otherRecordingsPaused.inc({ where: 'bridge' }, paused.length);
    await this.d.calls.update(callSid, (s) => {
      if (s.state === 'ended') return false;
      s.handoff.recordingsHeld = [...new Set([...(s.handoff.recordingsHeld ?? []), ...paused])];
    });
    await this.d.audit.append(callSid, { type: 'recording.held', where: 'bridge', recordingSids: paused.join(',') });
  }
}
