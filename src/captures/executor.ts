/**
 * The capture state machine, run on the instance that holds the call's media bridge
 * (CONTRACT §5, DESIGN "Capture mid-call"):
 *
 *   lock → pause the recordings and await Twilio → (blanket on) → listen to the bridge's key
 *   presses, publishing masked progress → end on '#', the kind's maximum length, IDLE_MS after
 *   the last key, or a hard timeout → hold while keys go on (held) → validate → vault → masked
 *   field on the session → resume the recordings → capture.completed / capture.failed.
 *
 * The recordings are the bridge's own (the agent's call's) and every other one in progress on
 * either call, another application's (recorded.ts captureRecordings): the agent call's all
 * paused or none, the caller's call's each paused and never resumed (pauseForCapture); at the
 * end, or at a refused start, the agent call's are resumed, and one on the caller's call is
 * left to the bridge's hold (recorded.ts bridgeHolds). Keys
 * are only listened to after Twilio acknowledged the pauses, so no key of the value can reach a
 * recording. The plain value lives in the collector for the life of the capture and
 * goes nowhere but the validator and the vault.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import { RESUME_HOLD_MS } from '../flows/engine';
import { fieldState, maskProgress, maxLengthFor, validate, writeField, type FieldInput } from '../fields';
import { announceEnd, type AnnounceDeps } from './announce';
import { DigitCollector } from './collector';
import { LOST, settleLostCapture } from './lost';
import { bridgeHolds, captureRecordings, heldByBridge, lateResumeUntil, resumeCapture } from './recorded';
import type { CaptureRecords } from './records';
import type { CancelResult, CaptureRecord, CaptureRequest, StartResult } from './types';
import { errFields } from '../log';
import type { RecordingList, RecordingRef } from '../recording/stretch';

/** CONTRACT §5: a capture ends this long after the last key */
export const IDLE_MS = 5_000;
/** a capture nobody keys into ends this long after it started, so the recording is not left paused */
export const FIRST_KEY_MS = 30_000;
/** no capture runs longer than this, whatever is keyed (19 digits at a slow pace fit easily) */
export const MAX_CAPTURE_MS = 120_000;
/**
 * The longest the recordings stay paused after a capture's end for a caller who keys on and on
 * (each key holds them RESUME_HOLD_MS more: held): as long as the capture would have waited for a
 * next key of the entry. Bounds how long a caller can keep them paused, and a shutdown.
 */
export const MAX_HOLD_MS = IDLE_MS;

/** what the capture needs of a media bridge (src/media): merged key presses and blanket masking */
export interface KeyPress {
  digit: string;
  source?: string;
  atSample?: number;
}
export interface CaptureBridge {
  on(event: 'key', listener: (key: KeyPress) => void): unknown;
  off(event: 'key', listener: (key: KeyPress) => void): unknown;
  /** the bridge lost to this instance while its call goes on (media/registry.ts `lose`): no key of the caller reaches it now */
  once(event: 'lost', listener: () => void): unknown;
  off(event: 'lost', listener: () => void): unknown;
  setBlanket(on: boolean): void;
}
export type BridgeLookup = (callSid: string) => CaptureBridge | undefined;

export interface ExecutorDeps {
  calls: CallRepository;
  records: CaptureRecords;
  /** other applications' recordings paused for captures, counted */
  othersPaused?: { inc(labels: { where: 'capture' }, n: number): void };
  recording: {
    /**
     * every recording named, each on its own call, all or none; audited on `auditCallSid`, naming `actor`, the person whose capture it is
     * (recording/controller.ts); failed, `unansweredSentMsAgo`: an undo of its pauses Twilio did not answer, sent that long ago (resumeAll's)
     */
    pauseAll(
      recordings: readonly RecordingRef[],
      auditCallSid?: string,
      actor?: string,
    ): Promise<{ ok: boolean; twilioStatus: string; unansweredSentMsAgo?: number }>;
    /** each paused on its own, none undone (the bridge's hold on the caller's call); `failed` may be paused or not */
    holdEach(
      recordings: readonly RecordingRef[],
      auditCallSid: string,
      actor?: string,
    ): Promise<{ paused: RecordingRef[]; failed: readonly { recording: RecordingRef; twilioStatus: string }[] }>;
    /** each tried; ok only when all were resumed; `unansweredSentMsAgo`: one Twilio did not answer, sent that long ago (recording/controller.ts) */
    resumeAll(
      recordings: readonly RecordingRef[],
      auditCallSid?: string,
      actor?: string,
    ): Promise<{ ok: boolean; twilioStatus: string; failed?: readonly RecordingRef[]; unansweredSentMsAgo?: number }>;
  };
  /**
   * how long after it was sent a resume Twilio did not answer may still be carried out: the REST
   * client's timeout (twilio/rest.ts REST_TIMEOUT_MS), after which it is over (lateUntil)
   */
  restTimeoutMs: number;
  /** Twilio's list of a call's recordings: a capture pauses every one in progress on the bridge's calls */
  recordings: RecordingList;
  vault: {
    put(callSid: string, field: string, plain: string): Promise<string>;
    erase(token: string): Promise<void>;
    /** every value sealed for the call (its vault index), for a capture that outlived its call's record */
    eraseCall(callSid: string): Promise<unknown>;
  };
  audit: AnnounceDeps['audit'];
  events: AnnounceDeps['events'];
  metrics: AnnounceDeps['metrics'];
  bridges: BridgeLookup;
  log: Logger;
  instanceId: string;
  now?: () => Date;
  timings?: { idleMs?: number; firstKeyMs?: number; maxMs?: number };
  /** told of the session once a captured field is stored (processor delivery) */
  onSessionChanged?: (session: CallSession) => void;
}

interface Running {
  record: CaptureRecord;
  collector: DigitCollector;
  bridge: CaptureBridge;
  onKey: (key: KeyPress) => void;
  onLost: () => void;
  /** the recordings the capture paused (the agent's call's own, and any other in progress on either call), resumed as it ends */
  recordings: RecordingRef[];
  minLength?: number;
  maxLength?: number;
  cardBrand?: CallSession['cardBrand'];
  idle?: NodeJS.Timeout;
  hard: NodeJS.Timeout;
  /** store writes and events of one capture happen in key order */
  chain: Promise<void>;
  ending: boolean;
  /** the end under way: a second end (a cancel as the caller pressed '#') waits for it, so its caller sees the final record */
  ended?: Promise<void>;
  /**
   * The start's announcement under way (announceStart: record, session, audit, event, and last the
   * blanket and the key listener). An end waits for it: one that came meanwhile (a cancel as soon
   * as the call's record named the capture, the call's end) would otherwise take the listener off
   * and the blanket down before the announcement put them up, leaving the blanket on for the rest
   * of the bridge and the listener feeding every key of the call's next capture in a second time.
   */
  announced?: Promise<void>;
  /** when the capture last heard a key (performance.now(), ms), past its end too; none after the '#' that ended it (held) */
  lastKeyAt?: number;
  /** the call's record named the capture running (announceStart): from then on, only the end that claims it there resumes (claimEnd) */
  named?: boolean;
}

/** a cancel names who asked (AuditTrail.actor), for the `capture.cancelled` entry */
type Ending = { status: 'finish' } | { status: 'failed'; reason: string } | { status: 'cancelled'; actor?: string };

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
      await this.afterLateResume(callSid);
      recordings = await captureRecordings(this.d.recordings, session, log);
      const others = recordings.length - 1;
      if (others > 0) log.warn({ recordings: others }, "another application records the bridge's calls: each of its recordings is paused for the capture");
      pause = await this.pauseForCapture(callSid, recordings, log, actor);
      if (pause.ok && others > 0) this.d.othersPaused?.inc({ where: 'capture' }, others);
    } catch (e) {
      await this.d.records.unlockIf(callSid, captureId);
      throw e;
    }
    if (!pause.ok) {
      // before the lock goes: the next capture, on whichever instance holds the bridge by then,
      // pauses only once this start's undo is over, or waits for it (afterLateResume)
      await this.undoLateUntil(callSid, pause.lateUntil, log);
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
        await this.holdForBridge(callSid, hold, log, actor);
      }
      throw e;
    }
    log.info({ kind: req.kind, blanket: req.blanket === true, actor }, 'capture started');
    return { ok: true, captureId };
  }

  /**
   * The last capture's resume that Twilio did not answer may still be carried out until the REST
   * client gave up on it (CallSession `captureResumeLateUntil`); a pause sent before could be
   * overtaken by it, and the caller would key this capture's value into a running recording. The
   * controller orders the requests this instance sends (recording/controller.ts); this covers
   * the resume another instance sent (the one that lost the bridge, or settled its lost capture).
   * Read once the lock is held: a capture ending elsewhere writes it before it lets the lock go.
   */
  private async afterLateResume(callSid: string): Promise<void> {
    const lateUntil = (await this.d.calls.get(callSid))?.captureResumeLateUntil ?? 0;
    const wait = lateUntil - this.now().getTime();
    if (wait > 0) await sleep(Math.min(wait, this.d.restTimeoutMs));
  }

  /**
   * The capture's pauses (captureRecordings): the agent call's (its own first) all or none
   * (pauseAll), then the caller's call's others each on its own, none ever undone
   * (RecordingController.holdEach). Those are the bridge's to hold (bridgeHolds), and the bridge's
   * guard (recording/bridge-guard.ts) may list the same ones running at the same moment and pause
   * and hold them too: an undo of the capture's pause, ordered either way around the guard's,
   * would resume a recording the bridge holds, to hear the caller's keys for the rest of the
   * bridge. So a refused capture resumes the agent call's and leaves each of the caller's call's
   * it paused paused, taken into the bridge's hold now.
   *
   * Refused: `lateUntil`, until when the resumes that undid the agent call's pauses (pauseAll's
   * own undo, or the resume here) may still be carried out, when Twilio did not answer one
   * (lateResumeUntil, as a capture's end).
   */
  private async pauseForCapture(
    callSid: string,
    recordings: readonly RecordingRef[],
    log: Logger,
    actor: string | undefined,
  ): Promise<{ ok: boolean; twilioStatus: string; lateUntil?: number }> {
    const { resume: agents, hold: callers } = bridgeHolds(callSid, recordings);
    const paused = await this.d.recording.pauseAll(agents, callSid, actor);
    if (!paused.ok) return { ok: false, twilioStatus: paused.twilioStatus, lateUntil: lateResumeUntil(paused, this.now(), this.d.restTimeoutMs) };
    if (callers.length === 0) return paused;
    const held = await this.d.recording.holdEach(
      callers.map((recordingSid) => ({ callSid, recordingSid })),
      callSid,
      actor,
    );
    if (held.failed.length === 0) return paused;
    const undo = await this.d.recording.resumeAll(agents, callSid, actor).catch((err: unknown) => {
      log.warn({ err: errFields(err) }, 'recording resume after a refused capture did not complete');
      return { ok: false, twilioStatus: 'network' } as const;
    });
    await this.holdForBridge(
      callSid,
      held.paused.map((r) => r.recordingSid!),
      log,
      actor,
    );
    return { ok: false, twilioStatus: held.failed[0].twilioStatus, lateUntil: lateResumeUntil(undo, this.now(), this.d.restTimeoutMs) };
  }

  /**
   * A refused start's undo of its pauses that Twilio did not answer may still be carried out until
   * `lateUntil`: named on the call (`captureResumeLateUntil`) before the start lets the lock go, as
   * a capture's end names its own. The controller orders this instance's next pause after it, but
   * the next capture may run on the instance the bridge moves to (the caller's stream cut off),
   * which reads only this. A later time already there (another capture's) is kept. Not written
   * (the store refused): logged, and the lock goes as a capture's end lets it go.
   */
  private async undoLateUntil(callSid: string, lateUntil: number | undefined, log: Logger): Promise<void> {
    if (lateUntil === undefined) return;
    await this.d.calls
      .update(callSid, (s) => {
        if ((s.captureResumeLateUntil ?? 0) >= lateUntil) return false;
        s.captureResumeLateUntil = lateUntil;
      })
      .catch((err: unknown) => log.warn({ err: errFields(err) }, 'late resume of a refused capture not named on the call'));
  }

  /** recordings of the caller's call a capture paused and will not run again, named on the bridge's hold and audited, naming the capture's `actor` (failures logged) */
  private async holdForBridge(callSid: string, hold: readonly string[], log: Logger, actor: string | undefined): Promise<void> {
    if (hold.length === 0) return;
    await this.d.calls
      .update(callSid, (s) => {
        s.handoff.recordingsHeld = heldByBridge(s, hold);
      })
      .catch((err: unknown) => log.warn({ err: errFields(err) }, 'recordings held for the bridge not named on the call'));
    await this.d.audit
      .append(callSid, { type: 'recording.held', where: 'bridge', recordingSids: hold.join(','), actor })
      .catch((err: unknown) => log.warn({ err: errFields(err) }, 'recordings held for the bridge not audited'));
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
    await this.held(run, ending);
    run.bridge.off('key', run.onKey);
    if (run.record.blanket) run.bridge.setBlanket(false);
    const log = this.d.log.child({ callSid, captureId: run.record.captureId });
    try {
      await this.settle(run, ending);
    } catch (e) {
      log.error({ err: errFields(e) }, 'capture could not be settled');
      run.record.status = 'failed';
      run.record.reason = 'internal';
    } finally {
      run.collector.wipe();
    }
    if (!(await this.claimEnd(run, log))) {
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

  /**
   * Whether this end is the capture's one end: the one that resumes its recordings, writes its
   * outcome and lets its lock go. The instance that took the call up may settle the same capture
   * as lost (captures/lost.ts: a capture whose bridge went while its start was under way, or whose
   * end outlasted the take-up's grace) while this end is under way. Whichever first turns the call's
   * record from `capturing` (this one: to its outcome) ends it; the lock stays the capture's until
   * that end's resume is over and until when it may still land is written
   * (`captureResumeLateUntil`), so the call's next capture, on whichever instance, pauses after it.
   * Read as the lock's holder instead, a settling elsewhere could release the lock right after the
   * read, and the next capture pause before this end's resume landed. A record that does not name
   * the capture: another capture's, started after this one was settled elsewhere; or, when this
   * capture's start never named it there (its announcement failed first), nobody else's to end. A
   * record gone (erased with the call, expired) or a store that cannot be read: the end goes on, as
   * it always did.
   */
  private async claimEnd(run: Running, log: Logger): Promise<boolean> {
    const id = run.record.captureId;
    let claimed = true;
    try {
      await this.d.calls.update(run.record.callSid, (s) => {
        claimed = s.capture?.id === id ? s.capture.status === 'capturing' : !run.named;
        if (!claimed || s.capture?.id !== id) return false;
        s.capture.status = run.record.status;
      });
    } catch (err) {
      log.warn({ err: errFields(err) }, 'capture end not claimed on the call: the end goes on');
      return true;
    }
    return claimed;
  }

  /**
   * The recordings resume only once RESUME_HOLD_MS has passed after the last key the capture
   * heard, as the IVR's do after a field that ended on its count (flows/engine.ts
   * afterSensitiveField): the key that filled the count is reported while its tone still sounds
   * (within ~60 ms of its start), and a caller who keys on (`MMYYYY` into an expiry) presses more
   * after it. Each of those keeps the recordings paused RESUME_HOLD_MS more (heard by onKey,
   * counted into nothing), up to MAX_HOLD_MS. So too a capture cancelled, lost or shut down while
   * the caller keys. Nothing is held after the '#' that ended the entry, after a silence of
   * IDLE_MS (itself the IVR's guard: a key in it counts into the entry), or once the call ended.
   */
  private async held(run: Running, ending: Ending): Promise<void> {
    if (ending.status === 'failed' && ending.reason === 'call-ended') return;
    const latest = performance.now() + MAX_HOLD_MS;
    for (;;) {
      const wait = run.lastKeyAt === undefined ? 0 : Math.min(run.lastKeyAt + RESUME_HOLD_MS, latest) - performance.now();
      if (wait <= 0) return;
      await sleep(wait);
    }
  }

  /**
   * validate, vault and keep the masked field (written the way the IVR writes one); sets the
   * record's outcome. A failed value shows no digit; under a blanket not even how many were keyed.
   */
  private async settle(run: Running, ending: Ending): Promise<void> {
    const r = run.record;
    const digits = run.collector.digits;
    if (ending.status === 'cancelled') {
      r.status = 'cancelled';
      r.reason = 'cancelled';
      return;
    }
    if (ending.status === 'failed' && (digits.length === 0 || (ending.reason !== 'no-input' && ending.reason !== 'timeout'))) {
      r.status = 'failed';
      r.reason = ending.reason;
      return;
    }
    const now = this.now();
    const result = digits.length
      ? validate(r.kind, digits, { now, cardBrand: run.cardBrand, minLength: run.minLength, maxLength: run.maxLength })
      : ({ valid: false, reason: 'length' } as const);
    const token = result.valid ? await this.d.vault.put(r.callSid, r.name, digits) : undefined;
    const input: FieldInput = result.valid || !r.blanket ? { kind: r.kind, digits, result, token } : { kind: r.kind, failed: result.reason };
    const field = fieldState(input, { source: 'capture', at: now.getTime() });
    let replaced: string | undefined;
    const updated = await this.d.calls.update(r.callSid, (s) => {
      replaced = undefined;
      const before = s.fields[r.name]?.token;
      if (!writeField(s, r.name, field)) return false;
      replaced = before !== token ? before : undefined;
    });
    if (!updated) {
      // the call's record went while the caller keyed (the caller's erasure, or its expiry): the
      // value just sealed has no record to name it and must not outlive an erasure that already
      // swept the call's vault index, so it goes now, and the capture ends without a value
      if (token) await this.d.vault.eraseCall(r.callSid);
      r.status = 'failed';
      r.reason = 'call-not-found';
      return;
    }
    r.masked = field.masked;
    r.valid = field.valid;
    if (field.brand) r.brand = field.brand;
    if (field.last4) r.last4 = field.last4;
    if (r.blanket) r.entered = result.valid ? digits.length : 0;
    // a value captured again replaces the old one: the old one goes from the vault now, not at its TTL
    if (replaced) await this.d.vault.erase(replaced);
    if (result.valid) this.d.onSessionChanged?.(updated);
    if (result.valid) {
      r.status = 'completed';
    } else {
      r.status = 'failed';
      r.reason = result.reason;
    }
  }
}
