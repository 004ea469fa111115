/**
 * An erasure and the caller's recordings at Twilio (service.ts; docs/contract.md §7). The audio
 * is Twilio's, in the operator's account: the erasure names each recording the call record knew
 * of on its receipt and in the call's `subject.erased` entry and, with ERASE_RECORDINGS, deletes it
 * through the Recording resource's `DELETE /2010-04-01/Accounts/{AccountSid}/Recordings/{RecordingSid}.json`
 * with the service's REST client (twilio/rest.ts: its bound, and a 429 tried again by the package).
 *
 * Twilio answers 204 when it deleted the recording, and its own 404 (error code 20404) for a SID it
 * has no recording of, one deleted already among them (a deleted recording is soft-deleted: "by
 * default, fetching a deleted recording returns not found", Twilio changelog 2022-03-03, "Fetch
 * deleted call recording metadata"). A recording still in progress or paused (a call still up,
 * which an erasure does not hang up) or still being processed cannot be deleted yet; Twilio's
 * documentation gives no answer of its own for that (its error 20009, "Cannot delete this resource
 * before it is complete", is documented for calls and messages, with the advice to wait and try
 * again), so no status or code is relied on: any other answer, or none, is "not deleted yet". With
 * a queue (recording-queue.ts) the deletion is kept and tried again later, the recording `pending`;
 * without one, or when it cannot be kept, it is `failed`, its HTTP status and Twilio's error code
 * kept for the operator. A bare 404 (no 20404: a proxy's page, a wrong TWILIO_API_BASE_URL) is not
 * a recording gone either, as for a recording update (recording/controller.ts).
 */
import type { Logger } from 'pino';
import type { AuditEntry } from '../audit/chain';
import { restStatus } from '../calls/control';
import { isTonewallError } from '../errors';
import { isTwilioNotFound } from '../recording/controller';

/**
 * What the erasure did with one recording at Twilio: `kept` (ERASE_RECORDINGS is off: the
 * operator acts on it), `deleted` (Twilio's 204), `already-gone` (Twilio's own 404), `pending`
 * (not deleted yet: tried again later, recording-queue.ts) or `failed`; for the last two, Twilio's
 * HTTP status and error code of the erasure's try when it answered
 */
export interface RecordingErasure {
  callSid: string;
  recordingSid: string;
  status: 'kept' | 'deleted' | 'already-gone' | 'pending' | 'failed';
  httpStatus?: number;
  code?: number;
}

type Removed = Pick<RecordingErasure, 'httpStatus' | 'code'> & { status: 'deleted' | 'already-gone' | 'failed' };

/** deletes one recording at Twilio: its outcome, never a throw */
export type RecordingRemover = (recordingSid: string) => Promise<Removed>;

/** what the remover needs of the `twilio` package's client */
export interface RecordingsClient {
  recordings(sid: string): { remove(): Promise<boolean> };
}

export function recordingRemover(client: RecordingsClient): RecordingRemover {
  return async (recordingSid) => {
    try {
      await client.recordings(recordingSid).remove();
      return { status: 'deleted' };
    } catch (e) {
      if (isTwilioNotFound(e)) return { status: 'already-gone' };
      const httpStatus = restStatus(e);
      const code = (e as { code?: unknown })?.code;
      return { status: 'failed', ...(httpStatus !== undefined ? { httpStatus } : {}), ...(typeof code === 'number' ? { code } : {}) };
    }
  };
}

/**
 * Each recording of the call at Twilio: deleted when the operator opted in (`remove` set), else
 * kept. One at a time, as the erasure's other requests to Twilio; one not deleted is kept to be
 * tried again (`keep`, the queue's) or, when it cannot be, logged (the SIDs and Twilio's answer
 * only) as a failure, and the next is tried.
 */
export async function eraseRecordings(
  callSid: string,
  sids: readonly string[],
  remove: RecordingRemover | undefined,
  log: Logger,
  keep?: (recordingSid: string) => Promise<void>,
): Promise<RecordingErasure[]> {
  const out: RecordingErasure[] = [];
  for (const recordingSid of sids) {
    if (!remove) {
      out.push({ callSid, recordingSid, status: 'kept' });
      continue;
    }
    // the remover answers every outcome itself; a throw all the same is a try that failed
    const r = await remove(recordingSid).catch((): Removed => ({ status: 'failed' }));
    const answer = { httpStatus: r.httpStatus, code: r.code };
    if (r.status === 'failed' && keep) {
      try {
        await keep(recordingSid);
        out.push({ callSid, recordingSid, ...r, status: 'pending' });
        log.info({ callSid, recordingSid, ...answer }, 'recording of an erased call not deleted at Twilio yet: will retry');
        continue;
      } catch (e) {
        log.warn({ callSid, recordingSid, code: isTonewallError(e) ? e.code : 'unknown' }, 'recording deletion not kept for a retry');
      }
    }
    out.push({ callSid, recordingSid, ...r });
    if (r.status === 'failed') log.warn({ callSid, recordingSid, ...answer }, 'recording of an erased call not deleted at Twilio');
  }
  return out;
}

/** a recording's SID as Twilio mints it: anything else in a trail entry is not taken for one */
const RECORDING_SID = /^RE[0-9a-fA-F]{32}$/;

/**
 * Every recording the call's trail names in its `recording.*` entries: `recordingSid` (a status
 * callback, a pause, resume or stop: the caller's and the agent call's, which is audited on the
 * caller's call) and `recordingSids` (the recordings a bridge or capture held). The trail is
 * kept after the record expires (ENDED_CALL_TTL_SECONDS after the call), so an erasure still finds,
 * through the subject index, the recordings of a call whose record is gone while other data of it
 * (vault values, delivery records) is held, or, with ERASE_RECORDINGS, for as long as the trail
 * (the index keeps the call that long: calls/repository.ts linkTtlSeconds).
 */
export function recordingSidsOfTrail(trail: readonly AuditEntry[]): string[] {
  const out = new Set<string>();
  for (const e of trail) {
    if (!e.type.startsWith('recording.')) continue;
    const named = [e.recordingSid, ...(typeof e.recordingSids === 'string' ? e.recordingSids.split(',') : [])];
    for (const sid of named) if (typeof sid === 'string' && RECORDING_SID.test(sid)) out.add(sid);
  }
  return [...out];
}

/** the most an audit value holds (audit/pii.ts): a longer list of SIDs is given by its count */
const AUDIT_LIST_CHARS = 512;

const AUDIT_LISTS = {
  recordingsKept: 'kept',
  recordingsDeleted: 'deleted',
  recordingsAlreadyGone: 'already-gone',
  recordingsPending: 'pending',
  recordingsFailed: 'failed',
} as const;

/**
 * The `subject.erased` entry's account of the call's recordings: their SIDs by outcome (a pending
 * one's own outcome is its `subject.recording-erased` entry, recording-queue.ts), with
 * `recordingsFailedStatus`, Twilio's HTTP status of each failed one in the same order (`none` for
 * no answer)
 */
export function recordingsEntry(recordings: readonly RecordingErasure[]): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, status] of Object.entries(AUDIT_LISTS)) {
    const of = recordings.filter((r) => r.status === status);
    if (of.length === 0) continue;
    const sids = of.map((r) => r.recordingSid).join(',');
    out[key] = sids.length <= AUDIT_LIST_CHARS ? sids : of.length;
    if (status === 'failed' && typeof out[key] === 'string') {
      out.recordingsFailedStatus = of.map((r) => (r.httpStatus !== undefined ? String(r.httpStatus) : 'none')).join(',');
    }
  }
  return out;
}
