import { performance } from 'node:perf_hooks';
import type { TranscriptEntry } from './twiml';

/** What a webhook the emulator sent was for. */
export type WebhookPurpose =
  | 'voice'
  | 'gather-action'
  | 'redirect'
  | 'dial-action'
  | 'connect-action'
  | 'enqueue-action'
  | 'status-callback'
  | 'recording-status-callback'
  /** a dialled party's call progress callback, asked for by its <Dial> noun (dial.ts) */
  | 'dial-status-callback';

export type RecordingState = 'none' | 'in-progress' | 'paused' | 'stopped';

interface Base {
  /** ms since the emulator started (performance.now based) */
  t: number;
  callSid?: string;
}

export interface RestEntry extends Base {
  type: 'rest';
  method: string;
  path: string;
  /** form params (or query params for GET), values kept */
  params: Record<string, string | string[]>;
  status: number;
}

export interface WebhookEntry extends Base {
  type: 'webhook';
  callSid: string;
  purpose: WebhookPurpose;
  method: string;
  url: string;
  /** HTTP status; 0 when no answer came (connection refused, timeout) */
  status: number;
  bodyLength: number;
  error?: string;
}

export interface TwimlVerbEntry extends Base {
  type: 'twiml-verb';
  callSid: string;
  entry: TranscriptEntry;
}

export interface RecordingEntry extends Base {
  type: 'recording';
  callSid: string;
  recordingSid: string;
  status: Exclude<RecordingState, 'none'>;
}

export interface GatherEntry extends Base {
  type: 'gather';
  callSid: string;
  /** `'<count> digits'`: the digits themselves stay on the call object only */
  digits: string;
  recordingStatus: RecordingState;
  action: string;
}

export interface StreamOpenEntry extends Base {
  type: 'stream-open';
  callSid: string;
  streamSid: string;
  url: string;
  /** false when the service refused the handshake, or Twilio would not dial the URL */
  accepted: boolean;
  httpStatus?: number;
  /** Twilio's error when it would not dial the URL (31922: not wss; 31941: a <Stream track> the verb does not take) */
  errorCode?: number;
}

export interface StreamCloseEntry extends Base {
  type: 'stream-close';
  callSid: string;
  streamSid: string;
  code: number;
  reason: string;
  /** who closed the socket first */
  by: 'emulator' | 'service';
}

export interface CallStatusEntry extends Base {
  type: 'call-status';
  callSid: string;
  status: string;
}

/**
 * What Twilio's debugger would log for the call (a Notification): an error, or a warning it
 * carried on past with a default (the code is Twilio's, e.g. 31924, 13621, 13212).
 */
export interface NotificationEntry extends Base {
  type: 'notification';
  callSid: string;
  level: 'error' | 'warning';
  code: number;
  message: string;
  /** the media stream it concerns, for a stream's errors */
  streamSid?: string;
}

/** A <Dial> to a party ended: how (Twilio's DialCallStatus), after how long ringing and talking (emulated seconds). */
export interface DialEntry extends Base {
  type: 'dial';
  callSid: string;
  dialCallSid: string;
  target: string;
  status: DialCallStatus;
  ringSeconds: number;
  talkSeconds: number;
}

/** How a <Dial> to a party ends, as Twilio reports it in the action's DialCallStatus. */
export type DialCallStatus = 'completed' | 'busy' | 'no-answer' | 'failed' | 'canceled';

export type TimelineEntry =
  | RestEntry
  | WebhookEntry
  | TwimlVerbEntry
  | RecordingEntry
  | GatherEntry
  | StreamOpenEntry
  | StreamCloseEntry
  | CallStatusEntry
  | NotificationEntry
  | DialEntry;

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
export type NewTimelineEntry = DistributiveOmit<TimelineEntry, 't'>;

/** Everything the emulator saw or did, in order. */
export class Timeline {
  readonly entries: TimelineEntry[] = [];
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  add(entry: NewTimelineEntry): TimelineEntry {
    const full = { ...entry, t: this.now() } as TimelineEntry;
    this.entries.push(full);
    return full;
  }

  forCall(callSid: string): TimelineEntry[] {
    return this.entries.filter((e) => e.callSid === callSid);
  }

  /** every state one recording of the call took, in order (its start, pauses, resumes, stop) */
  recordingStatuses(callSid: string, recordingSid: string): RecordingState[] {
    return this.entries.flatMap((e) => (e.type === 'recording' && e.callSid === callSid && e.recordingSid === recordingSid ? [e.status] : []));
  }

  /**
   * The call's recording state at time `t` (ms on this timeline): of its latest change, or, with
   * `recordingSid`, of that recording alone (a call may hold several at once).
   */
  recordingStatusAt(callSid: string, t: number, recordingSid?: string): RecordingState {
    let state: RecordingState = 'none';
    for (const e of this.entries) {
      if (e.t > t) break;
      if (e.type === 'recording' && e.callSid === callSid && (recordingSid === undefined || e.recordingSid === recordingSid)) state = e.status;
    }
    return state;
  }
}
