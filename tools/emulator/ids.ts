import { randomBytes } from 'node:crypto';

/** Twilio resource prefixes the emulator issues. */
export type SidPrefix = 'CA' | 'RE' | 'PN' | 'MZ';

/** A Twilio-shaped sid: two-letter prefix + 32 lower-case hex digits. */
export function newSid(prefix: SidPrefix): string {
  return prefix + randomBytes(16).toString('hex');
}

export const SID_PATTERN = {
  account: /^AC[0-9a-f]{32}$/i,
  call: /^CA[0-9a-f]{32}$/,
  recording: /^RE[0-9a-f]{32}$/,
  phoneNumber: /^PN[0-9a-f]{32}$/,
  stream: /^MZ[0-9a-f]{32}$/,
} as const;

/** Twilio's REST API writes dates as RFC 2822, e.g. `Tue, 31 Aug 2010 20:36:28 +0000`. */
export function rfc2822(date: Date): string {
  return date.toUTCString().replace('GMT', '+0000');
}

/** The idempotency token Twilio attaches to every webhook it sends. */
export function idempotencyToken(): string {
  return randomBytes(16).toString('hex');
}
