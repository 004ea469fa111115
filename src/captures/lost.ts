/**
 * A capture its instance was lost with: the instance crashed with the call's bridge, so nothing
 * of the capture runs now, and the call was taken up on this instance (twilio/bridge-lost.ts).
 * Nothing else would end it: its recording would stay paused for the rest of the call, its lock
 * would refuse captures until it expired, and panels would show it running. An instance that
 * lost only the bridge (alive) ends its own capture at once (the bridge's `lost` event), which
 * releases both (the recordings after its hold for the last keys, end.ts `held`; nothing is
 * written before, so a capture lost during the hold is ended here as any other); LiveCalls calls
 * this a while after the take-up, for the capture still running.
 */
import { errFields } from '../log';
import { announceEnd } from './announce';
import type { ExecutorDeps } from './deps';
import { recordedCall, resumeCapture } from './recorded';
import type { CaptureRecord } from './types';

/** why a capture whose bridge was lost with its instance ended (the call goes on elsewhere) */
export const LOST = 'bridge-lost';

type LostDeps = Pick<ExecutorDeps, 'calls' | 'records' | 'recording' | 'audit' | 'events' | 'metrics' | 'log' | 'restTimeoutMs'>;

/**
 * Ends the call's capture as `failed` (`bridge-lost`) the way a capture ends, its recording
 * resumed, if the call's record still names it running and its lock still holds it.
 *
 * The lock stays the capture's until its resume is over and until when it may still land is on
 * the call (`captureResumeLateUntil`): the call's next capture takes the lock before it pauses,
 * on whichever instance holds the bridge (not this one's recording controller, which orders only
 * its own requests), and reads that time once it holds it (pause.ts afterLateResume). Released
 * first, the lock let the next capture pause before this resume landed, and the recording ran
 * while the caller keyed. Which settler ends the capture (LiveCalls asks on every take-up, and its
 * own instance, alive, ends it too) is decided by the call's record: the one whose write turns it
 * from `capturing` to `failed`, before any resume; any other sends nothing and tells nothing.
 */
export async function settleLostCapture(d: LostDeps, callSid: string, now: () => Date): Promise<void> {
  const session = await d.calls.get(callSid);
  const capture = session?.capture;
  if (!session || capture?.status !== 'capturing') return;
  // a lock released or expired is not this capture's to settle: the next capture may hold it
  // already, before its start names it on the call
  if ((await d.records.holder(callSid)) !== capture.id) return;
  let claimed = false;
  await d.calls.update(callSid, (s) => {
    claimed = false;
    if (s.capture?.id !== capture.id || s.capture.status !== 'capturing') return false;
    s.capture.status = 'failed';
    claimed = true;
  });
  if (!claimed) return;
  const log = d.log.child({ callSid, captureId: capture.id });
  log.warn('capture lost with its instance: ended here, the recording resumed');
  // claimed: no one else resumes it now, so a record that cannot be read is not why it stays paused
  // with its lock held (nothing retries a settling): the bridge's own recording, as for one gone
  const kept = await d.records.get(callSid, capture.id).catch((err: unknown) => {
    log.warn({ err: errFields(err) }, 'lost capture record not read: its recording resumed as the bridge names it');
    return null;
  });
  // what the capture paused, as its record names it; a record without them (written before they
  // were named, or gone), the bridge's own recording
  const recorded = recordedCall(session);
  const recordings = kept?.recordings ?? [recorded];
  // named for whoever started the capture, as its own end would have (executor.ts endRun); the
  // claim above wrote its outcome on the call already
  await resumeCapture(d, callSid, recordings, { actor: kept?.actor, now, log });
  // last: the next capture pauses only once this resume is over, or waits for it (pause.ts afterLateResume)
  await d.records.unlockIf(callSid, capture.id).catch((err: unknown) => log.warn({ err: errFields(err) }, 'capture lock not released'));
  const record: CaptureRecord = kept ?? {
    captureId: capture.id,
    callSid,
    name: capture.name,
    kind: capture.kind,
    blanket: false,
    status: 'capturing',
    entered: 0,
    masked: '',
    startedAt: session.updatedAt,
  };
  record.status = 'failed';
  record.reason = LOST;
  record.valid = undefined;
  record.endedAt = now().getTime();
  await d.records.keep(record, d.calls).catch((err: unknown) => log.warn({ err: errFields(err) }, 'capture record not saved'));
  await announceEnd(d, record);
}
