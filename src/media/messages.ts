/**
 * Twilio Media Streams messages, parsed at the edge. Twilio sends `connected`, `start`, `media`,
 * `dtmf`, `mark` and `stop`; anything else, anything malformed, oversized or out of order is
 * dropped with a reason (counted by the caller as `frames_dropped{reason}`), never thrown: a bad
 * message must not end a stream.
 */
import { z } from 'zod';

/** 20 ms of 8 kHz μ-law: the only frame size Twilio sends or accepts */
export const FRAME_BYTES = 160;
export const FRAME_MS = 20;
/** a real media message is ~300 bytes and a `start` well under 4 KB (customParameters are small);
 * anything larger is dropped unread, before JSON.parse */
export const MAX_MESSAGE_BYTES = 16 * 1024;
/** base64 of exactly one 160-byte frame: 214 symbols and '==' */
const FRAME_BASE64 = /^[A-Za-z0-9+/]{214}==$/;

const seq = z.string().regex(/^\d{1,15}$/);

const connected = z.object({ event: z.literal('connected'), protocol: z.string().optional(), version: z.string().optional() });

const start = z.object({
  event: z.literal('start'),
  sequenceNumber: seq.optional(),
  streamSid: z.string().min(1).max(64),
  start: z.object({
    accountSid: z.string().max(64),
    streamSid: z.string().max(64),
    callSid: z.string().min(1).max(64),
    tracks: z.array(z.string()).max(4).optional(),
    customParameters: z.record(z.string().max(256), z.string().max(1024)).default({}),
    mediaFormat: z.object({ encoding: z.string(), sampleRate: z.number(), channels: z.number() }).partial().optional(),
  }),
});

const media = z.object({
  event: z.literal('media'),
  sequenceNumber: seq.optional(),
  streamSid: z.string().min(1).max(64),
  media: z.object({
    track: z.string().max(32).optional(),
    chunk: z.string().max(16).optional(),
    timestamp: z.string().max(16).optional(),
    payload: z.string(),
  }),
});

const dtmf = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: seq.optional(),
  streamSid: z.string().min(1).max(64),
  dtmf: z.object({ track: z.literal('inbound_track'), digit: z.string().regex(/^[0-9*#A-D]$/) }),
});

const mark = z.object({
  event: z.literal('mark'),
  sequenceNumber: seq.optional(),
  streamSid: z.string().min(1).max(64),
  mark: z.object({ name: z.string().max(256) }),
});

const stop = z.object({
  event: z.literal('stop'),
  sequenceNumber: seq.optional(),
  streamSid: z.string().min(1).max(64),
  stop: z.object({ accountSid: z.string().max(64).optional(), callSid: z.string().max(64).optional() }).optional(),
});

export const twilioMessage = z.discriminatedUnion('event', [connected, start, media, dtmf, mark, stop]);
export type TwilioMessage = z.infer<typeof twilioMessage>;
export type StartMessage = z.infer<typeof start>;
export type MediaMessage = z.infer<typeof media>;

const KNOWN_EVENTS = new Set(['connected', 'start', 'media', 'dtmf', 'mark', 'stop']);

export type DropReason = 'oversized' | 'binary' | 'json' | 'unknown-event' | 'schema' | 'base64' | 'frame-size' | 'sequence';

export type Parsed = { ok: true; msg: TwilioMessage } | { ok: false; reason: DropReason };

/** text of one WebSocket message → a typed Twilio message, or why it was dropped */
export function parseTwilioMessage(text: string): Parsed {
  if (text.length > MAX_MESSAGE_BYTES) return { ok: false, reason: 'oversized' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'json' };
  }
  const event = json !== null && typeof json === 'object' ? (json as { event?: unknown }).event : undefined;
  if (typeof event !== 'string' || !KNOWN_EVENTS.has(event)) return { ok: false, reason: 'unknown-event' };
  if (event === 'media') {
    // the hot path (50 a second per leg): a shape check equal to the zod schema, which would
    // cost more than the rest of the relay; anything unusual falls through to zod
    const fast = mediaFastPath(json as Record<string, unknown>);
    if (fast) return fast;
  }
  const parsed = twilioMessage.safeParse(json);
  if (!parsed.success) return { ok: false, reason: 'schema' };
  if (parsed.data.event === 'media') {
    const why = checkFramePayload(parsed.data.media.payload);
    if (why) return { ok: false, reason: why };
  }
  return { ok: true, msg: parsed.data };
}

const SEQ = /^\d{1,15}$/;
const isShortString = (v: unknown, max: number) => typeof v === 'string' && v.length <= max;

/** a well-formed media message as Twilio sends it, typed without zod; null when anything differs */
function mediaFastPath(j: Record<string, unknown>): Parsed | null {
  const m = j.media as Record<string, unknown> | undefined;
  if (m === null || typeof m !== 'object' || Array.isArray(m)) return null;
  const sid = j.streamSid;
  if (typeof sid !== 'string' || sid.length < 1 || sid.length > 64) return null;
  if (j.sequenceNumber !== undefined && !(typeof j.sequenceNumber === 'string' && SEQ.test(j.sequenceNumber))) return null;
  if (typeof m.payload !== 'string') return null;
  if (m.track !== undefined && !isShortString(m.track, 32)) return null;
  if (m.chunk !== undefined && !isShortString(m.chunk, 16)) return null;
  if (m.timestamp !== undefined && !isShortString(m.timestamp, 16)) return null;
  const why = checkFramePayload(m.payload);
  if (why) return { ok: false, reason: why };
  const media = { payload: m.payload } as MediaMessage['media'];
  if (m.track !== undefined) media.track = m.track as string;
  if (m.chunk !== undefined) media.chunk = m.chunk as string;
  if (m.timestamp !== undefined) media.timestamp = m.timestamp as string;
  const msg: MediaMessage = { event: 'media', streamSid: sid, media };
  if (j.sequenceNumber !== undefined) msg.sequenceNumber = j.sequenceNumber as string;
  return { ok: true, msg };
}

/** null when `payload` is the base64 of exactly one 160-byte frame */
export function checkFramePayload(payload: string): 'base64' | 'frame-size' | null {
  if (FRAME_BASE64.test(payload)) return null;
  if (payload.length === 0 || payload.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return 'base64';
  return 'frame-size';
}

/**
 * Twilio numbers every message after `connected` from 1. A message whose number is not above the
 * last one seen is late (or replayed) and is dropped; gaps (lost frames) are allowed.
 */
export class SequenceGuard {
  private last = 0;
  accept(sequenceNumber: string | undefined): boolean {
    if (sequenceNumber === undefined) return true;
    const n = Number(sequenceNumber);
    if (n <= this.last) return false;
    this.last = n;
    return true;
  }
}
