/**
 * Before a bridge: every other recording in progress on the caller's call (another
 * application's, started over REST: a compliance recorder) paused by its SID for the whole
 * bridge, all or none, each acknowledged before the caller's stream is given. The caller's call
 * is not masked (only what the bridge relays to the agent is), so one left running would hear
 * every key the caller presses to the agent. Those the last stretch paused are taken over,
 * paused again (Twilio lists them paused, and a pause of a paused recording changes nothing);
 * the flow's own was stopped before. A failure fails closed as a refused stop does: no bridge,
 * the apology (flows/steps/handoff.ts). A list that cannot be read pauses what is known (the
 * stretch's) and the bridge is made, as a stretch goes on (recording/stretch.ts); that is
 * logged, and a capture in the bridge lists the call again and takes in what it finds
 * (captures/recorded.ts `bridgeHolds`). None is resumed: the caller's call ends with its bridge
 * (media/registry.ts `end` completes it; bridge-lost.ts ends a call whose bridge is over).
 */
import type { Logger } from 'pino';
import type { AuditInput } from '../audit';
import type { CallControl } from '../calls/control';
import type { CallSession } from '../calls/session';
import type { Metrics } from '../metrics';
import type { RecordingController, RecordingOutcome } from '../recording/controller';
import { recordingList, stretchRecordings } from '../recording/stretch';

export interface BridgeHoldDeps {
  recording: Pick<RecordingController, 'pauseAll'>;
  /** Twilio's REST API on live calls: the caller's call's recordings listed (none: nothing listed) */
  control?: CallControl;
  metrics: Pick<Metrics, 'otherRecordingsPaused'>;
}

/**
 * Pauses them and names them on `s` (`handoff.recordingsHeld`, empty when none ran); ok when
 * all were paused, or none ran. `ringing`: the call's first webhook, the call still ringing,
 * which nothing can be recording (Twilio refuses a recording on a ringing call: 21220), so
 * nothing is listed.
 */
export async function holdForBridge(
  d: BridgeHoldDeps,
  s: CallSession,
  log: Logger,
  audit: (callSid: string, entry: AuditInput) => Promise<void>,
  ringing: boolean,
): Promise<RecordingOutcome> {
  const own = s.recording.sid;
  // what the last stretch paused and did not resume (only words and the bridge followed it)
  const paused = (s.recording.sids ?? []).filter((sid) => sid !== own);
  s.recording.sids = undefined;
  const list = d.control && !ringing ? recordingList(d.control) : undefined;
  const listed = await stretchRecordings(list, s.callSid, undefined, log, paused);
  const recordings = [...new Set([...listed.map((r) => r.recordingSid!), ...paused])]
    .filter((sid) => sid !== own)
    .map((recordingSid) => ({ callSid: s.callSid, recordingSid }));
  if (recordings.length === 0) {
    s.handoff.recordingsHeld = [];
    return { ok: true, twilioStatus: '404', absent: true };
  }
  log.warn({ recordings: recordings.length }, "another application records the caller's call: each of its recordings is paused for the bridge");
  const outcome = await d.recording.pauseAll(recordings);
  if (!outcome.ok) return outcome;
  d.metrics.otherRecordingsPaused.inc({ where: 'bridge' }, recordings.length);
  s.handoff.recordingsHeld = recordings.map((r) => r.recordingSid);
  await audit(s.callSid, { type: 'recording.held', where: 'bridge', recordingSids: s.handoff.recordingsHeld.join(',') });
  return outcome;
}
