/**
 * When an action query was written, and whether it may still be taken: the part of a stretch's
 * `rp=` (recording/stretch-query.ts) and a drop-in capture's `dc=` (dropin/action-query.ts) that
 * tells a request's age. Twilio's signature holds no time, and the replay guard that would refuse
 * a resent request is in the store, which is down when these queries are read; a signed request
 * captured earlier in the call and sent again is told from its own late failure by its age alone.
 * Each rescue names its own bound (twilio/stretch-rescue.ts, twilio/dropin-rescue.ts), built from
 * the parts of one ask below.
 */
import { GATHER_TIMEOUT_MAX_SECONDS } from '../flows/schema';

/** a sensitive ask's words and prompt before its entry can begin: a minute of speech */
export const ASK_PROMPT_SECONDS = 60;
/** the caller's entry from first key to last: a 19-key card number at about 3 s a key */
export const ASK_ENTRY_SECONDS = 60;
/** Twilio's wait for the answer to a webhook (its documented 15 s default) */
export const TWILIO_WEBHOOK_TIMEOUT_SECONDS = 15;

/**
 * One sensitive ask, from its TwiML written to its action's request given up by Twilio (195 s):
 * the prompt, the entry, the Gather's timeout after the last key at the longest a flow may set
 * (GATHER_TIMEOUT_MAX_SECONDS; one Gather a document, so an attempt is an ask of its own) and
 * Twilio's wait for the answer.
 */
export const ASK_MAX_SECONDS = ASK_PROMPT_SECONDS + ASK_ENTRY_SECONDS + GATHER_TIMEOUT_MAX_SECONDS + TWILIO_WEBHOOK_TIMEOUT_SECONDS;

/**
 * How far ahead of this instance's clock a query's time may be (another instance wrote it, their
 * clocks apart by this much at most; NTP keeps them within milliseconds). Further ahead, its age
 * cannot be told: refused as well.
 */
export const QUERY_CLOCK_SKEW_SECONDS = 10;

/** seconds in base36, canonical (no leading zero), at most 8 characters: past the year 10,000 */
const ISSUED = /^[1-9a-z][0-9a-z]{0,7}$/;

/** a query's time part: the Unix time in seconds, base36 */
export function encodeIssued(at: Date): string {
  return Math.floor(at.getTime() / 1000).toString(36);
}

/** the Unix seconds a time part says, or undefined for one encodeIssued did not write */
export function decodeIssued(part: string): number | undefined {
  if (!ISSUED.test(part)) return undefined;
  const seconds = parseInt(part, 36);
  return Number.isSafeInteger(seconds) ? seconds : undefined;
}

/** why a query is not taken: older than its bound, or dated further ahead than the skew allows */
export interface StaleQuery {
  reason: 'expired' | 'ahead';
  ageSeconds: number;
}

/** whether a query written at `issuedAtSeconds` is past `maxAgeSeconds` at `now` (or ahead of it): undefined when it may be taken */
export function staleQuery(issuedAtSeconds: number, now: Date, maxAgeSeconds: number): StaleQuery | undefined {
  const ageSeconds = Math.floor(now.getTime() / 1000) - issuedAtSeconds;
  if (ageSeconds > maxAgeSeconds) return { reason: 'expired', ageSeconds };
  if (ageSeconds < -QUERY_CLOCK_SKEW_SECONDS) return { reason: 'ahead', ageSeconds };
  return undefined;
}
