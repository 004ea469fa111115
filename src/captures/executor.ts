/**
 * The capture state machine, run on the instance that holds the call's media bridge
 * (CONTRACT §5, DESIGN "Capture mid-call"):
 *
 *   lock → pause the recordings and await Twilio → (blanket on) → listen to the bridge's key
 *   presses, publishing masked progress → end on '#', the kind's maximum length, IDLE_MS after
 *   the last key, or a hard timeout → hold while keys go on (end.ts held) → validate → vault →
 *   masked field on the session → resume the recordings → capture.completed / capture.failed.
 *
 * The recordings are the bridge's own (the agent's call's) and every other one in progress on
 * either call, another application's (recorded.ts captureRecordings): the agent call's all
 * paused or none, the caller's call's each paused and never resumed (pause.ts
 * pauseForCapture); at the end, or at a refused start, the agent call's are resumed, and one on
 * the caller's call is left to the bridge's hold (recorded.ts bridgeHolds). Keys
 * are only listened to after Twilio acknowledged the pauses, so no key of the value can reach a
 * recording. The plain value lives in the collector for the life of the capture and
 * goes nowhere but the validator and the vault.
 *
 * This file is the state machine; each stretch of it lives in a file of its own: the start's
 * pauses (pause.ts), the end's hold and claim (end.ts), the value's settling (settle.ts), and
 * what it needs of the app (deps.ts) and keeps of a running capture (run.ts).
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { CallSession } from '../calls/session';
import { maskProgress, maxLengthFor } from '../fields';
import { announceEnd } from './announce';
import { DigitCollector } from './collector';
import type { CaptureBridge, ExecutorDeps, KeyPress } from './deps';
import { claimEnd, held } from './end';
import { LOST, settleLostCapture } from './lost';
import { afterLateResume, holdForBridge, pauseForCapture, undoLateUntil } from './pause';
import { bridgeHolds, captureRecordings, resumeCapture } from './recorded';
import { FIRST_KEY_MS, IDLE_MS, MAX_CAPTURE_MS, type Ending, type Running } from './run';
import { settle } from './settle';
import type { CancelResult, CaptureRequest, StartResult } from './types';
import { errFields } from '../log';
import type { RecordingRef } from '../recording/stretch';

export const newCaptureId = () => 'cap_' + randomBytes(12).toString('base64url');

export class CaptureExecutor {
  private readonly running = new Map<string, Running>();
  private readonly idleMs: number;
  private readonly firstKeyMs: number;
  private readonly maxMs: number;

  constructor(private readonly d: ExecutorDeps) {
    this.idleMs = d.timings?.idleMs ?? IDLE_MS;
    this.firstKeyMs = d.timings?.firstKeyMs ?? FIRST_KEY_MS;
    this.maxMs = d.timings?.maxMs ?? MAX_CAPTURE_MS;
  }

  private now(): Date {
    return this.d.now ? this.d.now() : new Date();
  }

  /** `actor`: who asked (AuditTrail.actor), named on the capture's `capture.started` or `capture.refused` entry */
  async start(callSid: string, req: CaptureRequest, captureId = newCaptureId(), actor?: string): Promise<StartResult> {
    const log = this.d.log.child({ callSid, captureId });
    const session = await this.d.calls.get(callSid);
    if (!session) return { ok: false, error: 'call-not-found' };
    const bridge = this.d.bridges(callSid);
    if (session.state !== 'bridged' || !bridge) return { ok: false, error: 'not-bridged' };
    const lockSeconds = Math.ceil(this.maxMs / 1000) + 30;
    if (this.running.has(callSid) || !(await this.d.records.lock(callSid, captureId, lockSeconds))) {
      return { ok: false, error: 'capture-running' };
    }
    let recordings: RecordingRef[];
    let pause: { ok: boolean; twilioStatus: string; lateUntil?: number };
    try {
      await afterLateResume(this.d, callSid, () => this.now());
      const found = await captureRecordings(this.d.recordings, session, log);
      recordings = found ?? [];
      const others = recordings.length - 1;
      if (others > 0) log.warn({ recordings: others }, "another application records the bridge's calls: each of its recordings is paused for the capture");
      // a list that could not be read: nothing is paused, and the capture refused as after a failed pause
      pause = found
        ? await pauseForCapture(this.d, callSid, recordings, log, actor, () => this.now())
        : await this.d.recording.refuseUnlisted(callSid, callSid, actor);
      if (pause.ok && others > 0) this.d.othersPaused?.inc({ where: 'capture' }, others);
    } catch (e) {
      await this.d.records.unlockIf(callSid, captureId);
      throw e;
    }
    if (!pause.ok) {
      // before the lock goes: the next capture, on whichever instance holds the bridge by then,
      // pauses only once this start's undo is over, or waits for it (pause.ts afterLateResume)
      await undoLateUntil(this.d, callSid, pause.lateUntil, log);
      await this.d.records.unlockIf(callSid, captureId);
      this.d.metrics.inc({ outcome: 'recording-pause-failed' });
      await this.d.audit.append(callSid, { type: 'capture.refused', captureId, reason: 'recording-pause-failed', twilioStatus: pause.twilioStatus, actor });
      log.warn({ twilioStatus: pause.twilioStatus }, 'capture refused: the recording could not be paused');
      return { ok: false, error: 'recording-pause-failed' };
    }

    try {
      const run = this.begin(callSid, req, captureId, session, bridge, recordings, actor);
      run.announced = this.announceStart(callSid, req, captureId, actor);
      await run.announced;
    } catch (e) {
      // never leave the recording paused or the lock held behind a half-started capture
      if (this.running.has(callSid)) await this.end(callSid, { status: 'failed', reason: 'internal' });
      else {
        await this.d.records.unlockIf(callSid, captureId).catch((err: unknown) => log.warn({ err: errFields(err) }, 'capture lock not released'));
        // the caller's call's stay paused, held by the bridge (bridgeHolds), as at a capture's end
        const { resume, hold } = bridgeHolds(callSid, recordings);
        await this.d.recording
          .resumeAll(resume, callSid, actor)
          .catch((err: unknown) => log.warn({ err: errFields(err) }, 'recording resume after a failed capture start did not complete'));
        await holdForBridge(this.d, callSid, hold, log, actor);
      }
      throw e;
    }
    log.info({ kind: req.kind, blanket: req.blanket === true, actor }, 'capture started');
    return { ok: true, captureId };
  }

  /** the capture exists from here: timers armed, running on this instance */
  private begin(
    callSid: string,
    req: CaptureRequest,
    captureId: string,
    session: CallSession,
    bridge: CaptureBridge,
    recordings: RecordingRef[],
    actor: string | undefined,
  ): Running {
    const maxLength = maxLengthFor(req.kind, { cardBrand: session.cardBrand, maxLength: req.maxLength });
    const run: Running = {
      record: {
        captureId,
        callSid,
        name: req.name,
        kind: req.kind,
        blanket: req.blanket === true,
        status: 'capturing',
        entered: 0,
        masked: '',
        startedAt: this.now().getTime(),
        recordings,
        ...(actor ? { actor } : {}),
      },
      collector: new DigitCollector(maxLength),
      bridge,
      onKey: (key) => this.onKey(callSid, key),
      onTone: () => this.onTone(callSid),
      onLost: () => this.finish(callSid, { status: 'failed', reason: LOST }),
      recordings,
      minLength: req.minLength,
      maxLength: req.maxLength,
      cardBrand: session.cardBrand,
      hard: setTimeout(() => this.finish(callSid, { status: 'failed', reason: 'timeout' }), this.maxMs),
      chain: Promise.resolve(),
      ending: false,
    };
    run.idle = setTimeout(() => this.finish(callSid, { status: 'failed', reason: 'no-input' }), this.firstKeyMs);
    this.running.set(callSid, run);
    return run;
  }

  /** record, session, audit and event; then blanket and key presses */
  private async announceStart(callSid: string, req: CaptureRequest, captureId: string, actor: string | undefined): Promise<void> {
    const run = this.running.get(callSid)!;
    const record = run.record;
    await this.d.records.save(record);
    await this.d.calls.update(callSid, (s) => {
      s.capture = { id: captureId, name: req.name, kind: req.kind, status: 'capturing' };
      if (s.agentRecording) s.agentRecording.status = 'paused';
    });
    run.named = true;
    await this.d.audit.append(callSid, { type: 'capture.started', captureId, kind: req.kind, blanket: record.blanket, instanceId: this.d.instanceId, actor });
    await this.d.events.publish({ type: 'capture.started', callSid, captureId, name: req.name, kind: req.kind, blanket: record.blanket });
    if (record.blanket) run.bridge.setBlanket(true);
    // only now, with Twilio's pause acknowledged, are key presses taken
    run.bridge.on('tone', run.onTone);
    run.bridge.on('key', run.onKey);
    run.bridge.once('lost', run.onLost);
    // gone from this instance while the start was under way (lost, or ended): its `lost` was told
    // before anyone listened, and no key reaches it now, so the capture ends at once rather than at
    // its first-key timeout, holding the lock and the recordings paused while the call goes on elsewhere
    if (this.d.bridges(callSid) !== run.bridge) this.finish(callSid, { status: 'failed', reason: LOST });
  }

  /** ends a capture from a timer or a key: failures are logged, never unhandled */
  private finish(callSid: string, ending: Ending): void {
    this.end(callSid, ending).catch((e: unknown) => this.d.log.error({ callSid, err: errFields(e) }, 'capture did not end cleanly'));
  }

  /**
   * Answers once the capture has ended (after its hold and its recordings' resume), so its caller
   * reads the final record: `cancelled`, or what an end under way already made of it (a payment's
   * cancel erases that value). Over the bus this outlasts the requester's wait: bus/rpc.ts says
   * `working` meanwhile.
   */
  async cancel(callSid: string, captureId: string, actor?: string): Promise<CancelResult> {
    const run = this.running.get(callSid);
    if (!run || run.record.captureId !== captureId) return { ok: false, error: 'capture-not-found' };
    await this.end(callSid, { status: 'cancelled', actor });
    return { ok: true };
  }

  /** the call ended or the bridge went away: end its capture, if any */
  async abort(callSid: string, reason = 'call-ended'): Promise<void> {
    if (this.running.has(callSid)) await this.end(callSid, { status: 'failed', reason });
  }

  /** a capture its instance was lost with, running nowhere now: ended here (lost.ts) */
  async settleLost(callSid: string): Promise<void> {
    if (this.running.has(callSid)) return;
    await settleLostCapture(this.d, callSid, () => this.now());
  }

  isRunning(callSid: string): boolean {
    return this.running.has(callSid);
  }

  /** ends every capture this instance runs (shutdown): recordings are resumed */
  async close(): Promise<void> {
    await Promise.all([...this.running.keys()].map((sid) => this.end(sid, { status: 'failed', reason: 'shutdown' })));
  }

  /**
   * A tone the bridge masked holds the recordings as a key does (end.ts held): the masking net is
   * wider than the key tracker (DESIGN B1), so a key pressed off frequency is masked, the agent
   * hearing a flat tone, and never reported; a recording resumed while such keys go on would hold
   * their flat tones, how many and when. Told before its own key (media/bridge.ts), so the '#'
   * that ends the entry still clears the hold after it.
   */
  private onTone(callSid: string): void {
    const run = this.running.get(callSid);
    if (run) run.lastKeyAt = performance.now();
  }

  private onKey(callSid: string, key: KeyPress): void {
    const run = this.running.get(callSid);
    if (!run) return;
    // a key past the end (past the count, as the agent cancels) goes into nothing but the hold
    run.lastKeyAt = performance.now();
    if (run.ending) return;
    const outcome = run.collector.push(key.digit);
    if (outcome === 'ignored') return;
    if (outcome === 'finish') {
      // '#' is the caller's own end of the entry: nothing is held for it (as in the IVR)
      run.lastKeyAt = undefined;
      this.finish(callSid, { status: 'finish' });
      return;
    }
    clearTimeout(run.idle);
    run.idle = setTimeout(() => this.finish(callSid, { status: 'finish' }), this.idleMs);
    if (run.record.blanket) {
      // a blanket hides how many keys were pressed and when: no progress leaves this instance
      if (outcome === 'full') this.finish(callSid, { status: 'finish' });
      return;
    }
    const entered = run.collector.entered;
    const masked = maskProgress(run.collector.digits);
    run.record.entered = entered;
    run.record.masked = masked;
    const snapshot = { ...run.record };
    run.chain = run.chain
      .then(async () => {
        await this.d.records.save(snapshot);
        await this.d.events.publish({ type: 'capture.progress', callSid, captureId: snapshot.captureId, entered, masked });
      })
      .catch((e: unknown) => this.d.log.error({ callSid, err: errFields(e) }, 'capture progress not published'));
    if (outcome === 'full') this.finish(callSid, { status: 'finish' });
  }

  private end(callSid: string, ending: Ending): Promise<void> {
    const run = this.running.get(callSid);
    if (!run) return Promise.resolve();
    run.ended ??= this.endRun(callSid, run, ending);
    return run.ended;
  }

  private async endRun(callSid: string, run: Running, ending: Ending): Promise<void> {
    run.ending = true;
    clearTimeout(run.idle);
    clearTimeout(run.hard);
    // after the start's announcement, whatever it came to: what it attaches is taken off below, and
    // the end is told after the start. Its failure is start()'s to throw (which ends the run here).
    await run.announced?.catch(() => undefined);
    run.bridge.off('lost', run.onLost);
    await run.chain;
    // before the settling: an instance lost during the hold leaves nothing a lost capture's end contradicts (lost.ts)
    await held(run, ending);
    run.bridge.off('key', run.onKey);
    run.bridge.off('tone', run.onTone);
    if (run.record.blanket) run.bridge.setBlanket(false);
    const log = this.d.log.child({ callSid, captureId: run.record.captureId });
    try {
      await settle(this.d, run, ending, () => this.now());
    } catch (e) {
      log.error({ err: errFields(e) }, 'capture could not be settled');
      run.record.status = 'failed';
      run.record.reason = 'internal';
    } finally {
      run.collector.wipe();
    }
    if (!(await claimEnd(this.d, run, log))) {
      // settled where the call was taken up (captures/lost.ts), which resumes its recordings and
      // tells its end, and the call's next capture may have paused them again: this end resumes,
      // writes and tells nothing
      log.warn({ reason: 'settled-elsewhere' }, 'capture ended after the instance that took its call up settled it: nothing resumed');
      this.running.delete(callSid);
      return;
    }
    try {
      // the capture's resume is part of the action of whoever started it (a cancel names its own actor on capture.cancelled)
      await resumeCapture(this.d, callSid, run.recordings, { actor: run.record.actor, now: () => this.now(), log, outcome: run.record });
      run.record.endedAt = this.now().getTime();
      await this.d.records.keep(run.record, this.d.calls).catch((err: unknown) => log.warn({ err: errFields(err) }, 'capture record not saved'));
      await this.d.records.unlockIf(callSid, run.record.captureId).catch((err: unknown) => log.warn({ err: errFields(err) }, 'capture lock not released'));
    } finally {
      this.running.delete(callSid);
    }
    // the actor of the cancel that ended it; one that came while another end was under way ended nothing
    await announceEnd(this.d, run.record, ending.status === 'cancelled' ? ending.actor : undefined);
    log.info({ status: run.record.status, reason: run.record.reason, ...(run.record.blanket ? {} : { entered: run.record.entered }) }, 'capture ended');
  }
}
