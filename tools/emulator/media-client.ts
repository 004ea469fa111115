import { performance } from 'node:perf_hooks';
import twilio from 'twilio';
import WebSocket from 'ws';
import { z } from 'zod';
import { newSid } from './ids';

/** Twilio Media Streams carry 20 ms of 8 kHz μ-law per media message: 160 bytes. */
export const FRAME_BYTES = 160;
export const FRAME_MS = 20;
const MULAW_BYTES_PER_MS = 8;
/** μ-law silence (0xFF encodes a zero sample); pads the last frame of sendAudio. */
export const MULAW_SILENCE = 0xff;
/** how long `stop()` waits for the service's close frame before dropping the socket */
const CLOSE_GRACE_MS = 2_000;
/** how many frames the non-realtime sender sends before yielding to the event loop */
const FRAMES_PER_YIELD = 8;
/**
 * A late cadence tick (a busy event loop) sends the frames it missed, up to this many at once,
 * as Twilio's own backlog would arrive; beyond it the cadence starts afresh from now.
 */
const MAX_CATCHUP_FRAMES = 5;
/** one frame of silence, shared by every leg's cadence (never written to) */
const SILENCE_FRAME = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);

export interface MediaLeg {
  callSid: string;
  streamSid: string;
  url: string;
  parameters: Record<string, string>;
  /** resolves once `start` was sent */
  opened: Promise<void>;
  sendAudio(mulaw: Uint8Array, opts?: { realtime?: boolean }): Promise<void>;
  sendFrame(payload160: Uint8Array): void;
  sendDtmf(digit: string): void;
  sendRaw(text: string | Buffer): void;
  /** μ-law the service sent to this leg, concatenated */
  readonly received: Uint8Array;
  readonly receivedFrames: number;
  /** names of the marks echoed back to the service, in order */
  marks: string[];
  /** the service's `clear` messages */
  clears: number;
  /** `received.length` when each `clear` came: where in what this leg heard the service cleared it */
  readonly clearedAt: readonly number[];
  /** μ-law bytes this leg put on the wire in `media` messages, audio and cadence silence alike (160 a message) */
  readonly sentBytes: number;
  /**
   * invalid messages from the service, one reason each: what Twilio reports as error 31924
   * (Stream - WebSocket - Protocol Error) and drops, the stream going on
   */
  errors: string[];
  closed: Promise<{ code: number; reason: string }>;
  /** who closed the socket first, once closed */
  readonly closedBy: 'emulator' | 'service' | undefined;
  readonly isOpen: boolean;
  stop(): Promise<void>;
  /**
   * The connection cut off (a network failure between Twilio and the service, an instance gone):
   * no `stop`, no close handshake. The call goes on as Twilio's would: its <Connect> ends.
   */
  drop(): Promise<void>;
  /**
   * The connection no longer read on this side (an edge wedged, a network that stopped
   * delivering): what the service sends, its close frame included, waits unanswered. Returns the
   * resume, after which what waited is read.
   */
  stall(): () => void;
}

export interface ConnectStreamOptions {
  accountSid: string;
  authToken: string;
  callSid?: string;
  streamSid?: string;
  parameters?: Record<string, string>;
  tracks?: string[];
  /**
   * A <Connect><Stream> is bidirectional, a <Start><Stream> is not (default true, as a bare
   * connectStream is the bridge's kind). On a unidirectional stream the service "can't send audio
   * back to Twilio" and "DTMF is not yet supported" (Media Streams overview, Unidirectional Media
   * Streams); only bidirectional streams take messages from the server and send `mark` (Media
   * Streams - WebSocket Messages). So such a leg plays nothing the service sends, echoes no mark,
   * and sends no `dtmf` event; what the service sends is dropped as a message Twilio cannot take.
   */
  bidirectional?: boolean;
  /** override the handshake signature; null omits the header */
  signature?: string | null;
  /** where the signed URL is connected to: itself, or the local origin behind its proxy (origins.ts) */
  reach?: (url: string) => string;
  /**
   * Twilio's cadence: a `media` message every 20 ms for the life of the stream, silence when the
   * party says nothing. When on, a leg that sent nothing for a frame's time sends silence frames,
   * in real time, until audio is sent again (audio a test sends goes out at its own pace). The
   * emulator's calls turn it on unless started with `mediaCadence: false`; a bare connectStream
   * leaves it off.
   */
  cadence?: boolean;
  /** every frame the caller sends, after it went on the wire (recording capture) */
  onCallerFrame?: (frame: Uint8Array) => void;
  /** every media payload the service sent (recording capture of a bridged call) */
  onServiceAudio?: (bytes: Uint8Array) => void;
  /** every key the caller pressed that went out as a `dtmf` event (recording capture) */
  onDtmf?: (digit: string) => void;
  onClose?: (info: { code: number; reason: string; by: 'emulator' | 'service' }) => void;
  /** each invalid message the service sent (Twilio's error 31924), with its reason; the stream goes on */
  onError?: (reason: string) => void;
}

/** The handshake was answered with an HTTP status instead of an upgrade. */
export class StreamRefusedError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
  ) {
    super(`stream handshake refused with HTTP ${status}`);
    this.name = 'StreamRefusedError';
  }
}

const serviceMessage = z.discriminatedUnion('event', [
  z.object({
    event: z.literal('media'),
    streamSid: z.string(),
    media: z.object({ payload: z.string() }),
  }),
  z.object({ event: z.literal('mark'), streamSid: z.string(), mark: z.object({ name: z.string() }) }),
  z.object({ event: z.literal('clear'), streamSid: z.string() }),
]);

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DTMF_DIGIT = /^[0-9*#A-D]$/;

class Leg implements MediaLeg {
  readonly callSid: string;
  readonly streamSid: string;
  readonly parameters: Record<string, string>;
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string }>;
  marks: string[] = [];
  clears = 0;
  readonly clearedAt: number[] = [];
  errors: string[] = [];
  private sent = 0;
  private receivedChunks: Uint8Array[] = [];
  private receivedCache: Uint8Array | null = null;
  private frameCount = 0;
  private sequence = 0;
  private chunk = 0;
  private sendQueue: Promise<void> = Promise.resolve();
  private playoutEndMs = 0;
  private pendingMarks: { name: string; timer: NodeJS.Timeout }[] = [];
  private closer: 'emulator' | 'service' | undefined;
  private stopSent = false;
  /** sendAudio calls under way: the cadence sends no silence into the middle of their audio */
  private sending = 0;
  /** when the cadence's next silence frame is due (performance.now() ms), unless audio is sent first */
  private nextSilenceMs = 0;
  private cadenceTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly ws: WebSocket,
    readonly url: string,
    private readonly opts: ConnectStreamOptions,
  ) {
    this.callSid = opts.callSid ?? newSid('CA');
    this.streamSid = opts.streamSid ?? newSid('MZ');
    this.parameters = { ...opts.parameters };
    // Legs exist only once the socket is open; `start` goes out right after construction.
    this.opened = Promise.resolve();
    this.closed = new Promise((resolve) => {
      ws.on('close', (code, reason) => {
        this.closer ??= 'service';
        this.stopCadence();
        for (const m of this.pendingMarks) clearTimeout(m.timer);
        this.pendingMarks = [];
        const info = { code, reason: reason.toString() };
        opts.onClose?.({ ...info, by: this.closer });
        resolve(info);
      });
    });
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
  }

  get received(): Uint8Array {
    this.receivedCache ??= concat(this.receivedChunks);
    return this.receivedCache;
  }

  get receivedFrames(): number {
    return this.frameCount;
  }

  get sentBytes(): number {
    return this.sent;
  }

  get closedBy(): 'emulator' | 'service' | undefined {
    return this.closer;
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  sendStartMessages(): void {
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    this.sendJson({
      event: 'start',
      sequenceNumber: this.nextSequence(),
      start: {
        accountSid: this.opts.accountSid,
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: this.opts.tracks ?? ['inbound'],
        mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
        customParameters: this.parameters,
      },
      streamSid: this.streamSid,
    });
    if (this.opts.cadence) this.startCadence();
  }

  sendFrame(payload: Uint8Array): void {
    if (!this.isOpen || this.stopSent) return;
    this.nextSilenceMs = performance.now() + FRAME_MS;
    this.writeMedia(payload);
  }

  /** one `media` message: chunk and timestamp count on across audio and silence alike */
  private writeMedia(payload: Uint8Array): void {
    this.chunk += 1;
    this.sent += payload.length;
    this.sendJson({
      event: 'media',
      sequenceNumber: this.nextSequence(),
      media: {
        track: 'inbound',
        chunk: String(this.chunk),
        timestamp: String((this.chunk - 1) * FRAME_MS),
        payload: Buffer.from(payload).toString('base64'),
      },
      streamSid: this.streamSid,
    });
    this.opts.onCallerFrame?.(payload);
  }

  sendAudio(mulaw: Uint8Array, opts: { realtime?: boolean } = {}): Promise<void> {
    this.sending += 1;
    const run = this.sendQueue
      .then(() => this.sendFrames(mulaw, opts.realtime ?? false))
      .finally(() => {
        this.sending -= 1;
        this.nextSilenceMs = performance.now() + FRAME_MS;
      });
    this.sendQueue = run.catch(() => undefined);
    return run;
  }

  /** one timer per leg, ticking every frame; it sends silence only when no audio went out for a frame's time */
  private startCadence(): void {
    this.nextSilenceMs = performance.now() + FRAME_MS;
    this.cadenceTimer = setInterval(() => this.fillSilence(), FRAME_MS);
    this.cadenceTimer.unref();
  }

  private stopCadence(): void {
    if (this.cadenceTimer) clearInterval(this.cadenceTimer);
    this.cadenceTimer = undefined;
  }

  private fillSilence(): void {
    if (!this.isOpen || this.stopSent) return this.stopCadence();
    if (this.sending > 0) return;
    const now = performance.now();
    for (let n = 0; this.nextSilenceMs <= now; n++) {
      if (n === MAX_CATCHUP_FRAMES) {
        this.nextSilenceMs = now + FRAME_MS;
        break;
      }
      this.writeMedia(SILENCE_FRAME);
      this.nextSilenceMs += FRAME_MS;
    }
  }

  private async sendFrames(mulaw: Uint8Array, realtime: boolean): Promise<void> {
    const frames = Math.ceil(mulaw.length / FRAME_BYTES);
    const startMs = performance.now();
    for (let i = 0; i < frames; i++) {
      if (!this.isOpen || this.stopSent) return;
      const frame = new Uint8Array(FRAME_BYTES).fill(MULAW_SILENCE);
      frame.set(mulaw.subarray(i * FRAME_BYTES, (i + 1) * FRAME_BYTES));
      if (realtime) {
        // Absolute schedule so timer jitter does not accumulate into drift.
        const due = startMs + i * FRAME_MS - performance.now();
        if (due > 0) await sleep(due);
      } else if (i > 0 && i % FRAMES_PER_YIELD === 0) {
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.sendFrame(frame);
    }
  }

  sendDtmf(digit: string): void {
    if (!DTMF_DIGIT.test(digit)) throw new RangeError(`not a DTMF digit: ${digit}`);
    if (!this.isOpen || this.stopSent) return;
    if (this.opts.bidirectional === false) {
      // the key still sounds on the call (its recording holds it); a unidirectional stream carries no dtmf event
      this.opts.onDtmf?.(digit);
      return;
    }
    this.sendJson({
      event: 'dtmf',
      streamSid: this.streamSid,
      sequenceNumber: this.nextSequence(),
      dtmf: { track: 'inbound_track', digit },
    });
    this.opts.onDtmf?.(digit);
  }

  sendRaw(text: string | Buffer): void {
    if (this.isOpen) this.ws.send(text);
  }

  async stop(): Promise<void> {
    this.stopCadence();
    if (this.isOpen && !this.stopSent) {
      this.stopSent = true;
      this.sendJson({
        event: 'stop',
        sequenceNumber: this.nextSequence(),
        streamSid: this.streamSid,
        stop: { accountSid: this.opts.accountSid, callSid: this.callSid },
      });
      this.closer ??= 'emulator';
      this.ws.close(1000, 'stop');
      // A service that never answers the close handshake must not hold the call open.
      setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS).unref();
    } else if (this.ws.readyState === WebSocket.CONNECTING) {
      this.closer ??= 'emulator';
      this.ws.terminate();
    }
    if (this.ws.readyState !== WebSocket.CLOSED) await this.closed;
  }

  stall(): () => void {
    // ws reads its socket as data comes; a paused socket reads nothing more, so no close is answered
    const socket = (this.ws as unknown as { _socket?: { pause(): void; resume(): void } })._socket;
    socket?.pause();
    return () => socket?.resume();
  }

  async drop(): Promise<void> {
    this.stopCadence();
    this.closer ??= 'emulator';
    this.ws.terminate();
    await this.closed;
  }

  private fail(reason: string): void {
    this.errors.push(reason);
    this.opts.onError?.(reason);
  }

  private onMessage(data: WebSocket.RawData, isBinary: boolean): void {
    if (this.opts.bidirectional === false) {
      // Twilio's docs say only that the server cannot send on a unidirectional stream, not how it
      // answers one that does: the emulator drops the message, and counts it as one it cannot take
      this.fail('message on a unidirectional stream');
      return;
    }
    if (isBinary) {
      this.fail('binary frame');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(rawToString(data));
    } catch {
      this.fail('not JSON');
      return;
    }
    const parsed = serviceMessage.safeParse(json);
    if (!parsed.success) {
      this.fail(`invalid message: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`.trim());
      return;
    }
    const msg = parsed.data;
    if (msg.streamSid !== this.streamSid) {
      this.fail(`${msg.event} for unknown streamSid`);
      return;
    }
    switch (msg.event) {
      case 'media':
        this.onMedia(msg.media.payload);
        break;
      case 'mark':
        this.onMark(msg.mark.name);
        break;
      case 'clear':
        this.onClear();
        break;
    }
  }

  private onMedia(payload: string): void {
    if (!payload || !BASE64.test(payload) || payload.length % 4 !== 0) {
      this.fail('media payload is not base64');
      return;
    }
    const bytes = new Uint8Array(Buffer.from(payload, 'base64'));
    this.receivedChunks.push(bytes);
    this.receivedCache = null;
    this.frameCount += 1;
    // Twilio plays the service's audio out in real time; marks come back when it has been played.
    const now = performance.now();
    this.playoutEndMs = Math.max(now, this.playoutEndMs) + bytes.length / MULAW_BYTES_PER_MS;
    this.opts.onServiceAudio?.(bytes);
  }

  private onMark(name: string): void {
    const delay = Math.max(0, this.playoutEndMs - performance.now());
    const entry = {
      name,
      timer: setTimeout(() => {
        this.pendingMarks = this.pendingMarks.filter((m) => m !== entry);
        this.echoMark(name);
      }, delay),
    };
    this.pendingMarks.push(entry);
  }

  /** Twilio drops the unplayed audio and returns every pending mark at once. */
  private onClear(): void {
    this.clears += 1;
    this.clearedAt.push(this.received.length);
    this.playoutEndMs = performance.now();
    const pending = this.pendingMarks;
    this.pendingMarks = [];
    for (const m of pending) {
      clearTimeout(m.timer);
      this.echoMark(m.name);
    }
  }

  private echoMark(name: string): void {
    if (!this.isOpen || this.stopSent) return;
    this.marks.push(name);
    this.sendJson({ event: 'mark', sequenceNumber: this.nextSequence(), streamSid: this.streamSid, mark: { name } });
  }

  private nextSequence(): string {
    this.sequence += 1;
    return String(this.sequence);
  }

  private sendJson(msg: unknown): void {
    this.ws.send(JSON.stringify(msg));
  }
}

/**
 * Opens a Media Streams WebSocket the way Twilio does (signed handshake, then `connected`
 * and `start`). Resolves once `start` is sent; rejects with StreamRefusedError when the
 * service answers the handshake with an HTTP status.
 */
export function connectStream(url: string, opts: ConnectStreamOptions): Promise<MediaLeg> {
  const signature = opts.signature === undefined ? twilio.getExpectedTwilioSignature(opts.authToken, url, {}) : opts.signature;
  const headers: Record<string, string> = {};
  if (signature !== null) headers['X-Twilio-Signature'] = signature;
  const ws = new WebSocket(opts.reach ? opts.reach(url) : url, { headers });

  return new Promise<MediaLeg>((resolve, reject) => {
    ws.once('unexpected-response', (req, res) => {
      res.resume();
      req.destroy();
      reject(new StreamRefusedError(res.statusCode ?? 0, url));
    });
    // Before 'open' an error means no stream (refused, unreachable); once settled it is moot.
    ws.on('error', (err) => reject(err));
    ws.once('open', () => {
      // The leg attaches its listeners here, so a refused handshake never looks like a stream.
      const leg = new Leg(ws, url, opts);
      leg.sendStartMessages();
      resolve(leg);
    });
  });
}

function rawToString(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/** chunks of μ-law, one after another */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
