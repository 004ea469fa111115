import { newSid, rfc2822 } from './ids';
import { MULAW_SILENCE } from './media-client';

export type RecordingStatus = 'in-progress' | 'paused' | 'stopped';
export type PauseBehavior = 'skip' | 'silence';

export interface RecordingOptions {
  channels: 'mono' | 'dual';
  statusCallback?: string;
  statusCallbackMethod: 'POST' | 'GET';
  /** RecordingStatusCallbackEvent; Twilio's default is `completed` only */
  statusCallbackEvents: string[];
  trim: string;
  track: string;
}

/** One call recording started over REST (Twilio's "StartCallRecordingAPI" source). */
export class Recording {
  readonly sid = newSid('RE');
  readonly dateCreated = new Date();
  dateUpdated = this.dateCreated;
  status: RecordingStatus = 'in-progress';
  pauseBehavior: PauseBehavior = 'silence';
  /** audio frames accounted to this recording (for RecordingDuration) */
  capturedBytes = 0;

  constructor(
    readonly callSid: string,
    readonly opts: RecordingOptions,
  ) {}

  get active(): boolean {
    return this.status !== 'stopped';
  }

  setStatus(status: RecordingStatus, pauseBehavior?: PauseBehavior): void {
    this.status = status;
    if (pauseBehavior) this.pauseBehavior = pauseBehavior;
    this.dateUpdated = new Date();
  }

  durationSeconds(): number {
    return Math.round(this.capturedBytes / 8000);
  }

  toJson(accountSid: string): Record<string, unknown> {
    return {
      account_sid: accountSid,
      api_version: '2010-04-01',
      call_sid: this.callSid,
      conference_sid: null,
      channels: this.opts.channels === 'dual' ? 2 : 1,
      date_created: rfc2822(this.dateCreated),
      date_updated: rfc2822(this.dateUpdated),
      start_time: rfc2822(this.dateCreated),
      duration: this.status === 'stopped' ? String(this.durationSeconds()) : null,
      sid: this.sid,
      price: null,
      price_unit: 'USD',
      status: this.status,
      source: 'StartCallRecordingAPI',
      error_code: null,
      encryption_details: null,
      track: this.opts.track,
      uri: `/2010-04-01/Accounts/${accountSid}/Calls/${this.callSid}/Recordings/${this.sid}.json`,
    };
  }
}

/** Growable μ-law buffer: what the call's recording captured. */
export class AudioCapture {
  private buf = new Uint8Array(8000);
  private len = 0;

  get bytes(): Uint8Array {
    return this.buf.slice(0, this.len);
  }

  append(chunk: Uint8Array): void {
    this.ensure(chunk.length);
    this.buf.set(chunk, this.len);
    this.len += chunk.length;
  }

  appendSilence(count: number): void {
    this.ensure(count);
    this.buf.fill(MULAW_SILENCE, this.len, this.len + count);
    this.len += count;
  }

  private ensure(extra: number): void {
    if (this.len + extra <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.len + extra));
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
}
