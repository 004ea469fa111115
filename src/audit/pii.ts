/**
 * The audit trail's PII guard. Audit entries are kept AUDIT_RETENTION_DAYS (400 by default),
 * long after every captured value and call record is gone (CONTRACT §7), so nothing in them may
 * identify a caller or carry a value. Card numbers, phone numbers, account numbers, dates of
 * birth and security codes of 4 digits are all runs of digits: an entry that holds a run of 4 or
 * more digits is refused, unless its key is known to carry an identifier the service made (a
 * Twilio sid, a capture id, a timestamp) or the whole value is a Twilio sid (or a list of them).
 * `actor`, the user who acted, holds only the form the trail mints (AuditTrail.actor): a role and
 * a keyed digest of the token's `sub`, never the `sub` itself (which may be an employee number).
 */
import { AuditErrors } from '../errors';

export { AuditErrors };

/** Keys whose values are identifiers or times the service or Twilio minted, never caller data. */
export const AUDIT_DIGIT_KEYS: ReadonlySet<string> = new Set([
  'at',
  'seq',
  'recordingSid',
  'twilioStatus',
  // the HTTP statuses Twilio answered an erasure's deletes of recordings with (privacy/service.ts), one per failed recording
  'recordingsFailedStatus',
  'captureId',
  'paymentId',
  'receiptId',
  'processor',
  'requestId',
  'instanceId',
  // operator-chosen names from config files, not caller data
  'flowId',
]);

/** Set by the trail itself; an entry passed to `append` may not carry them. */
export const AUDIT_RESERVED_KEYS: ReadonlySet<string> = new Set(['seq', 'at', 'kid', 'prev', 'hash']);

/** the only value `actor` may hold: `<role>:<16 hex digits of an HMAC of sub>` (AuditTrail.actor) */
export const AUDIT_ACTOR = /^(agent|supervisor|admin):[0-9a-f]{16}$/;

/** one Twilio sid, or several joined by commas (the recordings a drop-in capture pauses) */
const TWILIO_SIDS = /^(CA|RE|MZ|AC)[0-9a-f]{32}(,(CA|RE|MZ|AC)[0-9a-f]{32})*$/;
/** 4 digits is the shortest personal value a flow collects (a security code, a PIN, a year). */
const DIGIT_RUN = /[0-9]{4,}/;
/** Digits split by spaces or dashes ('555 123 45 67') are still a number: cap the total too. */
const MAX_DIGITS_TOTAL = 6;
/** An integer with this many digits could be a card, account or phone number. */
const MAX_SAFE_NUMBER = 1_000_000;
/** Times and durations are large numbers by nature: `startedAt`, `durationMs`. */
const TIME_KEY = /(At|Ms|Seconds)$/;
const KEY = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const MAX_STRING_CHARS = 512;

export type AuditValue = string | number | boolean | undefined;

/** Throws unless every member of `data` is safe to keep in the trail. */
export function assertNoPersonalData(data: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(data)) {
    if (!KEY.test(key) || DIGIT_RUN.test(key)) throw AuditErrors.invalid('a key must be a short name without digits runs');
    if (AUDIT_RESERVED_KEYS.has(key)) throw AuditErrors.invalid(`"${key}" is set by the trail`);
    if (value === undefined || typeof value === 'boolean') continue;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) throw AuditErrors.invalid(`"${key}" is not a finite number`);
      if (Math.abs(value) >= MAX_SAFE_NUMBER && !AUDIT_DIGIT_KEYS.has(key) && !TIME_KEY.test(key)) {
        throw AuditErrors.personalData(key);
      }
      continue;
    }
    if (typeof value !== 'string') throw AuditErrors.invalid(`"${key}" must be a string, number or boolean`);
    if (key === 'actor') {
      // a digest's hex holds digit runs by chance: its shape is what is checked, never a raw sub
      if (!AUDIT_ACTOR.test(value)) throw AuditErrors.invalid('"actor" must be made by AuditTrail.actor');
      continue;
    }
    if (value.length > MAX_STRING_CHARS) throw AuditErrors.invalid(`"${key}" is too long`);
    if (AUDIT_DIGIT_KEYS.has(key) || TWILIO_SIDS.test(value)) continue;
    const digits = value.replace(/[^0-9]/g, '').length;
    if (DIGIT_RUN.test(value) || digits > MAX_DIGITS_TOTAL) throw AuditErrors.personalData(key);
  }
}
