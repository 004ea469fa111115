/**
 * The recordings a sensitive stretch pauses on a call. The service's own recording is not the
 * only one that may run there: another application may have started one over Twilio's REST API
 * (`POST …/Calls/{CallSid}/Recordings.json`: a compliance recorder), and Twilio runs several on
 * one call, each named by its SID (`Twilio.CURRENT` names only one, and Twilio refuses it while
 * several are active: error 16108). So before each stretch the call's recordings are listed once
 * (`GET …/Calls/{CallSid}/Recordings.json`) and every one in progress is paused with the
 * service's own, each by its SID, all or none (RecordingController.pauseAll).
 */
import type { Logger } from 'pino';
import type { CallControl } from '../calls/control';
import { errFields } from '../log';

/** one recording on one call: by its SID, or, without one, Twilio.CURRENT */
export interface RecordingRef {
  callSid: string;
  recordingSid?: string;
}

/** a call's recordings as Twilio lists them, each with its status */
export type RecordingList = (callSid: string) => Promise<Array<{ sid: string; status: string }>>;

/** Twilio's list of a call's recordings, through the REST client */
export const recordingList =
  (client: Pick<CallControl, 'calls'>): RecordingList =>
  (callSid) =>
    client.calls(callSid).recordings.list();

/** the SIDs of the listed recordings that are in progress; one its owner paused is left alone (never resumed by us) */
export function inProgress(listed: ReadonlyArray<{ sid: string; status: string }>): string[] {
  return listed.filter((r) => r.status === 'in-progress').map((r) => r.sid);
}

/**
 * What a stretch pauses on `callSid`: `own`, the service's own recording there if it runs (its
 * SID, or none while its status callback is on its way), first, then every other recording
 * Twilio lists in progress. A recording of ours whose SID is not known is paused by
 * Twilio.CURRENT alone, unlisted: which listed one would be ours? Twilio refuses CURRENT while
 * several run (16108), and that pause fails closed. `unlisted` when the list cannot be read:
 * what else runs there is unknown.
 */
async function listed(
  list: RecordingList | undefined,
  callSid: string,
  own: { sid?: string } | undefined,
  held: readonly string[],
): Promise<{ recordings: RecordingRef[] } | { unlisted: unknown; ours: RecordingRef[] }> {
  const ours: RecordingRef[] = own ? [{ callSid, ...(own.sid ? { recordingSid: own.sid } : {}) }] : [];
  if ((own && !own.sid) || !list) return { recordings: ours };
  let running: string[];
  try {
    const all = await list(callSid);
    running = [...inProgress(all), ...all.filter((r) => r.status === 'paused' && held.includes(r.sid)).map((r) => r.sid)];
  } catch (err) {
    return { unlisted: err, ours };
  }
  const others = running.filter((sid) => sid !== own?.sid);
  return { recordings: [...ours, ...others.map((recordingSid) => ({ callSid, recordingSid }))] };
}

/**
 * The recordings a stretch that asks for a value pauses (listed), or undefined when the call's
 * recordings cannot be listed: a recording nobody saw would hear the value, so the caller fails
 * closed, as after a failed pause (the field is not asked, the capture not started).
 * `held`: recordings the last stretch paused and may not have resumed (a resume Twilio
 * refused): one Twilio still lists as paused is ours to resume, so it is taken into this stretch
 * as well, or nothing would ever run it again.
 */
export async function knownRecordings(
  list: RecordingList | undefined,
  callSid: string,
  own: { sid?: string } | undefined,
  log: Logger,
  held: readonly string[] = [],
): Promise<RecordingRef[] | undefined> {
  const found = await listed(list, callSid, own, held);
  if ('recordings' in found) return found.recordings;
  log.warn({ listedCallSid: callSid, err: errFields(found.unlisted) }, "the call's recordings could not be listed: sensitive input is refused");
  return undefined;
}

/**
 * The recordings paused where the call goes on whatever the list says (the hold before a bridge,
 * the bridge's guard at a key: the caller talks to the agent either way): as knownRecordings,
 * but when the list cannot be read, what is known (the service's own, or nothing), and that is
 * logged.
 */
export async function stretchRecordings(
  list: RecordingList | undefined,
  callSid: string,
  own: { sid?: string } | undefined,
  log: Logger,
  held: readonly string[] = [],
): Promise<RecordingRef[]> {
  const found = await listed(list, callSid, own, held);
  if ('recordings' in found) return found.recordings;
  log.warn({ listedCallSid: callSid, err: errFields(found.unlisted) }, "the call's recordings could not be listed: another application's are not paused");
  return found.ours;
}
