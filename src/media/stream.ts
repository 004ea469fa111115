/**
 * One Media Streams WebSocket: parses what Twilio sends (dropping and counting what it must not
 * act on), enforces the idle timeout, and sends `media`, `mark` and `clear` once `start` gave the
 * streamSid. It knows nothing of bridges: it hands typed messages to its listener.
 */
import type WebSocket from 'ws';
import { errFields, type Logger } from '../log';
import type { Metrics } from '../metrics';
import { parseTwilioMessage, SequenceGuard, type DropReason, type MediaMessage, type StartMessage } from './messages';

export type Leg = 'caller' | 'agent';

/** Twilio sends a frame every 20 ms for the whole call; a minute of nothing means it is gone */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** a peer this far behind (~25 s of audio) is not reading: drop rather than queue without bound */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** frames are counted locally and added to the Prometheus counters once a second of audio per
 * stream (and at close): a labelled inc() hashes its labels, even on a cached child */
const FRAME_COUNT_FLUSH = 50;
const MEDIA_TAIL = Buffer.from('"}}');
/** sent as text frames, as Twilio requires, though handed to ws as bytes */
const TEXT = { binary: false } as const;

export interface StreamListener {
  onStart(msg: StartMessage): void;
  onMedia(msg: MediaMessage): void;
  onDtmf(digit: string): void;
  onStop(): void;
  /** the socket closed, for whatever reason (after onStop when Twilio sent `stop`) */
  onClose(code: number): void;
}

export class MediaStream {
  streamSid: string | null = null;
  private readonly seq = new SequenceGuard();
  private idleTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private stopped = false;
  private listener: StreamListener | null = null;
  private readonly pending: WebSocket.RawData[] = [];
  private readonly framesIn: { inc(n: number): void };
  private readonly framesOut: { inc(n: number): void };
  private framesInPending = 0;
  private framesOutPending = 0;
  /** `{"event":"media","streamSid":"…","media":{"payload":"`, made once `start` gave the streamSid */
  private mediaHead: Buffer | null = null;

  constructor(
    private readonly ws: WebSocket,
    readonly leg: Leg,
    private readonly metrics: Metrics,
    readonly log: Logger,
    private readonly idleTimeoutMs = DEFAULT_IDLE_TIMEOUT_MS,
  ) {
    metrics.streams.inc({ leg });
    metrics.streamsTotal.inc({ leg });
    this.framesIn = metrics.framesIn.labels({ leg });
    this.framesOut = metrics.framesOut.labels({ leg });
    ws.on('message', (data, isBinary) => {
      this.touch();
      if (isBinary) return this.drop('binary');
      if (this.listener) this.safeHandle(data);
      else if (this.pending.length < 64) this.pending.push(data);
      else this.drop('backlog');
    });
    ws.on('close', (code) => this.onSocketClose(code));
    ws.on('error', (err) => log.warn({ err: errFields(err) }, 'media socket error'));
    this.touch();
  }

  /** starts delivering messages (those that arrived before are delivered first, in order) */
  attach(listener: StreamListener): void {
    this.listener = listener;
    for (const data of this.pending.splice(0)) this.safeHandle(data);
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === 1;
  }

  /** sends one frame (base64 of 160 μ-law bytes); false when it could not go out */
  sendMedia(payload: string): boolean {
    if (!this.isOpen || this.streamSid === null) return false;
    if (this.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.drop('backpressure');
      return false;
    }
    // the message as bytes, built by copying: a template string is a rope that ws flattens and
    // the socket encodes again, which cost more than the bare relay's JSON.stringify. A new
    // buffer each time (from Node's pool): ws may queue it by reference until the socket drains.
    this.mediaHead ??= Buffer.from(`{"event":"media","streamSid":${JSON.stringify(this.streamSid)},"media":{"payload":"`);
    const head = this.mediaHead;
    const bytes = Buffer.byteLength(payload);
    const msg = Buffer.allocUnsafe(head.length + bytes + MEDIA_TAIL.length);
    head.copy(msg, 0);
    msg.write(payload, head.length);
    MEDIA_TAIL.copy(msg, head.length + bytes);
    this.ws.send(msg, TEXT);
    if (++this.framesOutPending === FRAME_COUNT_FLUSH) this.flushFrameCounts();
    return true;
  }

  /** Twilio discards the audio it buffered for this leg */
  sendClear(): void {
    if (!this.isOpen || this.streamSid === null) return;
    this.ws.send(JSON.stringify({ event: 'clear', streamSid: this.streamSid }));
  }

  sendMark(name: string): void {
    if (!this.isOpen || this.streamSid === null) return;
    this.ws.send(JSON.stringify({ event: 'mark', streamSid: this.streamSid, mark: { name } }));
  }

  /** closes the socket; nothing more is sent */
  close(code = 1000, reason = 'bridge ended'): void {
    if (this.closed) return;
    this.markClosed();
    try {
      this.ws.close(code, reason);
    } catch {
      this.ws.terminate();
    }
  }

  /** a failure handling one message drops that message; it never takes the process down */
  private safeHandle(data: WebSocket.RawData): void {
    try {
      this.handle(data);
    } catch (err) {
      this.drop('error');
      this.log.error({ leg: this.leg, err: errFields(err) }, 'media message handling failed');
    }
  }

  private handle(data: WebSocket.RawData): void {
    if (this.closed) return;
    const text = rawLength(data) > 16 * 1024 ? null : rawToString(data);
    if (text === null) return this.drop('oversized');
    const parsed = parseTwilioMessage(text);
    if (!parsed.ok) return this.drop(parsed.reason);
    const msg = parsed.msg;
    if (msg.event === 'connected') return;
    // a message that is not this stream's (a second start, another streamSid, anything before the
    // start) changes nothing: not what the bridge does, nor the sequence the next messages are held to
    if (msg.event === 'start' ? this.streamSid !== null : msg.streamSid !== this.streamSid) return this.drop(msg.event === 'start' ? 'schema' : 'stream-sid');
    if (!this.seq.accept(msg.sequenceNumber)) return this.drop('sequence');
    const listener = this.listener!;
    switch (msg.event) {
      case 'start':
        this.streamSid = msg.streamSid;
        listener.onStart(msg);
        return;
      case 'media':
        if (++this.framesInPending === FRAME_COUNT_FLUSH) this.flushFrameCounts();
        listener.onMedia(msg);
        return;
      case 'dtmf':
        listener.onDtmf(msg.dtmf.digit);
        return;
      case 'mark':
        return;
      case 'stop':
        if (this.stopped) return;
        this.stopped = true;
        listener.onStop();
        return;
    }
  }

  private drop(reason: DropReason | 'stream-sid' | 'backlog' | 'backpressure' | 'error'): void {
    this.metrics.framesDropped.inc({ reason });
  }

  private flushFrameCounts(): void {
    if (this.framesInPending > 0) this.framesIn.inc(this.framesInPending);
    if (this.framesOutPending > 0) this.framesOut.inc(this.framesOutPending);
    this.framesInPending = 0;
    this.framesOutPending = 0;
  }

  private touch(): void {
    if (this.closed) return;
    // refresh() keeps one timer per stream instead of allocating one per frame
    if (this.idleTimer) this.idleTimer.refresh();
    else
      this.idleTimer = setTimeout(() => {
        this.log.warn({ leg: this.leg }, 'media stream idle: closing');
        this.close(1000, 'idle');
        this.listener?.onClose(1000);
      }, this.idleTimeoutMs);
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.flushFrameCounts();
    this.metrics.streams.dec({ leg: this.leg });
  }

  private onSocketClose(code: number): void {
    const wasClosed = this.closed;
    this.markClosed();
    if (!wasClosed) this.listener?.onClose(code);
  }
}

function rawLength(data: WebSocket.RawData): number {
  if (Array.isArray(data)) return data.reduce((n, b) => n + b.length, 0);
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}
