/**
 * A capture's end, between its last key and its recordings' resume (executor.ts `endRun`): the
 * hold for keys pressed past the end, and the claim of the end on the call's record against a
 * settling of the same capture where the call was taken up (lost.ts).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { RESUME_HOLD_MS } from '../flows/engine';
import { errFields } from '../log';
import type { ExecutorDeps } from './deps';
import { MAX_HOLD_MS, type Ending, type Running } from './run';

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
export async function claimEnd(d: Pick<ExecutorDeps, 'calls'>, run: Running, log: Logger): Promise<boolean> {
  const id = run.record.captureId;
  let claimed = true;
  try {
    await d.calls.update(run.record.callSid, (s) => {
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
 * after it. Each of those keeps the recordings paused RESUME_HOLD_MS more (heard by executor.ts onKey,
 * counted into nothing), up to MAX_HOLD_MS, and so does each tone the bridge masks unreported
 * (executor.ts onTone: a keypad off frequency, DESIGN B1, whose flat tone a recording would hold). So too a capture cancelled, lost or shut down while
 * the caller keys. Nothing is held after the '#' that ended the entry, after a silence of
 * IDLE_MS (itself the IVR's guard: a key in it counts into the entry), or once the call ended.
 */
export async function held(run: Running, ending: Ending): Promise<void> {
  if (ending.status === 'failed' && ending.reason === 'call-ended') return;
  const latest = performance.now() + MAX_HOLD_MS;
  for (;;) {
    const wait = run.lastKeyAt === undefined ? 0 : Math.min(run.lastKeyAt + RESUME_HOLD_MS, latest) - performance.now();
    if (wait <= 0) return;
    await sleep(wait);
  }
}
