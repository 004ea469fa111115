import { abortableSleep, deliverWebhook, type EmulatorContext } from './context';
import { newSid, rfc2822 } from './ids';
import { concat, type MediaLeg } from './media-client';
import { keyTone } from './keypad';
import {
  Recording,
  RECORDING_PROCESSING_MS,
  RECORDING_TOO_SHORT,
  type PauseBehavior,
  type RecordingOptions,
  type RecordingStatus,
  type Track,
} from './recording';
import type { RecordingState } from './timeline';
import type { TranscriptEntry } from './twiml';

export type HeardEntry = Extract<TranscriptEntry, { verb: 'Say' | 'Play' }>;

export interface GatherRequest {
  action: string;
  numDigits?: number;
  finishOnKey?: string;
  timeout?: number;
  /** the Say texts inside the Gather */
  prompt: string[];
  /** what the caller heard inside the Gather, in order: each <Say> with its language and voice, each <Play> URL */
  heard: HeardEntry[];
  /** 0-based count of Gathers this call has reached */
  index: number;
}

export interface CallHandlers {
  /**
   * answers each <Gather> that says or plays something: the keys pressed (a trailing '#' included
   * if pressed), or null for no input. A ',' is a pause longer than the Gather's timeout: it ends
   * there, and the keys after it are pressed after its end (as keys past numDigits or '#' are).
   */
  onGather?: (g: GatherRequest) => string | null | Promise<string | null>;
  /** called with each live media leg the call opens */
  onStream?: (leg: MediaLeg) => void | Promise<void>;
}

export interface EmulatedCall {
  sid: string;
  from: string;
  to: string;
  direction: 'inbound' | 'outbound-api';
  status: string;
  transcript: TranscriptEntry[];
  gathers: { digits: string; recordingStatus: string }[];
  /** everything every recording of this call holds, each mixed to one channel, one after another */
  readonly recordingAudio: Uint8Array;
  readonly recordingStatus: RecordingState;
  /** the latest <Connect><Stream> leg */
  leg?: MediaLeg;
  /** every stream the call opened (<Connect> and <Start>), in order */
  readonly legs: readonly MediaLeg[];
  /** resolves with the first <Connect><Stream> leg */
  legReady: Promise<MediaLeg>;
  /** what the far end does at a Gather or a stream; tests may set these on outbound calls */
  handlers: CallHandlers;
  recordings: Recording[];
  /** resolves once the call ended and its status callback was delivered, then its recordings' final callbacks */
  ended: Promise<void>;
  /** the caller hangs up */
  hangup(): Promise<void>;
}

export type Next =
  | {
      kind: 'fetch';
      url: string;
      method: string;
      purpose: 'voice' | 'gather-action' | 'redirect' | 'dial-action' | 'connect-action' | 'enqueue-action';
      extra?: Record<string, string>;
    }
  | { kind: 'twiml'; twiml: string };

export interface StatusCallbackConfig {
  url: string;
  method: string;
  /** StatusCallbackEvent: initiated, ringing, answered, completed */
  events: string[];
}

export interface CallInit {
  from: string;
  to: string;
  direction: 'inbound' | 'outbound-api';
  statusCallback?: StatusCallbackConfig;
  handlers?: CallHandlers;
}

/** how long a key that arrived as an event sounds in a recording: a typical key press */
const DTMF_EVENT_TONE_MS = 100;

/**
 * The verbs during which a recording that runs has something to hold, though the emulator plays
 * no audio for them (Recording `hear`): a prompt, a <Pause>'s seconds, a queue's wait music.
 */
const SOUNDING_VERBS: ReadonlySet<TranscriptEntry['verb']> = new Set(['Say', 'Play', 'Pause', 'Enqueue']);

/** a Call resource's statuses (twilio-node CallStatus); `initiated` is only ever a status callback's */
const CALL_STATUSES = new Set(['queued', 'ringing', 'in-progress', 'completed', 'busy', 'failed', 'no-answer', 'canceled']);

/** ended statuses as Twilio reports them */
const FINAL_STATUSES = new Set(['completed', 'busy', 'no-answer', 'failed', 'canceled']);

/** One emulated call: its state, recording and callbacks. The call driver runs its TwiML. */
export class Call implements EmulatedCall {
  readonly sid = newSid('CA');
  readonly from: string;
  readonly to: string;
  readonly direction: 'inbound' | 'outbound-api';
  status = 'queued';
  transcript: TranscriptEntry[] = [];
  gathers: { digits: string; recordingStatus: string }[] = [];
  /** keys the caller presses past a Gather's end, each when it is pressed (epoch ms): a Gather that says nothing takes them */
  keysInFlight: { key: string; at: number }[] = [];
  leg?: MediaLeg;
  legReady: Promise<MediaLeg>;
  handlers: CallHandlers;
  recordings: Recording[] = [];
  /** recordings deleted over REST: their metadata only, as Twilio keeps it (soft-deleted) */
  deletedRecordings: Recording[] = [];
  /** every stream the call opened (Connect and Start) */
  legs: MediaLeg[] = [];
  ended: Promise<void>;
  readonly dateCreated = new Date();
  startTime?: Date;
  endTime?: Date;
  readonly statusCallback?: StatusCallbackConfig;

  private run = new AbortController();
  private pendingRedirect: Next | null = null;
  private finishing = false;
  private resolveEnded!: () => void;
  private resolveLeg!: (leg: MediaLeg) => void;
  private callbackSequence = 0;
  /** the call waits in an <Enqueue>, its wait music playing, until it is redirected or ends */
  private waiting = false;
  /** stopped recordings being processed, each until its final callback was delivered */
  private readonly processing = new Set<Promise<void>>();
  /** ended by the emulator's shutdown: no callbacks */
  private silent = false;

  constructor(
    private readonly ctx: EmulatorContext,
    init: CallInit,
  ) {
    this.from = init.from;
    this.to = init.to;
    this.direction = init.direction;
    this.statusCallback = init.statusCallback;
    this.handlers = { ...init.handlers };
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
    this.legReady = new Promise((resolve) => {
      this.resolveLeg = resolve;
    });
  }

  get finished(): boolean {
    return this.finishing;
  }

  get recordingAudio(): Uint8Array {
    return concat(this.recordings.map((r) => r.mixed));
  }

  get currentRecording(): Recording | undefined {
    for (let i = this.recordings.length - 1; i >= 0; i--) {
      if (this.recordings[i].active) return this.recordings[i];
    }
    return undefined;
  }

  get recordingStatus(): RecordingState {
    const last = this.currentRecording ?? this.recordings[this.recordings.length - 1];
    return last?.status ?? 'none';
  }

  /**
   * Twilio's "answered" state, the only one in which it takes real-time operations (a
   * recording, a redirect): an inbound call is `ringing` while its first webhook is answered,
   * and Twilio refuses them then with error 21220.
   */
  get live(): boolean {
    return !this.finishing && this.status === 'in-progress';
  }

  setStatus(status: string): void {
    if (!CALL_STATUSES.has(status)) throw new Error(`not a Call status: ${status}`);
    this.status = status;
    if (status === 'in-progress' && !this.startTime) this.startTime = new Date();
    this.ctx.timeline.add({ type: 'call-status', callSid: this.sid, status });
  }

  record(entry: TranscriptEntry): void {
    this.transcript.push(entry);
    this.ctx.timeline.add({ type: 'twiml-verb', callSid: this.sid, entry });
    if (SOUNDING_VERBS.has(entry.verb)) for (const rec of this.recordings) rec.hear();
    this.waiting = entry.verb === 'Enqueue';
  }

  /** the parameters Twilio sends with every webhook about this call */
  webhookParams(): Record<string, string> {
    const params: Record<string, string> = {
      AccountSid: this.ctx.accountSid,
      ApiVersion: '2010-04-01',
      CallSid: this.sid,
      CallStatus: this.status,
      Direction: this.direction,
      From: this.from,
      To: this.to,
      Caller: this.from,
      Called: this.to,
    };
    for (const [prefix, number] of [
      ['From', this.from],
      ['Caller', this.from],
      ['To', this.to],
      ['Called', this.to],
    ] as const) {
      params[`${prefix}Country`] = countryOf(number);
      params[`${prefix}State`] = '';
      params[`${prefix}City`] = '';
      params[`${prefix}Zip`] = '';
    }
    return params;
  }

  // ---- TwiML run control (used by the call driver and the REST "modify call") ----

  /** starts a new TwiML run; the signal aborts on redirect or hangup */
  beginRun(): AbortSignal {
    this.run = new AbortController();
    return this.run.signal;
  }

  /** Twilio's "modify call" with new TwiML or Url: the current verb stops at once */
  redirect(next: Next): void {
    this.pendingRedirect = next;
    this.run.abort();
  }

  takeRedirect(): Next | null {
    const next = this.pendingRedirect;
    this.pendingRedirect = null;
    return next;
  }

  /** a Gather answer: the digits stay on the call, the timeline only counts them */
  recordGather(digits: string, action: string): void {
    const recordingStatus = this.recordingStatus;
    this.gathers.push({ digits, recordingStatus });
    this.ctx.timeline.add({
      type: 'gather',
      callSid: this.sid,
      digits: `${digits.length} digits`,
      recordingStatus,
      action,
    });
  }

  addLeg(leg: MediaLeg, kind: 'connect' | 'start'): void {
    this.legs.push(leg);
    if (kind === 'connect') {
      this.leg = leg;
      this.resolveLeg(leg);
    }
  }

  // ---- recording ----

  startRecording(opts: RecordingOptions): Recording {
    const rec = new Recording(this.sid, opts);
    this.recordings.push(rec);
    if (this.waiting) rec.hear();
    this.ctx.timeline.add({ type: 'recording', callSid: this.sid, recordingSid: rec.sid, status: 'in-progress' });
    void this.postRecordingCallback(rec, 'in-progress');
    return rec;
  }

  /**
   * Pauses, resumes or stops a recording. A stopped one is processed (RECORDING_PROCESSING_MS)
   * once `processAfter` settled, then is `completed` or `absent` and its callback is sent: the
   * promise resolves when it was delivered.
   */
  updateRecording(rec: Recording, status: RecordingStatus, pauseBehavior?: PauseBehavior, processAfter: Promise<unknown> = Promise.resolve()): Promise<void> {
    if (rec.status === status) return Promise.resolve();
    // in a queue, its wait music reached the recording until now, and does from now if it runs on
    if (this.waiting) rec.hear();
    rec.setStatus(status, pauseBehavior);
    if (this.waiting) rec.hear();
    this.ctx.timeline.add({ type: 'recording', callSid: this.sid, recordingSid: rec.sid, status });
    // Twilio's events are in-progress (once, at start), completed and absent: a pause or a resume sends none
    if (status !== 'stopped') return Promise.resolve();
    const done = processAfter.then(() => this.processRecording(rec));
    this.processing.add(done);
    void done.then(() => this.processing.delete(done));
    return done;
  }

  /**
   * A recording deleted over REST (account-recordings.ts): gone from the call's recordings and their
   * audio, as Twilio keeps no file of it; a GET of it, or a second delete, is Twilio's 404, and a GET
   * with IncludeSoftDeleted=true shows it `deleted` (`deletedRecordings`; the timeline has the DELETE
   * as a `rest` entry)
   */
  deleteRecording(rec: Recording): void {
    this.recordings = this.recordings.filter((r) => r !== rec);
    rec.deletedAt = new Date();
    this.deletedRecordings.push(rec);
  }

  /** Twilio's processing of a stopped recording: `processing`, then `completed` or `absent`, and only then the callback */
  private async processRecording(rec: Recording): Promise<void> {
    const ran = await abortableSleep(this.ctx.faults.recordingProcessingMs ?? RECORDING_PROCESSING_MS, this.ctx.closing);
    rec.processed = true;
    if (!ran || this.silent) return;
    await this.postRecordingCallback(rec, rec.absent ? 'absent' : 'completed');
  }

  /**
   * Audio on one of the call's tracks: inbound is the party's own (their voice and keys, as
   * their stream carries it), outbound what Twilio plays to them (a stream's audio from the
   * service). Every active recording of the call hears it.
   */
  captureAudio(track: Track, bytes: Uint8Array): void {
    for (const rec of this.recordings) if (rec.active) rec.capture(track, bytes);
  }

  /**
   * A key the party pressed that reached Twilio out of band (RFC 4733): the stream carries a
   * `dtmf` event, and Twilio's recording holds the key as the tone it stands for (the
   * emulator takes the stricter view, so a test cannot pass because an event went unrecorded).
   */
  captureKey(digit: string): void {
    this.captureAudio('inbound', keyTone(digit, DTMF_EVENT_TONE_MS));
  }

  private async postRecordingCallback(rec: Recording, event: string): Promise<void> {
    const url = rec.opts.statusCallback;
    if (!url || !rec.opts.statusCallbackEvents.includes(event)) return;
    const params: Record<string, string> = {
      AccountSid: this.ctx.accountSid,
      CallSid: this.sid,
      RecordingSid: rec.sid,
      RecordingUrl: `${this.ctx.baseUrl()}/2010-04-01/Accounts/${this.ctx.accountSid}/Recordings/${rec.sid}`,
      RecordingStatus: event,
      RecordingChannels: rec.opts.channels === 'dual' ? '2' : '1',
      RecordingStartTime: rfc2822(rec.dateCreated),
      RecordingSource: rec.opts.source,
      RecordingTrack: rec.opts.track,
    };
    if (event === 'completed') {
      params.RecordingDuration = String(rec.durationSeconds());
      params.ErrorCode = '0';
    }
    if (event === 'absent') {
      // no file: nothing to fetch at RecordingUrl, and Twilio's reason as the error
      params.RecordingDuration = '0';
      params.ErrorCode = String(RECORDING_TOO_SHORT);
    }
    await deliverWebhook(this.ctx, this.sid, 'recording-status-callback', url, rec.opts.statusCallbackMethod, params);
  }

  // ---- ending ----

  hangup(): Promise<void> {
    return this.finish('completed');
  }

  /**
   * Ends the call: stops its streams (`stop` then close), completes its recordings and
   * posts the status callback. `silent` skips the callbacks (emulator shutdown).
   */
  async finish(status: string, opts: { silent?: boolean } = {}): Promise<void> {
    if (this.finishing) return this.ended;
    if (!FINAL_STATUSES.has(status)) throw new Error(`not a final call status: ${status}`);
    this.finishing = true;
    this.silent = opts.silent === true;
    this.endTime = new Date();
    this.setStatus(status);
    this.run.abort();
    await Promise.all(this.legs.map((leg) => leg.stop()));
    // the call's recordings end with it; Twilio processes each after, so their final callbacks
    // come after the call's own `completed` status callback (RECORDING_PROCESSING_MS)
    const statusSent = this.silent ? Promise.resolve() : this.postStatus('completed');
    for (const rec of this.recordings.filter((r) => r.active)) void this.updateRecording(rec, 'stopped', undefined, statusSent);
    await statusSent;
    if (!this.silent) await Promise.all([...this.processing]);
    this.resolveEnded();
  }

  durationSeconds(): number {
    if (!this.startTime) return 0;
    return Math.round(((this.endTime ?? new Date()).getTime() - this.startTime.getTime()) / 1000);
  }

  /**
   * posts a call-progress status callback if the event is subscribed. `initiated` says so in its
   * CallStatus, though the Call resource is `queued` until it rings: `initiated` is a status
   * callback's word only, never a Call's status (queued, ringing, in-progress, completed, busy,
   * failed, no-answer, canceled)
   */
  async postStatus(event: 'initiated' | 'ringing' | 'answered' | 'completed'): Promise<void> {
    const cb = this.statusCallback;
    if (!cb || (event !== 'completed' && !cb.events.includes(event))) return;
    const late = this.ctx.faults.statusCallbackDelayMs;
    if (late) await abortableSleep(late, this.ctx.closing);
    const params: Record<string, string> = {
      ...this.webhookParams(),
      ...(event === 'initiated' ? { CallStatus: 'initiated' } : {}),
      CallbackSource: 'call-progress-events',
      SequenceNumber: String(this.callbackSequence++),
      Timestamp: rfc2822(new Date()),
    };
    if (event === 'completed') {
      params.CallDuration = String(this.durationSeconds());
      params.Duration = String(Math.ceil(this.durationSeconds() / 60));
    }
    await deliverWebhook(this.ctx, this.sid, 'status-callback', cb.url, cb.method, params);
  }

  toJson(): Record<string, unknown> {
    const acc = this.ctx.accountSid;
    const uri = `/2010-04-01/Accounts/${acc}/Calls/${this.sid}`;
    return {
      account_sid: acc,
      annotation: null,
      answered_by: null,
      api_version: '2010-04-01',
      caller_name: null,
      date_created: rfc2822(this.dateCreated),
      date_updated: rfc2822(new Date()),
      direction: this.direction,
      duration: this.endTime ? String(this.durationSeconds()) : null,
      end_time: this.endTime ? rfc2822(this.endTime) : null,
      forwarded_from: null,
      from: this.from,
      from_formatted: this.from,
      group_sid: null,
      parent_call_sid: null,
      phone_number_sid: null,
      price: null,
      price_unit: 'USD',
      queue_time: '0',
      sid: this.sid,
      start_time: this.startTime ? rfc2822(this.startTime) : null,
      status: this.status,
      subresource_uris: {
        recordings: `${uri}/Recordings.json`,
        notifications: `${uri}/Notifications.json`,
        events: `${uri}/Events.json`,
        streams: `${uri}/Streams.json`,
      },
      to: this.to,
      to_formatted: this.to,
      trunk_sid: null,
      uri: `${uri}.json`,
    };
  }
}

function countryOf(number: string): string {
  if (number.startsWith('+1')) return 'US';
  if (number.startsWith('+44')) return 'GB';
  return '';
}
