import { encodeMulaw, MULAW_DECODE } from '../../src/media/dsp/mulaw';
import { newSid, rfc2822 } from './ids';
import { MULAW_SILENCE } from './media-client';

export type RecordingStatus = 'in-progress' | 'paused' | 'stopped';
export type PauseBehavior = 'skip' | 'silence';
/** how the recording was started: over REST, or by <Start><Recording> in the call's TwiML */
export type RecordingSource = 'StartCallRecordingAPI' | 'StartCallRecordingTwiML';
/**
 * Twilio's two audio tracks of a call: inbound is what Twilio receives from the party on the
 * line (their voice, the keys they press); outbound is what Twilio plays into the call (<Say>,
 * <Play>, the far end of a <Dial>, and the audio a bidirectional <Connect><Stream> sends).
 */
export type Track = 'inbound' | 'outbound';

export interface RecordingOptions {
  channels: 'mono' | 'dual';
  statusCallback?: string;
  statusCallbackMethod: 'POST' | 'GET';
  /** RecordingStatusCallbackEvent; Twilio's default is `completed` only */
  statusCallbackEvents: string[];
  /**
   * trim-silence or do-not-trim, kept as given: the emulator does not trim its audio (Twilio's
   * trim-silence drops the file's leading and trailing silence, which no test measures)
   */
  trim: string;
  /** RecordingTrack: inbound, outbound or both (Twilio's default) */
  track: string;
  source: RecordingSource;
  /** <Recording name>, which <Stop><Recording name> refers to */
  name?: string;
}

/** Twilio's error for a recording too short to be processed: it keeps no file, and reports it `absent` */
export const RECORDING_TOO_SHORT = 16101;

/**
 * How long the emulator takes to process a stopped recording before it is `completed` (or
 * `absent`) and its callback is sent. Twilio processes every recording after it ends: the
 * resource is `processing` meanwhile, and "Twilio sends a recording status callback after it
 * finishes processing a call recording" (https://www.twilio.com/docs/usage/webhooks/voice-webhooks);
 * "call recordings require post-processing, and may not always be ready right away when your
 * call ends" (https://support.twilio.com/hc/en-us/articles/360014251313). So a recording that
 * ends with its call reports its end after the call's own `completed` status callback. Twilio
 * takes seconds; the emulator runs in compressed time and takes a few milliseconds, enough that
 * nothing can rely on the order.
 */
export const RECORDING_PROCESSING_MS = 25;

/**
 * One call recording. It keeps each track as Twilio does before it mixes them: a dual-channel
 * recording's first channel is the inbound track, its second the outbound track; a mono one
 * is the two mixed. Paused with PauseBehavior=skip, neither track takes anything; with
 * `silence`, both take silence.
 *
 * Twilio keeps no file of a recording too short to be processed: it ends `absent` (error 16101)
 * instead of `completed`. The emulator runs calls in compressed time, so it cannot measure a
 * recording's length as Twilio does; it takes one to be too short when it recorded nothing at
 * all (`recordedNothing`): while it ran (in progress, or paused with PauseBehavior=silence) no
 * audio reached it (no media frame or key on a track it records), no <Say>, <Play> or <Pause>
 * ran on the call, and the call did not wait in an <Enqueue> (whose wait music it would hold).
 * A recording started and stopped (or paused with `skip`) with nothing in between is such a one.
 * Silent recordings Twilio deletes only on accounts set up so (16102), which the emulator is not.
 */
export class Recording {
  readonly sid = newSid('RE');
  readonly dateCreated = new Date();
  dateUpdated = this.dateCreated;
  status: RecordingStatus = 'in-progress';
  pauseBehavior: PauseBehavior = 'silence';
  private readonly tracks: Record<Track, AudioCapture> = { inbound: new AudioCapture(), outbound: new AudioCapture() };
  /** something on the call reached it while it ran: it is not too short to keep */
  private heard = false;
  /** stopped and processed: `completed` or `absent` from now on (until then, `processing`) */
  processed = false;
  /** deleted over REST: Twilio keeps its metadata, status `deleted` (account-recordings.ts) */
  deletedAt?: Date;

  constructor(
    readonly callSid: string,
    readonly opts: RecordingOptions,
  ) {}

  get active(): boolean {
    return this.status !== 'stopped';
  }

  /** it takes what the call sounds now: in progress, or paused with PauseBehavior=silence */
  get running(): boolean {
    return this.status === 'in-progress' || (this.status === 'paused' && this.pauseBehavior === 'silence');
  }

  /** stopped with nothing recorded: Twilio reports it `absent` (RECORDING_TOO_SHORT) */
  get absent(): boolean {
    return this.status === 'stopped' && !this.heard;
  }

  /** the call sounded while it ran (a prompt, a <Pause>, an <Enqueue>'s wait music), though no audio reached its tracks */
  hear(): void {
    if (this.running) this.heard = true;
  }

  setStatus(status: RecordingStatus, pauseBehavior?: PauseBehavior): void {
    this.status = status;
    if (pauseBehavior) this.pauseBehavior = pauseBehavior;
    this.dateUpdated = new Date();
  }

  durationSeconds(): number {
    // the recording is as long as its longer track (8000 μ-law bytes a second)
    return Math.round(Math.max(this.tracks.inbound.length, this.tracks.outbound.length) / 8000);
  }

  records(track: Track): boolean {
    return this.opts.track === 'both' || this.opts.track === track;
  }

  /** audio on one track of the call, as this recording hears it now */
  capture(track: Track, bytes: Uint8Array): void {
    if (!this.records(track) || bytes.length === 0) return;
    if (this.status === 'in-progress') this.tracks[track].append(bytes);
    else if (this.status === 'paused' && this.pauseBehavior === 'silence') this.tracks[track].appendSilence(bytes.length);
    this.hear();
  }

  /** the file's channels: [inbound, outbound] when dual, the mix of the recorded tracks when mono */
  channels(): Uint8Array[] {
    const inbound = this.tracks.inbound.bytes;
    const outbound = this.tracks.outbound.bytes;
    if (this.opts.channels === 'dual' && this.opts.track === 'both') return [inbound, outbound];
    return [mix(inbound, outbound)];
  }

  /** everything this recording holds, mixed to one channel */
  get mixed(): Uint8Array {
    return mix(this.tracks.inbound.bytes, this.tracks.outbound.bytes);
  }

  /**
   * The resource's status as Twilio's REST API shows it: in-progress, paused, and once stopped
   * `processing` until processed, then `completed` or `absent` (Recording resource statuses:
   * in-progress, paused, stopped, processing, completed, absent, deleted; twilio-node RecordingStatus).
   * `stopped` is only ever the answer to the update that stopped it (the `stoppedNow` view).
   */
  publicStatus(stoppedNow = false): string {
    if (this.deletedAt) return 'deleted';
    if (this.status !== 'stopped') return this.status;
    if (stoppedNow) return 'stopped';
    if (!this.processed) return 'processing';
    return this.absent ? 'absent' : 'completed';
  }

  toJson(accountSid: string, opts: { stoppedNow?: boolean } = {}): Record<string, unknown> {
    const done = this.status === 'stopped' && this.processed;
    return {
      account_sid: accountSid,
      api_version: '2010-04-01',
      call_sid: this.callSid,
      conference_sid: null,
      channels: this.opts.channels === 'dual' ? 2 : 1,
      date_created: rfc2822(this.dateCreated),
      date_updated: rfc2822(this.dateUpdated),
      start_time: rfc2822(this.dateCreated),
      duration: done ? String(this.durationSeconds()) : null,
      sid: this.sid,
      price: null,
      price_unit: 'USD',
      status: this.publicStatus(opts.stoppedNow),
      source: this.opts.source,
      error_code: done && this.absent ? RECORDING_TOO_SHORT : null,
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

  get length(): number {
    return this.len;
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

/** two μ-law tracks summed sample by sample from their common start (clipped), as one channel */
function mix(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  if (b.length === 0) return a;
  const out = new Uint8Array(Math.max(a.length, b.length));
  for (let i = 0; i < out.length; i++) {
    const v = (i < a.length ? MULAW_DECODE[a[i]] : 0) + (i < b.length ? MULAW_DECODE[b[i]] : 0);
    out[i] = encodeMulaw(Math.max(-32124, Math.min(32124, v)));
  }
  return out;
}
