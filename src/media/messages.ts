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
  const scanned = scanTwilioMedia(text);
  if (scanned) return { ok: true, msg: scanned };
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
  if (isCanonicalFrame(payload) || FRAME_BASE64.test(payload)) return null;
  if (payload.length === 0 || payload.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return 'base64';
  return 'frame-size';
}

/** scratch for isCanonicalFrame (synchronous use only) */
const scratch = Buffer.alloc(FRAME_BYTES + 3);

/**
 * true when `payload` is the canonical base64 of one frame, as Twilio sends it: decoding and
 * re-encoding gives it back. Natively that is ~3× cheaper than FRAME_BASE64 (a 216-symbol regex,
 * ~0.5 µs, the dearest check per frame); every canonical payload matches FRAME_BASE64, and
 * a payload that is not canonical is still tested against it, so what is accepted is unchanged.
 */
function isCanonicalFrame(payload: string): boolean {
  if (payload.length !== 216) return false;
  // decoding skips characters outside the alphabet: re-encoding and comparing catches them
  if (scratch.write(payload, 'base64') !== FRAME_BYTES) return false;
  return scratch.toString('base64', 0, FRAME_BYTES) === payload;
}

/**
 * The media message exactly as Twilio writes it (keys in Twilio's order, no whitespace, no escapes):
 *   {"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"3","timestamp":"40",
 *    "payload":"<216 base64>"},"streamSid":"MZ…"}
 * read without JSON.parse (~0.9 µs, the dearest step per frame after the DSP). Every field is held
 * to a character set in which JSON has no escapes, so what this accepts JSON.parse would read to
 * the same values, and those pass mediaFastPath; anything else (another order, other keys,
 * escapes, a bad value) returns null and takes the general path, which decides how to drop it.
 */
const MEDIA_HEAD = '{"event":"media","sequenceNumber":"';
const MEDIA_TRACK = '","media":{"track":"';
const MEDIA_CHUNK = '","chunk":"';
const MEDIA_TIMESTAMP = '","timestamp":"';
const MEDIA_PAYLOAD = '","payload":"';
const MEDIA_SID = '"},"streamSid":"';
const MEDIA_TAIL = '"}';

export function scanTwilioMedia(text: string): MediaMessage | null {
  if (!text.startsWith(MEDIA_HEAD)) return null;
  let at = MEDIA_HEAD.length;
  let end = text.indexOf('"', at);
  if (end < 0 || !isDigits(text, at, end, 15)) return null;
  const sequenceNumber = text.slice(at, end);
  if (!text.startsWith(MEDIA_TRACK, end)) return null;
  at = end + MEDIA_TRACK.length;
  end = text.indexOf('"', at);
  if (end < 0 || !isTrack(text, at, end)) return null;
  const track = text.slice(at, end);
  if (!text.startsWith(MEDIA_CHUNK, end)) return null;
  at = end + MEDIA_CHUNK.length;
  end = text.indexOf('"', at);
  if (end < 0 || !isDigits(text, at, end, 16)) return null;
  const chunk = text.slice(at, end);
  if (!text.startsWith(MEDIA_TIMESTAMP, end)) return null;
  at = end + MEDIA_TIMESTAMP.length;
  end = text.indexOf('"', at);
  if (end < 0 || !isDigits(text, at, end, 16)) return null;
  const timestamp = text.slice(at, end);
  if (!text.startsWith(MEDIA_PAYLOAD, end)) return null;
  at = end + MEDIA_PAYLOAD.length;
  end = at + 216;
  if (text.charCodeAt(end) !== 34 /* " */) return null;
  const payload = text.slice(at, end);
  if (!isCanonicalFrame(payload)) return null;
  if (!text.startsWith(MEDIA_SID, end)) return null;
  at = end + MEDIA_SID.length;
  end = text.length - MEDIA_TAIL.length;
  if (!text.endsWith(MEDIA_TAIL) || !isSid(text, at, end)) return null;
  const streamSid = text.slice(at, end);
  return { event: 'media', streamSid, media: { payload, track, chunk, timestamp }, sequenceNumber };
}

/** 1..max ASCII digits in text[from, to) */
function isDigits(text: string, from: number, to: number, max: number): boolean {
  if (to <= from || to - from > max) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/** 0..32 of [a-z_] in text[from, to) (Twilio's track names: inbound, outbound) */
function isTrack(text: string, from: number, to: number): boolean {
  if (to - from > 32) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || c === 95)) return false;
  }
  return true;
}

/** 1..64 of [A-Za-z0-9] in text[from, to) (a Twilio SID) */
function isSid(text: string, from: number, to: number): boolean {
  if (to <= from || to - from > 64) return false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122))) return false;
  }
  return true;
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
