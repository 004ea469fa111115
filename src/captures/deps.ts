/**
 * What a capture needs of the rest of the app: the media bridge it listens to (src/media), the
 * call's record, the capture's own records, the recordings it pauses and resumes, the vault, and
 * those it tells (audit, events, metrics). One set, for the executor and each step it runs in a
 * file of its own (pause.ts, end.ts, settle.ts), and for the settling of a lost capture (lost.ts).
 */
import type { Logger } from 'pino';
import type { CallRepository } from '../calls/repository';
import type { CallSession } from '../calls/session';
import type { AnnounceDeps } from './announce';
import type { CaptureRecords } from './records';
import type { RecordingList, RecordingRef } from '../recording/stretch';

/** what the capture needs of a media bridge (src/media): merged key presses, the tones it masks, and blanket masking */
export interface KeyPress {
  digit: string;
  source?: string;
  atSample?: number;
}
export interface CaptureBridge {
  on(event: 'key', listener: (key: KeyPress) => void): unknown;
  off(event: 'key', listener: (key: KeyPress) => void): unknown;
  /**
   * a tone the bridge masks, a key reported or not (its masking net is wider than the key
   * tracker: a keypad off frequency is masked, never reported), told before that key (media/bridge.ts)
   */
  on(event: 'tone', listener: () => void): unknown;
  off(event: 'tone', listener: () => void): unknown;
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
    /** a capture refused, nothing paused: a call's recordings could not be listed (counted, logged and audited as a failed pause) */
    refuseUnlisted(callSid: string, auditCallSid?: string, actor?: string): Promise<{ ok: boolean; twilioStatus: string }>;
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
