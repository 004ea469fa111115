/**
 * A data subject (a caller) is indexed by an HMAC of their identity, never the identity: the
 * store can find a caller's calls for access and erasure without holding who they are. The app
 * derives the keys from SUBJECT_KEY's ring and AGENT_JWT_SECRET (its key alone when SUBJECT_KEY is
 * unset) and passes them in: new calls are filed under the first, callers found under each.
 *
 * The identity is the canonical form of who Twilio's `From` names (callerIdOf): an E.164 number
 * (a `tel:` URI or a SIP URI holding one names the same person), a SIP address `sip:user@host`, a
 * Twilio Client identity `client:name`, or any other caller ID as sent. The subject routes read
 * requests by the same rules (subjectRequest), so every caller whose calls are filed under a
 * subject can be asked for by it.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { WITHHELD_CALLER } from '../calls/session';
import { maskPhone } from '../fields';
import { isIpHost, parseSipUri, sipAddressText } from './sip-uri';

export const E164 = /^\+[1-9][0-9]{6,14}$/;

export function isE164(value: unknown): value is string {
  return typeof value === 'string' && E164.test(value);
}

/**
 * `secret`: the app's subject key (the bytes app.ts derives from SUBJECT_KEY or AGENT_JWT_SECRET),
 * best as a key object made once: an HMAC from one skips importing the key, a third of its cost.
 * `subject`: a canonical identity (callerIdOf, subjectRequest): an E.164 number hashes as it always has.
 */
export function subjectHash(secret: string | Buffer | KeyObject, subject: string): string {
  return createHmac('sha256', secret).update(subject, 'utf8').digest('hex');
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
/** RFC 3323 §4.1.1.3: the host of the URI a SIP caller who withholds their identity sends (`sip:anonymous@anonymous.invalid`) */
const ANONYMOUS_SIP_HOST = 'anonymous.invalid';
/** a Twilio Client identity, any printable character but space, quotes, angle brackets and the like */
const CLIENT_NAME = /^[A-Za-z0-9!#$%&'()*+,\-./:;=?@[\]_~]{1,256}$/;
/** the visual separators a telephone number may be written with in a SIP user part (RFC 3966 §3) */
const VISUAL_SEPARATORS = /[-.()]/g;

/** a placeholder or a word for a withheld number, or nothing */
function isWithheldWord(from: string): boolean {
  const v = from.trim();
  return v === '' || WITHHELD_CALLER_IDS.includes(v) || WITHHELD_WORDS.has(v.toLowerCase());
}

/**
 * A `tel:` URI holding a global number (RFC 3966 §3: `tel:+1-555-123-4567;ext=12`): the number,
 * visual separators dropped; its parameters (an extension, a subaddress, any other) are dropped
 * too, as a SIP URI's are. Undefined for any other text, a local number (`tel:5551234;phone-context=…`)
 * included: that is kept as sent (`other`).
 */
const TEL_GLOBAL = /^tel:(\+[-.()0-9]*[0-9][-.()0-9]*)(?:;[A-Za-z0-9-]+(?:=(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+)?)*$/i;
function telNumber(text: string): string | undefined {
  const m = TEL_GLOBAL.exec(text);
  const number = m?.[1].replace(VISUAL_SEPARATORS, '');
  return number !== undefined && isE164(number) ? number : undefined;
}

/**
 * A global number as people write one: its `+`, then digits with spaces or visual separators
 * between them (ITU-T E.123 `+44 20 7946 0000`, `+1 (555) 123-4567`, `+1-555-123-4567`), as a
 * `tel:` URI's number may be written. The same person as the E.164 number, whichever way it came:
 * an admin asking for `+44 20 7946 0000` must find the calls from `+442079460000`, not be told
 * nothing is held.
 */
const WRITTEN_NUMBER = /^\+[0-9]+(?:[-.() ]+[0-9]+)*$/;
function writtenNumber(text: string): string | undefined {
  if (!WRITTEN_NUMBER.test(text)) return undefined;
  const number = text.replace(/[-.() ]/g, '');
  return isE164(number) ? number : undefined;
}

/** the schemes of a SIP URI or a Client identity: a text in one of them is read by its rules, or not at all */
const ADDRESS_SCHEME = /^(sips?|client):/i;
/** what a caller ID kept as sent may be: what Twilio's `From` holds at most, no control character */
const OTHER_CALLER = /^[^\p{Cc}]{1,256}$/u;

/**
 * Who a call's `From` names:
 * - `withheld`: no one (every caller who withholds their number sends the same value): a word or
 *   a keypad placeholder, `client:Anonymous` (Twilio's identity for a Client with none), or a SIP
 *   URI whose user part is one of those or whose host is `anonymous.invalid`;
 * - `phone`: an E.164 number, `From` itself or written with spaces or visual separators
 *   (`+1 555-123-4567`), a `tel:` URI of a global number, or the user part of
 *   a SIP URI (`sip:+1555…@trunk`, `;user=phone` or not), visual separators dropped: the same
 *   person whichever way it came;
 * - `sip`: any other SIP URI, as `sip:user@host` (sip-uri.ts);
 * - `client`: a Twilio Client identity, `client:name`, the name as Twilio passed it (folding its case
 *   could join two callers into one subject, whose access would show each the other's calls);
 * - `other`: anything else (a number without its `+`, a local `tel:` number, another scheme), kept
 *   as sent: its own canonical form, which a subject request names it by;
 * - `unreadable`: a SIP URI or Client identity that is not well formed (the subject routes refuse
 *   one as malformed, so no request could name it), or text too long or with control characters
 *   to be a caller ID: filed under no subject and not kept, as a withheld caller is.
 */
export type CallerId =
  { kind: 'withheld' } | { kind: 'unreadable'; scheme?: 'sip' | 'client' } | { kind: 'phone' | 'sip' | 'client' | 'other'; subject: string };

const WITHHELD: CallerId = Object.freeze({ kind: 'withheld' });

/** a SIP URI or a Client identity, canonical; null when `text` is neither, well formed */
function addressCaller(text: string): CallerId | null {
  if (/^client:/i.test(text)) {
    const name = text.slice('client:'.length);
    if (!CLIENT_NAME.test(name)) return null;
    return name.toLowerCase() === 'anonymous' ? WITHHELD : { kind: 'client', subject: `client:${name}` };
  }
  const sip = parseSipUri(text);
  if (!sip) return null;
  if (sip.host === ANONYMOUS_SIP_HOST) return WITHHELD;
  if (sip.user === undefined) return { kind: 'sip', subject: sipAddressText(sip) };
  const own = sip.user.split(';')[0];
  if (isWithheldWord(own)) return WITHHELD;
  const number = own.replace(VISUAL_SEPARATORS, '');
  if (isE164(number)) return WITHHELD_CALLER_IDS.includes(number) ? WITHHELD : { kind: 'phone', subject: number };
  return { kind: 'sip', subject: sipAddressText(sip) };
}

/** who Twilio's `From` names (CallerId); a subject request is read by the same rules (subjectRequest) */
export function callerIdOf(from: string): CallerId {
  if (isWithheldWord(from)) return WITHHELD;
  if (isE164(from)) return { kind: 'phone', subject: from };
  const written = writtenNumber(from);
  if (written !== undefined) return WITHHELD_CALLER_IDS.includes(written) ? WITHHELD : { kind: 'phone', subject: written };
  const tel = telNumber(from);
  if (tel !== undefined) return WITHHELD_CALLER_IDS.includes(tel) ? WITHHELD : { kind: 'phone', subject: tel };
  const scheme = ADDRESS_SCHEME.exec(from)?.[1].toLowerCase();
  if (scheme !== undefined) return addressCaller(from) ?? { kind: 'unreadable', scheme: scheme === 'client' ? 'client' : 'sip' };
  return OTHER_CALLER.test(from) ? { kind: 'other', subject: from } : { kind: 'unreadable' };
}

/**
 * A `From` that names no one: every caller who withholds their identity sends the same one, so
 * a call from it is filed under no subject (it would link them all) and its `From` is not kept.
 */
export function isWithheldCallerId(from: string): boolean {
  return callerIdOf(from).kind === 'withheld';
}

/**
 * A subject route's `:phone`, already URL-decoded, read as callerIdOf reads a `From`, so every
 * caller whose calls are filed under a subject can be named: an E.164 number exactly (as it always
 * was), a `tel:` URI of one, a SIP URI or Client identity in any form callerIdOf reads one
 * (`sip:Alice@Example.com:5061;transport=tls` is `sip:Alice@example.com`; `sip:+15551234567@trunk`
 * is `+15551234567`), or any other caller ID as Twilio sent it (`15551234567`), as the canonical
 * subject its calls are filed under. `malformed`: a SIP URI or Client identity that is not well
 * formed, or no caller ID at all; `withheld`: one that names no one.
 */
export function subjectRequest(text: string): { subject: string } | { refused: 'malformed' | 'withheld' } {
  const caller = callerIdOf(text);
  if (caller.kind === 'withheld') return { refused: 'withheld' };
  return 'subject' in caller ? { subject: caller.subject } : { refused: 'malformed' };
}

/** every character of a SIP user part or a Client identity, hidden alike: a name's last letters are most of it */
const HIDDEN = '****';

/**
 * What agents, access reports and receipts show of a caller (CONTRACT §5), never the whole: a number
 * keeps its `+` and last 4 digits; a SIP address none of its user part, and its host only when that
 * is a name (`sip:****@example.com`; `sip:****` for an IP address, which may be the caller's own
 * device, or a bare host, which is all of it); a Client identity none of its name (`client:****`);
 * a withheld caller is `withheld`; an unreadable one its scheme alone (`sip:****`, `client:****`,
 * or `****`); anything else as maskPhone has always shown it.
 */
export function maskedCaller(caller: CallerId): string {
  switch (caller.kind) {
    case 'withheld':
      return WITHHELD_CALLER;
    case 'unreadable':
      return caller.scheme ? `${caller.scheme}:${HIDDEN}` : HIDDEN;
    case 'client':
      return `client:${HIDDEN}`;
    case 'sip': {
      const a = parseSipUri(caller.subject);
      return a?.user !== undefined && !isIpHost(a.host) ? `sip:${HIDDEN}@${a.host}` : `sip:${HIDDEN}`;
    }
    default:
      return maskPhone(caller.subject);
  }
}

/** a canonical subject (callerIdOf, subjectRequest) masked as maskedCaller shows its caller: canonical forms read as themselves */
export function maskSubject(subject: string): string {
  return maskedCaller(callerIdOf(subject));
}

export { CALLER_VAULT_FIELD } from '../calls/session';
