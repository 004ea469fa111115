/**
 * A capture's start, up to its pauses (executor.ts `start`): the wait for the last capture's
 * late resume, the pauses of every recording in progress on the bridge's calls, and, refused,
 * the undo of those that went through, named on the call, and the caller's call's taken into
 * the bridge's hold.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { errFields } from '../log';
import type { RecordingRef } from '../recording/stretch';
import type { ExecutorDeps } from './deps';
import { bridgeHolds, heldByBridge, lateResumeUntil } from './recorded';

type PauseDeps = Pick<ExecutorDeps, 'calls' | 'recording' | 'audit' | 'restTimeoutMs'>;

/**
 * The last capture's resume that Twilio did not answer may still be carried out until the REST
 * client gave up on it (CallSession `captureResumeLateUntil`); a pause sent before could be
 * overtaken by it, and the caller would key this capture's value into a running recording. The
 * controller orders the requests this instance sends (recording/controller.ts); this covers
 * the resume another instance sent (the one that lost the bridge, or settled its lost capture).
 * Read once the lock is held: a capture ending elsewhere writes it before it lets the lock go.
 */
export async function afterLateResume(d: PauseDeps, callSid: string, now: () => Date): Promise<void> {
  const lateUntil = (await d.calls.get(callSid))?.captureResumeLateUntil ?? 0;
  const wait = lateUntil - now().getTime();
  if (wait > 0) await sleep(Math.min(wait, d.restTimeoutMs));
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
export async function pauseForCapture(
  d: PauseDeps,
  callSid: string,
  recordings: readonly RecordingRef[],
  log: Logger,
  actor: string | undefined,
  now: () => Date,
): Promise<{ ok: boolean; twilioStatus: string; lateUntil?: number }> {
  const { resume: agents, hold: callers } = bridgeHolds(callSid, recordings);
  const paused = await d.recording.pauseAll(agents, callSid, actor);
  if (!paused.ok) return { ok: false, twilioStatus: paused.twilioStatus, lateUntil: lateResumeUntil(paused, now(), d.restTimeoutMs) };
  if (callers.length === 0) return paused;
  const held = await d.recording.holdEach(
    callers.map((recordingSid) => ({ callSid, recordingSid })),
    callSid,
    actor,
  );
  if (held.failed.length === 0) return paused;
  const undo = await d.recording.resumeAll(agents, callSid, actor).catch((err: unknown) => {
    log.warn({ err: errFields(err) }, 'recording resume after a refused capture did not complete');
    return { ok: false, twilioStatus: 'network' } as const;
  });
  await holdForBridge(
    d,
    callSid,
    held.paused.map((r) => r.recordingSid!),
    log,
    actor,
  );
  return { ok: false, twilioStatus: held.failed[0].twilioStatus, lateUntil: lateResumeUntil(undo, now(), d.restTimeoutMs) };
}

/**
 * A refused start's undo of its pauses that Twilio did not answer may still be carried out until
 * `lateUntil`: named on the call (`captureResumeLateUntil`) before the start lets the lock go, as
 * a capture's end names its own. The controller orders this instance's next pause after it, but
 * the next capture may run on the instance the bridge moves to (the caller's stream cut off),
 * which reads only this. A later time already there (another capture's) is kept. Not written
 * (the store refused): logged, and the lock goes as a capture's end lets it go.
 */
export async function undoLateUntil(d: PauseDeps, callSid: string, lateUntil: number | undefined, log: Logger): Promise<void> {
  if (lateUntil === undefined) return;
  await d.calls
    .update(callSid, (s) => {
      if ((s.captureResumeLateUntil ?? 0) >= lateUntil) return false;
      s.captureResumeLateUntil = lateUntil;
    })
    .catch((err: unknown) => log.warn({ err: errFields(err) }, 'late resume of a refused capture not named on the call'));
}

/** recordings of the caller's call a capture paused and will not run again, named on the bridge's hold and audited, naming the capture's `actor` (failures logged) */
export async function holdForBridge(d: PauseDeps, callSid: string, hold: readonly string[], log: Logger, actor: string | undefined): Promise<void> {
  if (hold.length === 0) return;
  await d.calls
    .update(callSid, (s) => {
      s.handoff.recordingsHeld = heldByBridge(s, hold);
    })
    .catch((err: unknown) => log.warn({ err: errFields(err) }, 'recordings held for the bridge not named on the call'));
  await d.audit
    .append(callSid, { type: 'recording.held', where: 'bridge', recordingSids: hold.join(','), actor })
    .catch((err: unknown) => log.warn({ err: errFields(err) }, 'recordings held for the bridge not audited'));
}
