/**
 * A data subject (a caller) is indexed by an HMAC of their E.164 number, never the number: the
 * store can find a caller's calls for access and erasure without holding who they are. The app
 * derives the key from SUBJECT_KEY (from AGENT_JWT_SECRET when that is unset) and passes it in.
 */
import { createHmac, type KeyObject } from 'node:crypto';

export const E164 = /^\+[1-9][0-9]{6,14}$/;

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/**
 * `secret`: the app's subject key (the bytes app.ts derives from SUBJECT_KEY or AGENT_JWT_SECRET),
 * best as a key object made once: an HMAC from one skips importing the key, a third of its cost
 */
export function subjectHash(secret: string | Buffer | KeyObject, e164: string): string {
  return createHmac('sha256', secret).update(e164, 'utf8').digest('hex');
}

/**
 * What Twilio puts in `From` when the caller withheld their number: the word the caller's
 * network gave instead (ANONYMOUS, RESTRICTED, BLOCKED, UNKNOWN, UNAVAILABLE) spelt on a phone
 * keypad behind a plus, as Programmable Voice has long passed them on, or (Twilio's changelog,
 * 16 Nov 2022: "withheld caller ID behavior for <Dial> calls") the word itself; or nothing.
 * Each keypad spelling is too short for its country code's numbering plan: no one's number.
 */
export const WITHHELD_CALLER_IDS: readonly string[] = Object.freeze(['+266696687', '+7378742833', '+2562533', '+8656696', '+86282452253']);
const WITHHELD_WORDS = new Set(['anonymous', 'restricted', 'blocked', 'unknown', 'unavailable']);

/**
 * A `From` that names no one: every caller who withholds their number sends the same one, so
 * a call from it is filed under no subject (it would link them all) and its number is not kept.
 */
export function isWithheldCallerId(from: string): boolean {
  const v = from.trim();
  return v === '' || WITHHELD_CALLER_IDS.includes(v) || WITHHELD_WORDS.has(v.toLowerCase());
}

export { CALLER_VAULT_FIELD } from '../calls/session';
